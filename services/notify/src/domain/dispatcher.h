#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "clock/clock.h"
#include "domain/ports.h"
#include "ids/ids.h"

namespace billing::notify::domain {

// Delivers queued notifications, one per call, with every replica and thread
// sharing the queue through the store's leased claims.
//
// A claim commits before the send, so no database connection or lock is
// held while a provider is slow, and a dispatcher that dies mid-send only
// delays the message until its lease runs out (then it is sent again:
// delivery is at least once; see docs/architecture.md).
//
// Accepted: SENT with the provider's id. Permanent failure (the relay
// refused the recipient or the message; the SMS API refused the number):
// FAILED at once. Transient failure (anything else, including a transport
// that throws): retried with exponential backoff and jitter until
// max_attempts, then FAILED. Every attempt is recorded.
//
// The send and its record cannot be one transaction. If the database is
// unavailable when the outcome is to be recorded (a restart, a failover),
// the dispatcher keeps the outcome and retries the record until the claim's
// lease is nearly over, rather than let the lease run out on a message that
// already went out and have it sent again.
class Dispatcher {
 public:
  struct Options {
    int max_attempts = 8;
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{600000};
    // How long a claim keeps other dispatchers off a message: longer than
    // the slowest send (the transports' timeouts) plus a margin.
    std::chrono::milliseconds lease{std::chrono::seconds(60)};
    // How the dispatcher waits between tries at recording an outcome while
    // the database is unavailable; tests pass one that moves a fake clock.
    std::function<void(std::chrono::milliseconds)> sleep = [](std::chrono::milliseconds d) {
      std::this_thread::sleep_for(d);
    };
  };
  // What one call did, for metrics and logs.
  struct Report {
    std::string notification_id;
    Channel channel = Channel::kEmail;
    Status status = Status::kQueued;  // QUEUED means "will retry"
    AttemptOutcome outcome = AttemptOutcome::kAccepted;
    int attempt_number = 0;
    std::string error;  // the transport's, never credentials
    std::chrono::microseconds since_created{0};
    // The lease ran out during the send and another dispatcher took the
    // message over: it may have gone out twice.
    bool claim_lost = false;
    // Not sent at all: earlier claims used up max_attempts without
    // recording an outcome (their dispatchers died mid-send).
    bool gave_up_unsent = false;
  };

  Dispatcher(NotificationStore& store, Transport& email, Transport& sms, const clock::Clock& clock,
             ids::IdGenerator& ids, Options options);

  // Delivers (or retries) one due notification; nullopt when none is due.
  std::optional<Report> DeliverOne();
  // The delay before retry number `attempts` + 1 of a notification: doubling
  // from first_backoff up to max_backoff, minus up to 25% of jitter derived
  // from the notification id, so messages that failed together (a relay
  // outage) do not all retry in the same instant.
  std::chrono::milliseconds Backoff(int attempts, const std::string& notification_id) const;

 private:
  // store_.Record, retried while the database is unavailable and the claim
  // (taken at `claimed_at`) has time left; rethrows after that.
  bool RecordOutcome(const Notification& n, const std::string& token, const DeliveryOutcome& out, Time claimed_at);

  NotificationStore& store_;
  Transport& email_;
  Transport& sms_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
  Options options_;
};

}  // namespace billing::notify::domain
