#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"

namespace billing::payments::domain {

struct PaymentFilter {
  std::string invoice_id{};
  std::optional<PaymentStatus> status{};
};

// A position in the newest-first list (exclusive).
struct PaymentCursor {
  Time created_at{};
  std::string payment_id{};
};

// One database transaction's view of the payments service's data. Lock*
// methods take row locks held until the transaction ends. Implementations:
// storage/pg_payment_store and, for unit tests, an in-memory fake.
class PaymentTx {
 public:
  virtual ~PaymentTx() = default;

  // Inserts `proposed` unless (caller, request_id) exists; then returns the
  // existing key, locked for this transaction. A concurrent claim of the same
  // key waits for the first transaction, then sees its row.
  virtual std::optional<IdempotencyKey> ClaimKey(const IdempotencyKey& proposed) = 0;
  virtual void SetKeyLock(const std::string& caller, const std::string& request_id,
                          std::optional<Time> locked_until) = 0;
  virtual void SetKeyResource(const std::string& caller, const std::string& request_id,
                              const std::string& payment_id, const std::string& refund_id) = 0;
  virtual void SetKeyRecoveryPoint(const std::string& caller, const std::string& request_id,
                                   const std::string& recovery_point) = 0;
  // Stores the answer, marks the key finished and unlocks it.
  virtual void FinishKey(const std::string& caller, const std::string& request_id, const StoredResponse& response,
                         Time now) = 0;
  // CreatePayment's key of a payment, locked, unless it is finished.
  virtual std::optional<IdempotencyKey> LockOpenCreateKey(const std::string& payment_id) = 0;

  virtual void InsertPayment(const Payment& payment) = 0;
  virtual std::optional<Payment> FindPayment(const std::string& payment_id) = 0;
  virtual std::optional<Payment> LockPayment(const std::string& payment_id) = 0;
  virtual std::optional<Payment> FindPaymentByIntent(const std::string& payment_intent_id) = 0;
  virtual std::optional<Payment> LockPaymentByIntent(const std::string& payment_intent_id) = 0;
  // Writes everything but the creation fields.
  virtual void UpdatePayment(const Payment& payment) = 0;
  virtual std::vector<Payment> ListPayments(const PaymentFilter& filter, const std::optional<PaymentCursor>& after,
                                            int limit) = 0;

  // next_attempt_at: when the refund worker should call Stripe for it if
  // nobody else has by then.
  virtual void InsertRefund(const Refund& refund, std::optional<Time> next_attempt_at) = 0;
  virtual std::optional<Refund> LockRefund(const std::string& refund_id) = 0;
  virtual std::optional<Refund> LockRefundByProvider(const std::string& provider_refund_id) = 0;
  // Writes status, provider id, failure reason, updated_at and the retry time.
  virtual void UpdateRefund(const Refund& refund, std::optional<Time> next_attempt_at) = 0;
  virtual std::vector<Refund> ListRefunds(const std::string& payment_id) = 0;

  // Records a received Stripe event; false when it was received before.
  virtual bool InsertStripeEvent(const StripeEvent& event, Time received_at) = 0;
  // Queues an outcome for the invoice service; a second event with the same
  // key is ignored.
  virtual void QueueEvent(const PaymentEvent& event) = 0;
};

class PaymentStore {
 public:
  virtual ~PaymentStore() = default;
  // Runs fn in one transaction: committed if it returns, rolled back if it
  // throws. fn may run again after a transient database failure, so it must
  // not have effects outside the transaction.
  virtual void InTransaction(const std::function<void(PaymentTx&)>& fn) = 0;

  // The sweeper's work: payments whose next_sweep_at is due and whose
  // CreatePayment call is not in flight, leased until `lease_until` (the
  // open CreatePayment key locked as long, so a retried call is ABORTED
  // while the sweeper works instead of racing it).
  virtual std::vector<Payment> ClaimSweep(Time now, Time lease_until, int limit) = 0;
  // Unlocks the CreatePayment key ClaimSweep took (if still the sweeper's).
  virtual void ReleaseSweep(const std::string& payment_id, Time lease_until) = 0;
  // PENDING refunds due for a (first or next) call to Stripe, leased.
  virtual std::vector<Refund> ClaimRefunds(Time now, Time lease_until, int limit) = 0;

  // The outbox: due events, leased; then one of the marks.
  virtual std::vector<PaymentEvent> ClaimEvents(Time now, Time lease_until, int limit) = 0;
  virtual void MarkEventDelivered(const std::string& event_key, Time now) = 0;
  virtual void MarkEventRetry(const std::string& event_key, const std::string& error, Time next_attempt_at) = 0;
  virtual void MarkEventRejected(const std::string& event_key, const std::string& error, Time now) = 0;
  virtual int64_t EventBacklog() = 0;
  // Payments not yet final, per status, with the oldest one's creation time:
  // what the "stale payments" alert watches.
  struct Unresolved {
    PaymentStatus status;
    int64_t count = 0;
    Time oldest_created;
  };
  virtual std::vector<Unresolved> UnresolvedPayments() = 0;

  // Deletes keys (finished or abandoned by their caller) last used and
  // unlocked before `before`; returns how many.
  virtual int ReapKeys(Time before, int limit) = 0;
};

}  // namespace billing::payments::domain
