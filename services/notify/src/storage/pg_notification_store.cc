#include "storage/pg_notification_store.h"

#include "db/row_reader.h"
#include "errors/error.h"
#include "storage/sql.h"

namespace billing::notify::storage {
namespace {

using domain::DeliveryAttempt;
using domain::Notification;
using domain::Time;
using soci::into;
using soci::use;

using db::Corrupt;
using db::Parsed;
using db::RowReader;

Notification ReadNotification(const soci::row& row) {
  RowReader r(row);
  Notification n;
  n.notification_id = r.Str();
  n.caller = r.Str();
  n.request_id = r.Str();
  n.fingerprint = r.Str();
  n.kind = Parsed(domain::ParseKind(r.Str()), "kind");
  n.channel = Parsed(domain::ParseChannel(r.Str()), "channel");
  n.recipient = r.Str();
  n.recipient_name = r.Str();
  n.sender_name = r.Str();
  n.invoice_id = r.Str();
  n.booking_id = r.Str();
  n.content.subject = r.Str();
  n.content.text = r.Str();
  n.content.html = r.Str();
  n.content.sms_segments = r.Int32();
  n.status = Parsed(domain::ParseStatus(r.Str()), "status");
  n.attempts = r.Int32();
  n.next_attempt_at = r.TimeAt();
  n.provider_message_id = r.Str();
  n.failure_reason = r.Str();
  n.created_at = r.TimeAt();
  n.updated_at = r.TimeAt();
  n.sent_at = r.OptTime();
  return n;
}

std::optional<Notification> SelectOne(soci::session& sql, const char* query, const std::string& a_name,
                                      const std::string& a, const std::string& b_name = "", const std::string& b = "") {
  soci::row row;
  if (b_name.empty()) {
    sql << query, use(a, a_name), into(row);
  } else {
    sql << query, use(a, a_name), use(b, b_name), into(row);
  }
  if (!sql.got_data()) return std::nullopt;
  return ReadNotification(row);
}

}  // namespace

std::optional<Notification> PgNotificationStore::InsertOrGet(const Notification& n) {
  return pool_.Transact([&](soci::session& sql) -> std::optional<Notification> {
    const std::string kind(domain::Name(n.kind));
    const std::string channel(domain::Name(n.channel));
    int segments = n.content.sms_segments;
    long long created = clock::ToUnixMicros(n.created_at);
    int inserted = 0;
    // A concurrent insert of the same key makes this wait for it to commit,
    // then do nothing: the SELECT below then sees the winner.
    sql << sql::kInsertNotification, use(n.notification_id, "id"), use(n.caller, "caller"),
        use(n.request_id, "request_id"), use(n.fingerprint, "fingerprint"), use(kind, "kind"),
        use(channel, "channel"), use(n.recipient, "recipient"), use(n.recipient_name, "recipient_name"),
        use(n.sender_name, "sender_name"), use(n.invoice_id, "invoice_id"), use(n.booking_id, "booking_id"),
        use(n.content.subject, "subject"), use(n.content.text, "body_text"), use(n.content.html, "body_html"),
        use(segments, "sms_segments"), use(created, "created"), into(inserted);
    if (sql.got_data()) return std::nullopt;
    auto existing = SelectOne(sql, sql::kSelectByRequest, "caller", n.caller, "request_id", n.request_id);
    if (!existing) Corrupt("idempotency conflict without a row");
    return existing;
  });
}

std::optional<Notification> PgNotificationStore::Find(const std::string& notification_id) {
  return pool_.Transact([&](soci::session& sql) { return SelectOne(sql, sql::kSelectNotification, "id", notification_id); });
}

std::optional<Notification> PgNotificationStore::FindByRequest(const std::string& caller,
                                                              const std::string& request_id) {
  return pool_.Transact([&](soci::session& sql) {
    return SelectOne(sql, sql::kSelectByRequest, "caller", caller, "request_id", request_id);
  });
}

std::vector<DeliveryAttempt> PgNotificationStore::Attempts(const std::string& notification_id) {
  return pool_.Transact([&](soci::session& sql) {
    std::vector<DeliveryAttempt> out;
    soci::rowset<soci::row> rows = (sql.prepare << sql::kSelectAttempts, use(notification_id, "id"));
    for (const auto& row : rows) {
      RowReader r(row);
      DeliveryAttempt a;
      a.attempt_number = r.Int32();
      a.outcome = Parsed(domain::ParseAttemptOutcome(r.Str()), "attempt outcome");
      a.error = r.Str();
      a.provider_message_id = r.Str();
      a.started_at = r.TimeAt();
      a.duration_ms = r.Int();
      out.push_back(a);
    }
    return out;
  });
}

std::vector<Notification> PgNotificationStore::List(const domain::ListFilter& f,
                                                     const std::optional<domain::ListCursor>& after, int limit) {
  return pool_.Transact([&](soci::session& sql) {
    const std::string status = f.status ? std::string(domain::Name(*f.status)) : "";
    long long cursor_us = after ? clock::ToUnixMicros(after->created_at) : 253402300799000000LL;
    const std::string cursor_id = after ? after->notification_id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
    std::vector<Notification> out;
    soci::rowset<soci::row> rows =
        (sql.prepare << sql::kListNotifications, use(f.invoice_id, "invoice_id"), use(f.booking_id, "booking_id"),
         use(f.recipient, "recipient"), use(status, "status"), use(cursor_us, "cursor_us"),
         use(cursor_id, "cursor_id"), use(limit, "limit"));
    for (const auto& row : rows) out.push_back(ReadNotification(row));
    return out;
  });
}

std::optional<Notification> PgNotificationStore::Claim(Time now, Time lease_until, const std::string& claim_token) {
  return pool_.Transact([&](soci::session& sql) -> std::optional<Notification> {
    long long now_us = clock::ToUnixMicros(now);
    long long lease_us = clock::ToUnixMicros(lease_until);
    soci::row row;
    sql << sql::kClaimDue, use(claim_token, "token"), use(lease_us, "lease_until"), use(now_us, "now"), into(row);
    if (!sql.got_data()) return std::nullopt;
    return ReadNotification(row);
  });
}

bool PgNotificationStore::Record(const std::string& notification_id, const std::string& claim_token,
                                 const domain::DeliveryOutcome& out) {
  // Safe to run again (Transact does after a broken connection): the attempt
  // insert ignores a duplicate and the update needs the claim, which the
  // first run cleared if it committed.
  return pool_.Transact([&](soci::session& sql) {
    const std::string outcome(domain::Name(out.attempt.outcome));
    long long started = clock::ToUnixMicros(out.attempt.started_at);
    long long duration = out.attempt.duration_ms;
    sql << sql::kInsertAttempt, use(notification_id, "id"), use(out.attempt.attempt_number, "number"),
        use(outcome, "outcome"), use(out.attempt.error, "error"),
        use(out.attempt.provider_message_id, "provider_message_id"), use(started, "started"),
        use(duration, "duration_ms");

    const std::string status(domain::Name(out.status));
    long long updated = started + duration * 1000;
    long long next = out.next_attempt_at == Time{} ? updated : clock::ToUnixMicros(out.next_attempt_at);
    long long sent = out.sent_at ? clock::ToUnixMicros(*out.sent_at) : 0;
    soci::indicator sent_ind = out.sent_at ? soci::i_ok : soci::i_null;
    int matched = 0;
    sql << sql::kRecordDelivery, use(status, "status"), use(next, "next"),
        use(out.provider_message_id, "provider_message_id"), use(out.failure_reason, "failure_reason"),
        use(updated, "updated"), use(sent, sent_ind, "sent"), use(notification_id, "id"),
        use(claim_token, "token"), into(matched);
    return sql.got_data();
  });
}

int64_t PgNotificationStore::QueueDepth() {
  return pool_.Transact([&](soci::session& sql) {
    long long depth = 0;
    sql << sql::kQueueDepth, into(depth);
    return static_cast<int64_t>(depth);
  });
}

}  // namespace billing::notify::storage
