#include "domain/outbox_dispatcher.h"

#include <algorithm>

namespace billing::invoice::domain {
namespace {

constexpr char kActor[] = "system:outbox-dispatcher";

InvoiceEvent NotificationEvent(const NotificationRecord& n, const std::string& type, const std::string& reason,
                               Time now) {
  // Sends do not change the invoice's status; the log records them anyway.
  return {.invoice_id = n.invoice_id,
          .type = type,
          .from_status = std::nullopt,
          .to_status = InvoiceStatus::kOpen,
          .reason = reason,
          .request_id = OutboxDispatcher::RequestIdFor(n),
          .created_at = now,
          .actor = kActor};
}

std::string Describe(const NotificationRecord& n) {
  return std::string(Name(n.request.purpose)) + " by " + std::string(Name(n.request.channel));
}

}  // namespace

OutboxDispatcher::OutboxDispatcher(NotificationOutbox& outbox, Notifier& notifier, const clock::Clock& clock,
                                   Options options)
    : outbox_(outbox), notifier_(notifier), clock_(clock), options_(options) {}

std::chrono::milliseconds OutboxDispatcher::Backoff(int attempts) const {
  auto delay = options_.first_backoff;
  for (int i = 1; i < attempts && delay < options_.max_backoff; ++i) delay *= 2;
  return std::min(delay, options_.max_backoff);
}

int OutboxDispatcher::DispatchOnce(std::stop_token stop) {
  const Time now = clock_.Now();
  const auto claimed = outbox_.Claim(now, now + options_.lease, options_.batch_size);
  int accepted = 0;
  for (const auto& n : claimed) {
    if (stop.stop_requested()) {
      outbox_.MarkRetry(n.outbox_id, "", clock_.Now());  // release for another dispatcher
      continue;
    }
    const bool asks_for_payment = n.request.purpose == NotificationPurpose::kInvoiceLink ||
                                  n.request.purpose == NotificationPurpose::kPaymentReminder;
    try {
      std::optional<Notifier::Accepted> result;
      std::string how = " handed to notify as ";
      if (asks_for_payment) {
        const auto status = outbox_.InvoiceStatusOf(n.invoice_id);
        if (status && *status != InvoiceStatus::kOpen) {
          // A payment link must not go out for an invoice that no longer
          // takes payment. But an earlier attempt (n.attempts counts this
          // one) may have reached notify and lost its answer: its
          // dispatcher died or timed out. Then the link went out, and the
          // row must say so rather than claim it was dropped.
          if (n.attempts > 1) result = EarlierAttempt(n);
          if (!result) {
            const std::string reason = "not sent: the invoice is " + std::string(Name(*status));
            outbox_.MarkFailed(n.outbox_id, reason,
                               NotificationEvent(n, "NOTIFICATION_DROPPED", Describe(n) + " " + reason, clock_.Now()));
            continue;
          }
          how = " handed to notify by an earlier attempt as ";
        }
      }
      if (!result) result = notifier_.Send(RequestIdFor(n), n.request);
      const Time done = clock_.Now();
      const std::string type = result->state == NotificationState::kFailed ? "NOTIFICATION_FAILED"
                               : result->state == NotificationState::kSent ? "NOTIFICATION_SENT"
                                                                           : "NOTIFICATION_ACCEPTED";
      if (outbox_.MarkAccepted(n.outbox_id, result->notification_id, result->state, result->failure_reason,
                               result->sent_at,
                               NotificationEvent(n, type, Describe(n) + how + result->notification_id, done))) {
        ++accepted;
      }
    } catch (const Notifier::Error& e) {
      const Time done = clock_.Now();
      if (e.permanent()) {
        outbox_.MarkFailed(n.outbox_id, e.what(),
                           NotificationEvent(n, "NOTIFICATION_FAILED", Describe(n) + " refused: " + e.what(), done));
      } else {
        // n.attempts already counts this attempt (Claim counted it).
        outbox_.MarkRetry(n.outbox_id, e.what(), done + Backoff(n.attempts));
      }
    }
  }
  return accepted;
}

std::optional<Notifier::Accepted> OutboxDispatcher::EarlierAttempt(const NotificationRecord& n) {
  try {
    return notifier_.StatusByRequest(RequestIdFor(n));
  } catch (const Notifier::Error& e) {
    // notify refuses the lookup (a version without it): nothing shows the
    // earlier attempt got through, so the row is dropped as before.
    if (e.permanent()) return std::nullopt;
    throw;  // transient: the row is retried like a failed send
  }
}

int OutboxDispatcher::SyncOnce() {
  int changed = 0;
  const Time now = clock_.Now();
  for (const auto& n : outbox_.ClaimForSync(now, now + options_.sync_interval, options_.batch_size)) {
    try {
      const auto status = notifier_.Status(n.notification_id);
      if (!status) {
        // notify has no record of it (its data was lost or restored): send
        // it again rather than wait forever.
        if (outbox_.Requeue(n.outbox_id, clock_.Now(),
                            NotificationEvent(n, "NOTIFICATION_REQUEUED",
                                              Describe(n) + " unknown to notify; queued again", clock_.Now()))) {
          ++changed;
        }
        continue;
      }
      if (status->state == NotificationState::kQueued) continue;
      const bool sent = status->state == NotificationState::kSent;
      if (outbox_.UpdateDelivery(
              n.outbox_id, status->state, status->failure_reason, status->sent_at,
              NotificationEvent(n, sent ? "NOTIFICATION_SENT" : "NOTIFICATION_FAILED",
                                Describe(n) + (sent ? " delivered" : " failed: " + status->failure_reason),
                                clock_.Now()))) {
        ++changed;
      }
    } catch (const Notifier::Error&) {
      // notify is unreachable; the row's next check is already scheduled.
    }
  }
  return changed;
}

}  // namespace billing::invoice::domain
