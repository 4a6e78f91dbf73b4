#pragma once

#include "db/pool.h"
#include "domain/invoice_store.h"

namespace billing::invoice::storage {

// The invoice service's data on PostgreSQL (schema: migrations/), both as
// the domain's transactional store and as the notification outbox.
class PgInvoiceStore final : public domain::InvoiceStore,
                             public domain::NotificationOutbox,
                             public domain::PaymentWork {
 public:
  explicit PgInvoiceStore(db::Pool& pool) : pool_(pool) {}

  void InTransaction(const std::function<void(domain::InvoiceTx&)>& fn) override;
  std::optional<domain::InvoiceSnapshot> ReadInvoiceSnapshot(domain::InvoiceKey key, const std::string& value) override;

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

  std::vector<domain::PayAttempt> ClaimAttemptsToCheck(domain::Time now, domain::Time lease_until, int limit) override;
  std::vector<domain::PaymentAction> ClaimPaymentActions(domain::Time now, domain::Time lease_until,
                                                         int limit) override;
  void MarkActionDone(const std::string& action_id, domain::Time now) override;
  void MarkActionRetry(const std::string& action_id, const std::string& error, domain::Time next_attempt_at) override;
  void MarkActionFailed(const std::string& action_id, const std::string& error, domain::Time now) override;

 private:
  db::Pool& pool_;
};

}  // namespace billing::invoice::storage
