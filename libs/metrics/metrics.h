#pragma once

#include <memory>
#include <string>

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

}  // namespace billing::metrics
