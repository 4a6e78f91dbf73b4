#include "storage/pg_invoice_store.h"

#include <nlohmann/json.hpp>

#include "db/row_reader.h"
#include "errors/error.h"
#include "storage/sql.h"
#include "validation/validation.h"

namespace billing::invoice::storage {
namespace {

using domain::Booking;
using domain::CustomerPayment;
using domain::IdempotencyRecord;
using domain::Invoice;
using domain::InvoiceEvent;
using domain::NotificationRecord;
using domain::NotificationRequest;
using domain::Time;
using nlohmann::json;
using soci::indicator;
using soci::into;
using soci::use;

using db::Parsed;
using db::JsonRowReader;
using db::RowReader;

template <typename Reader>
Booking ReadBookingFrom(Reader& r) {
  Booking b;
  b.booking_id = r.Str();
  b.status = Parsed(domain::ParseBookingStatus(r.Str()), "booking status");
  b.customer.name = r.Str();
  b.customer.email = r.Str();
  b.customer.phone = r.Str();
  b.currency = r.Str();
  b.total_minor = r.Int();
  b.paid_minor = r.Int();
  b.activity_name = r.Str();
  b.start_local = r.Str();
  b.end_local = r.Str();
  b.time_zone = r.Str();
  b.confirmation_code = r.Str();
  b.required_agreement_ids = json::parse(std::string(r.Str())).get<std::vector<std::string>>();
  b.slot_hold_expires_at = r.OptTime();
  b.revision = r.Int();
  b.created_at = r.TimeAt();
  b.updated_at = r.TimeAt();
  return b;
}

Booking ReadBooking(const soci::row& row) {
  RowReader r(row);
  return ReadBookingFrom(r);
}

template <typename Reader>
Invoice ReadInvoiceFrom(Reader& r) {
  Invoice inv;
  inv.invoice_id = r.Str();
  inv.booking_id = r.Str();
  inv.status = Parsed(domain::ParseInvoiceStatus(r.Str()), "invoice status");
  inv.amount.currency = r.Str();
  inv.amount.amount_minor = r.Int();
  inv.confirm_on_pay = r.Bool();
  inv.send_to_email_override = r.Str();
  inv.send_type = Parsed(domain::ParseChannel(r.Str()), "invoice send_type");
  inv.token = r.Str();
  for (const auto& j : json::parse(std::string(r.Str()))) {
    inv.line_items.push_back({j.at("name").get<std::string>(), j.at("quantity").get<int64_t>(),
                              j.at("unit_amount_minor").get<int64_t>()});
  }
  for (const auto& j : json::parse(std::string(r.Str()))) {
    inv.fees.push_back({j.at("name").get<std::string>(), j.at("amount_minor").get<int64_t>()});
  }
  for (const auto& j : json::parse(std::string(r.Str()))) {
    inv.custom_fields.push_back({j.at("name").get<std::string>(), j.at("value").get<std::string>()});
  }
  inv.due_at = r.OptTime();
  inv.status_reason = r.Str();
  inv.payment_pending = r.Bool();
  inv.customer_payment_id = r.Str();
  inv.created_at = r.TimeAt();
  inv.updated_at = r.TimeAt();
  inv.paid_at = r.OptTime();
  inv.pending_attempt_id = r.Str();
  return inv;
}

Invoice ReadInvoice(const soci::row& row) {
  RowReader r(row);
  return ReadInvoiceFrom(r);
}

domain::PayAttempt ReadAttempt(const soci::row& row) {
  RowReader r(row);
  domain::PayAttempt a;
  a.attempt_id = r.Str();
  a.invoice_id = r.Str();
  a.caller = r.Str();
  a.request_id = r.Str();
  a.amount.currency = r.Str();
  a.amount.amount_minor = r.Int();
  a.status = Parsed(domain::ParseAttemptStatus(r.Str()), "pay attempt status");
  a.payment_id = r.Str();
  a.payment_intent_id = r.Str();
  a.failure_code = r.Str();
  a.failure_message = r.Str();
  a.next_check_at = r.OptTime();
  a.created_at = r.TimeAt();
  a.updated_at = r.TimeAt();
  a.booking_id = r.Str();
  a.description = r.Str();
  return a;
}

domain::PaymentAction ReadAction(const soci::row& row) {
  RowReader r(row);
  domain::PaymentAction a;
  a.action_id = r.Str();
  a.kind = Parsed(domain::ParsePaymentActionKind(r.Str()), "payment action kind");
  a.payment_id = r.Str();
  a.invoice_id = r.Str();
  a.reason = r.Str();
  a.attempts = r.Int32();
  a.created_at = r.TimeAt();
  return a;
}

template <typename Reader>
CustomerPayment ReadPaymentFrom(Reader& r) {
  CustomerPayment p;
  p.customer_payment_id = r.Str();
  p.booking_id = r.Str();
  p.invoice_id = r.Str();
  p.amount.currency = r.Str();
  p.amount.amount_minor = r.Int();
  p.source = Parsed(domain::ParsePaymentSource(r.Str()), "payment source");
  p.payment_intent_id = r.Str();
  p.external_reference = r.Str();
  p.created_at = r.TimeAt();
  return p;
}

CustomerPayment ReadPayment(const soci::row& row) {
  RowReader r(row);
  return ReadPaymentFrom(r);
}

json RequestToJson(const NotificationRequest& n) {
  json j = {{"purpose", domain::Name(n.purpose)},
            {"channel", domain::Name(n.channel)},
            {"email", n.email},
            {"phone", n.phone},
            {"recipient_name", n.recipient_name},
            {"invoice_id", n.invoice_id},
            {"pay_url", n.pay_url},
            {"amount_minor", n.amount.amount_minor},
            {"currency", n.amount.currency},
            {"business_name", n.business_name},
            {"booking",
             {{"booking_id", n.booking.booking_id},
              {"activity_name", n.booking.activity_name},
              {"date", n.booking.date},
              {"start", n.booking.start},
              {"end", n.booking.end},
              {"end_date", n.booking.end_date},
              {"confirmation_code", n.booking.confirmation_code}}}};
  if (n.due_at) j["due_at_us"] = clock::ToUnixMicros(*n.due_at);
  if (n.balance_remaining) j["balance_remaining_minor"] = n.balance_remaining->amount_minor;
  return j;
}

NotificationRequest RequestFromJson(const json& j) {
  NotificationRequest n;
  n.purpose = Parsed(domain::ParseNotificationPurpose(j.at("purpose").get<std::string>()), "notification purpose");
  n.channel = Parsed(domain::ParseChannel(j.at("channel").get<std::string>()), "notification channel");
  n.email = j.at("email");
  n.phone = j.at("phone");
  n.recipient_name = j.at("recipient_name");
  n.invoice_id = j.at("invoice_id");
  n.pay_url = j.at("pay_url");
  n.amount = {j.at("amount_minor").get<int64_t>(), j.at("currency").get<std::string>()};
  n.business_name = j.at("business_name");
  const json& b = j.at("booking");
  n.booking = {b.at("booking_id"), b.at("activity_name"), b.at("date"), b.at("start"),
               b.at("end"),        b.at("end_date"),      b.at("confirmation_code")};
  if (j.contains("due_at_us")) n.due_at = clock::FromUnixMicros(j.at("due_at_us").get<int64_t>());
  if (j.contains("balance_remaining_minor")) {
    n.balance_remaining = domain::Money{j.at("balance_remaining_minor").get<int64_t>(), n.amount.currency};
  }
  return n;
}

template <typename Reader>
NotificationRecord ReadNotificationFrom(Reader& r) {
  NotificationRecord n;
  n.outbox_id = r.Int();
  n.invoice_id = r.Str();
  n.request = RequestFromJson(json::parse(std::string(r.Str())));
  n.state = Parsed(domain::ParseNotificationState(r.Str()), "notification state");
  n.notification_id = r.Str();
  n.failure_reason = r.Str();
  n.attempts = r.Int32();
  n.created_at = r.TimeAt();
  n.sent_at = r.OptTime();
  n.request_key = r.Str();
  return n;
}

NotificationRecord ReadNotification(const soci::row& row) {
  RowReader r(row);
  return ReadNotificationFrom(r);
}

std::string LineItemsJson(const Invoice& inv) {
  auto out = json::array();
  for (const auto& li : inv.line_items) {
    out.push_back({{"name", li.name}, {"quantity", li.quantity}, {"unit_amount_minor", li.unit_amount_minor}});
  }
  return out.dump();
}

std::string FeesJson(const Invoice& inv) {
  auto out = json::array();
  for (const auto& f : inv.fees) out.push_back({{"name", f.name}, {"amount_minor", f.amount_minor}});
  return out.dump();
}

std::string CustomFieldsJson(const Invoice& inv) {
  auto out = json::array();
  for (const auto& c : inv.custom_fields) out.push_back({{"name", c.name}, {"value", c.value}});
  return out.dump();
}

// A nullable time as a bound parameter: value plus indicator.
struct OptMicros {
  explicit OptMicros(const std::optional<Time>& t)
      : value(t ? clock::ToUnixMicros(*t) : 0), ind(t ? soci::i_ok : soci::i_null) {}
  long long value;
  indicator ind;
};

template <typename Read>
auto ReadAll(soci::rowset<soci::row>& rows, Read read) {
  std::vector<decltype(read(std::declval<const soci::row&>()))> out;
  for (const auto& row : rows) out.push_back(read(row));
  return out;
}

void AppendEventRow(soci::session& sql, const InvoiceEvent& e) {
  const std::string from = e.from_status ? std::string(domain::Name(*e.from_status)) : "";
  const std::string to(domain::Name(e.to_status));
  long long created = clock::ToUnixMicros(e.created_at);
  sql << sql::kAppendEvent, use(e.invoice_id, "invoice_id"), use(e.type, "type"), use(from, "from_status"),
      use(to, "to_status"), use(e.reason, "reason"), use(e.request_id, "request_id"), use(created, "created"),
      use(e.actor, "actor");
}

// Appends an event about a notification, stamped with the invoice's current
// status (sends do not change it). Locking the invoice row serializes the
// log's sequence numbers with the invoice's own transactions.
void AppendNotificationEvent(soci::session& sql, const InvoiceEvent& event) {
  std::string status;
  sql << sql::kInvoiceStatusForUpdate, use(event.invoice_id, "invoice_id"), into(status);
  if (!sql.got_data()) return;
  InvoiceEvent e = event;
  e.from_status = domain::ParseInvoiceStatus(status);
  e.to_status = e.from_status.value_or(domain::InvoiceStatus::kOpen);
  AppendEventRow(sql, e);
}

class PgInvoiceTx final : public domain::InvoiceTx {
 public:
  explicit PgInvoiceTx(soci::session& sql) : sql_(sql) {}

  std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller, const std::string& request_id,
                                                       const std::string& method, const std::string& fingerprint,
                                                       Time now) override {
    long long now_us = clock::ToUnixMicros(now);
    int claimed = 0;
    sql_ << sql::kClaimIdempotencyKey, use(caller, "caller"), use(request_id, "request_id"), use(method, "method"),
        use(fingerprint, "fingerprint"), use(now_us, "now"), into(claimed);
    if (sql_.got_data()) return std::nullopt;
    IdempotencyRecord record;
    sql_ << sql::kSelectIdempotencyKey, use(caller, "caller"), use(request_id, "request_id"), into(record.method),
        into(record.fingerprint), into(record.resource_id);
    return record;
  }

  void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                              const std::string& resource_id) override {
    sql_ << sql::kCompleteIdempotencyKey, use(resource_id, "resource_id"), use(caller, "caller"),
        use(request_id, "request_id");
  }

  std::optional<Booking> LockBooking(const std::string& booking_id) override {
    return SelectOne<Booking>(sql::kLockBooking, "booking_id", booking_id, ReadBooking);
  }
  std::optional<Booking> FindBooking(const std::string& booking_id) override {
    return SelectOne<Booking>(sql::kSelectBooking, "booking_id", booking_id, ReadBooking);
  }

  void InsertBooking(const Booking& b) override {
    BookingParams p(b);
    sql_ << sql::kInsertBooking, use(b.booking_id, "booking_id"), use(p.status, "status"),
        use(b.customer.name, "customer_name"), use(b.customer.email, "customer_email"),
        use(b.customer.phone, "customer_phone"), use(b.currency, "currency"), use(p.total, "total_minor"),
        use(b.activity_name, "activity_name"), use(b.start_local, "start_local"), use(b.end_local, "end_local"),
        use(b.time_zone, "time_zone"), use(b.confirmation_code, "confirmation_code"),
        use(p.agreements, "agreements"), use(p.slot_hold.value, p.slot_hold.ind, "slot_hold"),
        use(p.revision, "revision"), use(p.created, "created"), use(p.updated, "updated");
  }

  void UpdateBooking(const Booking& b) override {
    BookingParams p(b);
    sql_ << sql::kUpdateBooking, use(b.booking_id, "booking_id"), use(p.status, "status"),
        use(b.customer.name, "customer_name"), use(b.customer.email, "customer_email"),
        use(b.customer.phone, "customer_phone"), use(b.currency, "currency"), use(p.total, "total_minor"),
        use(b.activity_name, "activity_name"), use(b.start_local, "start_local"), use(b.end_local, "end_local"),
        use(b.time_zone, "time_zone"), use(b.confirmation_code, "confirmation_code"),
        use(p.agreements, "agreements"), use(p.slot_hold.value, p.slot_hold.ind, "slot_hold"),
        use(p.revision, "revision"), use(p.updated, "updated");
  }

  void SetBookingPaid(const std::string& booking_id, int64_t paid_minor, Time updated_at) override {
    long long paid = paid_minor;
    long long updated = clock::ToUnixMicros(updated_at);
    sql_ << sql::kSetBookingPaid, use(paid, "paid"), use(updated, "updated"), use(booking_id, "booking_id");
  }

  bool BookingHasInvoicesOrPayments(const std::string& booking_id) override {
    int found = 0;
    sql_ << sql::kBookingHasInvoicesOrPayments, use(booking_id, "booking_id"), into(found);
    return found != 0;
  }

  void RenameBooking(const std::string& from, const std::string& to) override {
    sql_ << sql::kRenameBooking, use(to, "to"), use(from, "from");
  }

  void InsertInvoice(const Invoice& inv) override {
    const std::string status(domain::Name(inv.status));
    const std::string send_type(domain::Name(inv.send_type));
    const std::string line_items = LineItemsJson(inv);
    const std::string fees = FeesJson(inv);
    const std::string custom_fields = CustomFieldsJson(inv);
    const int confirm = inv.confirm_on_pay ? 1 : 0;
    long long amount = inv.amount.amount_minor;
    OptMicros due(inv.due_at);
    long long created = clock::ToUnixMicros(inv.created_at);
    long long updated = clock::ToUnixMicros(inv.updated_at);
    sql_ << sql::kInsertInvoice, use(inv.invoice_id, "invoice_id"), use(inv.booking_id, "booking_id"),
        use(status, "status"), use(inv.amount.currency, "currency"), use(amount, "amount_minor"),
        use(confirm, "confirm_on_pay"), use(inv.send_to_email_override, "override"), use(send_type, "send_type"),
        use(inv.token, "token"), use(line_items, "line_items"), use(fees, "fees"),
        use(custom_fields, "custom_fields"), use(due.value, due.ind, "due_at"),
        use(inv.status_reason, "status_reason"), use(created, "created"), use(updated, "updated");
  }

  std::optional<Invoice> FindInvoice(const std::string& invoice_id) override {
    return SelectOne<Invoice>(sql::kSelectInvoice, "invoice_id", invoice_id, ReadInvoice);
  }
  std::optional<Invoice> FindInvoiceByToken(const std::string& token) override {
    return SelectOne<Invoice>(sql::kSelectInvoiceByToken, "token", token, ReadInvoice);
  }
  std::optional<Invoice> LockInvoice(const std::string& invoice_id) override {
    return SelectOne<Invoice>(sql::kLockInvoice, "invoice_id", invoice_id, ReadInvoice);
  }

  std::vector<Invoice> LockOpenInvoices(const std::string& booking_id) override {
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kLockOpenInvoicesOfBooking, use(booking_id, "booking_id"));
    return ReadAll(rows, ReadInvoice);
  }

  void UpdateInvoice(const Invoice& inv) override {
    const std::string status(domain::Name(inv.status));
    const int pending = inv.payment_pending ? 1 : 0;
    long long updated = clock::ToUnixMicros(inv.updated_at);
    OptMicros paid(inv.paid_at);
    sql_ << sql::kUpdateInvoice, use(status, "status"), use(inv.status_reason, "status_reason"),
        use(pending, "payment_pending"), use(inv.pending_attempt_id, "pending_attempt_id"),
        use(inv.customer_payment_id, "customer_payment_id"),
        use(updated, "updated"), use(paid.value, paid.ind, "paid"), use(inv.invoice_id, "invoice_id");
  }

  std::vector<Invoice> ListInvoices(const domain::InvoiceFilter& filter, const std::optional<domain::InvoiceCursor>& after,
                                    int limit) override {
    const std::string status = filter.status ? std::string(domain::Name(*filter.status)) : "";
    // No cursor: start above every possible key.
    long long cursor_us = after ? clock::ToUnixMicros(after->created_at) : 253402300799000000LL;
    const std::string cursor_id = after ? after->invoice_id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
    soci::rowset<soci::row> rows =
        (sql_.prepare << sql::kListInvoices, use(filter.booking_id, "booking_id"), use(status, "status"),
         use(cursor_us, "cursor_us"), use(cursor_id, "cursor_id"), use(limit, "limit"));
    return ReadAll(rows, ReadInvoice);
  }

  std::vector<Invoice> LockDueInvoices(Time now, int limit) override {
    long long now_us = clock::ToUnixMicros(now);
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kLockDueInvoices, use(now_us, "now"), use(limit, "limit"));
    return ReadAll(rows, ReadInvoice);
  }

  void InsertPayment(const CustomerPayment& p) override {
    const std::string source(domain::Name(p.source));
    long long amount = p.amount.amount_minor;
    long long created = clock::ToUnixMicros(p.created_at);
    sql_ << sql::kInsertPayment, use(p.customer_payment_id, "id"), use(p.booking_id, "booking_id"),
        use(p.invoice_id, "invoice_id"), use(p.amount.currency, "currency"), use(amount, "amount_minor"),
        use(source, "source"), use(p.payment_intent_id, "payment_intent_id"),
        use(p.external_reference, "external_reference"), use(created, "created");
  }

  std::vector<CustomerPayment> ListPayments(const std::string& booking_id) override {
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kListPaymentsByBooking, use(booking_id, "booking_id"));
    return ReadAll(rows, ReadPayment);
  }

  std::optional<CustomerPayment> FindPayment(const std::string& customer_payment_id) override {
    return SelectOne<CustomerPayment>(sql::kSelectPayment, "id", customer_payment_id, ReadPayment);
  }

  std::optional<CustomerPayment> FindPaymentByIntent(const std::string& payment_intent_id) override {
    return SelectOne<CustomerPayment>(sql::kSelectPaymentByIntent, "payment_intent_id", payment_intent_id,
                                      ReadPayment);
  }

  void AppendEvent(const InvoiceEvent& e) override { AppendEventRow(sql_, e); }

  std::vector<InvoiceEvent> ListEvents(const std::string& invoice_id, int64_t after_sequence, int limit) override {
    long long after = after_sequence;
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kListEvents, use(invoice_id, "invoice_id"),
                                    use(after, "after"), use(limit, "limit"));
    return ReadAll(rows, [](const soci::row& row) {
      RowReader r(row);
      InvoiceEvent e;
      e.sequence = r.Int();
      e.invoice_id = r.Str();
      e.type = r.Str();
      const std::string from = r.Str();
      if (!from.empty()) e.from_status = Parsed(domain::ParseInvoiceStatus(from), "event status");
      e.to_status = Parsed(domain::ParseInvoiceStatus(r.Str()), "event status");
      e.reason = r.Str();
      e.request_id = r.Str();
      e.created_at = r.TimeAt();
      e.actor = r.Str();
      return e;
    });
  }

  void InsertAttempt(const domain::PayAttempt& a) override {
    const std::string status(domain::Name(a.status));
    long long amount = a.amount.amount_minor;
    OptMicros next(a.next_check_at);
    long long created = clock::ToUnixMicros(a.created_at);
    long long updated = clock::ToUnixMicros(a.updated_at);
    sql_ << sql::kInsertAttempt, use(a.attempt_id, "attempt_id"), use(a.invoice_id, "invoice_id"),
        use(a.caller, "caller"), use(a.request_id, "request_id"), use(a.amount.currency, "currency"),
        use(amount, "amount_minor"), use(status, "status"), use(a.payment_id, "payment_id"),
        use(a.payment_intent_id, "payment_intent_id"), use(a.failure_code, "failure_code"),
        use(a.failure_message, "failure_message"), use(next.value, next.ind, "next_check_at"),
        use(created, "created_at"), use(updated, "updated_at"), use(a.booking_id, "booking_id"),
        use(a.description, "description");
  }
  std::optional<domain::PayAttempt> FindAttempt(const std::string& attempt_id) override {
    return SelectOne<domain::PayAttempt>(sql::kSelectAttempt, "attempt_id", attempt_id, ReadAttempt);
  }
  std::optional<domain::PayAttempt> LockAttempt(const std::string& attempt_id) override {
    if (attempt_id.empty()) return std::nullopt;
    return SelectOne<domain::PayAttempt>(sql::kLockAttempt, "attempt_id", attempt_id, ReadAttempt);
  }
  std::optional<domain::PayAttempt> LockAttemptByPayment(const std::string& payment_id) override {
    if (payment_id.empty()) return std::nullopt;
    return SelectOne<domain::PayAttempt>(sql::kLockAttemptByPayment, "payment_id", payment_id, ReadAttempt);
  }
  std::optional<domain::PayAttempt> LockAttemptByIntent(const std::string& payment_intent_id) override {
    if (payment_intent_id.empty()) return std::nullopt;
    return SelectOne<domain::PayAttempt>(sql::kLockAttemptByIntent, "payment_intent_id", payment_intent_id,
                                         ReadAttempt);
  }
  void UpdateAttempt(const domain::PayAttempt& a) override {
    const std::string status(domain::Name(a.status));
    long long amount = a.amount.amount_minor;
    OptMicros next(a.next_check_at);
    long long updated = clock::ToUnixMicros(a.updated_at);
    sql_ << sql::kUpdateAttempt, use(status, "status"), use(amount, "amount_minor"), use(a.payment_id, "payment_id"),
        use(a.payment_intent_id, "payment_intent_id"), use(a.failure_code, "failure_code"),
        use(a.failure_message, "failure_message"), use(next.value, next.ind, "next_check_at"),
        use(updated, "updated_at"), use(a.attempt_id, "attempt_id");
  }
  void QueuePaymentAction(const domain::PaymentAction& a) override {
    const std::string kind(domain::Name(a.kind));
    long long created = clock::ToUnixMicros(a.created_at);
    sql_ << sql::kQueuePaymentAction, use(a.action_id, "action_id"), use(kind, "kind"),
        use(a.payment_id, "payment_id"), use(a.invoice_id, "invoice_id"), use(a.reason, "reason"),
        use(created, "created_at");
  }

  int64_t InsertNotification(const NotificationRecord& n) override {
    const std::string purpose(domain::Name(n.request.purpose));
    const std::string channel(domain::Name(n.request.channel));
    const std::string request = RequestToJson(n.request).dump();
    long long created = clock::ToUnixMicros(n.created_at);
    long long id = 0;
    sql_ << sql::kInsertNotification, use(n.invoice_id, "invoice_id"), use(purpose, "purpose"),
        use(channel, "channel"), use(n.request.Recipient(), "recipient"), use(request, "request"),
        use(created, "created"), into(id);
    return id;
  }

  std::vector<NotificationRecord> ListNotifications(const std::string& invoice_id) override {
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kListNotifications, use(invoice_id, "invoice_id"));
    return ReadAll(rows, ReadNotification);
  }

 private:
  // The booking's bound values, named as in kInsertBooking/kUpdateBooking.
  struct BookingParams {
    explicit BookingParams(const Booking& b)
        : status(domain::Name(b.status)),
          agreements(json(b.required_agreement_ids).dump()),
          total(b.total_minor),
          revision(b.revision),
          slot_hold(b.slot_hold_expires_at),
          created(clock::ToUnixMicros(b.created_at)),
          updated(clock::ToUnixMicros(b.updated_at)) {}
    std::string status;
    std::string agreements;
    long long total;
    long long revision;
    OptMicros slot_hold;
    long long created;
    long long updated;
  };

  template <typename T, typename Read>
  std::optional<T> SelectOne(const char* query, const char* name, const std::string& value, Read read) {
    soci::row row;
    sql_ << query, use(value, name), into(row);
    if (!sql_.got_data()) return std::nullopt;
    return read(row);
  }

  soci::session& sql_;
};

}  // namespace

void PgInvoiceStore::InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) {
  // A unique violation here means a concurrent transaction inserted the same
  // key first (two first upserts of one booking, two renumberings into one
  // id): the whole function runs again and now sees that row, and the domain
  // decides (update, BOOKING_ID_TAKEN, ...). Nothing ran outside the
  // rolled-back transaction, so running it again is safe.
  db::TransactRetryingConflicts(pool_, [&](soci::session& session) {
    PgInvoiceTx tx(session);
    fn(tx);
  });
}

std::optional<domain::InvoiceSnapshot> PgInvoiceStore::ReadInvoiceSnapshot(domain::InvoiceKey key,
                                                                           const std::string& value) {
  // The token column is text; an id that is not a UUID matches nothing
  // (the API checks ids, this keeps a bad one from being a cast error).
  if (key == domain::InvoiceKey::kId && !validation::IsUuid(value)) return std::nullopt;
  return pool_.Read([&](soci::session& sql) -> std::optional<domain::InvoiceSnapshot> {
    soci::row row;
    sql << (key == domain::InvoiceKey::kId ? sql::kSelectInvoiceSnapshotById : sql::kSelectInvoiceSnapshotByToken),
        use(value, "value"), into(row);
    if (!sql.got_data()) return std::nullopt;
    RowReader r(row);
    domain::InvoiceSnapshot out;
    out.invoice = ReadInvoiceFrom(r);
    if (r.NextIsNull()) db::Corrupt("invoice without its booking");
    out.booking = ReadBookingFrom(r);
    for (const auto& j : json::parse(std::string(r.Str()))) {
      JsonRowReader jr(j);
      out.payments.push_back(ReadPaymentFrom(jr));
    }
    for (const auto& j : json::parse(std::string(r.Str()))) {
      JsonRowReader jr(j);
      out.notifications.push_back(ReadNotificationFrom(jr));
    }
    return out;
  });
}

std::vector<NotificationRecord> PgInvoiceStore::Claim(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    long long lease_us = clock::ToUnixMicros(lease_until);
    soci::rowset<soci::row> rows = (sql.prepare << sql::kClaimNotifications, use(lease_us, "lease_until"),
                                    use(now_us, "now"), use(limit, "limit"));
    return ReadAll(rows, ReadNotification);
  });
}

std::optional<domain::InvoiceStatus> PgInvoiceStore::InvoiceStatusOf(const std::string& invoice_id) {
  return pool_.Transact([&](soci::session& sql) -> std::optional<domain::InvoiceStatus> {
    std::string status;
    sql << sql::kInvoiceStatus, use(invoice_id, "invoice_id"), into(status);
    if (!sql.got_data()) return std::nullopt;
    return domain::ParseInvoiceStatus(status);
  });
}

bool PgInvoiceStore::MarkAccepted(int64_t outbox_id, const std::string& notification_id,
                                  domain::NotificationState state, const std::string& failure_reason,
                                  std::optional<Time> sent_at, const InvoiceEvent& event) {
  return pool_.Transact([&](soci::session& sql) {
    const std::string state_name(domain::Name(state));
    long long id = outbox_id;
    OptMicros sent(sent_at);
    std::string invoice_id;
    sql << sql::kMarkNotificationAccepted, use(state_name, "state"), use(notification_id, "notification_id"),
        use(failure_reason, "failure_reason"), use(sent.value, sent.ind, "sent_at"), use(id, "outbox_id"),
        into(invoice_id);
    if (!sql.got_data()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

bool PgInvoiceStore::MarkRetry(int64_t outbox_id, const std::string& error, Time next_attempt_at) {
  return pool_.Transact([&](soci::session& sql) {
    long long id = outbox_id;
    long long next = clock::ToUnixMicros(next_attempt_at);
    std::string invoice_id;
    sql << sql::kMarkNotificationRetry, use(error, "error"), use(next, "next"), use(id, "outbox_id"),
        into(invoice_id);
    return sql.got_data();
  });
}

bool PgInvoiceStore::MarkFailed(int64_t outbox_id, const std::string& error, const InvoiceEvent& event) {
  return pool_.Transact([&](soci::session& sql) {
    long long id = outbox_id;
    std::string invoice_id;
    sql << sql::kMarkNotificationFailed, use(error, "error"), use(id, "outbox_id"), into(invoice_id);
    if (!sql.got_data()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

std::vector<NotificationRecord> PgInvoiceStore::ClaimForSync(Time now, Time next_sync_at, int limit) {
  return pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    long long next_us = clock::ToUnixMicros(next_sync_at);
    soci::rowset<soci::row> rows = (sql.prepare << sql::kClaimForSync, use(next_us, "next_sync"),
                                    use(now_us, "now"), use(limit, "limit"));
    return ReadAll(rows, ReadNotification);
  });
}

bool PgInvoiceStore::UpdateDelivery(int64_t outbox_id, domain::NotificationState state,
                                    const std::string& failure_reason, std::optional<Time> sent_at,
                                    const InvoiceEvent& event) {
  return pool_.Transact([&](soci::session& sql) {
    const std::string state_name(domain::Name(state));
    long long id = outbox_id;
    OptMicros sent(sent_at);
    std::string invoice_id;
    sql << sql::kUpdateNotificationDelivery, use(state_name, "state"), use(failure_reason, "failure_reason"),
        use(sent.value, sent.ind, "sent_at"), use(id, "outbox_id"), into(invoice_id);
    if (!sql.got_data()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

bool PgInvoiceStore::Requeue(int64_t outbox_id, Time now, const InvoiceEvent& event) {
  return pool_.Transact([&](soci::session& sql) {
    long long id = outbox_id;
    long long now_us = clock::ToUnixMicros(now);
    std::string invoice_id;
    sql << sql::kRequeueNotification, use(now_us, "now"), use(id, "outbox_id"), into(invoice_id);
    if (!sql.got_data()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

int64_t PgInvoiceStore::Backlog() {
  return pool_.Transact([&](soci::session& sql) {
    long long count = 0;
    sql << sql::kCountPendingNotifications, into(count);
    return static_cast<int64_t>(count);
  });
}

std::vector<domain::PayAttempt> PgInvoiceStore::ClaimAttemptsToCheck(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    long long lease_us = clock::ToUnixMicros(lease_until);
    soci::rowset<soci::row> rows = (sql.prepare << sql::kClaimAttemptsToCheck, use(lease_us, "lease_until"),
                                    use(now_us, "now"), use(limit, "limit"));
    return ReadAll(rows, ReadAttempt);
  });
}

std::vector<domain::PaymentAction> PgInvoiceStore::ClaimPaymentActions(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    long long lease_us = clock::ToUnixMicros(lease_until);
    soci::rowset<soci::row> rows = (sql.prepare << sql::kClaimPaymentActions, use(lease_us, "lease_until"),
                                    use(now_us, "now"), use(limit, "limit"));
    return ReadAll(rows, ReadAction);
  });
}

void PgInvoiceStore::MarkActionDone(const std::string& action_id, Time now) {
  pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    sql << sql::kMarkActionDone, use(now_us, "now"), use(action_id, "action_id");
  });
}

void PgInvoiceStore::MarkActionRetry(const std::string& action_id, const std::string& error, Time next_attempt_at) {
  pool_.Transact([&](soci::session& sql) {
    long long next = clock::ToUnixMicros(next_attempt_at);
    sql << sql::kMarkActionRetry, use(next, "next"), use(error, "error"), use(action_id, "action_id");
  });
}

void PgInvoiceStore::MarkActionFailed(const std::string& action_id, const std::string& error, Time now) {
  pool_.Transact([&](soci::session& sql) {
    long long now_us = clock::ToUnixMicros(now);
    sql << sql::kMarkActionFailed, use(now_us, "now"), use(error, "error"), use(action_id, "action_id");
  });
}

}  // namespace billing::invoice::storage
