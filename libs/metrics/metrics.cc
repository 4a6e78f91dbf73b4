#include "metrics/metrics.h"

#include <exception>

namespace billing::metrics {

Metrics::Metrics(const std::string& bind_address)
    : registry_(std::make_shared<prometheus::Registry>()) {
  if (bind_address.empty()) return;
  // One worker thread is plenty for a scrape endpoint.
  exposer_ = std::make_unique<prometheus::Exposer>(bind_address, 1);
  exposer_->RegisterCollectable(registry_);
  const auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
}

prometheus::Histogram::BucketBoundaries Metrics::LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void ThrottledGauge::MaybeRefresh() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  next_ = now + period_;
  try {
    gauge_.Set(static_cast<double>(read_()));
  } catch (const std::exception&) {
    // Keeps the last value until the next period.
  }
}

}  // namespace billing::metrics
