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

using db::Parsed;
using db::JsonRowReader;

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

Booking ReadBooking(db::ResultRowReader& r) { return ReadBookingFrom(r); }

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

Invoice ReadInvoice(db::ResultRowReader& r) { return ReadInvoiceFrom(r); }

domain::PayAttempt ReadAttempt(db::ResultRowReader& r) {
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

domain::PaymentAction ReadAction(db::ResultRowReader& r) {
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

CustomerPayment ReadPayment(db::ResultRowReader& r) { return ReadPaymentFrom(r); }

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

NotificationRecord ReadNotification(db::ResultRowReader& r) { return ReadNotificationFrom(r); }

// In the order of sql.h's BILLING_NOTIFICATION_SUMMARY_COLUMNS.
template <typename Reader>
domain::NotificationSummary ReadNotificationSummaryFrom(Reader& r) {
  domain::NotificationSummary n;
  n.outbox_id = r.Int();
  n.purpose = Parsed(domain::ParseNotificationPurpose(r.Str()), "notification purpose");
  n.channel = Parsed(domain::ParseChannel(r.Str()), "notification channel");
  n.recipient = r.Str();
  n.state = Parsed(domain::ParseNotificationState(r.Str()), "notification state");
  n.notification_id = r.Str();
  n.failure_reason = r.Str();
  n.created_at = r.TimeAt();
  n.sent_at = r.OptTime();
  return n;
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

// Every row of a result, each read by `read(db::ResultRowReader&)`.
template <typename Read>
auto ReadAll(const db::Result& result, Read read) {
  std::vector<decltype(read(std::declval<db::ResultRowReader&>()))> out;
  out.reserve(static_cast<std::size_t>(result.Rows()));
  for (int i = 0; i < result.Rows(); ++i) {
    db::ResultRowReader r(result, i);
    out.push_back(read(r));
  }
  return out;
}

void AppendEventRow(db::Session& sql, const InvoiceEvent& e) {
  const std::string from = e.from_status ? std::string(domain::Name(*e.from_status)) : "";
  const std::string to(domain::Name(e.to_status));
  sql.Run(sql::kAppendEvent, {{"invoice_id", e.invoice_id}, {"type", e.type}, {"from_status", from},
                              {"to_status", to}, {"reason", e.reason}, {"request_id", e.request_id},
                              {"created", e.created_at}, {"actor", e.actor}});
}

// Appends an event about a notification, stamped with the invoice's current
// status (sends do not change it). Locking the invoice row serializes the
// log's sequence numbers with the invoice's own transactions.
void AppendNotificationEvent(db::Session& sql, const InvoiceEvent& event) {
  const db::Result result = sql.Run(sql::kInvoiceStatusForUpdate, {{"invoice_id", event.invoice_id}});
  if (result.Empty()) return;
  InvoiceEvent e = event;
  e.from_status = domain::ParseInvoiceStatus(db::ResultRowReader(result, 0).Str());
  e.to_status = e.from_status.value_or(domain::InvoiceStatus::kOpen);
  AppendEventRow(sql, e);
}

class PgInvoiceTx final : public domain::InvoiceTx {
 public:
  explicit PgInvoiceTx(db::Session& sql) : sql_(sql) {}

  std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller, const std::string& request_id,
                                                       const std::string& method, const std::string& fingerprint,
                                                       Time now) override {
    const db::Result claimed =
        sql_.Run(sql::kClaimIdempotencyKey, {{"caller", caller}, {"request_id", request_id}, {"method", method},
                                             {"fingerprint", fingerprint}, {"now", now}});
    if (!claimed.Empty()) return std::nullopt;
    const db::Result stored = sql_.Run(sql::kSelectIdempotencyKey, {{"caller", caller}, {"request_id", request_id}});
    if (stored.Empty()) db::Corrupt("an idempotency key that conflicted is gone");
    db::ResultRowReader r(stored, 0);
    IdempotencyRecord record;
    record.method = r.Str();
    record.fingerprint = r.Str();
    record.resource_id = r.Str();
    return record;
  }

  void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                              const std::string& resource_id) override {
    sql_.Run(sql::kCompleteIdempotencyKey, {{"resource_id", resource_id}, {"caller", caller}, {"request_id", request_id}});
  }

  std::optional<Booking> LockBooking(const std::string& booking_id) override {
    return SelectOne<Booking>(sql::kLockBooking, "booking_id", booking_id, ReadBooking);
  }
  std::optional<Booking> FindBooking(const std::string& booking_id) override {
    return SelectOne<Booking>(sql::kSelectBooking, "booking_id", booking_id, ReadBooking);
  }

  void InsertBooking(const Booking& b) override {
    const BookingText t(b);
    sql_.Run(sql::kInsertBooking,
             {{"booking_id", b.booking_id}, {"status", t.status}, {"customer_name", b.customer.name},
              {"customer_email", b.customer.email}, {"customer_phone", b.customer.phone}, {"currency", b.currency},
              {"total_minor", b.total_minor}, {"activity_name", b.activity_name}, {"start_local", b.start_local},
              {"end_local", b.end_local}, {"time_zone", b.time_zone}, {"confirmation_code", b.confirmation_code},
              {"agreements", t.agreements}, {"slot_hold", b.slot_hold_expires_at}, {"revision", b.revision},
              {"created", b.created_at}, {"updated", b.updated_at}});
  }

  void UpdateBooking(const Booking& b) override {
    const BookingText t(b);
    sql_.Run(sql::kUpdateBooking,
             {{"booking_id", b.booking_id}, {"status", t.status}, {"customer_name", b.customer.name},
              {"customer_email", b.customer.email}, {"customer_phone", b.customer.phone}, {"currency", b.currency},
              {"total_minor", b.total_minor}, {"activity_name", b.activity_name}, {"start_local", b.start_local},
              {"end_local", b.end_local}, {"time_zone", b.time_zone}, {"confirmation_code", b.confirmation_code},
              {"agreements", t.agreements}, {"slot_hold", b.slot_hold_expires_at}, {"revision", b.revision},
              {"updated", b.updated_at}});
  }

  void SetBookingPaid(const std::string& booking_id, int64_t paid_minor, Time updated_at) override {
    sql_.Run(sql::kSetBookingPaid, {{"paid", paid_minor}, {"updated", updated_at}, {"booking_id", booking_id}});
  }

  bool BookingHasInvoicesOrPayments(const std::string& booking_id) override {
    const db::Result found = sql_.Run(sql::kBookingHasInvoicesOrPayments, {{"booking_id", booking_id}});
    return !found.Empty() && db::ResultRowReader(found, 0).Bool();
  }

  void RenameBooking(const std::string& from, const std::string& to) override {
    sql_.Run(sql::kRenameBooking, {{"to", to}, {"from", from}});
  }

  void InsertInvoice(const Invoice& inv) override {
    const std::string status(domain::Name(inv.status));
    const std::string send_type(domain::Name(inv.send_type));
    const std::string line_items = LineItemsJson(inv);
    const std::string fees = FeesJson(inv);
    const std::string custom_fields = CustomFieldsJson(inv);
    sql_.Run(sql::kInsertInvoice,
             {{"invoice_id", inv.invoice_id}, {"booking_id", inv.booking_id}, {"status", status},
              {"currency", inv.amount.currency}, {"amount_minor", inv.amount.amount_minor},
              {"confirm_on_pay", inv.confirm_on_pay ? 1 : 0}, {"override", inv.send_to_email_override},
              {"send_type", send_type}, {"token", inv.token}, {"line_items", line_items}, {"fees", fees},
              {"custom_fields", custom_fields}, {"due_at", inv.due_at}, {"status_reason", inv.status_reason},
              {"created", inv.created_at}, {"updated", inv.updated_at}});
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
    return ReadAll(sql_.Run(sql::kLockOpenInvoicesOfBooking, {{"booking_id", booking_id}}), ReadInvoice);
  }

  void UpdateInvoice(const Invoice& inv) override {
    const std::string status(domain::Name(inv.status));
    sql_.Run(sql::kUpdateInvoice,
             {{"status", status}, {"status_reason", inv.status_reason}, {"payment_pending", inv.payment_pending ? 1 : 0},
              {"pending_attempt_id", inv.pending_attempt_id}, {"customer_payment_id", inv.customer_payment_id},
              {"updated", inv.updated_at}, {"paid", inv.paid_at}, {"invoice_id", inv.invoice_id}});
  }

  std::vector<Invoice> ListInvoices(const domain::InvoiceFilter& filter, const std::optional<domain::InvoiceCursor>& after,
                                    int limit) override {
    const std::string status = filter.status ? std::string(domain::Name(*filter.status)) : "";
    // No cursor: start above every possible key.
    long long cursor_us = after ? clock::ToUnixMicros(after->created_at) : 253402300799000000LL;
    const std::string cursor_id = after ? after->invoice_id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
    return ReadAll(sql_.Run(sql::kListInvoices, {{"booking_id", filter.booking_id}, {"status", status},
                                                 {"cursor_us", cursor_us}, {"cursor_id", cursor_id}, {"limit", limit}},
                           db::Session::Planning::kPerCall),  // optional filters: plan for the values given
                   ReadInvoice);
  }

  std::vector<Invoice> LockDueInvoices(Time now, int limit) override {
    return ReadAll(sql_.Run(sql::kLockDueInvoices, {{"now", now}, {"limit", limit}}), ReadInvoice);
  }

  void InsertPayment(const CustomerPayment& p) override {
    const std::string source(domain::Name(p.source));
    sql_.Run(sql::kInsertPayment, {{"id", p.customer_payment_id}, {"booking_id", p.booking_id},
                                   {"invoice_id", p.invoice_id}, {"currency", p.amount.currency},
                                   {"amount_minor", p.amount.amount_minor}, {"source", source},
                                   {"payment_intent_id", p.payment_intent_id},
                                   {"external_reference", p.external_reference}, {"created", p.created_at}});
  }

  std::vector<CustomerPayment> ListPayments(const std::string& booking_id) override {
    return ReadAll(sql_.Run(sql::kListPaymentsByBooking, {{"booking_id", booking_id}}), ReadPayment);
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
    const db::Result rows =
        sql_.Run(sql::kListEvents, {{"invoice_id", invoice_id}, {"after", after_sequence}, {"limit", limit}});
    return ReadAll(rows, [](db::ResultRowReader& r) {
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
    sql_.Run(sql::kInsertAttempt,
             {{"attempt_id", a.attempt_id}, {"invoice_id", a.invoice_id}, {"caller", a.caller},
              {"request_id", a.request_id}, {"currency", a.amount.currency}, {"amount_minor", a.amount.amount_minor},
              {"status", status}, {"payment_id", a.payment_id}, {"payment_intent_id", a.payment_intent_id},
              {"failure_code", a.failure_code}, {"failure_message", a.failure_message},
              {"next_check_at", a.next_check_at}, {"created_at", a.created_at}, {"updated_at", a.updated_at},
              {"booking_id", a.booking_id}, {"description", a.description}});
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
    sql_.Run(sql::kUpdateAttempt,
             {{"status", status}, {"amount_minor", a.amount.amount_minor}, {"payment_id", a.payment_id},
              {"payment_intent_id", a.payment_intent_id}, {"failure_code", a.failure_code},
              {"failure_message", a.failure_message}, {"next_check_at", a.next_check_at},
              {"updated_at", a.updated_at}, {"attempt_id", a.attempt_id}});
  }
  void QueuePaymentAction(const domain::PaymentAction& a) override {
    const std::string kind(domain::Name(a.kind));
    sql_.Run(sql::kQueuePaymentAction, {{"action_id", a.action_id}, {"kind", kind}, {"payment_id", a.payment_id},
                                        {"invoice_id", a.invoice_id}, {"reason", a.reason},
                                        {"created_at", a.created_at}});
  }

  int64_t InsertNotification(const NotificationRecord& n) override {
    const std::string purpose(domain::Name(n.request.purpose));
    const std::string channel(domain::Name(n.request.channel));
    const std::string request = RequestToJson(n.request).dump();
    const std::string recipient = n.request.Recipient();
    const db::Result inserted =
        sql_.Run(sql::kInsertNotification, {{"invoice_id", n.invoice_id}, {"purpose", purpose}, {"channel", channel},
                                            {"recipient", recipient}, {"request", request},
                                            {"created", n.created_at}});
    if (inserted.Empty()) db::Corrupt("a notification insert returned no id");
    return db::ResultRowReader(inserted, 0).Int();
  }

  std::vector<NotificationRecord> ListNotifications(const std::string& invoice_id) override {
    return ReadAll(sql_.Run(sql::kListNotifications, {{"invoice_id", invoice_id}}), ReadNotification);
  }

 private:
  // The booking's values kInsertBooking and kUpdateBooking bind as text.
  struct BookingText {
    explicit BookingText(const Booking& b)
        : status(domain::Name(b.status)), agreements(json(b.required_agreement_ids).dump()) {}
    std::string status;
    std::string agreements;
  };

  template <typename T, typename Read>
  std::optional<T> SelectOne(const char* query, const char* name, const std::string& value, Read read) {
    const db::Result result = sql_.Run(query, {{name, value}});
    if (result.Empty()) return std::nullopt;
    db::ResultRowReader r(result, 0);
    return read(r);
  }

  db::Session& sql_;
};

}  // namespace

void PgInvoiceStore::InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) {
  // A unique violation here means a concurrent transaction inserted the same
  // key first (two first upserts of one booking, two renumberings into one
  // id): the whole function runs again and now sees that row, and the domain
  // decides (update, BOOKING_ID_TAKEN, ...). Nothing ran outside the
  // rolled-back transaction, so running it again is safe.
  db::TransactRetryingConflicts(pool_, [&](db::Session& session) {
    PgInvoiceTx tx(session);
    fn(tx);
  });
}

std::optional<domain::InvoiceSnapshot> PgInvoiceStore::ReadInvoiceSnapshot(domain::InvoiceKey key,
                                                                           const std::string& value) {
  // The token column is text; an id that is not a UUID matches nothing
  // (the API checks ids, this keeps a bad one from being a cast error).
  if (key == domain::InvoiceKey::kId && !validation::IsUuid(value)) return std::nullopt;
  return pool_.Read([&](db::Session& sql) -> std::optional<domain::InvoiceSnapshot> {
    // The hottest read: prepared once per connection (db::Session::Run).
    const db::Result result = sql.Run(
        key == domain::InvoiceKey::kId ? sql::kSelectInvoiceSnapshotById : sql::kSelectInvoiceSnapshotByToken,
        {{"value", value}});
    if (result.Empty()) return std::nullopt;
    db::ResultRowReader r(result, 0);
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
      out.notifications.push_back(ReadNotificationSummaryFrom(jr));
    }
    return out;
  });
}

std::vector<NotificationRecord> PgInvoiceStore::Claim(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll(sql.Run(sql::kClaimNotifications, {{"lease_until", lease_until}, {"now", now}, {"limit", limit}},
                           db::Session::Planning::kPerCall),
                   ReadNotification);
  });
}

std::optional<domain::InvoiceStatus> PgInvoiceStore::InvoiceStatusOf(const std::string& invoice_id) {
  // One statement: no transaction (BEGIN and COMMIT were two round trips
  // per hand-off).
  return pool_.Read([&](db::Session& sql) -> std::optional<domain::InvoiceStatus> {
    const db::Result result = sql.Run(sql::kInvoiceStatus, {{"invoice_id", invoice_id}});
    if (result.Empty()) return std::nullopt;
    return domain::ParseInvoiceStatus(db::ResultRowReader(result, 0).Str());
  });
}

bool PgInvoiceStore::MarkAccepted(int64_t outbox_id, const std::string& notification_id,
                                  domain::NotificationState state, const std::string& failure_reason,
                                  std::optional<Time> sent_at, const InvoiceEvent& event) {
  return pool_.Transact([&](db::Session& sql) {
    const std::string state_name(domain::Name(state));
    if (sql.Run(sql::kMarkNotificationAccepted, {{"state", state_name}, {"notification_id", notification_id},
                                                 {"failure_reason", failure_reason}, {"sent_at", sent_at},
                                                 {"outbox_id", outbox_id}})
            .Empty()) {
      return false;
    }
    AppendNotificationEvent(sql, event);
    return true;
  });
}

bool PgInvoiceStore::MarkRetry(int64_t outbox_id, const std::string& error, Time next_attempt_at) {
  return pool_.Transact([&](db::Session& sql) {
    return !sql.Run(sql::kMarkNotificationRetry, {{"error", error}, {"next", next_attempt_at}, {"outbox_id", outbox_id}})
                .Empty();
  });
}

bool PgInvoiceStore::MarkFailed(int64_t outbox_id, const std::string& error, const InvoiceEvent& event) {
  return pool_.Transact([&](db::Session& sql) {
    if (sql.Run(sql::kMarkNotificationFailed, {{"error", error}, {"outbox_id", outbox_id}}).Empty()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

std::vector<NotificationRecord> PgInvoiceStore::ClaimForSync(Time now, Time next_sync_at, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll(sql.Run(sql::kClaimForSync, {{"next_sync", next_sync_at}, {"now", now}, {"limit", limit}},
                           db::Session::Planning::kPerCall),
                   ReadNotification);
  });
}

bool PgInvoiceStore::UpdateDelivery(int64_t outbox_id, domain::NotificationState state,
                                    const std::string& failure_reason, std::optional<Time> sent_at,
                                    const InvoiceEvent& event) {
  return pool_.Transact([&](db::Session& sql) {
    const std::string state_name(domain::Name(state));
    if (sql.Run(sql::kUpdateNotificationDelivery, {{"state", state_name}, {"failure_reason", failure_reason},
                                                   {"sent_at", sent_at}, {"outbox_id", outbox_id}})
            .Empty()) {
      return false;
    }
    AppendNotificationEvent(sql, event);
    return true;
  });
}

bool PgInvoiceStore::Requeue(int64_t outbox_id, Time now, const InvoiceEvent& event) {
  return pool_.Transact([&](db::Session& sql) {
    if (sql.Run(sql::kRequeueNotification, {{"now", now}, {"outbox_id", outbox_id}}).Empty()) return false;
    AppendNotificationEvent(sql, event);
    return true;
  });
}

int64_t PgInvoiceStore::Backlog() {
  return pool_.Transact([&](db::Session& sql) {
    const db::Result result = sql.Run(sql::kCountPendingNotifications);
    return static_cast<int64_t>(db::ResultRowReader(result, 0).Int());
  });
}

std::vector<domain::PayAttempt> PgInvoiceStore::ClaimAttemptsToCheck(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll(sql.Run(sql::kClaimAttemptsToCheck, {{"lease_until", lease_until}, {"now", now}, {"limit", limit}},
                           db::Session::Planning::kPerCall),
                   ReadAttempt);
  });
}

std::vector<domain::PaymentAction> PgInvoiceStore::ClaimPaymentActions(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll(sql.Run(sql::kClaimPaymentActions, {{"lease_until", lease_until}, {"now", now}, {"limit", limit}},
                           db::Session::Planning::kPerCall),
                   ReadAction);
  });
}

void PgInvoiceStore::MarkActionDone(const std::string& action_id, Time now) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kMarkActionDone, {{"now", now}, {"action_id", action_id}});
  });
}

void PgInvoiceStore::MarkActionRetry(const std::string& action_id, const std::string& error, Time next_attempt_at) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kMarkActionRetry, {{"next", next_attempt_at}, {"error", error}, {"action_id", action_id}});
  });
}

void PgInvoiceStore::MarkActionFailed(const std::string& action_id, const std::string& error, Time now) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kMarkActionFailed, {{"now", now}, {"error", error}, {"action_id", action_id}});
  });
}

}  // namespace billing::invoice::storage
