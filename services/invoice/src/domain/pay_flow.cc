#include "domain/pay_flow.h"

#include <algorithm>
#include <set>

#include "crypto/crypto.h"
#include "errors/error.h"
#include "validation/validation.h"

namespace billing::invoice::domain {
namespace {

using errors::Error;
using errors::Reason;

constexpr char kPayInvoice[] = "PayInvoice";
constexpr char kApplyPaymentEvent[] = "ApplyPaymentEvent";
constexpr char kSyncActor[] = "system:payment-sync";
constexpr char kInProgressMessage[] = "A payment is already being processed for this invoice.";

// Thrown inside Begin's transaction (rolling it back, key claim included)
// when the invoice's pending attempt must be looked up at payments first.
struct NeedsCheck {
  PayAttempt attempt;
};

void RequireSame(const IdempotencyRecord& record, const std::string& method, const std::string& fingerprint) {
  if (record.method != method || record.fingerprint != fingerprint) {
    throw Error(Reason::kIdempotencyKeyReused,
                "request_id was already used for a different request; use a new request_id", "request_id");
  }
}

std::string EventType(AttemptStatus s) {
  switch (s) {
    case AttemptStatus::kRequiresAction: return "PAYMENT_REQUIRES_ACTION";
    case AttemptStatus::kProcessing: return "PAYMENT_PROCESSING";
    case AttemptStatus::kSucceeded: return "PAYMENT_SUCCEEDED";
    case AttemptStatus::kFailed: return "PAYMENT_FAILED";
    case AttemptStatus::kCanceled: return "PAYMENT_CANCELED";
    case AttemptStatus::kStarted: break;
  }
  return "PAYMENT_ATTEMPT_STARTED";
}

std::string Describe(const PayAttempt& a) {
  std::string s = "attempt " + a.attempt_id + " (" + money::Format(a.amount);
  if (!a.payment_intent_id.empty()) s += ", " + a.payment_intent_id;
  s += ")";
  if (!a.failure_message.empty()) s += ": " + a.failure_message;
  return s;
}

}  // namespace

std::string PayInvoiceCommand::Fingerprint() const {
  crypto::Fingerprint f(kPayInvoice);
  f.Add(token).Add(invoice_id).AddInt(static_cast<int64_t>(method)).Add(method_id).Add(return_url);
  std::vector<std::string> agreements = accepted_agreement_ids;
  std::sort(agreements.begin(), agreements.end());
  f.AddInt(static_cast<int64_t>(agreements.size()));
  for (const auto& a : agreements) f.Add(a);
  return f.Digest();
}

std::string PaymentEventCommand::Fingerprint() const {
  crypto::Fingerprint f(kApplyPaymentEvent);
  f.Add(invoice_id).Add(payment_id).Add(payment_intent_id).Add(Name(status));
  // Only SUCCEEDED's amount is part of the request: CANCELED's (money a
  // given-up payment captured) is news added later, and an event applied
  // before the upgrade must still match its redelivery after it.
  const Money counted = status == AttemptStatus::kSucceeded ? amount_received : Money{};
  f.AddInt(counted.amount_minor).Add(counted.currency).Add(failure_code).Add(failure_message);
  f.Add(attempt_id);
  return f.Digest();
}

PayFlow::PayFlow(InvoiceStore& store, InvoiceManager& manager, Payments& payments, const clock::Clock& clock,
                 ids::IdGenerator& ids, Options options, PayFlowObserver observer)
    : store_(store),
      manager_(manager),
      payments_(payments),
      clock_(clock),
      ids_(ids),
      options_(options),
      observer_(std::move(observer)) {}

PayFlow::Locked PayFlow::LockInvoiceAndBooking(InvoiceTx& tx, const std::string& invoice_id) {
  auto unlocked = tx.FindInvoice(invoice_id);
  if (!unlocked) throw Error(Reason::kInternal, "invoice " + invoice_id + " is missing");
  std::string booking_id = unlocked->booking_id;
  for (int i = 0; i < 3; ++i) {
    Locked out{tx.LockBooking(booking_id), tx.LockInvoice(invoice_id)};
    if (!out.invoice) throw Error(Reason::kInternal, "invoice " + invoice_id + " is missing");
    if (out.booking && out.booking->booking_id == out.invoice->booking_id) return out;
    booking_id = out.invoice->booking_id;  // renamed between the read and the lock
  }
  throw Error(Reason::kConcurrentModification, "the booking changed meanwhile; retry the request");
}

// --- step 1 ---------------------------------------------------------------------

PayFlow::Begun PayFlow::Begin(const PayInvoiceCommand& cmd, const std::string& fingerprint) {
  Begun out;
  store_.InTransaction([&](InvoiceTx& tx) {
    out = Begun{};
    const Time now = clock_.Now();
    const bool handled = cmd.method == PayMethod::kHandledNextAction;
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kPayInvoice, fingerprint, now)) {
      RequireSame(*record, kPayInvoice, fingerprint);
      out.attempt = tx.FindAttempt(record->resource_id);
      if (!out.attempt) throw Error(Reason::kInternal, "idempotency record points at a missing pay attempt");
      if (handled) out.confirm_intent_id = cmd.method_id;
      const auto invoice = tx.FindInvoice(out.attempt->invoice_id);
      out.current = invoice && invoice->status == InvoiceStatus::kOpen && invoice->payment_pending &&
                    invoice->pending_attempt_id == out.attempt->attempt_id;
      return;
    }
    std::optional<Invoice> found = cmd.token.empty() ? tx.FindInvoice(cmd.invoice_id) : tx.FindInvoiceByToken(cmd.token);
    if (!found) {
      // The token is a secret: never echo it.
      if (!cmd.token.empty()) throw Error(Reason::kInvoiceNotFound, "token matches no invoice", "token");
      throw Error(Reason::kInvoiceNotFound, "invoice_id " + cmd.invoice_id + " does not exist", "invoice_id");
    }
    auto [booking, invoice] = LockInvoiceAndBooking(tx, found->invoice_id);

    if (handled) {
      // The customer finished 3-D Secure for an attempt of this invoice;
      // the charge was decided then, so the checks below do not apply again.
      auto attempt = tx.LockAttemptByIntent(cmd.method_id);
      if (!attempt || attempt->invoice_id != invoice->invoice_id) {
        throw Error(Reason::kPaymentNotFound,
                    "handled_payment_intent_id " + cmd.method_id + " is not a payment of this invoice",
                    "handled_payment_intent_id");
      }
      tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, attempt->attempt_id);
      out.attempt = *attempt;
      out.confirm_intent_id = cmd.method_id;
      return;
    }

    // Seed 000: what the payment page checks before any charge.
    if (invoice->status == InvoiceStatus::kPaid) {
      throw Error(Reason::kInvoiceAlreadyPaid, "invoice " + invoice->invoice_id + " is already paid");
    }
    if (invoice->status != InvoiceStatus::kOpen) {
      throw Error(Reason::kInvoiceNotOpen,
                  "invoice " + invoice->invoice_id + " is " + std::string(Name(invoice->status)) + "; it cannot be paid");
    }
    if (IsOff(booking->status)) {
      throw Error(Reason::kBookingCanceled,
                  "booking " + booking->booking_id + " is " + std::string(Name(booking->status)) + "; it cannot be paid");
    }
    if (booking->BalanceMinor() <= 0) {
      throw Error(Reason::kNoBalance, "booking " + booking->booking_id + " has no outstanding balance");
    }
    const std::set<std::string> accepted(cmd.accepted_agreement_ids.begin(), cmd.accepted_agreement_ids.end());
    std::string missing;
    for (const auto& id : booking->required_agreement_ids) {
      if (accepted.count(id) == 0) missing += (missing.empty() ? "" : ", ") + id;
    }
    if (!missing.empty()) {
      throw Error(Reason::kAgreementsNotAccepted,
                  "accepted_agreement_ids lacks the required agreements " + missing, "accepted_agreement_ids");
    }
    if (booking->status == BookingStatus::kDraft &&
        (!booking->slot_hold_expires_at || *booking->slot_hold_expires_at <= now)) {
      throw Error(Reason::kSlotNotHeld,
                  "booking " + booking->booking_id + " is a draft whose time slot is no longer held; it cannot be paid");
    }

    // Race protection: one attempt at a time.
    if (invoice->payment_pending) {
      auto pending = tx.LockAttempt(invoice->pending_attempt_id);
      if (pending && IsInProgress(pending->status)) {
        if (pending->status == AttemptStatus::kStarted && pending->updated_at + options_.started_grace > now) {
          throw Error(Reason::kPaymentInProgress, kInProgressMessage);
        }
        throw NeedsCheck{*pending};
      }
      invoice->payment_pending = false;  // a stale pointer at a finished attempt
      invoice->pending_attempt_id.clear();
    }

    PayAttempt attempt;
    attempt.attempt_id = ids_.NewId();
    attempt.invoice_id = invoice->invoice_id;
    attempt.caller = cmd.caller;
    attempt.request_id = cmd.request_id;
    attempt.amount = {InvoiceManager::DueNow(*invoice, *booking), invoice->amount.currency};
    attempt.booking_id = booking->booking_id;
    // Payments takes at most 500 characters; an activity name of 200 wide
    // characters is 800 bytes, so it is cut on a character boundary, keeping
    // the invoice's id whole.
    attempt.description = booking->activity_name.empty()
                              ? "Invoice " + invoice->invoice_id
                              : validation::StorableText(booking->activity_name, 400) + " (invoice " +
                                    invoice->invoice_id + ")";
    attempt.status = AttemptStatus::kStarted;
    attempt.next_check_at = now + options_.started_grace;
    attempt.created_at = now;
    attempt.updated_at = now;
    tx.InsertAttempt(attempt);
    invoice->payment_pending = true;
    invoice->pending_attempt_id = attempt.attempt_id;
    invoice->updated_at = now;
    tx.UpdateInvoice(*invoice);
    tx.AppendEvent({.invoice_id = invoice->invoice_id,
                    .type = "PAYMENT_ATTEMPT_STARTED",
                    .from_status = invoice->status,
                    .to_status = invoice->status,
                    .reason = "payment of " + money::Format(attempt.amount) + " started (attempt " +
                              attempt.attempt_id + ")",
                    .request_id = cmd.request_id,
                    .created_at = now,
                    .actor = ActorOf(cmd.caller)});
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, attempt.attempt_id);
    out.attempt = attempt;
  });
  return out;
}

// --- PayInvoice -------------------------------------------------------------------

PayInvoiceResult PayFlow::Pay(const PayInvoiceCommand& cmd) {
  const std::string fingerprint = cmd.Fingerprint();
  Begun begun;
  try {
    begun = Begin(cmd, fingerprint);
  } catch (const NeedsCheck& check) {
    // A 3-D Secure prompt left open, or an answer never heard: ask payments
    // (outside any lock). A failed or canceled one is cleared and the
    // customer may pay; anything still running keeps the invoice busy.
    PayAttempt after = Check(check.attempt, kSyncActor);
    if (after.status == AttemptStatus::kRequiresAction && after.updated_at + options_.abandon_after <= clock_.Now()) {
      after = Abandon(after);
    }
    if (IsInProgress(after.status)) throw Error(Reason::kPaymentInProgress, kInProgressMessage);
    try {
      begun = Begin(cmd, fingerprint);
    } catch (const NeedsCheck&) {
      throw Error(Reason::kPaymentInProgress, kInProgressMessage);
    }
  }
  const PayAttempt& attempt = *begun.attempt;
  const std::string actor = ActorOf(cmd.caller);

  // A retry of a call whose attempt is over, or was dropped by the invoice
  // meanwhile: the outcome as it stands (looked up for a dropped one, which
  // must never be charged again).
  if ((!IsInProgress(attempt.status) || !begun.current) && begun.confirm_intent_id.empty()) {
    Recorded recorded{IsInProgress(attempt.status) ? Check(attempt, actor) : attempt, {}};
    store_.InTransaction([&](InvoiceTx& tx) {
      auto invoice = tx.FindInvoice(attempt.invoice_id);
      if (!invoice) throw Error(Reason::kInternal, "pay attempt without its invoice");
      recorded.view = manager_.View(tx, *invoice);
    });
    return Answer(recorded, "");
  }

  PaymentView payment;
  try {
    if (!begun.confirm_intent_id.empty()) {
      // Each handled_next_action call is its own idempotent confirmation.
      payment = payments_.Confirm(
          "invoice-confirm-" + attempt.attempt_id + "-" + crypto::Sha256Hex(cmd.request_id).substr(0, 16),
          attempt.invoice_id, begun.confirm_intent_id);
    } else {
      // Everything in the request is the attempt's, so each try of it is
      // the same request at payments (which fingerprints it).
      CreatePaymentRequest request;
      request.request_id = PaymentRequestId(attempt);
      request.invoice_id = attempt.invoice_id;
      request.attempt_id = attempt.attempt_id;
      request.booking_id = attempt.booking_id;
      request.amount = attempt.amount;
      request.method = cmd.method;
      request.method_id = cmd.method_id;
      request.return_url = cmd.return_url;
      request.description = attempt.description;
      payment = payments_.Create(request);
    }
  } catch (const Payments::Error& e) {
    switch (e.failure()) {
      case Payments::Failure::kUnavailable:
        // The attempt stays STARTED; the sync worker or payments' own events
        // settle it, and a retry with the same request_id replays.
        throw Error(Reason::kUpstreamUnavailable,
                    "the payment's outcome is not known yet; retry with the same request_id to learn it");
      case Payments::Failure::kInProgress:
        throw Error(Reason::kPaymentInProgress, kInProgressMessage);
      case Payments::Failure::kRejected:
      case Payments::Failure::kConflict: {
        PaymentView refused;
        refused.status = e.failure() == Payments::Failure::kRejected ? AttemptStatus::kFailed : AttemptStatus::kCanceled;
        refused.failure_message = e.what();
        return Answer(Record(attempt.attempt_id, refused, actor, cmd.request_id), "");
      }
    }
  }
  return Answer(Record(attempt.attempt_id, payment, actor, cmd.request_id), payment.client_secret);
}

PayInvoiceResult PayFlow::Answer(const Recorded& recorded, const std::string& client_secret) const {
  PayInvoiceResult r;
  const PayAttempt& a = recorded.attempt;
  r.view = recorded.view;
  r.payment_intent_id = a.payment_intent_id;
  const bool current = r.view.invoice.payment_pending && r.view.invoice.pending_attempt_id == a.attempt_id;
  if (IsInProgress(a.status) && !current) {
    // The invoice dropped this attempt (booking canceled, invoice settled or
    // closed): its PaymentIntent is being canceled, and no client_secret
    // goes out for it.
    r.outcome = AttemptStatus::kFailed;
    r.failure_code = "invoice_not_open";
    r.failure_message = "The invoice no longer takes this payment; anything charged for it is refunded.";
    return r;
  }
  switch (a.status) {
    case AttemptStatus::kSucceeded: {
      // Paid by this very attempt, or (its invoice went away meanwhile)
      // being refunded.
      const bool paid_here =
          r.view.invoice.status == InvoiceStatus::kPaid &&
          std::any_of(r.view.payments.begin(), r.view.payments.end(), [&](const CustomerPayment& p) {
            return p.customer_payment_id == r.view.invoice.customer_payment_id &&
                   p.payment_intent_id == a.payment_intent_id;
          });
      if (paid_here) {
        r.outcome = AttemptStatus::kSucceeded;
        r.confirmation_code = r.view.booking.confirmation_code;
      } else {
        r.outcome = AttemptStatus::kFailed;
        r.failure_code = "payment_not_applied";
        r.failure_message = "The payment could not be applied to this invoice; the amount charged is being refunded.";
      }
      break;
    }
    case AttemptStatus::kRequiresAction:
      r.outcome = AttemptStatus::kRequiresAction;
      r.client_secret = client_secret;
      break;
    case AttemptStatus::kStarted:
    case AttemptStatus::kProcessing:
      r.outcome = AttemptStatus::kProcessing;
      break;
    case AttemptStatus::kFailed:
    case AttemptStatus::kCanceled:
      r.outcome = AttemptStatus::kFailed;
      r.failure_code = a.failure_code.empty() && a.status == AttemptStatus::kCanceled ? "canceled" : a.failure_code;
      r.failure_message = a.failure_message.empty() ? "The payment did not go through." : a.failure_message;
      break;
  }
  return r;
}

// --- step 3 -----------------------------------------------------------------------

void PayFlow::Report(const Refunds& refunds) const {
  for (const auto& [invoice, attempt] : refunds) {
    if (observer_.refunding) observer_.refunding(invoice, attempt);
  }
}

PayFlow::Recorded PayFlow::Record(const std::string& attempt_id, const PaymentView& payment, const std::string& actor,
                                  const std::string& request_id) {
  Recorded out;
  Refunds refunds;
  store_.InTransaction([&](InvoiceTx& tx) {
    refunds.clear();
    auto seen = tx.FindAttempt(attempt_id);
    if (!seen) throw Error(Reason::kInternal, "pay attempt " + attempt_id + " is missing");
    // Booking, invoice, attempt: the order every writer locks in.
    auto [booking, invoice] = LockInvoiceAndBooking(tx, seen->invoice_id);
    auto attempt = tx.LockAttempt(attempt_id);
    if (!booking || !invoice || !attempt) throw Error(Reason::kInternal, "pay attempt records are missing");
    Apply(tx, *attempt, *invoice, *booking, payment, actor, request_id, clock_.Now(), &refunds);
    out.attempt = *attempt;
    out.view = manager_.View(tx, *invoice);
  });
  Report(refunds);
  return out;
}

bool PayFlow::Apply(InvoiceTx& tx, PayAttempt& a, Invoice& invoice, Booking& booking, const PaymentView& payment,
                    const std::string& actor, const std::string& request_id, Time now, Refunds* refunds) {
  bool changed = false;
  if (a.payment_id.empty() && !payment.payment_id.empty()) {
    a.payment_id = payment.payment_id;
    changed = true;
  }
  if (a.payment_intent_id.empty() && !payment.payment_intent_id.empty()) {
    a.payment_intent_id = payment.payment_intent_id;
    changed = true;
  }
  const bool forward = Rank(payment.status) > Rank(a.status);
  if (forward) {
    a.status = payment.status;
    a.failure_code = payment.failure_code;
    a.failure_message = payment.failure_message;
    if (payment.status == AttemptStatus::kSucceeded && payment.amount_received.amount_minor > 0) {
      a.amount = payment.amount_received;  // what Stripe received is what was paid
    }
    changed = true;
  }
  if (!changed) return false;
  a.updated_at = now;
  a.next_check_at = IsInProgress(a.status) ? std::optional<Time>(now + options_.check_interval) : std::nullopt;
  tx.UpdateAttempt(a);
  if (forward) Effects(tx, a, invoice, booking, actor, request_id, now, refunds, payment.amount_received);
  return true;
}

void PayFlow::Effects(InvoiceTx& tx, PayAttempt& a, Invoice& invoice, Booking& booking, const std::string& actor,
                      const std::string& request_id, Time now, Refunds* refunds, const Money& captured) {
  const bool current = invoice.payment_pending && invoice.pending_attempt_id == a.attempt_id;
  const auto log = [&](const std::string& type, const std::string& reason) {
    tx.AppendEvent({.invoice_id = invoice.invoice_id,
                    .type = type,
                    .from_status = invoice.status,
                    .to_status = invoice.status,
                    .reason = reason,
                    .request_id = request_id,
                    .created_at = now,
                    .actor = actor});
  };
  const auto release = [&] {
    if (!current) return;
    invoice.payment_pending = false;
    invoice.pending_attempt_id.clear();
    invoice.updated_at = now;
    tx.UpdateInvoice(invoice);
  };
  const auto owe = [&](PaymentActionKind kind, const std::string& why) {
    if (a.payment_id.empty()) return;
    tx.QueuePaymentAction({.action_id = ids_.NewId(),
                           .kind = kind,
                           .payment_id = a.payment_id,
                           .invoice_id = invoice.invoice_id,
                           .reason = why,
                           .attempts = 0,
                           .created_at = now});
  };
  const bool wanted = invoice.status == InvoiceStatus::kOpen && !IsOff(booking.status) &&
                      (current || !invoice.payment_pending);

  switch (a.status) {
    case AttemptStatus::kStarted:
      return;
    case AttemptStatus::kRequiresAction:
    case AttemptStatus::kProcessing:
      if (!wanted) {
        // The invoice stopped taking payments while this one ran.
        owe(PaymentActionKind::kCancel, "invoice " + invoice.invoice_id + " is " + std::string(Name(invoice.status)));
        release();
      }
      log(EventType(a.status), Describe(a));
      return;
    case AttemptStatus::kFailed:
    case AttemptStatus::kCanceled:
      release();
      log(EventType(a.status), Describe(a));
      if (a.status == AttemptStatus::kCanceled && captured.amount_minor > 0) {
        // Given up, then captured anyway: the payment service refunds it on
        // its own. This news and our own look at the payment race; both say
        // CANCELED with the amount, and the attempt moves forward once, so
        // the history says once that the money came and went.
        log("PAYMENT_REFUNDED", Describe(a) + " captured " + money::Format(captured) +
                                    " after it was given up; the payment service refunds it automatically");
      }
      return;
    case AttemptStatus::kSucceeded:
      break;
  }

  const bool fits = a.amount.currency == booking.currency && a.amount.amount_minor <= booking.BalanceMinor();
  if (!wanted || !fits) {
    // Money for an invoice that no longer wants it (canceled, closed, paid
    // another way, another attempt is the current one, or the booking's
    // balance shrank below it meanwhile): never kept.
    owe(PaymentActionKind::kRefund,
        wanted ? "the booking's balance is less than the " + money::Format(a.amount) + " received"
               : "invoice " + invoice.invoice_id + " was " + std::string(Name(invoice.status)) +
                     " when its payment succeeded");
    release();
    log("PAYMENT_REFUNDED", Describe(a) + " succeeded after the invoice stopped taking payments; refunding it");
    if (refunds != nullptr) refunds->emplace_back(invoice, a);
    return;
  }

  // Paid, exactly once (the attempt's forward-only status guards it).
  if (auto recorded = tx.FindPaymentByIntent(a.payment_intent_id)) {
    // Recorded already under this PaymentIntent (by an older release that
    // let RecordExternalPayment take it): the money is counted once.
    invoice.payment_pending = false;
    invoice.pending_attempt_id.clear();
    invoice.customer_payment_id = recorded->customer_payment_id;
    manager_.Transition(tx, invoice, InvoiceStatus::kPaid, "PAID",
                        "paid by card (" + a.payment_intent_id + "), recorded earlier", actor, request_id, now);
    return;
  }
  CustomerPayment payment;
  payment.customer_payment_id = ids_.NewId();
  payment.booking_id = booking.booking_id;
  payment.invoice_id = invoice.invoice_id;
  payment.amount = a.amount;
  payment.source = PaymentSource::kInvoice;
  payment.payment_intent_id = a.payment_intent_id;
  payment.created_at = now;
  tx.InsertPayment(payment);
  booking.paid_minor += a.amount.amount_minor;
  booking.updated_at = now;
  tx.SetBookingPaid(booking.booking_id, booking.paid_minor, now);

  invoice.payment_pending = false;
  invoice.pending_attempt_id.clear();
  invoice.customer_payment_id = payment.customer_payment_id;
  manager_.Transition(tx, invoice, InvoiceStatus::kPaid, "PAID",
                      "paid " + money::Format(a.amount) + " by card (" + a.payment_intent_id + ")", actor, request_id,
                      now);

  // Confirm on pay (seed 000): a draft or pending booking is confirmed.
  if (invoice.confirm_on_pay &&
      (booking.status == BookingStatus::kDraft || booking.status == BookingStatus::kPending)) {
    booking.status = BookingStatus::kConfirmed;
    booking.updated_at = now;
    tx.UpdateBooking(booking);
    log("BOOKING_CONFIRMED", "booking " + booking.booking_id + " confirmed on payment");
    manager_.QueueNotification(tx, manager_.MessageRequest(NotificationPurpose::kBookingConfirmation, invoice, booking),
                               now);
  }
  auto receipt = manager_.MessageRequest(NotificationPurpose::kReceipt, invoice, booking);
  receipt.amount = a.amount;
  receipt.balance_remaining = Money{std::max<int64_t>(0, booking.BalanceMinor()), booking.currency};
  manager_.QueueNotification(tx, receipt, now);
  log("NOTIFICATION_QUEUED", "receipt queued by " + std::string(Name(invoice.send_type)));
  // Other open invoices of a booking that now owes nothing are settled.
  manager_.SettleIfNothingOwed(tx, booking, "SETTLED", "settled: the booking is paid in full",
                               payment.customer_payment_id, actor, request_id, now);
}

// --- outcomes from elsewhere ------------------------------------------------------

PaymentEventResult PayFlow::ApplyPaymentEvent(const PaymentEventCommand& cmd) {
  const std::string fingerprint = cmd.Fingerprint();
  PaymentEventResult result;
  Refunds refunds;
  store_.InTransaction([&](InvoiceTx& tx) {
    result = {};
    refunds.clear();
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kApplyPaymentEvent, fingerprint, now)) {
      RequireSame(*record, kApplyPaymentEvent, fingerprint);
      if (auto invoice = tx.FindInvoice(cmd.invoice_id)) result.invoice = *invoice;
      return;
    }
    if (!tx.FindInvoice(cmd.invoice_id)) {
      throw Error(Reason::kInvoiceNotFound, "invoice_id " + cmd.invoice_id + " does not exist", "invoice_id");
    }
    auto [booking, invoice] = LockInvoiceAndBooking(tx, cmd.invoice_id);
    std::optional<PayAttempt> attempt = tx.LockAttemptByPayment(cmd.payment_id);
    if (!attempt && !cmd.payment_intent_id.empty()) attempt = tx.LockAttemptByIntent(cmd.payment_intent_id);
    if (!attempt && !cmd.attempt_id.empty()) {
      // The create call's answer was lost before we learnt the payment's id;
      // the payment's metadata names the attempt that created it.
      auto named = tx.LockAttempt(cmd.attempt_id);
      if (named && (named->payment_id.empty() || named->payment_id == cmd.payment_id)) attempt = named;
    }
    if (attempt && attempt->invoice_id != invoice->invoice_id) {
      throw errors::InvalidField("payment_id", "belongs to another invoice");
    }
    PaymentView payment;
    payment.payment_id = cmd.payment_id;
    payment.payment_intent_id = cmd.payment_intent_id;
    payment.status = cmd.status;
    payment.amount_received = cmd.amount_received;
    payment.failure_code = cmd.failure_code;
    payment.failure_message = cmd.failure_message;
    if (!attempt) {
      if (cmd.status != AttemptStatus::kSucceeded || cmd.amount_received.amount_minor <= 0) {
        tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, "");
        result.invoice = *invoice;
        return;  // news about a payment we never started: nothing to do
      }
      // Money for this invoice from a payment we have no attempt for: record
      // one, so it is paid (or refunded) like any other.
      PayAttempt found;
      found.attempt_id = ids_.NewId();
      found.invoice_id = invoice->invoice_id;
      found.caller = cmd.caller;
      found.request_id = cmd.request_id;
      found.amount = cmd.amount_received;
      found.status = AttemptStatus::kSucceeded;
      found.payment_id = cmd.payment_id;
      found.payment_intent_id = cmd.payment_intent_id;
      found.created_at = now;
      found.updated_at = now;
      tx.InsertAttempt(found);
      Effects(tx, found, *invoice, *booking, ActorOf(cmd.caller), cmd.request_id, now, &refunds);
      attempt = found;
      result.applied = true;
    } else {
      result.applied =
          Apply(tx, *attempt, *invoice, *booking, payment, ActorOf(cmd.caller), cmd.request_id, now, &refunds);
    }
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, attempt->attempt_id);
    result.invoice = *invoice;
  });
  Report(refunds);
  return result;
}

PayAttempt PayFlow::Check(const PayAttempt& attempt, const std::string& actor) {
  std::optional<PaymentView> payment;
  try {
    if (!attempt.payment_id.empty()) {
      payment = payments_.Get(attempt.payment_id);
    } else {
      for (const auto& p : payments_.ListForInvoice(attempt.invoice_id)) {
        if (p.attempt_id == attempt.attempt_id) payment = p;
      }
    }
  } catch (const Payments::Error& e) {
    if (e.failure() == Payments::Failure::kUnavailable) {
      throw Error(Reason::kUpstreamUnavailable, "the payment service did not answer; retry shortly");
    }
    throw Error(Reason::kInternal, "the payment service refused a lookup");
  }
  if (!payment) {
    if (attempt.created_at + options_.lost_after > clock_.Now()) return attempt;  // maybe still on its way
    PaymentView lost;
    lost.status = AttemptStatus::kFailed;
    lost.failure_code = "lost";
    lost.failure_message = "the payment never reached the payment service";
    payment = lost;
  }
  return Record(attempt.attempt_id, *payment, actor, "").attempt;
}

PayAttempt PayFlow::Abandon(const PayAttempt& attempt) {
  if (attempt.payment_id.empty()) return attempt;
  try {
    payments_.Cancel(CancelRequestId(attempt.payment_id), attempt.payment_id);
  } catch (const Payments::Error& e) {
    switch (e.failure()) {
      case Payments::Failure::kUnavailable:
      case Payments::Failure::kInProgress:
        throw Error(Reason::kUpstreamUnavailable, "the payment service did not answer; retry shortly");
      case Payments::Failure::kConflict:  // it completed meanwhile: the check below learns how
      case Payments::Failure::kRejected:
        break;
    }
  }
  return Check(attempt, kSyncActor);
}

// --- workers ----------------------------------------------------------------------

int PayFlow::SyncAttempts(PaymentWork& work, int limit, std::stop_token stop) {
  int handled = 0;
  for (int i = 0; i < limit && !stop.stop_requested(); ++i) {
    const Time now = clock_.Now();
    // One at a time, so each lease covers exactly its own lookup.
    const auto claimed = work.ClaimAttemptsToCheck(now, now + options_.check_interval, 1);
    if (claimed.empty()) break;
    try {
      Check(claimed.front(), kSyncActor);
    } catch (const Error& e) {
      // Its lease already put the next look one check_interval away; the
      // other attempts (and the payment actions after them) go on.
      if (observer_.check_failed) observer_.check_failed(claimed.front(), e.what());
    }
    ++handled;
  }
  return handled;
}

std::chrono::milliseconds PayFlow::ActionBackoff(int attempts) const {
  auto delay = options_.action_retry_base;
  for (int i = 1; i < attempts && delay < options_.action_retry_max; ++i) delay *= 2;
  return std::min(delay, options_.action_retry_max);
}

int PayFlow::RunPaymentActions(PaymentWork& work, int limit, std::stop_token stop) {
  int done = 0;
  for (int i = 0; i < limit && !stop.stop_requested(); ++i) {
    // One at a time, so each lease covers exactly its own call (a batch of
    // slow calls could outlive a batch lease and be run twice elsewhere).
    const Time now = clock_.Now();
    const auto claimed = work.ClaimPaymentActions(now, now + options_.action_lease, 1);
    if (claimed.empty()) break;
    const PaymentAction& action = claimed.front();
    const std::string request_id = action.kind == PaymentActionKind::kCancel ? CancelRequestId(action.payment_id)
                                                                              : RefundRequestId(action.payment_id);
    try {
      if (action.kind == PaymentActionKind::kCancel) {
        payments_.Cancel(request_id, action.payment_id);
      } else {
        payments_.Refund(request_id, action.payment_id);
      }
      work.MarkActionDone(action.action_id, clock_.Now());
      ++done;
    } catch (const Payments::Error& e) {
      switch (e.failure()) {
        case Payments::Failure::kConflict:
          // Cancel: it succeeded first, and its success (being unwanted) is
          // refunded when it arrives. Refund: nothing left (payments already
          // refunded it). Either way, nothing more to do here.
          work.MarkActionDone(action.action_id, clock_.Now());
          ++done;
          break;
        case Payments::Failure::kRejected:
          work.MarkActionFailed(action.action_id, e.what(), clock_.Now());
          if (observer_.action_failed) observer_.action_failed(action, e.what());
          break;
        case Payments::Failure::kUnavailable:
        case Payments::Failure::kInProgress:
          work.MarkActionRetry(action.action_id, e.what(), clock_.Now() + ActionBackoff(action.attempts));
          break;
      }
    }
  }
  return done;
}

}  // namespace billing::invoice::domain
