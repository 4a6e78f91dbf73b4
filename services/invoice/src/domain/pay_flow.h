#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "domain/invoice_manager.h"
#include "domain/invoice_store.h"
#include "domain/payments.h"
#include "ids/ids.h"

namespace billing::invoice::domain {

struct PayInvoiceCommand {
  std::string caller{};
  std::string request_id{};
  std::string token{};       // one of token
  std::string invoice_id{};  // and invoice_id
  PayMethod method = PayMethod::kPaymentMethod;
  std::string method_id{};  // pm_..., ctoken_..., or the handled pi_...
  std::vector<std::string> accepted_agreement_ids{};
  std::string return_url{};  // "" = the payments service's default
  std::string Fingerprint() const;
};

struct PayInvoiceResult {
  // SUCCEEDED, REQUIRES_ACTION, PROCESSING or FAILED.
  AttemptStatus outcome = AttemptStatus::kStarted;
  std::string confirmation_code{};
  std::string client_secret{};  // REQUIRES_ACTION; never stored or logged here
  std::string payment_intent_id{};
  std::string failure_code{};
  std::string failure_message{};
  InvoiceView view{};
};

// A payment outcome from the payments service (its webhooks and sweeper).
struct PaymentEventCommand {
  std::string caller{};
  std::string request_id{};  // the payments service's event key
  std::string invoice_id{};
  std::string payment_id{};
  std::string payment_intent_id{};
  AttemptStatus status = AttemptStatus::kStarted;
  Money amount_received{};
  std::string failure_code{};
  std::string failure_message{};
  std::string attempt_id{};  // from the payment's metadata; "" when it has none
  std::string Fingerprint() const;
};

struct PaymentEventResult {
  bool applied = false;
  Invoice invoice{};
};

// Reports beyond the answers (logs and metrics in main).
struct PayFlowObserver {
  // Money arrived for an invoice that no longer takes it; it is refunded.
  std::function<void(const Invoice&, const PayAttempt&)> refunding = nullptr;
  // The sync worker could not look an attempt up (it tries again later).
  std::function<void(const PayAttempt&, const std::string& error)> check_failed = nullptr;
  // A call owed to the payments service was refused for good.
  std::function<void(const PaymentAction&, const std::string& error)> action_failed = nullptr;
};

// Paying an invoice (DESIGN.md §7, seeds 000 and 001), exactly once.
//
// 1. Under row locks (booking, then invoice, then attempt: the order every
//    writer uses), the invoice is checked and an attempt is recorded as the
//    invoice's pending attempt. A second attempt while one is in progress is
//    ABORTED; an attempt that may be stale is looked up first and cleared
//    when it failed or was canceled. No lock is held across a network call.
// 2. The payments service is called with a request_id derived from the
//    attempt, so a retried PayInvoice (same request_id, same attempt)
//    replays at payments and at Stripe instead of charging again.
// 3. Under the locks again, the outcome is applied once: forward-only on the
//    attempt; success pays the invoice (customer payment, balance, confirm
//    on pay, receipt); money for an invoice that no longer wants it is
//    refunded through the payment-action outbox.
//
// The same step 3 applies outcomes that arrive any other way: ApplyPayment-
// Event (payments' webhooks and sweeper) and the sync worker, which asks
// payments about attempts nobody reported on.
class PayFlow {
 public:
  struct Options {
    // A STARTED attempt younger than this is a call still in flight.
    std::chrono::milliseconds started_grace{std::chrono::seconds(30)};
    // How often attempts in progress are looked up (webhooks usually win).
    std::chrono::milliseconds check_interval{std::chrono::seconds(60)};
    // A STARTED attempt payments never heard of, this old, is FAILED.
    std::chrono::milliseconds lost_after{std::chrono::minutes(10)};
    // A 3-D Secure prompt open this long is abandoned when the customer
    // comes back with a new payment: its PaymentIntent is canceled.
    std::chrono::milliseconds abandon_after{std::chrono::minutes(15)};
    // How long a claimed cancel/refund call is this replica's: longer than
    // one call to payments may take.
    std::chrono::milliseconds action_lease{std::chrono::minutes(5)};
    std::chrono::milliseconds action_retry_base{std::chrono::seconds(1)};
    std::chrono::milliseconds action_retry_max{std::chrono::minutes(5)};
  };

  PayFlow(InvoiceStore& store, InvoiceManager& manager, Payments& payments, const clock::Clock& clock,
          ids::IdGenerator& ids, Options options, PayFlowObserver observer = {});

  PayInvoiceResult Pay(const PayInvoiceCommand& cmd);
  PaymentEventResult ApplyPaymentEvent(const PaymentEventCommand& cmd);

  // Workers. Each returns how many rows it handled.
  int SyncAttempts(PaymentWork& work, int limit, std::stop_token stop = {});
  int RunPaymentActions(PaymentWork& work, int limit, std::stop_token stop = {});

  static std::string PaymentRequestId(const PayAttempt& a) { return "invoice-attempt-" + a.attempt_id; }
  static std::string CancelRequestId(const std::string& payment_id) { return "invoice-cancel-" + payment_id; }
  static std::string RefundRequestId(const std::string& payment_id) { return "invoice-refund-" + payment_id; }

 private:
  struct Begun {
    std::optional<PayAttempt> attempt;
    std::string confirm_intent_id;  // handled_next_action
    // Still the invoice's pending attempt (a replayed request's attempt may
    // have been dropped since: booking canceled, invoice settled).
    bool current = true;
  };
  struct Locked {
    std::optional<Booking> booking;
    std::optional<Invoice> invoice;
  };
  // Locks an invoice and its booking, booking first (the order every writer
  // uses). The booking id is read before its lock, so a rename in between is
  // caught and the pair locked again.
  static Locked LockInvoiceAndBooking(InvoiceTx& tx, const std::string& invoice_id);
  Begun Begin(const PayInvoiceCommand& cmd, const std::string& fingerprint);
  // Asks payments about an attempt and applies the answer; returns the
  // attempt afterwards.
  PayAttempt Check(const PayAttempt& attempt, const std::string& actor);
  // Cancels an attempt left in 3-D Secure, then checks it.
  PayAttempt Abandon(const PayAttempt& attempt);
  struct Recorded {
    PayAttempt attempt;
    InvoiceView view;
  };
  // Step 3 for a payments answer.
  Recorded Record(const std::string& attempt_id, const PaymentView& payment, const std::string& actor,
                  const std::string& request_id);
  // Unwanted money being refunded, reported once the transaction commits.
  using Refunds = std::vector<std::pair<Invoice, PayAttempt>>;
  // Forward-only state change of a locked attempt, then its effects on the
  // (locked) invoice and booking. Returns whether anything changed.
  bool Apply(InvoiceTx& tx, PayAttempt& attempt, Invoice& invoice, Booking& booking, const PaymentView& payment,
             const std::string& actor, const std::string& request_id, Time now, Refunds* refunds);
  // `captured`: for CANCELED, money the payment took after it was given up
  // (payments refunds it on its own).
  void Effects(InvoiceTx& tx, PayAttempt& attempt, Invoice& invoice, Booking& booking, const std::string& actor,
               const std::string& request_id, Time now, Refunds* refunds, const Money& captured = {});
  void Report(const Refunds& refunds) const;
  PayInvoiceResult Answer(const Recorded& recorded, const std::string& client_secret) const;
  std::chrono::milliseconds ActionBackoff(int attempts) const;

  InvoiceStore& store_;
  InvoiceManager& manager_;
  Payments& payments_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
  Options options_;
  PayFlowObserver observer_;
};

}  // namespace billing::invoice::domain
