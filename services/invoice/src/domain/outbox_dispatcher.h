#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>

#include "clock/clock.h"
#include "domain/invoice_store.h"
#include "domain/notifier.h"

namespace billing::invoice::domain {

// Delivers the notification outbox to the notify service.
//
// Each pass leases a batch of due PENDING rows (so a second dispatcher, in
// this or another replica, skips them), hands each to notify with a
// request_id derived from the row's random request key, and records the
// outcome. A transient failure (notify down, deadline, credentials being
// rotated) is retried with exponential backoff, for as long as it takes; a
// permanent one (notify refuses the request) marks the row FAILED. A payment
// link or reminder whose invoice is no longer OPEN is not sent at all,
// unless an earlier attempt whose answer was lost already reached notify:
// then the row records that send (found by its request_id) instead.
// Because the request_id is stable, a retry after a lost answer, or after a
// lease ran out mid-call, returns notify's first result instead of sending
// twice.
class OutboxDispatcher {
 public:
  struct Options {
    int batch_size = 20;
    std::chrono::milliseconds lease{30000};
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{300000};
    // How often each accepted notification's delivery state is checked.
    std::chrono::milliseconds sync_interval{5000};
  };

  OutboxDispatcher(NotificationOutbox& outbox, Notifier& notifier, const clock::Clock& clock, Options options);

  // One pass over due rows; returns how many notify accepted. When stop is
  // requested mid-batch, the rest of the batch is released for others.
  int DispatchOnce(std::stop_token stop = {});
  // Refreshes the delivery state of accepted (QUEUED) rows; returns how many
  // changed.
  int SyncOnce();

  static std::string RequestIdFor(const NotificationRecord& n) { return "invoice-notification-" + n.request_key; }
  // The delay before attempt n+1 after n failed attempts.
  std::chrono::milliseconds Backoff(int attempts) const;

 private:
  // What an earlier attempt at `n` left in notify, if it got there.
  std::optional<Notifier::Accepted> EarlierAttempt(const NotificationRecord& n);

  NotificationOutbox& outbox_;
  Notifier& notifier_;
  const clock::Clock& clock_;
  Options options_;
};

}  // namespace billing::invoice::domain
