#include "unit/invoice/fake_invoice_store.h"

namespace billing::invoice::testing {
namespace {

using domain::Booking;
using domain::CustomerPayment;
using domain::IdempotencyRecord;
using domain::Invoice;
using domain::InvoiceEvent;
using domain::Time;

class FakeTx final : public domain::InvoiceTx {
 public:
  explicit FakeTx(FakeInvoiceStore::Data& d) : d_(d) {}

  std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller,
                                                       const std::string& request_id,
                                                       const std::string& method,
                                                       const std::string& fingerprint, Time) override {
    auto key = std::make_pair(caller, request_id);
    if (auto it = d_.keys.find(key); it != d_.keys.end()) return it->second;
    d_.keys[key] = {method, fingerprint, ""};
    return std::nullopt;
  }
  void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                              const std::string& resource_id) override {
    d_.keys.at({caller, request_id}).resource_id = resource_id;
  }
  std::optional<Booking> LockBooking(const std::string& id) override { return FindBooking(id); }
  std::optional<Booking> FindBooking(const std::string& id) override {
    auto it = d_.bookings.find(id);
    if (it == d_.bookings.end()) return std::nullopt;
    return it->second;
  }
  void InsertBooking(const Booking& b) override { d_.bookings[b.booking_id] = b; }
  void UpdateBooking(const Booking& b) override {
    Booking& stored = d_.bookings.at(b.booking_id);
    const auto paid = stored.paid_minor;
    const auto created = stored.created_at;
    stored = b;
    stored.paid_minor = paid;
    stored.created_at = created;
  }
  bool BookingHasInvoicesOrPayments(const std::string& id) override {
    for (const auto& [_, inv] : d_.invoices) {
      if (inv.booking_id == id) return true;
    }
    for (const auto& p : d_.payments) {
      if (p.booking_id == id) return true;
    }
    return false;
  }
  void InsertInvoice(const Invoice& inv) override {
    for (const auto& [_, other] : d_.invoices) {
      if (other.token == inv.token) throw std::runtime_error("duplicate token");
    }
    d_.invoices[inv.invoice_id] = inv;
  }
  std::optional<Invoice> FindInvoice(const std::string& id) override {
    auto it = d_.invoices.find(id);
    if (it == d_.invoices.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Invoice> FindInvoiceByToken(const std::string& token) override {
    for (const auto& [_, inv] : d_.invoices) {
      if (inv.token == token) return inv;
    }
    return std::nullopt;
  }
  std::vector<CustomerPayment> ListPayments(const std::string& booking_id) override {
    std::vector<CustomerPayment> out;
    for (const auto& p : d_.payments) {
      if (p.booking_id == booking_id) out.push_back(p);
    }
    return out;
  }
  void AppendEvent(const InvoiceEvent& e) override {
    InvoiceEvent copy = e;
    int64_t last = 0;
    for (const auto& other : d_.events) {
      if (other.invoice_id == e.invoice_id) last = std::max(last, other.sequence);
    }
    copy.sequence = last + 1;
    d_.events.push_back(copy);
  }

 private:
  FakeInvoiceStore::Data& d_;
};

}  // namespace

void FakeInvoiceStore::InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) {
  std::lock_guard lock(mu_);
  Data working = data_;
  FakeTx tx(working);
  fn(tx);
  data_ = std::move(working);
  ++transactions_;
}

FakeInvoiceStore::Data FakeInvoiceStore::Snapshot() const {
  std::lock_guard lock(mu_);
  return data_;
}

}  // namespace billing::invoice::testing
