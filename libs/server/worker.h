#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

namespace billing::server {

// The loop of a background worker (outbox dispatcher, sweeper): calls `tick`
// until stop is requested. A tick that returns true did a full batch, so the
// next one runs at once (draining a backlog); otherwise the loop sleeps
// `interval`. A tick that throws is logged and retried after `interval`
// doubled up to 8x, so a database outage does not spin.
void RunPeriodically(std::stop_token stop, std::chrono::milliseconds interval, const std::string& name,
                     const std::function<bool()>& tick);

}  // namespace billing::server
