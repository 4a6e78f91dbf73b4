#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "load/stats.h"

namespace billing::bench {

// One RPC of a scenario, started on a completion queue. Subclasses own the
// request and response; the driver owns the call until it completes.
class Call {
 public:
  virtual ~Call() = default;
  virtual void Start(grpc::CompletionQueue* cq, void* tag) = 0;
  // "" when an OK call did what the scenario expects; otherwise a label that
  // is counted as an error (e.g. a payment that came back FAILED).
  virtual std::string Verdict() const { return ""; }

  grpc::ClientContext context;
  grpc::Status status;
};

// A unary call through a generated stub's PrepareAsync<Method>.
template <class Stub, class Request, class Response>
class UnaryCall : public Call {
 public:
  using Prepare = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (Stub::*)(
      grpc::ClientContext*, const Request&, grpc::CompletionQueue*);
  using Check = std::function<std::string(const Response&)>;

  UnaryCall(Stub* stub, Prepare prepare, Request request, Check check = nullptr)
      : stub_(stub), prepare_(prepare), request_(std::move(request)), check_(std::move(check)) {}

  void Start(grpc::CompletionQueue* cq, void* tag) override {
    reader_ = (stub_->*prepare_)(&context, request_, cq);
    reader_->StartCall();
    reader_->Finish(&response_, &status, tag);
  }
  std::string Verdict() const override { return check_ ? check_(response_) : ""; }

 private:
  Stub* stub_;
  Prepare prepare_;
  Request request_;
  Response response_;
  Check check_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
};

struct LoadOptions {
  int concurrency = 16;  // calls in flight; each slot starts its next call when one completes
  int threads = 2;       // completion-queue threads
  // Duration mode (requests == 0): calls started inside [warmup, warmup +
  // duration) are measured.
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds warmup{2000};
  // Count mode: the first warmup_requests calls warm up, the next requests
  // are measured (for scenarios that use up seeded data, e.g. payments).
  int64_t requests = 0;
  int64_t warmup_requests = 0;
  std::chrono::milliseconds deadline{10000};
  // Run when the measured phase starts and ends (resource sampling).
  std::function<void()> at_measure_start;
  std::function<void()> at_measure_end;
};

struct LoadResult {
  double seconds = 0;  // the measured phase
  int64_t calls = 0;   // measured calls, whatever their outcome
  int64_t ok = 0;
  LatencySummary latency;  // of every measured call
  std::map<std::string, int64_t> outcomes;  // "OK", gRPC code names, verdict labels
  double Qps() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

// Makes call number seq for slot (0 <= slot < concurrency). Called from the
// driver's threads concurrently, so it must be thread-safe.
using CallFactory = std::function<std::unique_ptr<Call>(int slot, int64_t seq)>;

// A closed loop: `concurrency` slots each keep exactly one call in flight.
LoadResult RunClosedLoop(const LoadOptions& options, const CallFactory& factory);

std::string CodeName(grpc::StatusCode code);

}  // namespace billing::bench
