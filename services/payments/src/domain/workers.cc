#include "domain/workers.h"

#include <algorithm>
#include <stdexcept>

namespace billing::payments::domain {

Sweeper::Sweeper(PaymentService& service, const clock::Clock& clock, Options options, WorkerErrorHandler on_error)
    : service_(service), clock_(clock), options_(options), on_error_(std::move(on_error)) {}

int Sweeper::SweepOnce(std::stop_token stop) {
  int handled = 0;
  // One payment per claim, so each lease covers exactly the work done under
  // it (a batch leased at once would run out for its last items while the
  // first ones wait for a slow Stripe).
  for (int i = 0; i < options_.batch_size && !stop.stop_requested(); ++i) {
    const Time now = clock_.Now();
    const Time lease_until = now + options_.lease;
    const auto claimed = service_.store().ClaimSweep(now, lease_until, 1);
    if (claimed.empty()) break;
    const Payment& p = claimed.front();
    try {
      service_.SweepPayment(p);
      ++handled;
    } catch (const std::exception& e) {
      if (on_error_) on_error_("sweep payment", p.payment_id, e);
    }
    try {
      service_.store().ReleaseSweep(p.payment_id, lease_until);
    } catch (const std::exception& e) {
      if (on_error_) on_error_("release sweep", p.payment_id, e);  // the lease runs out anyway
    }
  }
  for (int i = 0; i < options_.batch_size && !stop.stop_requested(); ++i) {
    const Time now = clock_.Now();
    const auto claimed = service_.store().ClaimRefunds(now, now + options_.lease, 1);
    if (claimed.empty()) break;
    try {
      service_.ExecuteRefund(claimed.front());
      ++handled;
    } catch (const std::exception& e) {
      if (on_error_) on_error_("refund", claimed.front().refund_id, e);
    }
  }
  return handled;
}

EventDispatcher::EventDispatcher(PaymentStore& store, PaymentEventSink& sink, const clock::Clock& clock,
                                 Options options, WorkerErrorHandler on_error)
    : store_(store), sink_(sink), clock_(clock), options_(options), on_error_(std::move(on_error)) {}

std::chrono::milliseconds EventDispatcher::Backoff(int attempts) const {
  auto delay = options_.first_backoff;
  for (int i = 1; i < attempts && delay < options_.max_backoff; ++i) delay *= 2;
  return std::min(delay, options_.max_backoff);
}

int EventDispatcher::DispatchOnce(std::stop_token stop) {
  int delivered = 0;
  const Time now = clock_.Now();
  for (const auto& e : store_.ClaimEvents(now, now + options_.lease, options_.batch_size)) {
    if (stop.stop_requested()) break;
    try {
      const SinkAnswer answer = sink_.Deliver(e);
      switch (answer.result) {
        case DeliveryResult::kApplied:
          store_.MarkEventDelivered(e.event_key, clock_.Now());
          ++delivered;
          break;
        case DeliveryResult::kTransient:
          store_.MarkEventRetry(e.event_key, answer.error, clock_.Now() + Backoff(e.attempts));
          if (on_error_) on_error_("deliver payment event", e.event_key, std::runtime_error(answer.error));
          break;
        case DeliveryResult::kRejected:
          store_.MarkEventRejected(e.event_key, answer.error, clock_.Now());
          if (on_error_) on_error_("payment event refused by the invoice service", e.event_key, std::runtime_error(answer.error));
          break;
      }
    } catch (const std::exception& ex) {
      if (on_error_) on_error_("deliver payment event", e.event_key, ex);
    }
  }
  return delivered;
}

}  // namespace billing::payments::domain
