#include "domain/payment_service.h"

#include <algorithm>

#include "paging/page_token.h"
#include "validation/validation.h"

namespace billing::payments::domain {
namespace {

using errors::Error;
using errors::Reason;

// Where a Stripe parameter lives in our request, for errors that name it.
std::string FieldForParam(const std::string& param) {
  if (param == "amount") return "amount.amount_minor";
  if (param == "currency") return "amount.currency_code";
  if (param == "payment_method") return "payment_method_id";
  if (param == "confirmation_token") return "confirmation_token_id";
  if (param == "return_url") return "return_url";
  if (param == "description") return "description";
  if (param.rfind("metadata", 0) == 0) return "metadata";
  return "";
}

PaymentFailure FailureOf(const StripeFailure& f) { return {f.code, f.decline_code, f.message}; }

int64_t Reserved(const std::vector<Refund>& refunds) {
  int64_t sum = 0;
  for (const auto& r : refunds) {
    if (r.status == RefundStatus::kPending || r.status == RefundStatus::kSucceeded) sum += r.amount.amount_minor;
  }
  return sum;
}

int64_t Refunded(const std::vector<Refund>& refunds) {
  int64_t sum = 0;
  for (const auto& r : refunds) {
    if (r.status == RefundStatus::kSucceeded) sum += r.amount.amount_minor;
  }
  return sum;
}

RefundStatus RefundStatusOf(const std::string& stripe_status) {
  if (stripe_status == "succeeded") return RefundStatus::kSucceeded;
  if (stripe_status == "failed") return RefundStatus::kFailed;
  if (stripe_status == "canceled") return RefundStatus::kCanceled;
  return RefundStatus::kPending;  // pending, requires_action
}

// What a page token of the payment list is bound to.
std::string FilterKey(const PaymentFilter& f) { return f.invoice_id + "|" + (f.status ? std::string(Name(*f.status)) : "*"); }

std::string EncodeToken(const Payment& last, const PaymentFilter& f) {
  return paging::EncodeToken("p1", {last.created_at, last.payment_id}, FilterKey(f));
}

std::optional<PaymentCursor> DecodeToken(const std::string& token, const PaymentFilter& f) {
  const auto position = paging::DecodeToken("p1", token, FilterKey(f));
  if (!position) return std::nullopt;
  return PaymentCursor{position->created_at, position->id};
}

}  // namespace

errors::Error StripeError(const StripeFailure& failure, const std::string& what) {
  switch (failure.outcome) {
    case StripeOutcome::kUnavailable:
      return Error(Reason::kUpstreamUnavailable,
                   "Stripe did not answer " + what + "; retry with the same request_id to find out how it ended");
    case StripeOutcome::kAuthError:
      return Error(Reason::kUpstreamUnavailable, "the payments service could not authenticate with Stripe; retry later");
    case StripeOutcome::kCardError:
    case StripeOutcome::kInvalidRequest:
    case StripeOutcome::kOk:
      break;
  }
  return Error(Reason::kProviderRejected, "Stripe refused " + what + ": " + failure.message, FieldForParam(failure.param));
}

PaymentService::PaymentService(PaymentStore& store, StripeGateway& stripe, const clock::Clock& clock,
                               ids::IdGenerator& ids, Options options, PaymentObserver observer)
    : store_(store),
      stripe_(stripe),
      clock_(clock),
      ids_(ids),
      options_(std::move(options)),
      observer_(std::move(observer)) {}

// --- idempotency keys ---------------------------------------------------------

PaymentService::Claimed PaymentService::BeginKey(const std::string& caller, const std::string& request_id,
                                                 const std::string& operation, const std::string& fingerprint,
                                                 const std::function<void(PaymentTx&, IdempotencyKey&)>& on_create) {
  const Time now = clock_.Now();
  Claimed out;
  store_.InTransaction([&](PaymentTx& tx) {
    out = Claimed{};
    IdempotencyKey proposed;
    proposed.caller = caller;
    proposed.request_id = request_id;
    proposed.operation = operation;
    proposed.fingerprint = fingerprint;
    proposed.locked_until = now + options_.key_lock;
    proposed.created_at = now;
    proposed.last_used_at = now;
    auto existing = tx.ClaimKey(proposed);
    if (!existing) {
      if (on_create) on_create(tx, proposed);
      out.key = proposed;
      return;
    }
    if (existing->operation != operation || existing->fingerprint != fingerprint) {
      throw Error(Reason::kIdempotencyKeyReused,
                  "request_id was already used for a different request; use a new request_id", "request_id");
    }
    if (existing->finished) {
      out.key = *existing;
      out.replay = true;
      return;
    }
    if (existing->locked_until && *existing->locked_until > now) {
      throw Error(Reason::kIdempotencyKeyInUse, "a call with this request_id is still in progress; retry shortly",
                  "request_id");
    }
    tx.SetKeyLock(caller, request_id, proposed.locked_until);
    existing->locked_until = proposed.locked_until;
    out.key = *existing;
  });
  return out;
}

const StoredResponse& PaymentService::Replay(const IdempotencyKey& key) {
  if (!key.response) throw Error(Reason::kInternal, "a finished idempotency key has no stored answer");
  const StoredResponse& r = *key.response;
  if (r.error) throw Error(*r.error, r.error_message, r.error_field);
  if (!r.payment || (key.operation == "RefundPayment" && !r.refund)) {
    throw Error(Reason::kInternal, "a finished idempotency key's stored answer is incomplete");
  }
  return r;
}

void PaymentService::ReleaseKey(const IdempotencyKey& key) {
  // Best effort: if this fails too, the lock simply runs out.
  try {
    store_.InTransaction([&](PaymentTx& tx) {
      tx.SetKeyLock(key.caller, key.request_id, std::nullopt);
      if (key.operation != "CreatePayment" || key.payment_id.empty()) return;
      auto p = tx.LockPayment(key.payment_id);
      if (!p || p->status != PaymentStatus::kPending || p->abandoned_at) return;
      const Time due = clock_.Now() + options_.pending_grace;
      if (!p->next_sweep_at || *p->next_sweep_at < due) {
        p->next_sweep_at = due;
        tx.UpdatePayment(*p);
      }
    });
  } catch (const std::exception&) {
  }
}

void PaymentService::FinishWithError(const IdempotencyKey& key, const errors::Error& error) {
  const StoredResponse response = ResponseFor(Payment{}, error);
  store_.InTransaction(
      [&](PaymentTx& tx) { tx.FinishKey(key.caller, key.request_id, response, clock_.Now()); });
  throw error;
}

// --- recording ----------------------------------------------------------------

Payment PaymentService::LoadPayment(const std::string& payment_id, bool with_refunds) {
  std::optional<Payment> p;
  store_.InTransaction([&](PaymentTx& tx) {
    p = tx.FindPayment(payment_id);
    if (p && with_refunds) p->refunds = tx.ListRefunds(payment_id);
  });
  if (!p) throw Error(Reason::kPaymentNotFound, "payment_id " + payment_id + " does not exist", "payment_id");
  return *p;
}

std::optional<Time> PaymentService::NextSweep(const Payment& p, Time now) const {
  // Given up, and its PaymentIntent may still be live at Stripe: cancel it
  // (soon, but not at once: whoever abandoned it is usually doing that).
  if (p.abandoned_at && (!IsFinal(p.status) || (p.status == PaymentStatus::kFailed && !p.payment_intent_id.empty()))) {
    return now + options_.sweep_retry;
  }
  switch (p.status) {
    case PaymentStatus::kPending: {
      const Time due = p.created_at + options_.pending_grace;
      return due > now ? due : now + options_.sweep_retry;
    }
    case PaymentStatus::kRequiresAction: return now + options_.action_timeout;
    case PaymentStatus::kProcessing: return now + options_.processing_check;
    case PaymentStatus::kSucceeded:
    case PaymentStatus::kFailed:
    case PaymentStatus::kCanceled: return std::nullopt;
  }
  return std::nullopt;
}

Payment PaymentService::Record(const std::string& payment_id, const Change& change, const IdempotencyKey* key) {
  Payment out;
  Payment before;
  std::optional<Refund> auto_refund;
  std::optional<Error> refusal;
  store_.InTransaction([&](PaymentTx& tx) {
    refusal.reset();
    auto p = tx.LockPayment(payment_id);
    if (!p) throw Error(Reason::kPaymentNotFound, "payment_id " + payment_id + " does not exist", "payment_id");
    before = *p;
    const Time now = clock_.Now();
    auto_refund = change(tx, *p, now);
    if (p->status != before.status || p->abandoned_at != before.abandoned_at) {
      p->next_sweep_at = NextSweep(*p, now);
    }
    p->updated_at = now;
    tx.UpdatePayment(*p);
    p->refunds = tx.ListRefunds(payment_id);
    if (key != nullptr) {
      // The answer commits with the change: one transaction fewer per
      // payment than finishing the key afterwards.
      refusal = AnswerError(*p);
      tx.FinishKey(key->caller, key->request_id, ResponseFor(*p, refusal), now);
    }
    out = *p;
  });
  if (observer_.finished && IsFinal(out.status) && out.status != before.status) observer_.finished(out);
  if (observer_.auto_refund && auto_refund) observer_.auto_refund(out, *auto_refund);
  if (refusal) throw *refusal;
  return out;
}

void PaymentService::MarkAbandoned(Payment& p, CancellationReason reason, Time now) {
  if (p.abandoned_at) return;
  p.abandoned_at = now;
  p.cancellation_reason = reason;
}

void PaymentService::QueueEvent(PaymentTx& tx, const Payment& p, PaymentStatus status, Time now) {
  PaymentEvent e;
  e.event_key = "payments-" + p.payment_id + "-" + std::string(Name(status));
  e.payment_id = p.payment_id;
  e.invoice_id = p.invoice_id;
  e.payment_intent_id = p.payment_intent_id;
  e.status = status;
  e.amount_received = {p.amount_received_minor, p.amount.currency};
  e.failure_code = p.failure.decline_code.empty() ? p.failure.code : p.failure.decline_code;
  e.failure_message = p.failure.message;
  e.occurred_at = now;
  tx.QueueEvent(e);
}

std::optional<Refund> PaymentService::QueueAutoRefund(PaymentTx& tx, Payment& p, Time now) {
  const int64_t left =
      p.amount_received_minor - std::max(Reserved(tx.ListRefunds(p.payment_id)), p.amount_refunded_minor);
  if (left <= 0) return std::nullopt;
  Refund r;
  r.refund_id = ids_.NewId();
  r.payment_id = p.payment_id;
  r.amount = {left, p.amount.currency};
  r.status = RefundStatus::kPending;
  r.automatic = true;
  r.created_at = now;
  r.updated_at = now;
  tx.InsertRefund(r, now);
  return r;
}

PaymentService::ApplyResult PaymentService::ApplyIntent(PaymentTx& tx, Payment& p, const Intent& intent, Time now) {
  ApplyResult result;
  if (p.payment_intent_id.empty() && !intent.id.empty()) {
    p.payment_intent_id = intent.id;
    result.changed = true;
  }
  if (!intent.client_secret.empty() && p.client_secret != intent.client_secret && !IsFinal(p.status)) {
    p.client_secret = intent.client_secret;
    result.changed = true;
  }
  const PaymentStatus next = StatusOf(intent);
  if (next == PaymentStatus::kPending) return result;  // not confirmed (yet): nothing to say
  if (Rank(next) <= Rank(p.status)) {
    // Late or repeated news; only a succeeded amount can still be refined.
    if (next == PaymentStatus::kSucceeded && intent.amount_received != p.amount_received_minor) {
      p.amount_received_minor = intent.amount_received;
      result.changed = true;
    }
    return result;
  }
  const bool told_final = IsFinal(p.status);  // the invoice already heard FAILED or CANCELED
  p.status = next;
  p.failure = next == PaymentStatus::kFailed ? intent.last_error : PaymentFailure{};
  if (next == PaymentStatus::kSucceeded) p.amount_received_minor = intent.amount_received;
  // The client secret is only for finishing 3-D Secure.
  if (IsFinal(next)) p.client_secret.clear();
  result.changed = true;
  if (next == PaymentStatus::kSucceeded && p.abandoned_at) {
    // We had given this payment up: the money goes back, main reports it,
    // and the invoice hears that the attempt is over (unless it already
    // did) rather than that it succeeded.
    result.auto_refund = QueueAutoRefund(tx, p, now);
    if (!told_final) QueueEvent(tx, p, PaymentStatus::kCanceled, now);
    return result;
  }
  QueueEvent(tx, p, next, now);
  if (next == PaymentStatus::kFailed) {
    // One payment is one attempt: a failed one is over, and its
    // PaymentIntent is canceled so nobody can still pay on it (Stripe.js
    // could confirm it again with another card).
    MarkAbandoned(p, CancellationReason::kAbandoned, now);
  }
  return result;
}

void PaymentService::FailAttempt(PaymentTx& tx, Payment& p, const PaymentFailure& failure, Time now) {
  if (Rank(PaymentStatus::kFailed) <= Rank(p.status)) return;
  p.status = PaymentStatus::kFailed;
  p.failure = failure;
  p.client_secret.clear();
  QueueEvent(tx, p, PaymentStatus::kFailed, now);
  MarkAbandoned(p, CancellationReason::kAbandoned, now);
}

std::optional<Error> PaymentService::AnswerError(const Payment& p) {
  if (p.status == PaymentStatus::kSucceeded && p.abandoned_at) {
    return Error(Reason::kPaymentStateConflict,
                 "payment " + p.payment_id + " was given up before it succeeded; its money is being refunded automatically",
                 "payment_id");
  }
  return std::nullopt;
}

StoredResponse PaymentService::ResponseFor(const Payment& p, const std::optional<Error>& error) {
  StoredResponse response;
  if (error) {
    response.error = error->reason();
    response.error_message = error->what();
    response.error_field = error->field();
  } else {
    response.payment = p;
  }
  return response;
}

Payment PaymentService::Answer(const IdempotencyKey& key, const Payment& p) {
  if (auto error = AnswerError(p)) FinishWithError(key, *error);
  store_.InTransaction(
      [&](PaymentTx& tx) { tx.FinishKey(key.caller, key.request_id, ResponseFor(p, std::nullopt), clock_.Now()); });
  return p;
}

CreateIntentParams PaymentService::CreateParamsFor(const Payment& p) const {
  CreateIntentParams params;
  params.amount = p.amount;
  params.description = p.description;
  params.metadata = p.metadata;
  params.metadata["invoice_id"] = p.invoice_id;
  params.metadata["payment_id"] = p.payment_id;
  return params;
}

// --- CreatePayment --------------------------------------------------------------

Payment PaymentService::CreatePayment(const CreatePaymentCommand& cmd) {
  const Time now = clock_.Now();
  Payment fresh;
  fresh.payment_id = ids_.NewId();
  fresh.caller = cmd.caller;
  fresh.request_id = cmd.request_id;
  fresh.invoice_id = cmd.invoice_id;
  fresh.amount = cmd.amount;
  fresh.method_kind = cmd.method_kind;
  fresh.method_id = cmd.method_id;
  fresh.return_url = cmd.return_url.empty() ? options_.default_return_url : cmd.return_url;
  fresh.description = cmd.description;
  fresh.metadata = cmd.metadata;
  fresh.status = PaymentStatus::kPending;
  fresh.created_at = now;
  fresh.updated_at = now;
  fresh.next_sweep_at = now + options_.pending_grace;
  const Claimed claimed =
      BeginKey(cmd.caller, cmd.request_id, "CreatePayment", cmd.Fingerprint(), [&](PaymentTx& tx, IdempotencyKey& key) {
        tx.InsertPayment(fresh);
        tx.SetKeyResource(cmd.caller, cmd.request_id, fresh.payment_id, "");
        key.payment_id = fresh.payment_id;
      });
  if (claimed.replay) return *Replay(claimed.key).payment;
  const IdempotencyKey& key = claimed.key;
  const auto no_change = [](PaymentTx&, Payment&, Time) -> std::optional<Refund> { return std::nullopt; };
  // A read, not a Record: nothing has changed yet, and an UPDATE here was
  // one write transaction per payment for nothing.
  Payment p = LoadPayment(key.payment_id, /*with_refunds=*/true);
  // Given up while the caller was away (CancelPayment, or the sweeper after
  // the answer was lost for longer than the grace): finish the
  // cancellation, then answer that.
  const auto settle_abandoned = [&]() -> Payment {
    try {
      CancelAtStripe(p.payment_id);
    } catch (const Error&) {
      ReleaseKey(key);
      throw;
    }
    return Record(p.payment_id, no_change, &key);
  };
  if (p.abandoned_at && !IsFinal(p.status)) return settle_abandoned();
  // A webhook or the sweeper settled it while an earlier call was away.
  if (p.status != PaymentStatus::kPending) return Answer(key, p);

  if (key.recovery_point == "started" && p.payment_intent_id.empty()) {
    const auto created = stripe_.CreateIntent(CreateParamsFor(p), CreateKeyFor(p));
    if (!created.ok()) {
      const StripeFailure& f = created.failure;
      if (f.outcome == StripeOutcome::kInvalidRequest || f.outcome == StripeOutcome::kCardError) {
        // Stripe refused the request itself (amount, currency, metadata):
        // nothing exists there. The attempt is FAILED and the refusal is the
        // answer, both in one transaction, replayed like any other answer.
        const Error error = StripeError(f, "the payment");
        StoredResponse response;
        response.error = error.reason();
        response.error_message = error.what();
        response.error_field = error.field();
        store_.InTransaction([&](PaymentTx& tx) {
          auto q = tx.LockPayment(p.payment_id);
          if (!q) throw Error(Reason::kInternal, "a payment's record is missing");
          const Time t = clock_.Now();
          FailAttempt(tx, *q, FailureOf(f), t);
          q->next_sweep_at = std::nullopt;  // nothing exists at Stripe to clean up
          q->updated_at = t;
          tx.UpdatePayment(*q);
          tx.FinishKey(key.caller, key.request_id, response, t);
        });
        throw error;
      }
      ReleaseKey(key);
      throw StripeError(f, "the payment (nothing was charged)");
    }
    p = Record(
        p.payment_id,
        [&](PaymentTx& tx, Payment& q, Time t) {
          tx.SetKeyRecoveryPoint(key.caller, key.request_id, "intent_created");
          return ApplyIntent(tx, q, *created.value, t).auto_refund;
        },
        nullptr);
    // A cancellation that landed while the create call was out.
    if (p.abandoned_at && !IsFinal(p.status)) return settle_abandoned();
  }

  ConfirmIntentParams confirm{p.method_kind, p.method_id, p.return_url};
  const auto confirmed = stripe_.ConfirmIntent(p.payment_intent_id, confirm, ConfirmKeyFor(p));
  if (!confirmed.ok() && confirmed.failure.outcome != StripeOutcome::kCardError &&
      confirmed.failure.outcome != StripeOutcome::kInvalidRequest) {
    ReleaseKey(key);
    throw StripeError(confirmed.failure, "the payment");
  }
  return Record(
      p.payment_id,
      [&](PaymentTx& tx, Payment& q, Time t) -> std::optional<Refund> {
        std::optional<Refund> refund;
        const std::optional<Intent>& intent =
            confirmed.ok() ? confirmed.value : confirmed.failure.intent;
        if (intent) refund = ApplyIntent(tx, q, *intent, t).auto_refund;
        // A decline without the PaymentIntent in the error, or a
        // refusal (an unknown payment method, a used confirmation
        // token): the attempt failed with Stripe's reason.
        if (!confirmed.ok() && q.status == PaymentStatus::kPending) {
          FailAttempt(tx, q, FailureOf(confirmed.failure), t);
        }
        return refund;
      },
      &key);
}

// --- ConfirmPayment ---------------------------------------------------------------

Payment PaymentService::ConfirmPayment(const ConfirmPaymentCommand& cmd) {
  const Claimed claimed = BeginKey(cmd.caller, cmd.request_id, "ConfirmPayment", cmd.Fingerprint(), nullptr);
  if (claimed.replay) return *Replay(claimed.key).payment;
  const IdempotencyKey& key = claimed.key;
  std::optional<Payment> p;
  try {
    store_.InTransaction([&](PaymentTx& tx) { p = tx.FindPaymentByIntent(cmd.payment_intent_id); });
  } catch (...) {
    ReleaseKey(key);
    throw;
  }
  if (!p || p->invoice_id != cmd.invoice_id) {
    // Another invoice's PaymentIntent is as unknown as a made-up one.
    FinishWithError(key, Error(Reason::kPaymentNotFound,
                               "payment_intent_id " + cmd.payment_intent_id + " is not a payment of invoice " +
                                   cmd.invoice_id,
                               "payment_intent_id"));
  }
  const auto retrieved = stripe_.RetrieveIntent(cmd.payment_intent_id);
  if (!retrieved.ok()) {
    ReleaseKey(key);
    throw StripeError(retrieved.failure, "the payment's lookup");
  }
  // Only Stripe's status and amount count; the client's word is not asked.
  return Record(
      p->payment_id, [&](PaymentTx& tx, Payment& q, Time t) { return ApplyIntent(tx, q, *retrieved.value, t).auto_refund; },
      &key);
}

// --- CancelPayment ----------------------------------------------------------------

Payment PaymentService::CancelPayment(const CancelPaymentCommand& cmd) {
  const Claimed claimed = BeginKey(cmd.caller, cmd.request_id, "CancelPayment", cmd.Fingerprint(), nullptr);
  if (claimed.replay) return *Replay(claimed.key).payment;
  const IdempotencyKey& key = claimed.key;
  enum class Decision { kGo, kNotFound, kAlreadyCanceled, kSucceeded, kInProgress };
  Decision decision = Decision::kGo;
  std::optional<IdempotencyKey> create_key;
  try {
    // One transaction decides: the payment's row lock orders us against
    // webhooks and the sweeper, and the CreatePayment key is taken (like the
    // sweeper takes it) so a retried create call cannot confirm while we
    // cancel.
    store_.InTransaction([&](PaymentTx& tx) {
      decision = Decision::kGo;
      create_key.reset();
      auto p = tx.LockPayment(cmd.payment_id);
      if (!p) {
        decision = Decision::kNotFound;
        return;
      }
      if (p->status == PaymentStatus::kCanceled) {
        decision = Decision::kAlreadyCanceled;
        return;
      }
      if (p->status == PaymentStatus::kSucceeded) {
        decision = Decision::kSucceeded;
        return;
      }
      const Time now = clock_.Now();
      create_key = tx.LockOpenCreateKey(cmd.payment_id);
      if (create_key && create_key->locked_until && *create_key->locked_until > now) {
        decision = Decision::kInProgress;
        return;
      }
      if (create_key) tx.SetKeyLock(create_key->caller, create_key->request_id, now + options_.key_lock);
      // The decision comes first: from here on, money this payment captures
      // is refunded automatically, whatever happens to the calls below.
      const bool was_abandoned = p->abandoned_at.has_value();
      MarkAbandoned(*p, cmd.reason, now);
      if (!was_abandoned) {
        p->next_sweep_at = NextSweep(*p, now);
        p->updated_at = now;
        tx.UpdatePayment(*p);
      }
    });
  } catch (...) {
    ReleaseKey(key);
    throw;
  }
  switch (decision) {
    case Decision::kNotFound:
      FinishWithError(key, Error(Reason::kPaymentNotFound, "payment_id " + cmd.payment_id + " does not exist",
                                 "payment_id"));
    case Decision::kAlreadyCanceled:
      return Answer(key, LoadPayment(cmd.payment_id));
    case Decision::kSucceeded:
      FinishWithError(key, Error(Reason::kPaymentStateConflict,
                                 "payment " + cmd.payment_id + " already succeeded; refund it instead", "payment_id"));
    case Decision::kInProgress:
      ReleaseKey(key);
      throw Error(Reason::kPaymentInProgress, "payment " + cmd.payment_id + " is still being created; retry shortly",
                  "payment_id");
    case Decision::kGo:
      break;
  }
  const auto release_create_key = [&] {
    if (!create_key) return;
    try {
      store_.InTransaction(
          [&](PaymentTx& tx) { tx.SetKeyLock(create_key->caller, create_key->request_id, std::nullopt); });
    } catch (const std::exception&) {
    }
  };
  try {
    CancelAtStripe(cmd.payment_id);
  } catch (const Error& e) {
    release_create_key();
    ReleaseKey(key);
    if (e.reason() == Reason::kUpstreamUnavailable) {
      throw Error(Reason::kUpstreamUnavailable,
                  "Stripe did not answer; the cancellation is recorded and will be retried, and any money the "
                  "payment still captures will be refunded");
    }
    throw;
  }
  release_create_key();
  const Payment done = LoadPayment(cmd.payment_id);
  if (done.status == PaymentStatus::kSucceeded) {
    FinishWithError(key, Error(Reason::kPaymentStateConflict,
                               "payment " + done.payment_id +
                                   " succeeded before it could be canceled; its money is being refunded automatically",
                               "payment_id"));
  }
  return Answer(key, done);
}

void PaymentService::Abandon(const std::string& payment_id, CancellationReason reason) {
  Record(
      payment_id,
      [&](PaymentTx&, Payment& q, Time now) -> std::optional<Refund> {
        if (q.status == PaymentStatus::kSucceeded) {
          // Settled (by a webhook) since the caller looked: nothing to give
          // up any more.
          throw Error(Reason::kPaymentStateConflict, "payment " + q.payment_id + " already succeeded", "payment_id");
        }
        MarkAbandoned(q, reason, now);
        return std::nullopt;
      },
      nullptr);
}

void PaymentService::Reschedule(const std::string& payment_id, std::chrono::milliseconds after) {
  Record(
      payment_id,
      [&](PaymentTx&, Payment& q, Time now) -> std::optional<Refund> {
        q.next_sweep_at = now + after;
        return std::nullopt;
      },
      nullptr);
}

void PaymentService::CancelAtStripe(const std::string& payment_id) {
  Payment p = LoadPayment(payment_id);
  if (IsFinal(p.status) && p.status != PaymentStatus::kFailed) return;
  if (p.payment_intent_id.empty()) {
    // The create call's answer was lost. Replaying it (same key, same
    // parameters) returns the PaymentIntent if Stripe made one, or makes an
    // unconfirmed one; either way it is then canceled, never confirmed.
    const auto created = stripe_.CreateIntent(CreateParamsFor(p), CreateKeyFor(p));
    if (!created.ok()) {
      if (created.failure.outcome == StripeOutcome::kInvalidRequest) {
        // Stripe refuses to make it at all: nothing to cancel.
        Record(
            payment_id,
            [&](PaymentTx& tx, Payment& q, Time t) -> std::optional<Refund> {
              if (Rank(PaymentStatus::kCanceled) > Rank(q.status)) {
                q.status = PaymentStatus::kCanceled;
                QueueEvent(tx, q, PaymentStatus::kCanceled, t);
              }
              q.next_sweep_at = std::nullopt;
              return std::nullopt;
            },
            nullptr);
        return;
      }
      throw StripeError(created.failure, "the cancellation");
    }
    p = Record(
        payment_id, [&](PaymentTx& tx, Payment& q, Time t) { return ApplyIntent(tx, q, *created.value, t).auto_refund; },
        nullptr);
  }
  auto canceled = stripe_.CancelIntent(p.payment_intent_id, p.cancellation_reason, CancelKeyFor(p));
  if (!canceled.ok()) {
    if (canceled.failure.outcome != StripeOutcome::kInvalidRequest) throw StripeError(canceled.failure, "the cancellation");
    // Not cancelable (it succeeded, or is already canceled): Stripe's state
    // decides.
    canceled = stripe_.RetrieveIntent(p.payment_intent_id);
    if (!canceled.ok()) throw StripeError(canceled.failure, "the cancellation");
  }
  Record(
      payment_id,
      [&](PaymentTx& tx, Payment& q, Time t) {
        auto refund = ApplyIntent(tx, q, *canceled.value, t).auto_refund;
        // Canceled (or succeeded, and then refunded): nothing is left to do
        // at Stripe for this payment, whatever its status says.
        const auto stripe_status = StatusOf(*canceled.value);
        if (stripe_status == PaymentStatus::kCanceled || stripe_status == PaymentStatus::kSucceeded) {
          q.next_sweep_at = std::nullopt;
        }
        return refund;
      },
      nullptr);
}

// --- RefundPayment ----------------------------------------------------------------

std::pair<Refund, Payment> PaymentService::RefundPayment(const RefundPaymentCommand& cmd) {
  const Time now = clock_.Now();
  Refund fresh;
  fresh.refund_id = ids_.NewId();
  fresh.caller = cmd.caller;
  fresh.request_id = cmd.request_id;
  fresh.reason = cmd.reason;
  fresh.status = RefundStatus::kPending;
  fresh.created_at = now;
  fresh.updated_at = now;
  const Claimed claimed = BeginKey(
      cmd.caller, cmd.request_id, "RefundPayment", cmd.Fingerprint(), [&](PaymentTx& tx, IdempotencyKey& key) {
        // Under the payment's row lock, so concurrent refunds (with
        // different keys) can never add up to more than was captured.
        auto p = tx.LockPayment(cmd.payment_id);
        if (!p) throw Error(Reason::kPaymentNotFound, "payment_id " + cmd.payment_id + " does not exist", "payment_id");
        if (p->status != PaymentStatus::kSucceeded) {
          throw Error(Reason::kPaymentStateConflict,
                      "only a SUCCEEDED payment can be refunded; payment " + p->payment_id + " is " +
                          std::string(Name(p->status)),
                      "payment_id");
        }
        // Refunds made elsewhere (Stripe's dashboard) count too, through the
        // charge's refunded total.
        const int64_t left =
            p->amount_received_minor - std::max(Reserved(tx.ListRefunds(p->payment_id)), p->amount_refunded_minor);
        const Money amount = cmd.amount ? *cmd.amount : Money{left, p->amount.currency};
        if (amount.currency != p->amount.currency) {
          throw Error(Reason::kCurrencyMismatch, "amount.currency_code must be the payment's currency " + p->amount.currency,
                      "amount.currency_code");
        }
        if (amount.amount_minor <= 0 || amount.amount_minor > left) {
          throw Error(Reason::kRefundExceedsCaptured,
                      "amount " + money::Format(amount) + " is more than the " + money::Format({left, amount.currency}) +
                          " of payment " + p->payment_id + " still refundable",
                      cmd.amount ? "amount.amount_minor" : "payment_id");
        }
        fresh.payment_id = p->payment_id;
        fresh.amount = amount;
        // If this call's answer is lost, the refund worker finishes it.
        tx.InsertRefund(fresh, now + options_.pending_grace);
        tx.SetKeyResource(cmd.caller, cmd.request_id, p->payment_id, fresh.refund_id);
        key.payment_id = p->payment_id;
        key.refund_id = fresh.refund_id;
      });
  if (claimed.replay) {
    const auto& r = Replay(claimed.key);
    return {*r.refund, *r.payment};
  }
  const IdempotencyKey& key = claimed.key;
  std::optional<Refund> refund;
  std::optional<Payment> payment;
  try {
    store_.InTransaction([&](PaymentTx& tx) {
      refund = tx.LockRefund(key.refund_id);
      payment = tx.FindPayment(key.payment_id);
    });
  } catch (...) {
    ReleaseKey(key);
    throw;
  }
  if (!refund || !payment) throw Error(Reason::kInternal, "a refund's records are missing");
  if (refund->status != RefundStatus::kPending || !refund->provider_refund_id.empty()) {
    // Settled meanwhile (by the refund worker or a webhook).
    return RecordRefund(refund->refund_id, {}, &key);
  }
  RefundParams params{payment->payment_intent_id, refund->amount, refund->reason,
                      {{"payment_id", payment->payment_id}, {"refund_id", refund->refund_id}}};
  const auto result = stripe_.CreateRefund(params, RefundKeyFor(*refund));
  if (!result.ok() && result.failure.outcome != StripeOutcome::kInvalidRequest &&
      result.failure.outcome != StripeOutcome::kCardError) {
    ReleaseKey(key);
    throw Error(Reason::kUpstreamUnavailable,
                "Stripe did not answer; the refund is recorded and will be completed automatically (retry with the "
                "same request_id to see it)");
  }
  return RecordRefund(refund->refund_id, result, &key);
}

std::pair<Refund, Payment> PaymentService::RecordRefund(const std::string& refund_id,
                                                        const StripeResult<StripeRefund>& result,
                                                        const IdempotencyKey* key) {
  std::pair<Refund, Payment> out;
  bool failed_automatic = false;
  store_.InTransaction([&](PaymentTx& tx) {
    failed_automatic = false;
    auto r = tx.LockRefund(refund_id);
    if (!r) throw Error(Reason::kRefundNotFound, "refund " + refund_id + " does not exist");
    auto p = tx.LockPayment(r->payment_id);
    if (!p) throw Error(Reason::kPaymentNotFound, "payment " + r->payment_id + " does not exist");
    const Time now = clock_.Now();
    const bool was_final = IsFinal(r->status);
    std::optional<Time> next_attempt;
    // A final refund status never changes (Stripe does not order its
    // answers and events); a pending one is looked up until it settles.
    if (!was_final) {
      if (result.ok()) {
        r->provider_refund_id = result.value->id;
        r->status = RefundStatusOf(result.value->status);
        r->failure_reason = result.value->failure_reason;
        if (r->status == RefundStatus::kPending) next_attempt = now + options_.processing_check;
      } else if (result.failure.outcome != StripeOutcome::kOk) {
        r->status = RefundStatus::kFailed;
        r->failure_reason = result.failure.message;
      } else if (r->status == RefundStatus::kPending && !r->provider_refund_id.empty()) {
        next_attempt = now + options_.processing_check;
      }
      r->updated_at = now;
      tx.UpdateRefund(*r, next_attempt);
      failed_automatic = r->automatic && IsFinal(r->status) && r->status != RefundStatus::kSucceeded;
    }
    const auto refunds = tx.ListRefunds(p->payment_id);
    p->amount_refunded_minor = std::max(p->amount_refunded_minor, Refunded(refunds));
    p->updated_at = now;
    tx.UpdatePayment(*p);
    p->refunds = refunds;
    if (key != nullptr) {
      StoredResponse response;
      response.refund = *r;
      response.payment = *p;
      tx.FinishKey(key->caller, key->request_id, response, now);
    }
    out = {*r, *p};
  });
  if (failed_automatic && observer_.auto_refund_failed) observer_.auto_refund_failed(out.second, out.first);
  return out;
}

// --- reads ----------------------------------------------------------------------

Payment PaymentService::GetPayment(const std::string& payment_id, const std::string& payment_intent_id, bool refresh) {
  std::optional<Payment> p;
  store_.InTransaction([&](PaymentTx& tx) {
    p = payment_id.empty() ? tx.FindPaymentByIntent(payment_intent_id) : tx.FindPayment(payment_id);
    if (p) p->refunds = tx.ListRefunds(p->payment_id);
  });
  if (!p) {
    if (payment_id.empty()) {
      throw Error(Reason::kPaymentNotFound, "payment_intent_id " + payment_intent_id + " is not a known payment",
                  "payment_intent_id");
    }
    throw Error(Reason::kPaymentNotFound, "payment_id " + payment_id + " does not exist", "payment_id");
  }
  if (!refresh || p->payment_intent_id.empty()) return *p;
  const auto retrieved = stripe_.RetrieveIntent(p->payment_intent_id);
  if (!retrieved.ok()) throw StripeError(retrieved.failure, "the payment's lookup");
  return Record(
      p->payment_id,
      [&](PaymentTx& tx, Payment& q, Time t) { return ApplyIntent(tx, q, *retrieved.value, t).auto_refund; }, nullptr);
}

PaymentPage PaymentService::ListPayments(const PaymentFilter& filter, int page_size, const std::string& page_token) {
  const auto after = DecodeToken(page_token, filter);
  PaymentPage page;
  store_.InTransaction([&](PaymentTx& tx) {
    page.payments = tx.ListPayments(filter, after, page_size + 1);
    for (auto& p : page.payments) p.refunds = tx.ListRefunds(p.payment_id);
  });
  if (static_cast<int>(page.payments.size()) > page_size) {
    page.payments.resize(static_cast<std::size_t>(page_size));
    page.next_page_token = EncodeToken(page.payments.back(), filter);
  }
  return page;
}

// --- webhooks -------------------------------------------------------------------

PaymentService::EventResult PaymentService::ApplyStripeEvent(const StripeEvent& event) {
  EventResult result = EventResult::kIgnored;
  std::vector<std::pair<Payment, Refund>> auto_refunds;
  std::vector<std::pair<Payment, Refund>> failed_auto_refunds;
  std::vector<Payment> finished;
  store_.InTransaction([&](PaymentTx& tx) {
    result = EventResult::kIgnored;
    auto_refunds.clear();
    failed_auto_refunds.clear();
    finished.clear();
    const Time now = clock_.Now();
    if (!tx.InsertStripeEvent(event, now)) {
      result = EventResult::kDuplicate;
      return;
    }
    if (event.intent) {
      auto p = tx.LockPaymentByIntent(event.intent->id);
      if (!p) {
        // Our own id rides in the metadata: an event can beat the create
        // call's answer.
        auto it = event.intent->metadata.find("payment_id");
        if (it != event.intent->metadata.end() && validation::IsUuid(it->second)) {
          p = tx.LockPayment(it->second);
          if (p && !p->payment_intent_id.empty() && p->payment_intent_id != event.intent->id) p.reset();
        }
      }
      if (!p) return;  // not one of ours
      const Payment before = *p;
      const auto applied = ApplyIntent(tx, *p, *event.intent, now);
      if (applied.changed) {
        if (p->status != before.status) p->next_sweep_at = NextSweep(*p, now);
        p->updated_at = now;
        tx.UpdatePayment(*p);
        if (IsFinal(p->status) && p->status != before.status) finished.push_back(*p);
        if (applied.auto_refund) auto_refunds.emplace_back(*p, *applied.auto_refund);
      }
      result = EventResult::kApplied;
    }
    if (event.refund) {
      auto r = tx.LockRefundByProvider(event.refund->id);
      if (!r) {
        auto it = event.refund->metadata.find("refund_id");
        if (it != event.refund->metadata.end() && validation::IsUuid(it->second)) r = tx.LockRefund(it->second);
      }
      if (r && !IsFinal(r->status)) {
        auto p = tx.LockPayment(r->payment_id);
        r->provider_refund_id = event.refund->id;
        r->status = RefundStatusOf(event.refund->status);
        r->failure_reason = event.refund->failure_reason;
        r->updated_at = now;
        tx.UpdateRefund(*r, r->status == RefundStatus::kPending ? std::optional<Time>(now + options_.processing_check)
                                                                : std::nullopt);
        if (p) {
          p->amount_refunded_minor = std::max(p->amount_refunded_minor, Refunded(tx.ListRefunds(p->payment_id)));
          p->updated_at = now;
          tx.UpdatePayment(*p);
          if (r->automatic && IsFinal(r->status) && r->status != RefundStatus::kSucceeded) {
            failed_auto_refunds.emplace_back(*p, *r);
          }
        }
      }
      if (r) result = EventResult::kApplied;
    }
    if (!event.charge_payment_intent.empty() && event.charge_amount_refunded) {
      // The charge's own total also counts refunds made in Stripe's
      // dashboard.
      auto p = tx.LockPaymentByIntent(event.charge_payment_intent);
      if (p && *event.charge_amount_refunded > p->amount_refunded_minor) {
        p->amount_refunded_minor = *event.charge_amount_refunded;
        p->updated_at = now;
        tx.UpdatePayment(*p);
        result = EventResult::kApplied;
      }
    }
  });
  for (const auto& p : finished) {
    if (observer_.finished) observer_.finished(p);
  }
  for (const auto& [p, r] : auto_refunds) {
    if (observer_.auto_refund) observer_.auto_refund(p, r);
  }
  for (const auto& [p, r] : failed_auto_refunds) {
    if (observer_.auto_refund_failed) observer_.auto_refund_failed(p, r);
  }
  return result;
}

// --- the sweeper's work ---------------------------------------------------------

void PaymentService::SweepPayment(const Payment& claimed) {
  Payment p = LoadPayment(claimed.payment_id);
  try {
    if (p.abandoned_at && (!IsFinal(p.status) || p.status == PaymentStatus::kFailed)) {
      CancelAtStripe(p.payment_id);
      return;
    }
    switch (p.status) {
      case PaymentStatus::kPending: {
        if (!p.payment_intent_id.empty()) {
          const auto retrieved = stripe_.RetrieveIntent(p.payment_intent_id);
          if (!retrieved.ok()) throw StripeError(retrieved.failure, "the lookup");
          if (StatusOf(*retrieved.value) != PaymentStatus::kPending) {
            Record(
                p.payment_id,
                [&](PaymentTx& tx, Payment& q, Time t) { return ApplyIntent(tx, q, *retrieved.value, t).auto_refund; },
                nullptr);
            return;
          }
        }
        // Never confirmed (or never created) and its call is gone: the
        // customer was told it failed, so it must never charge.
        Abandon(p.payment_id, CancellationReason::kAbandoned);
        CancelAtStripe(p.payment_id);
        return;
      }
      case PaymentStatus::kRequiresAction:
      case PaymentStatus::kProcessing: {
        const auto retrieved = stripe_.RetrieveIntent(p.payment_intent_id);
        if (!retrieved.ok()) throw StripeError(retrieved.failure, "the lookup");
        const PaymentStatus now_status = StatusOf(*retrieved.value);
        if (now_status == p.status) {
          if (p.status == PaymentStatus::kRequiresAction) {
            // 3-D Secure left unfinished past the timeout.
            Abandon(p.payment_id, CancellationReason::kAbandoned);
            CancelAtStripe(p.payment_id);
          } else {
            Reschedule(p.payment_id, options_.processing_check);
          }
          return;
        }
        Record(
            p.payment_id,
            [&](PaymentTx& tx, Payment& q, Time t) { return ApplyIntent(tx, q, *retrieved.value, t).auto_refund; },
            nullptr);
        return;
      }
      case PaymentStatus::kSucceeded:
      case PaymentStatus::kFailed:
      case PaymentStatus::kCanceled:
        Record(
            p.payment_id,
            [](PaymentTx&, Payment& q, Time) -> std::optional<Refund> {
              q.next_sweep_at = std::nullopt;
              return std::nullopt;
            },
            nullptr);
        return;
    }
  } catch (const Error& e) {
    if (e.reason() != Reason::kUpstreamUnavailable) throw;
    Reschedule(p.payment_id, options_.sweep_retry);
    throw;
  }
}

void PaymentService::ExecuteRefund(const Refund& claimed) {
  std::optional<Refund> r;
  std::optional<Payment> p;
  store_.InTransaction([&](PaymentTx& tx) {
    r = tx.LockRefund(claimed.refund_id);
    p = r ? tx.FindPayment(r->payment_id) : std::nullopt;
  });
  if (!r || !p || r->status != RefundStatus::kPending) return;
  StripeResult<StripeRefund> result;
  if (!r->provider_refund_id.empty()) {
    // Sent and still pending at Stripe: look it up.
    result = stripe_.RetrieveRefund(r->provider_refund_id);
  } else {
    RefundParams params{p->payment_intent_id, r->amount, r->reason,
                        {{"payment_id", p->payment_id}, {"refund_id", r->refund_id}}};
    if (r->automatic) params.metadata["automatic"] = "abandoned payment succeeded";
    result = stripe_.CreateRefund(params, RefundKeyFor(*r));
  }
  if (!result.ok() && result.failure.outcome != StripeOutcome::kInvalidRequest &&
      result.failure.outcome != StripeOutcome::kCardError) {
    store_.InTransaction([&](PaymentTx& tx) {
      auto locked = tx.LockRefund(r->refund_id);
      if (locked && locked->status == RefundStatus::kPending) {
        tx.UpdateRefund(*locked, clock_.Now() + options_.sweep_retry);
      }
    });
    throw StripeError(result.failure, "the refund");
  }
  RecordRefund(r->refund_id, result, nullptr);
}

}  // namespace billing::payments::domain
