#include "domain/dispatcher.h"

#include <algorithm>

namespace billing::notify::domain {

Dispatcher::Dispatcher(NotificationStore& store, Transport& email, Transport& sms, const clock::Clock& clock,
                       Options options)
    : store_(store), email_(email), sms_(sms), clock_(clock), options_(options) {}

std::chrono::milliseconds Dispatcher::Backoff(int attempts) const {
  auto delay = options_.first_backoff;
  for (int i = 1; i < attempts && delay < options_.max_backoff; ++i) delay *= 2;
  return std::min(delay, options_.max_backoff);
}

std::optional<Dispatcher::Report> Dispatcher::DeliverOne() {
  std::optional<Report> report;
  const bool found = store_.DeliverNext(clock_.Now(), [&](const Notification& n) {
    Transport& transport = n.channel == Channel::kSms ? sms_ : email_;
    const OutgoingMessage message{n.notification_id, n.channel,  n.recipient, n.recipient_name,
                                  n.sender_name,     n.content, n.created_at};
    const Time started = clock_.Now();
    const SendResult result = transport.Send(message);
    const Time finished = clock_.Now();

    DeliveryOutcome out;
    out.attempt.attempt_number = n.attempts + 1;
    out.attempt.outcome = result.outcome;
    out.attempt.error = result.error;
    out.attempt.provider_message_id = result.provider_message_id;
    out.attempt.started_at = started;
    out.attempt.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count();
    switch (result.outcome) {
      case AttemptOutcome::kAccepted:
        out.status = Status::kSent;
        out.provider_message_id = result.provider_message_id;
        out.sent_at = finished;
        break;
      case AttemptOutcome::kPermanentFailure:
        out.status = Status::kFailed;
        out.failure_reason = result.error;
        break;
      case AttemptOutcome::kTransientFailure:
        if (out.attempt.attempt_number >= options_.max_attempts) {
          out.status = Status::kFailed;
          out.failure_reason = "gave up after " + std::to_string(out.attempt.attempt_number) + " attempts: " + result.error;
        } else {
          out.status = Status::kQueued;
          out.failure_reason = result.error;
          out.next_attempt_at = finished + Backoff(out.attempt.attempt_number);
        }
        break;
    }
    report = Report{n.notification_id,
                    n.channel,
                    out.status,
                    result.outcome,
                    out.attempt.attempt_number,
                    result.error,
                    std::chrono::duration_cast<std::chrono::microseconds>(finished - n.created_at)};
    return out;
  });
  if (!found) return std::nullopt;
  return report;
}

}  // namespace billing::notify::domain
