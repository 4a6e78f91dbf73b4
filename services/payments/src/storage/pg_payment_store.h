#pragma once

#include "db/pool.h"
#include "domain/payment_store.h"

namespace billing::payments::storage {

// Payments, refunds, idempotency keys, Stripe events and the outbox on
// PostgreSQL (schema: migrations/).
class PgPaymentStore final : public domain::PaymentStore {
 public:
  explicit PgPaymentStore(db::Pool& pool) : pool_(pool) {}

  void InTransaction(const std::function<void(domain::PaymentTx&)>& fn) override;
  std::vector<domain::Payment> ClaimSweep(domain::Time now, domain::Time lease_until, int limit) override;
  void ReleaseSweep(const std::string& payment_id, domain::Time lease_until) override;
  std::vector<domain::Refund> ClaimRefunds(domain::Time now, domain::Time lease_until, int limit) override;
  std::vector<domain::PaymentEvent> ClaimEvents(domain::Time now, domain::Time lease_until, int limit) override;
  void MarkEventDelivered(const std::string& event_key, domain::Time now) override;
  void MarkEventRetry(const std::string& event_key, const std::string& error, domain::Time next_attempt_at) override;
  void MarkEventRejected(const std::string& event_key, const std::string& error, domain::Time now) override;
  int64_t EventBacklog() override;
  std::vector<Unresolved> UnresolvedPayments() override;
  int ReapKeys(domain::Time before, int limit) override;

 private:
  db::Pool& pool_;
};

}  // namespace billing::payments::storage
