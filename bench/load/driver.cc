#include "load/driver.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace billing::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  int index = 0;
  grpc::CompletionQueue* cq = nullptr;
  std::unique_ptr<Call> call;
  Clock::time_point started;
  bool measured = false;
  std::vector<int64_t> latencies;
  std::map<std::string, int64_t> outcomes;
};

class Loop {
 public:
  Loop(const LoadOptions& options, const CallFactory& factory) : options_(options), factory_(factory) {}

  LoadResult Run() {
    const int nthreads = std::max(1, std::min(options_.threads, options_.concurrency));
    queues_.resize(nthreads);
    active_per_queue_ = std::vector<std::atomic<int>>(nthreads);
    for (auto& q : queues_) q = std::make_unique<grpc::CompletionQueue>();
    slots_.resize(options_.concurrency);
    for (int i = 0; i < options_.concurrency; ++i) {
      slots_[i].index = i;
      slots_[i].cq = queues_[i % nthreads].get();
      slots_[i].latencies.reserve(4096);
      ++active_per_queue_[i % nthreads];
    }
    start_ = Clock::now();
    measure_start_ = start_ + options_.warmup;
    measure_end_ = measure_start_ + options_.duration;
    if (CountMode() && options_.warmup_requests == 0) MarkMeasureStart();

    for (auto& slot : slots_) Issue(slot);
    std::vector<std::thread> threads;
    for (int t = 0; t < nthreads; ++t) threads.emplace_back([this, t] { Drain(t); });

    if (!CountMode()) {
      std::this_thread::sleep_until(measure_start_);
      if (options_.at_measure_start) options_.at_measure_start();
      std::this_thread::sleep_until(measure_end_);
      if (options_.at_measure_end) options_.at_measure_end();
    }
    for (auto& t : threads) t.join();

    LoadResult result;
    if (CountMode()) {
      if (options_.at_measure_end) options_.at_measure_end();
      result.seconds = std::chrono::duration<double>(Clock::time_point(Clock::duration(last_completion_.load())) -
                                                     counted_start_)
                           .count();
    } else {
      result.seconds = std::chrono::duration<double>(options_.duration).count();
    }
    std::vector<int64_t> all;
    for (auto& slot : slots_) {
      all.insert(all.end(), slot.latencies.begin(), slot.latencies.end());
      for (const auto& [label, n] : slot.outcomes) result.outcomes[label] += n;
    }
    result.calls = static_cast<int64_t>(all.size());
    result.ok = result.outcomes.count("OK") ? result.outcomes.at("OK") : 0;
    result.latency = Summarize(std::move(all));
    return result;
  }

 private:
  bool CountMode() const { return options_.requests > 0; }

  void MarkMeasureStart() {
    counted_start_ = Clock::now();
    if (options_.at_measure_start) options_.at_measure_start();
  }

  // Starts the slot's next call; false when the slot has finished.
  bool Issue(Slot& slot) {
    const int64_t seq = next_seq_.fetch_add(1);
    const auto now = Clock::now();
    if (CountMode()) {
      if (seq >= options_.warmup_requests + options_.requests) return false;
      if (seq == options_.warmup_requests && options_.warmup_requests > 0) MarkMeasureStart();
      slot.measured = seq >= options_.warmup_requests;
    } else {
      if (now >= measure_end_) return false;
      slot.measured = now >= measure_start_;
    }
    slot.call = factory_(slot.index, seq);
    slot.call->context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
    slot.started = Clock::now();
    slot.call->Start(slot.cq, &slot);
    return true;
  }

  void Drain(int queue) {
    void* tag = nullptr;
    bool ok = false;
    while (queues_[queue]->Next(&tag, &ok)) {
      auto& slot = *static_cast<Slot*>(tag);
      const auto done = Clock::now();
      if (slot.measured) {
        slot.latencies.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(done - slot.started).count());
        std::string label;
        if (!slot.call->status.ok()) {
          label = CodeName(slot.call->status.error_code());
        } else {
          label = slot.call->Verdict();
          if (label.empty()) label = "OK";
        }
        ++slot.outcomes[label];
        const int64_t ticks = done.time_since_epoch().count();
        int64_t prev = last_completion_.load();
        while (prev < ticks && !last_completion_.compare_exchange_weak(prev, ticks)) {
        }
      }
      slot.call.reset();
      if (!Issue(slot) && --active_per_queue_[queue] == 0) queues_[queue]->Shutdown();
    }
  }

  const LoadOptions& options_;
  const CallFactory& factory_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::atomic<int>> active_per_queue_;
  std::vector<Slot> slots_;
  std::atomic<int64_t> next_seq_{0};
  std::atomic<int64_t> last_completion_{0};
  Clock::time_point start_, measure_start_, measure_end_, counted_start_;
};

}  // namespace

LoadResult RunClosedLoop(const LoadOptions& options, const CallFactory& factory) {
  return Loop(options, factory).Run();
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

}  // namespace billing::bench
