#include "storage/pg_invoice_store.h"

#include <nlohmann/json.hpp>

#include "errors/error.h"
#include "storage/sql.h"

namespace billing::invoice::storage {
namespace {

using domain::Booking;
using domain::CustomerPayment;
using domain::IdempotencyRecord;
using domain::Invoice;
using domain::InvoiceEvent;
using domain::Time;
using soci::indicator;
using soci::into;
using soci::use;

// Reads column i of a row, tolerating NULL where the schema allows it.
class RowReader {
 public:
  explicit RowReader(const soci::row& row) : row_(row) {}
  std::string Str() { return row_.get<std::string>(i_++); }
  long long Int() { return row_.get<long long>(i_++); }
  bool Bool() { return row_.get<int>(i_++) != 0; }
  std::optional<Time> OptTime() {
    const std::size_t i = i_++;
    if (row_.get_indicator(i) == soci::i_null) return std::nullopt;
    return clock::FromUnixMicros(row_.get<long long>(i));
  }
  Time TimeAt() { return clock::FromUnixMicros(Int()); }

 private:
  const soci::row& row_;
  std::size_t i_ = 0;
};

[[noreturn]] void Corrupt(const std::string& what) {
  throw errors::Error(errors::Reason::kInternal, "stored data is inconsistent: " + what);
}

Booking ReadBooking(const soci::row& row) {
  RowReader r(row);
  Booking b;
  b.booking_id = r.Str();
  const auto status = domain::ParseBookingStatus(r.Str());
  if (!status) Corrupt("booking status");
  b.status = *status;
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
  b.required_agreement_ids = nlohmann::json::parse(r.Str()).get<std::vector<std::string>>();
  b.slot_hold_expires_at = r.OptTime();
  b.revision = r.Int();
  b.created_at = r.TimeAt();
  b.updated_at = r.TimeAt();
  return b;
}

Invoice ReadInvoice(const soci::row& row) {
  RowReader r(row);
  Invoice inv;
  inv.invoice_id = r.Str();
  inv.booking_id = r.Str();
  const auto status = domain::ParseInvoiceStatus(r.Str());
  if (!status) Corrupt("invoice status");
  inv.status = *status;
  inv.amount.currency = r.Str();
  inv.amount.amount_minor = r.Int();
  inv.confirm_on_pay = r.Bool();
  inv.send_to_email_override = r.Str();
  const auto channel = domain::ParseChannel(r.Str());
  if (!channel) Corrupt("invoice send_type");
  inv.send_type = *channel;
  inv.token = r.Str();
  for (const auto& j : nlohmann::json::parse(r.Str())) {
    inv.line_items.push_back({j.at("name").get<std::string>(), j.at("quantity").get<int64_t>(),
                              j.at("unit_amount_minor").get<int64_t>()});
  }
  for (const auto& j : nlohmann::json::parse(r.Str())) {
    inv.fees.push_back({j.at("name").get<std::string>(), j.at("amount_minor").get<int64_t>()});
  }
  for (const auto& j : nlohmann::json::parse(r.Str())) {
    inv.custom_fields.push_back({j.at("name").get<std::string>(), j.at("value").get<std::string>()});
  }
  inv.due_at = r.OptTime();
  inv.status_reason = r.Str();
  inv.payment_pending = r.Bool();
  inv.customer_payment_id = r.Str();
  inv.created_at = r.TimeAt();
  inv.updated_at = r.TimeAt();
  inv.paid_at = r.OptTime();
  return inv;
}

std::string LineItemsJson(const Invoice& inv) {
  auto out = nlohmann::json::array();
  for (const auto& li : inv.line_items) {
    out.push_back({{"name", li.name}, {"quantity", li.quantity}, {"unit_amount_minor", li.unit_amount_minor}});
  }
  return out.dump();
}

std::string FeesJson(const Invoice& inv) {
  auto out = nlohmann::json::array();
  for (const auto& f : inv.fees) out.push_back({{"name", f.name}, {"amount_minor", f.amount_minor}});
  return out.dump();
}

std::string CustomFieldsJson(const Invoice& inv) {
  auto out = nlohmann::json::array();
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

class PgInvoiceTx final : public domain::InvoiceTx {
 public:
  explicit PgInvoiceTx(soci::session& sql) : sql_(sql) {}

  std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller,
                                                       const std::string& request_id,
                                                       const std::string& method,
                                                       const std::string& fingerprint,
                                                       Time now) override {
    long long now_us = clock::ToUnixMicros(now);
    int claimed = 0;
    sql_ << sql::kClaimIdempotencyKey, use(caller, "caller"), use(request_id, "request_id"),
        use(method, "method"), use(fingerprint, "fingerprint"), use(now_us, "now"), into(claimed);
    if (sql_.got_data()) return std::nullopt;
    IdempotencyRecord record;
    sql_ << sql::kSelectIdempotencyKey, use(caller, "caller"), use(request_id, "request_id"),
        into(record.method), into(record.fingerprint), into(record.resource_id);
    return record;
  }

  void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                              const std::string& resource_id) override {
    sql_ << sql::kCompleteIdempotencyKey, use(resource_id, "resource_id"), use(caller, "caller"),
        use(request_id, "request_id");
  }

  std::optional<Booking> LockBooking(const std::string& booking_id) override {
    return SelectBooking(sql::kLockBooking, booking_id);
  }
  std::optional<Booking> FindBooking(const std::string& booking_id) override {
    return SelectBooking(sql::kSelectBooking, booking_id);
  }

  void InsertBooking(const Booking& b) override { InsertBookingRow(b); }
  void UpdateBooking(const Booking& b) override { UpdateBookingRow(b); }

  bool BookingHasInvoicesOrPayments(const std::string& booking_id) override {
    int found = 0;
    sql_ << sql::kBookingHasInvoicesOrPayments, use(booking_id, "booking_id"), into(found);
    return found != 0;
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
        use(confirm, "confirm_on_pay"), use(inv.send_to_email_override, "override"),
        use(send_type, "send_type"), use(inv.token, "token"), use(line_items, "line_items"),
        use(fees, "fees"), use(custom_fields, "custom_fields"), use(due.value, due.ind, "due_at"),
        use(inv.status_reason, "status_reason"), use(created, "created"), use(updated, "updated");
  }

  std::optional<Invoice> FindInvoice(const std::string& invoice_id) override {
    soci::row row;
    sql_ << sql::kSelectInvoice, use(invoice_id, "invoice_id"), into(row);
    if (!sql_.got_data()) return std::nullopt;
    return ReadInvoice(row);
  }

  std::optional<Invoice> FindInvoiceByToken(const std::string& token) override {
    soci::row row;
    sql_ << sql::kSelectInvoiceByToken, use(token, "token"), into(row);
    if (!sql_.got_data()) return std::nullopt;
    return ReadInvoice(row);
  }

  std::vector<CustomerPayment> ListPayments(const std::string& booking_id) override {
    std::vector<CustomerPayment> out;
    soci::rowset<soci::row> rows = (sql_.prepare << sql::kListPaymentsByBooking, use(booking_id, "booking_id"));
    for (const auto& row : rows) {
      RowReader r(row);
      CustomerPayment p;
      p.customer_payment_id = r.Str();
      p.booking_id = r.Str();
      p.invoice_id = r.Str();
      p.amount.currency = r.Str();
      p.amount.amount_minor = r.Int();
      const auto source = domain::ParsePaymentSource(r.Str());
      if (!source) Corrupt("payment source");
      p.source = *source;
      p.payment_intent_id = r.Str();
      p.external_reference = r.Str();
      p.created_at = r.TimeAt();
      out.push_back(std::move(p));
    }
    return out;
  }

  void AppendEvent(const InvoiceEvent& e) override {
    const std::string from = e.from_status ? std::string(domain::Name(*e.from_status)) : "";
    const std::string to(domain::Name(e.to_status));
    long long created = clock::ToUnixMicros(e.created_at);
    sql_ << sql::kAppendEvent, use(e.invoice_id, "invoice_id"), use(e.type, "type"),
        use(from, "from_status"), use(to, "to_status"), use(e.reason, "reason"),
        use(e.request_id, "request_id"), use(created, "created");
  }

 private:
  std::optional<Booking> SelectBooking(const char* query, const std::string& booking_id) {
    soci::row row;
    sql_ << query, use(booking_id, "booking_id"), into(row);
    if (!sql_.got_data()) return std::nullopt;
    return ReadBooking(row);
  }

  // The booking's bound values, named as in kInsertBooking/kUpdateBooking.
  struct BookingParams {
    explicit BookingParams(const Booking& b)
        : status(domain::Name(b.status)),
          agreements(nlohmann::json(b.required_agreement_ids).dump()),
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

  void InsertBookingRow(const Booking& b) {
    BookingParams p(b);
    sql_ << sql::kInsertBooking, use(b.booking_id, "booking_id"), use(p.status, "status"),
        use(b.customer.name, "customer_name"), use(b.customer.email, "customer_email"),
        use(b.customer.phone, "customer_phone"), use(b.currency, "currency"),
        use(p.total, "total_minor"), use(b.activity_name, "activity_name"),
        use(b.start_local, "start_local"), use(b.end_local, "end_local"),
        use(b.time_zone, "time_zone"), use(b.confirmation_code, "confirmation_code"),
        use(p.agreements, "agreements"), use(p.slot_hold.value, p.slot_hold.ind, "slot_hold"),
        use(p.revision, "revision"), use(p.created, "created"), use(p.updated, "updated");
  }

  void UpdateBookingRow(const Booking& b) {
    BookingParams p(b);
    sql_ << sql::kUpdateBooking, use(b.booking_id, "booking_id"), use(p.status, "status"),
        use(b.customer.name, "customer_name"), use(b.customer.email, "customer_email"),
        use(b.customer.phone, "customer_phone"), use(b.currency, "currency"),
        use(p.total, "total_minor"), use(b.activity_name, "activity_name"),
        use(b.start_local, "start_local"), use(b.end_local, "end_local"),
        use(b.time_zone, "time_zone"), use(b.confirmation_code, "confirmation_code"),
        use(p.agreements, "agreements"), use(p.slot_hold.value, p.slot_hold.ind, "slot_hold"),
        use(p.revision, "revision"), use(p.updated, "updated");
  }

  soci::session& sql_;
};

}  // namespace

void PgInvoiceStore::InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) {
  pool_.Transact([&](soci::session& session) {
    PgInvoiceTx tx(session);
    fn(tx);
  });
}

}  // namespace billing::invoice::storage
