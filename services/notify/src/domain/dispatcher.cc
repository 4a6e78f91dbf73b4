#include "domain/dispatcher.h"

#include <algorithm>
#include <exception>
#include <functional>

#include "errors/error.h"
#include "validation/validation.h"

namespace billing::notify::domain {
namespace {

// Text from a provider or an exception is stored with the attempt, made
// safe first (PostgreSQL refuses NUL and invalid UTF-8, logs want one line):
// were the record refused, a sent message would go out again when its lease
// ran out.
constexpr std::size_t kMaxProviderText = 1000;

}  // namespace

Dispatcher::Dispatcher(NotificationStore& store, Transport& email, Transport& sms, const clock::Clock& clock,
                       ids::IdGenerator& ids, Options options)
    : store_(store), email_(email), sms_(sms), clock_(clock), ids_(ids), options_(options) {}

std::chrono::milliseconds Dispatcher::Backoff(int attempts, const std::string& notification_id) const {
  auto delay = options_.first_backoff;
  for (int i = 1; i < attempts && delay < options_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff);
  const std::size_t h = std::hash<std::string>{}(notification_id + "/" + std::to_string(attempts));
  const auto jitter = delay * static_cast<int64_t>(h % 256) / (4 * 256);
  return delay - jitter;
}

bool Dispatcher::RecordOutcome(const Notification& n, const std::string& token, const DeliveryOutcome& out,
                               Time claimed_at) {
  // Stop a second short of the lease's end: a record after it could no
  // longer keep another dispatcher from taking the message over.
  const Time give_up = claimed_at + options_.lease - std::chrono::seconds(1);
  auto wait = std::chrono::milliseconds(50);
  for (;;) {
    try {
      return store_.Record(n.notification_id, token, out);
    } catch (const errors::Error& e) {
      if (e.reason() != errors::Reason::kDatabaseUnavailable || clock_.Now() + wait >= give_up) throw;
    }
    options_.sleep(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(2000));
  }
}

std::optional<Dispatcher::Report> Dispatcher::DeliverOne() {
  const Time now = clock_.Now();
  const std::string token = ids_.NewId();
  const auto claimed = store_.Claim(now, now + options_.lease, token);
  if (!claimed) return std::nullopt;
  const Notification& n = *claimed;

  DeliveryOutcome out;
  out.attempt.attempt_number = n.attempts;  // the claim counted this attempt
  Report report;
  report.notification_id = n.notification_id;
  report.channel = n.channel;
  report.attempt_number = n.attempts;

  SendResult result;
  const Time started = clock_.Now();
  if (n.attempts > options_.max_attempts) {
    result = {AttemptOutcome::kTransientFailure, "",
              "not sent: earlier attempts used up the limit without recording an outcome"};
    report.gave_up_unsent = true;
  } else {
    Transport& transport = n.channel == Channel::kSms ? sms_ : email_;
    const OutgoingMessage message{n.notification_id, n.channel, n.recipient, n.recipient_name,
                                  n.sender_name,     n.content, n.created_at};
    try {
      result = transport.Send(message);
    } catch (const std::exception& e) {
      // A transport bug must not skip the recording below: that would leave
      // the message claimed, and it would go out again when the lease ends.
      result = {AttemptOutcome::kTransientFailure, "", std::string("transport error: ") + e.what()};
    } catch (...) {
      result = {AttemptOutcome::kTransientFailure, "", "transport error"};
    }
  }
  const Time finished = clock_.Now();
  result.error = validation::StorableText(result.error, kMaxProviderText);
  result.provider_message_id = validation::StorableText(result.provider_message_id, kMaxProviderText);

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
      if (n.attempts >= options_.max_attempts) {
        out.status = Status::kFailed;
        out.failure_reason = "gave up after " + std::to_string(n.attempts) + " attempts: " + result.error;
      } else {
        out.status = Status::kQueued;
        out.failure_reason = result.error;
        out.next_attempt_at = finished + Backoff(n.attempts, n.notification_id);
      }
      break;
  }
  report.claim_lost = !RecordOutcome(n, token, out, now);
  report.status = out.status;
  report.outcome = result.outcome;
  report.error = result.error;
  report.since_created = std::chrono::duration_cast<std::chrono::microseconds>(finished - n.created_at);
  return report;
}

}  // namespace billing::notify::domain
