#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "domain/invoice_store.h"

namespace billing::invoice::testing {

// An in-memory InvoiceStore and NotificationOutbox for domain unit tests.
// Transactions run one at a time on a copy of the data that replaces the
// original only if the function returns, so a throwing function leaves no
// trace (as a rollback would). Row locks are implied by that serialization.
class FakeInvoiceStore final : public domain::InvoiceStore, public domain::NotificationOutbox {
 public:
  struct Notification {
    domain::NotificationRecord record;
    domain::Time next_attempt_at{};
    std::optional<domain::Time> lease_until;
    std::optional<domain::Time> next_sync_at;
  };
  struct Data {
    std::map<std::pair<std::string, std::string>, domain::IdempotencyRecord> keys;
    std::map<std::string, domain::Booking> bookings;
    std::map<std::string, domain::Invoice> invoices;
    std::vector<domain::CustomerPayment> payments;
    std::vector<domain::InvoiceEvent> events;
    std::vector<Notification> notifications;
    std::map<std::string, domain::PayAttempt> attempts;
    std::vector<domain::PaymentAction> actions;
  };

  void InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) override;

  std::vector<domain::NotificationRecord> Claim(domain::Time now, domain::Time lease_until, int limit) override;
  std::optional<domain::InvoiceStatus> InvoiceStatusOf(const std::string& invoice_id) override;
  bool MarkAccepted(int64_t outbox_id, const std::string& notification_id, domain::NotificationState state,
                    const std::string& failure_reason, std::optional<domain::Time> sent_at,
                    const domain::InvoiceEvent& event) override;
  bool MarkRetry(int64_t outbox_id, const std::string& error, domain::Time next_attempt_at) override;
  bool MarkFailed(int64_t outbox_id, const std::string& error, const domain::InvoiceEvent& event) override;
  std::vector<domain::NotificationRecord> ClaimForSync(domain::Time now, domain::Time next_sync_at, int limit) override;
  bool UpdateDelivery(int64_t outbox_id, domain::NotificationState state, const std::string& failure_reason,
                      std::optional<domain::Time> sent_at, const domain::InvoiceEvent& event) override;
  bool Requeue(int64_t outbox_id, domain::Time now, const domain::InvoiceEvent& event) override;
  int64_t Backlog() override;

  // A copy of the committed data, for assertions.
  Data Snapshot() const;
  // Direct edits for tests (as another process would make).
  void Mutate(const std::function<void(Data&)>& fn);

 private:
  Notification& Find(int64_t outbox_id);
  void AddEvent(const domain::InvoiceEvent& e);

  mutable std::mutex mu_;
  Data data_;
};

}  // namespace billing::invoice::testing
