#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

// Prometheus metrics for one process: a registry, served on /metrics by an
// Exposer when an address is given. Label values must come from small fixed
// sets (method names, codes, outcomes): never ids, amounts or anything a
// caller controls freely.
namespace billing::metrics {

class Metrics {
 public:
  // bind_address: "0.0.0.0:9464", "127.0.0.1:0" (any free port) or "" for no
  // HTTP endpoint. Throws if the address cannot be bound (startup is fatal).
  explicit Metrics(const std::string& bind_address);

  prometheus::Registry& registry() { return *registry_; }
  // The port /metrics listens on, or 0 without an endpoint.
  int port() const { return port_; }

  // Latency buckets in seconds, from 0.5 ms to 10 s: RPCs, SQL, HTTP calls.
  static prometheus::Histogram::BucketBoundaries LatencyBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// A gauge set from a database count, refreshed at most once per `period`.
// The workers that own backlog gauges loop once per batch under load, while
// Prometheus scrapes every 15 s or so: notify counted its queue once per
// delivered message, 714 count(*) in a 15 s pay benchmark. A failed read
// keeps the last value: the worker's own work must not depend on it.
class ThrottledGauge {
 public:
  ThrottledGauge(prometheus::Gauge& gauge, std::chrono::milliseconds period, std::function<int64_t()> read)
      : gauge_(gauge), period_(period), read_(std::move(read)) {}

  // Reads and sets when `period` has passed since the last read. Call from
  // one thread (the worker's loop).
  void MaybeRefresh();

 private:
  prometheus::Gauge& gauge_;
  const std::chrono::milliseconds period_;
  const std::function<int64_t()> read_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace billing::metrics
