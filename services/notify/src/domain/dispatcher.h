#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "clock/clock.h"
#include "domain/ports.h"

namespace billing::notify::domain {

// Delivers queued notifications, one at a time per call, with every replica
// and thread sharing the queue through the store's SKIP LOCKED claim.
//
// Accepted: SENT with the provider's id. Permanent failure (5xx SMTP reply,
// 4xx from the SMS API): FAILED at once. Transient failure: retried with
// exponential backoff until max_attempts, then FAILED. Every attempt is
// recorded.
class Dispatcher {
 public:
  struct Options {
    int max_attempts = 8;
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{600000};
  };
  // What one call did, for metrics and logs.
  struct Report {
    std::string notification_id;
    Channel channel;
    Status status;  // QUEUED means "will retry"
    AttemptOutcome outcome;
    int attempt_number;
    std::string error;  // the transport's, never credentials
    std::chrono::microseconds since_created;
  };

  Dispatcher(NotificationStore& store, Transport& email, Transport& sms, const clock::Clock& clock, Options options);

  // Delivers (or retries) one due notification; nullopt when none is due.
  std::optional<Report> DeliverOne();
  std::chrono::milliseconds Backoff(int attempts) const;

 private:
  NotificationStore& store_;
  Transport& email_;
  Transport& sms_;
  const clock::Clock& clock_;
  Options options_;
};

}  // namespace billing::notify::domain
