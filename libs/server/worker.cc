#include "server/worker.h"

#include <condition_variable>
#include <mutex>

#include "db/pool.h"
#include "logging/log.h"

namespace billing::server {

void RunPeriodically(std::stop_token stop, std::chrono::milliseconds interval, const std::string& name,
                     const std::function<bool()>& tick) {
  std::mutex mu;
  std::condition_variable_any cv;
  int failures = 0;
  while (!stop.stop_requested()) {
    bool more = false;
    try {
      more = tick();
      failures = 0;
    } catch (const std::exception& e) {
      ++failures;
      logging::Warn("worker tick failed", {{"worker", name}, {"error", db::DescribeError(e)}, {"failures", failures}});
    }
    if (more) continue;
    const auto wait = interval * (failures == 0 ? 1 : std::min(8, 1 << std::min(failures, 3)));
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, wait, [] { return false; });
  }
}

}  // namespace billing::server
