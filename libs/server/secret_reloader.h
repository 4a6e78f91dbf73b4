#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include "config/config.h"
#include "metrics/metrics.h"
#include "server/authz.h"

// Secrets rotate without a restart. Kubernetes mounts a Secret as files and
// swaps them in place within a minute or so of an update; a service started
// with <NAME>_FILE re-reads the file every SECRET_RELOAD_INTERVAL_MS and
// installs a changed value. A value that does not validate, or an emptied
// file, is refused: the one in force stays, an error is logged and
// secret_reloads_total{outcome="refused"} counts it. Turning a secret off
// takes a restart, and ServiceMain refuses to start with an empty
// CALLER_TOKENS_FILE, so no update can switch authentication off.
namespace billing::server {

class SecretReloader {
 public:
  SecretReloader(const config::Config& config, metrics::Metrics& metrics);

  // When `option` was read from a file: hands each changed, non-empty value
  // to `apply`, which installs it or throws std::invalid_argument (a message
  // naming no secret) to keep the old one. Options set any other way are
  // not watched. Call before Run.
  void Watch(const std::string& option, std::function<void(const std::string&)> apply);

  // Re-reads every watched file once (Run's loop body).
  void PollOnce();

  // Polls every `interval` until `stop` is requested; returns at once when
  // nothing is watched.
  void Run(std::stop_token stop, std::chrono::milliseconds interval);

 private:
  struct Watched {
    std::string option;
    std::function<void(const std::string&)> apply;
    std::string last;          // the value in force, or the last one refused
    bool unreadable = false;  // the last read failed (logged once until it reads again)
  };
  void Count(const std::string& option, const char* outcome);

  const config::Config& config_;
  prometheus::Family<prometheus::Counter>& reloads_;
  std::vector<Watched> watched_;
};

// The bearer token of a *_TOKEN option for MakeClientChannel, watched for
// rotation; nullptr when the option is empty (no token is sent). Throws
// config::ConfigError when the configured token cannot be sent.
std::shared_ptr<BearerToken> WatchedBearerToken(const config::Config& config, SecretReloader& reloader,
                                                const std::string& option);

}  // namespace billing::server
