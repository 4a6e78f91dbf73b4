#include "storage/pg_notification_store.h"

#include "db/row_reader.h"
#include "errors/error.h"
#include "storage/sql.h"

namespace billing::notify::storage {
namespace {

using domain::DeliveryAttempt;
using domain::Notification;
using domain::Time;

using db::Corrupt;
using db::Parsed;
using Row = db::ResultRowReader;

Notification ReadNotification(Row& r) {
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

std::optional<Notification> FirstNotification(const db::Result& result) {
  if (result.Empty()) return std::nullopt;
  Row r(result, 0);
  return ReadNotification(r);
}

}  // namespace

std::optional<Notification> PgNotificationStore::InsertOrGet(const Notification& n) {
  return pool_.Transact([&](db::Session& sql) -> std::optional<Notification> {
    const std::string kind(domain::Name(n.kind));
    const std::string channel(domain::Name(n.channel));
    // A concurrent insert of the same key makes this wait for it to commit,
    // then do nothing: the SELECT below then sees the winner.
    if (!sql.Run(sql::kInsertNotification,
                 {{"id", n.notification_id}, {"caller", n.caller}, {"request_id", n.request_id},
                  {"fingerprint", n.fingerprint}, {"kind", kind}, {"channel", channel}, {"recipient", n.recipient},
                  {"recipient_name", n.recipient_name}, {"sender_name", n.sender_name}, {"invoice_id", n.invoice_id},
                  {"booking_id", n.booking_id}, {"subject", n.content.subject}, {"body_text", n.content.text},
                  {"body_html", n.content.html}, {"sms_segments", n.content.sms_segments},
                  {"created", n.created_at}})
             .Empty()) {
      return std::nullopt;
    }
    auto existing =
        FirstNotification(sql.Run(sql::kSelectByRequest, {{"caller", n.caller}, {"request_id", n.request_id}}));
    if (!existing) Corrupt("idempotency conflict without a row");
    return existing;
  });
}

std::optional<Notification> PgNotificationStore::Find(const std::string& notification_id) {
  return pool_.Read(
      [&](db::Session& sql) { return FirstNotification(sql.Run(sql::kSelectNotification, {{"id", notification_id}})); });
}

std::optional<Notification> PgNotificationStore::FindByRequest(const std::string& caller,
                                                              const std::string& request_id) {
  return pool_.Read([&](db::Session& sql) {
    return FirstNotification(sql.Run(sql::kSelectByRequest, {{"caller", caller}, {"request_id", request_id}}));
  });
}

std::vector<DeliveryAttempt> PgNotificationStore::Attempts(const std::string& notification_id) {
  return pool_.Read([&](db::Session& sql) {
    std::vector<DeliveryAttempt> out;
    const db::Result rows = sql.Run(sql::kSelectAttempts, {{"id", notification_id}});
    for (int i = 0; i < rows.Rows(); ++i) {
      Row r(rows, i);
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
  return pool_.Read([&](db::Session& sql) {
    const std::string status = f.status ? std::string(domain::Name(*f.status)) : "";
    long long cursor_us = after ? clock::ToUnixMicros(after->created_at) : 253402300799000000LL;
    const std::string cursor_id = after ? after->notification_id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
    std::vector<Notification> out;
    const db::Result rows =
        sql.Run(sql::kListNotifications, {{"invoice_id", f.invoice_id}, {"booking_id", f.booking_id},
                                          {"recipient", f.recipient}, {"status", status}, {"cursor_us", cursor_us},
                                          {"cursor_id", cursor_id}, {"limit", limit}},
                db::Session::Planning::kPerCall);  // optional filters: plan for the values given
    for (int i = 0; i < rows.Rows(); ++i) {
      Row r(rows, i);
      out.push_back(ReadNotification(r));
    }
    return out;
  });
}

std::optional<Notification> PgNotificationStore::Claim(Time now, Time lease_until, const std::string& claim_token) {
  return pool_.Transact([&](db::Session& sql) {
    return FirstNotification(
        sql.Run(sql::kClaimDue, {{"token", claim_token}, {"lease_until", lease_until}, {"now", now}}));
  });
}

bool PgNotificationStore::Record(const std::string& notification_id, const std::string& claim_token,
                                 const domain::DeliveryOutcome& out) {
  // Safe to run again (Transact does after a broken connection): the attempt
  // insert ignores a duplicate and the update needs the claim, which the
  // first run cleared if it committed.
  return pool_.Transact([&](db::Session& sql) {
    const std::string outcome(domain::Name(out.attempt.outcome));
    const long long started = clock::ToUnixMicros(out.attempt.started_at);
    const long long duration = out.attempt.duration_ms;
    sql.Run(sql::kInsertAttempt, {{"id", notification_id}, {"number", out.attempt.attempt_number},
                                  {"outcome", outcome}, {"error", out.attempt.error},
                                  {"provider_message_id", out.attempt.provider_message_id}, {"started", started},
                                  {"duration_ms", duration}});

    const std::string status(domain::Name(out.status));
    const long long updated = started + duration * 1000;
    const long long next = out.next_attempt_at == Time{} ? updated : clock::ToUnixMicros(out.next_attempt_at);
    return !sql.Run(sql::kRecordDelivery, {{"status", status}, {"next", next},
                                           {"provider_message_id", out.provider_message_id},
                                           {"failure_reason", out.failure_reason}, {"updated", updated},
                                           {"sent", out.sent_at}, {"id", notification_id}, {"token", claim_token}})
                .Empty();
  });
}

int64_t PgNotificationStore::QueueDepth() {
  return pool_.Read([&](db::Session& sql) {
    const db::Result result = sql.Run(sql::kQueueDepth);
    if (result.Empty()) Corrupt("a count without a row");
    return static_cast<int64_t>(Row(result, 0).Int());
  });
}

}  // namespace billing::notify::storage
