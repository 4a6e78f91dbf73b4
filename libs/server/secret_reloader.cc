#include "server/secret_reloader.h"

#include <condition_variable>
#include <stdexcept>

#include "logging/log.h"

namespace billing::server {

SecretReloader::SecretReloader(const config::Config& config, metrics::Metrics& metrics)
    : config_(config),
      reloads_(prometheus::BuildCounter()
                   .Name("secret_reloads_total")
                   .Help("Secrets re-read from their files after a change, by option and outcome "
                         "(applied, refused, unreadable)")
                   .Register(metrics.registry())) {}

void SecretReloader::Watch(const std::string& option, std::function<void(const std::string&)> apply) {
  if (config_.SecretFile(option).empty()) return;
  watched_.push_back({option, std::move(apply), config_.Get(option)});
}

void SecretReloader::Count(const std::string& option, const char* outcome) {
  // Labels are option names and fixed outcomes, never values.
  reloads_.Add({{"option", option}, {"outcome", outcome}}).Increment();
}

void SecretReloader::PollOnce() {
  for (auto& w : watched_) {
    std::string value;
    try {
      value = config_.RereadSecretFile(w.option);
    } catch (const std::exception& e) {
      // Mid-swap, the volume went away, or the wrong file: the value in
      // force stays, and the next poll tries again. Reported when it
      // starts, not every poll.
      if (!w.unreadable) {
        Count(w.option, "unreadable");
        logging::Error("secret file unreadable; the value in force stays", {{"option", w.option}, {"error", e.what()}});
      }
      w.unreadable = true;
      continue;
    }
    w.unreadable = false;
    if (value == w.last) continue;
    try {
      if (value.empty()) throw std::invalid_argument(w.option + "_FILE is empty (turning it off takes a restart)");
      w.apply(value);
    } catch (const std::exception& e) {
      // invalid_argument is the apply's "no"; anything else is a bug, but
      // it must not end the loop (every replica reads the same Secret).
      Count(w.option, "refused");
      logging::Error("secret reload refused; the value in force stays", {{"option", w.option}, {"error", e.what()}});
      // Remembered, so a refused value is reported once, not every poll.
      w.last = std::move(value);
      continue;
    }
    w.last = std::move(value);
    Count(w.option, "applied");
    logging::Info("secret reloaded", {{"option", w.option}});
  }
}

void SecretReloader::Run(std::stop_token stop, std::chrono::milliseconds interval) {
  if (watched_.empty()) return;
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  while (!wake.wait_for(lock, stop, interval, [&] { return stop.stop_requested(); })) {
    try {
      PollOnce();
    } catch (...) {
      // Nothing in PollOnce should throw (it catches per secret); a thread
      // that ended here would stop every later rotation silently.
      logging::Error("secret reload pass failed; the values in force stay");
    }
  }
}

std::shared_ptr<BearerToken> WatchedBearerToken(const config::Config& config, SecretReloader& reloader,
                                                const std::string& option) {
  if (!config.IsSet(option)) return nullptr;
  std::shared_ptr<BearerToken> token;
  try {
    token = std::make_shared<BearerToken>(option, config.Get(option));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(e.what());
  }
  reloader.Watch(option, [token](const std::string& value) { token->Replace(value); });
  return token;
}

}  // namespace billing::server
