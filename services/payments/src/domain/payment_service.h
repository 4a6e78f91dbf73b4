#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "clock/clock.h"
#include "domain/payment_store.h"
#include "domain/stripe_gateway.h"
#include "ids/ids.h"

namespace billing::payments::domain {

struct PaymentPage {
  std::vector<Payment> payments;
  std::string next_page_token;
};

// What the service reports beyond its answers (metrics and logs in main).
struct PaymentObserver {
  // A payment reached a final status (SUCCEEDED, FAILED, CANCELED).
  std::function<void(const Payment&)> finished = nullptr;
  // Money arrived on a payment we had given up; an automatic refund is queued.
  std::function<void(const Payment&, const Refund&)> auto_refund = nullptr;
  // An automatic refund ended without returning the money (Stripe refused
  // it): somebody has to look.
  std::function<void(const Payment&, const Refund&)> auto_refund_failed = nullptr;
};

// The payments rules, over a store and Stripe.
//
// Every mutating call is idempotent on (caller, request_id), in the style of
// Stripe and rocket-rides-atomic: the key row is claimed (and locked) in its
// own transaction, the Stripe calls run with idempotency keys derived from
// our own row ids ("payment-<id>-create", "-confirm", "-cancel",
// "refund-<id>"), and the answer is stored with the key in the transaction
// that records the outcome. A call whose Stripe answer was lost releases the
// key and answers UNAVAILABLE; retrying it resumes where it stopped and
// Stripe replays instead of charging again. A crashed call's key lock runs
// out and the sweeper finishes its payment.
//
// CreatePayment creates the PaymentIntent unconfirmed first and confirms it
// in a second call, so replaying a lost create can never charge anyone.
class PaymentService {
 public:
  struct Options {
    std::string default_return_url;
    // How long a call holds its key: longer than the Stripe client's whole
    // retry budget, so a live call is never taken over.
    std::chrono::milliseconds key_lock{std::chrono::seconds(120)};
    // A PENDING payment older than this (and not in flight) is resolved by
    // the sweeper.
    std::chrono::milliseconds pending_grace{std::chrono::seconds(60)};
    // 3-D Secure left unfinished this long is abandoned (canceled).
    std::chrono::milliseconds action_timeout{std::chrono::hours(1)};
    // PROCESSING payments are looked up this often (webhooks usually win).
    std::chrono::milliseconds processing_check{std::chrono::minutes(10)};
    // Retry spacing for the sweeper's own failed Stripe calls.
    std::chrono::milliseconds sweep_retry{std::chrono::seconds(30)};
  };

  PaymentService(PaymentStore& store, StripeGateway& stripe, const clock::Clock& clock, ids::IdGenerator& ids,
                 Options options, PaymentObserver observer = {});

  Payment CreatePayment(const CreatePaymentCommand& cmd);
  // After 3-D Secure: Stripe's status and amount, nothing the client says.
  Payment ConfirmPayment(const ConfirmPaymentCommand& cmd);
  Payment CancelPayment(const CancelPaymentCommand& cmd);
  std::pair<Refund, Payment> RefundPayment(const RefundPaymentCommand& cmd);

  // By payment id or PaymentIntent id (one is empty); with refresh, from
  // Stripe first.
  Payment GetPayment(const std::string& payment_id, const std::string& payment_intent_id, bool refresh);
  PaymentPage ListPayments(const PaymentFilter& filter, int page_size, const std::string& page_token);

  enum class EventResult { kApplied, kDuplicate, kIgnored };
  // A verified webhook event: stored once, applied forward-only.
  EventResult ApplyStripeEvent(const StripeEvent& event);

  // The sweeper's work on one claimed payment: resolve a PENDING payment
  // whose call was lost (never confirmed: canceled; confirmed: Stripe's
  // state), abandon 3-D Secure left unfinished past action_timeout, look up
  // PROCESSING, and cancel abandoned PaymentIntents at Stripe.
  void SweepPayment(const Payment& claimed);
  // Calls Stripe for a PENDING refund (the RPC's answer was lost, or an
  // automatic refund).
  void ExecuteRefund(const Refund& claimed);

  struct ApplyResult {
    bool changed = false;
    std::optional<Refund> auto_refund{};
  };
  // Applies Stripe's view of a PaymentIntent to a locked payment: status
  // only moves forward; SUCCEEDED on an abandoned payment queues a full
  // automatic refund instead of telling the invoice; any other status change
  // is queued for the invoice service. The caller writes the payment row.
  ApplyResult ApplyIntent(PaymentTx& tx, Payment& payment, const Intent& intent, Time now);
  // When the sweeper should look at a payment in this state.
  std::optional<Time> NextSweep(const Payment& payment, Time now) const;

  StripeGateway& stripe() { return stripe_; }
  PaymentStore& store() { return store_; }
  const Options& options() const { return options_; }
  static std::string CreateKeyFor(const Payment& p) { return "payment-" + p.payment_id + "-create"; }
  static std::string ConfirmKeyFor(const Payment& p) { return "payment-" + p.payment_id + "-confirm"; }
  static std::string CancelKeyFor(const Payment& p) { return "payment-" + p.payment_id + "-cancel"; }
  static std::string RefundKeyFor(const Refund& r) { return "refund-" + r.refund_id; }
  CreateIntentParams CreateParamsFor(const Payment& p) const;

 private:
  struct Claimed {
    IdempotencyKey key;
    bool replay = false;
  };
  Claimed BeginKey(const std::string& caller, const std::string& request_id, const std::string& operation,
                   const std::string& fingerprint, const std::function<void(PaymentTx&, IdempotencyKey&)>& on_create);
  // The stored answer of a finished key: the payment, or the stored error.
  static const StoredResponse& Replay(const IdempotencyKey& key);
  // Unlocks a key whose call could not finish; a CreatePayment's payment
  // then waits a full grace for the caller's retry before the sweeper takes
  // it.
  void ReleaseKey(const IdempotencyKey& key);
  // Stores an error as the key's answer and throws it.
  [[noreturn]] void FinishWithError(const IdempotencyKey& key, const errors::Error& error);
  // The payment (and its refunds, when asked: an answer needs them), read
  // without a lock or a write.
  Payment LoadPayment(const std::string& payment_id, bool with_refunds = false);
  // Records Stripe's answer for a payment and, when `key` is given,
  // finishes it in the same transaction with the answer Answer() would give
  // (throwing that answer's error after the commit).
  // change() may return an automatic refund it queued, to be reported once
  // the transaction commits.
  using Change = std::function<std::optional<Refund>(PaymentTx&, Payment&, Time)>;
  Payment Record(const std::string& payment_id, const Change& change, const IdempotencyKey* key);
  // A failed attempt without a PaymentIntent to show for it (Stripe refused
  // the request itself).
  void FailAttempt(PaymentTx& tx, Payment& payment, const PaymentFailure& failure, Time now);
  void QueueEvent(PaymentTx& tx, const Payment& payment, PaymentStatus status, Time now);
  // Marks a payment given up (no-op if it already is).
  static void MarkAbandoned(Payment& payment, CancellationReason reason, Time now);
  // The answer of a call that recorded `payment`: the payment, or (for
  // money an abandoned payment captured) PAYMENT_STATE_CONFLICT; stored
  // with the key.
  Payment Answer(const IdempotencyKey& key, const Payment& payment);
  static std::optional<errors::Error> AnswerError(const Payment& payment);
  // The stored answer: the error when there is one, else the payment.
  static StoredResponse ResponseFor(const Payment& payment, const std::optional<errors::Error>& error);
  std::optional<Refund> QueueAutoRefund(PaymentTx& tx, Payment& payment, Time now);
  // Records Stripe's answer (or refusal) for a refund and the payment's
  // refunded total; finishes `key` with both when given.
  std::pair<Refund, Payment> RecordRefund(const std::string& refund_id, const StripeResult<StripeRefund>& result,
                                          const IdempotencyKey* key);
  // Refuses (PAYMENT_STATE_CONFLICT) a payment that already succeeded.
  void Abandon(const std::string& payment_id, CancellationReason reason);
  void Reschedule(const std::string& payment_id, std::chrono::milliseconds after);
  // Cancels an abandoned payment's PaymentIntent (creating it first from the
  // replayed create call if its id was never learnt) and records the end.
  void CancelAtStripe(const std::string& payment_id);

  PaymentStore& store_;
  StripeGateway& stripe_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
  Options options_;
  PaymentObserver observer_;
};

// Stripe's failure as the error our caller sees (UNAVAILABLE for an
// unknown outcome, FAILED_PRECONDITION PROVIDER_REJECTED for a refusal).
errors::Error StripeError(const StripeFailure& failure, const std::string& what);

}  // namespace billing::payments::domain
