#pragma once

#include <chrono>
#include <string>

#include "clock/clock.h"
#include "domain/invoice_store.h"
#include "domain/notifier.h"

namespace billing::invoice::domain {

// Delivers the notification outbox to the notify service.
//
// Each pass leases a batch of due PENDING rows (so a second dispatcher, in
// this or another replica, skips them), hands each to notify with a
// request_id derived from the row ("invoice-outbox-<id>"), and records the
// outcome. A transient failure (notify down, deadline) is retried with
// exponential backoff, for as long as it takes; a permanent one (notify
// refuses the request) marks the row FAILED. Because the request_id is
// stable, a retry after a lost answer, or after a lease ran out mid-call,
// returns notify's first result instead of sending twice.
class OutboxDispatcher {
 public:
  struct Options {
    int batch_size = 20;
    std::chrono::milliseconds lease{30000};
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{300000};
  };

  OutboxDispatcher(NotificationOutbox& outbox, Notifier& notifier, const clock::Clock& clock, Options options);

  // One pass over due rows; returns how many notify accepted.
  int DispatchOnce();
  // Refreshes the delivery state of accepted (QUEUED) rows; returns how many
  // changed.
  int SyncOnce();

  static std::string RequestIdFor(int64_t outbox_id) { return "invoice-outbox-" + std::to_string(outbox_id); }
  // The delay before attempt n+1 after n failed attempts.
  std::chrono::milliseconds Backoff(int attempts) const;

 private:
  NotificationOutbox& outbox_;
  Notifier& notifier_;
  const clock::Clock& clock_;
  Options options_;
};

}  // namespace billing::invoice::domain
