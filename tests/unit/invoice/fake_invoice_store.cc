#include "unit/invoice/fake_invoice_store.h"

#include <algorithm>
#include <stdexcept>

namespace billing::invoice::testing {
namespace {

using domain::Booking;
using domain::CustomerPayment;
using domain::IdempotencyRecord;
using domain::Invoice;
using domain::InvoiceEvent;
using domain::InvoiceStatus;
using domain::NotificationRecord;
using domain::Time;

void Append(FakeInvoiceStore::Data& d, const InvoiceEvent& e) {
  InvoiceEvent copy = e;
  int64_t last = 0;
  for (const auto& other : d.events) {
    if (other.invoice_id == e.invoice_id) last = std::max(last, other.sequence);
  }
  copy.sequence = last + 1;
  d.events.push_back(copy);
}

class FakeTx final : public domain::InvoiceTx {
 public:
  explicit FakeTx(FakeInvoiceStore::Data& d) : d_(d) {}

  std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller, const std::string& request_id,
                                                       const std::string& method, const std::string& fingerprint,
                                                       Time) override {
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
  void SetBookingPaid(const std::string& id, int64_t paid, Time updated) override {
    d_.bookings.at(id).paid_minor = paid;
    d_.bookings.at(id).updated_at = updated;
  }
  bool BookingHasInvoicesOrPayments(const std::string& id) override {
    for (const auto& [_, inv] : d_.invoices) {
      if (inv.booking_id == id) return true;
    }
    return std::any_of(d_.payments.begin(), d_.payments.end(),
                       [&](const CustomerPayment& p) { return p.booking_id == id; });
  }
  void RenameBooking(const std::string& from, const std::string& to) override {
    Booking b = d_.bookings.at(from);
    d_.bookings.erase(from);
    b.booking_id = to;
    d_.bookings[to] = b;
    for (auto& [_, inv] : d_.invoices) {
      if (inv.booking_id == from) inv.booking_id = to;
    }
    for (auto& p : d_.payments) {
      if (p.booking_id == from) p.booking_id = to;
    }
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
  std::optional<Invoice> LockInvoice(const std::string& id) override { return FindInvoice(id); }
  std::vector<Invoice> LockOpenInvoices(const std::string& booking_id) override {
    std::vector<Invoice> out;
    for (const auto& [_, inv] : d_.invoices) {
      if (inv.booking_id == booking_id && inv.status == InvoiceStatus::kOpen) out.push_back(inv);
    }
    return out;
  }
  void UpdateInvoice(const Invoice& inv) override { d_.invoices.at(inv.invoice_id) = inv; }
  std::vector<Invoice> ListInvoices(const domain::InvoiceFilter& f, const std::optional<domain::InvoiceCursor>& after,
                                    int limit) override {
    std::vector<Invoice> all;
    for (const auto& [_, inv] : d_.invoices) {
      if (!f.booking_id.empty() && inv.booking_id != f.booking_id) continue;
      if (f.status && inv.status != *f.status) continue;
      if (after && std::tie(inv.created_at, inv.invoice_id) >= std::tie(after->created_at, after->invoice_id)) continue;
      all.push_back(inv);
    }
    std::sort(all.begin(), all.end(), [](const Invoice& a, const Invoice& b) {
      return std::tie(a.created_at, a.invoice_id) > std::tie(b.created_at, b.invoice_id);
    });
    if (static_cast<int>(all.size()) > limit) all.resize(static_cast<std::size_t>(limit));
    return all;
  }
  std::vector<Invoice> LockDueInvoices(Time now, int limit) override {
    std::vector<Invoice> out;
    for (const auto& [_, inv] : d_.invoices) {
      if (inv.status == InvoiceStatus::kOpen && inv.due_at && *inv.due_at <= now && !inv.payment_pending &&
          static_cast<int>(out.size()) < limit) {
        out.push_back(inv);
      }
    }
    return out;
  }
  void InsertPayment(const CustomerPayment& p) override { d_.payments.push_back(p); }
  std::optional<CustomerPayment> FindPayment(const std::string& id) override {
    for (const auto& p : d_.payments) {
      if (p.customer_payment_id == id) return p;
    }
    return std::nullopt;
  }
  std::optional<CustomerPayment> FindPaymentByIntent(const std::string& pi) override {
    for (const auto& p : d_.payments) {
      if (!pi.empty() && p.payment_intent_id == pi) return p;
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
  void AppendEvent(const InvoiceEvent& e) override { Append(d_, e); }
  std::vector<InvoiceEvent> ListEvents(const std::string& invoice_id, int64_t after, int limit) override {
    std::vector<InvoiceEvent> out;
    for (const auto& e : d_.events) {
      if (e.invoice_id == invoice_id && e.sequence > after && static_cast<int>(out.size()) < limit) out.push_back(e);
    }
    return out;
  }
  void InsertAttempt(const domain::PayAttempt& a) override { d_.attempts[a.attempt_id] = a; }
  std::optional<domain::PayAttempt> FindAttempt(const std::string& id) override {
    auto it = d_.attempts.find(id);
    if (it == d_.attempts.end()) return std::nullopt;
    return it->second;
  }
  std::optional<domain::PayAttempt> LockAttempt(const std::string& id) override { return FindAttempt(id); }
  std::optional<domain::PayAttempt> LockAttemptByPayment(const std::string& payment_id) override {
    for (const auto& [_, a] : d_.attempts) {
      if (!payment_id.empty() && a.payment_id == payment_id) return a;
    }
    return std::nullopt;
  }
  std::optional<domain::PayAttempt> LockAttemptByIntent(const std::string& pi) override {
    for (const auto& [_, a] : d_.attempts) {
      if (!pi.empty() && a.payment_intent_id == pi) return a;
    }
    return std::nullopt;
  }
  void UpdateAttempt(const domain::PayAttempt& a) override { d_.attempts.at(a.attempt_id) = a; }
  void QueuePaymentAction(const domain::PaymentAction& a) override {
    for (const auto& existing : d_.actions) {
      if (existing.kind == a.kind && existing.payment_id == a.payment_id) return;
    }
    d_.actions.push_back(a);
  }

  int64_t InsertNotification(const NotificationRecord& n) override {
    FakeInvoiceStore::Notification row{n, n.created_at, std::nullopt, std::nullopt};
    row.record.outbox_id = static_cast<int64_t>(d_.notifications.size()) + 1;
    row.record.request_key = "key-" + std::to_string(row.record.outbox_id);
    d_.notifications.push_back(row);
    return row.record.outbox_id;
  }
  std::vector<NotificationRecord> ListNotifications(const std::string& invoice_id) override {
    std::vector<NotificationRecord> out;
    for (const auto& n : d_.notifications) {
      if (n.record.invoice_id == invoice_id) out.push_back(n.record);
    }
    return out;
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
}

FakeInvoiceStore::Notification& FakeInvoiceStore::Find(int64_t outbox_id) {
  return data_.notifications.at(static_cast<std::size_t>(outbox_id - 1));
}

void FakeInvoiceStore::AddEvent(const InvoiceEvent& e) {
  InvoiceEvent copy = e;
  copy.from_status = data_.invoices.at(e.invoice_id).status;
  copy.to_status = *copy.from_status;
  Append(data_, copy);
}

std::vector<NotificationRecord> FakeInvoiceStore::Claim(Time now, Time lease_until, int limit) {
  std::lock_guard lock(mu_);
  std::vector<NotificationRecord> out;
  for (auto& n : data_.notifications) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (n.record.state != domain::NotificationState::kPending || n.next_attempt_at > now) continue;
    if (n.lease_until && *n.lease_until > now) continue;
    n.lease_until = lease_until;
    ++n.record.attempts;
    out.push_back(n.record);
  }
  return out;
}

std::optional<InvoiceStatus> FakeInvoiceStore::InvoiceStatusOf(const std::string& invoice_id) {
  std::lock_guard lock(mu_);
  auto it = data_.invoices.find(invoice_id);
  if (it == data_.invoices.end()) return std::nullopt;
  return it->second.status;
}

bool FakeInvoiceStore::MarkAccepted(int64_t id, const std::string& notification_id, domain::NotificationState state,
                                    const std::string& failure_reason, std::optional<Time> sent_at,
                                    const InvoiceEvent& event) {
  std::lock_guard lock(mu_);
  auto& n = Find(id);
  if (n.record.state != domain::NotificationState::kPending) return false;
  n.record.state = state;
  n.record.notification_id = notification_id;
  n.record.failure_reason = failure_reason;
  n.record.sent_at = sent_at;
  n.lease_until.reset();
  AddEvent(event);
  return true;
}

bool FakeInvoiceStore::MarkRetry(int64_t id, const std::string& error, Time next_attempt_at) {
  std::lock_guard lock(mu_);
  auto& n = Find(id);
  if (n.record.state != domain::NotificationState::kPending) return false;
  n.record.failure_reason = error;
  n.next_attempt_at = next_attempt_at;
  n.lease_until.reset();
  return true;
}

bool FakeInvoiceStore::MarkFailed(int64_t id, const std::string& error, const InvoiceEvent& event) {
  std::lock_guard lock(mu_);
  auto& n = Find(id);
  if (n.record.state != domain::NotificationState::kPending) return false;
  n.record.state = domain::NotificationState::kFailed;
  n.record.failure_reason = error;
  n.lease_until.reset();
  AddEvent(event);
  return true;
}

std::vector<NotificationRecord> FakeInvoiceStore::ClaimForSync(Time now, Time next_sync_at, int limit) {
  std::lock_guard lock(mu_);
  std::vector<NotificationRecord> out;
  for (auto& n : data_.notifications) {
    if (static_cast<int>(out.size()) >= limit) break;
    if (n.record.state != domain::NotificationState::kQueued) continue;
    if (n.next_sync_at && *n.next_sync_at > now) continue;
    n.next_sync_at = next_sync_at;
    out.push_back(n.record);
  }
  return out;
}

bool FakeInvoiceStore::UpdateDelivery(int64_t id, domain::NotificationState state, const std::string& failure_reason,
                                      std::optional<Time> sent_at, const InvoiceEvent& event) {
  std::lock_guard lock(mu_);
  auto& n = Find(id);
  if (n.record.state != domain::NotificationState::kQueued) return false;
  n.record.state = state;
  n.record.failure_reason = failure_reason;
  n.record.sent_at = sent_at;
  AddEvent(event);
  return true;
}

bool FakeInvoiceStore::Requeue(int64_t id, Time now, const InvoiceEvent& event) {
  std::lock_guard lock(mu_);
  auto& n = Find(id);
  if (n.record.state != domain::NotificationState::kQueued) return false;
  n.record.state = domain::NotificationState::kPending;
  n.record.notification_id.clear();
  n.next_attempt_at = now;
  n.next_sync_at.reset();
  AddEvent(event);
  return true;
}

int64_t FakeInvoiceStore::Backlog() {
  std::lock_guard lock(mu_);
  return std::count_if(data_.notifications.begin(), data_.notifications.end(), [](const Notification& n) {
    return n.record.state == domain::NotificationState::kPending;
  });
}

void FakeInvoiceStore::Mutate(const std::function<void(Data&)>& fn) {
  std::lock_guard lock(mu_);
  fn(data_);
}

FakeInvoiceStore::Data FakeInvoiceStore::Snapshot() const {
  std::lock_guard lock(mu_);
  return data_;
}

}  // namespace billing::invoice::testing
