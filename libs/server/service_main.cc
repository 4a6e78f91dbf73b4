#include "server/service_main.h"

#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "db/conninfo.h"
#include "db/migrator.h"
#include "logging/log.h"
#include "server/error_status.h"
#include "server/grpc_server.h"

namespace billing::server {
namespace {

using config::Kind;
using config::Option;
using grpc::health::v1::HealthCheckResponse;

// "booking,payment-page,payments": who holds tokens, for the log (names only).
std::string CallerNames(const Authorizer& authorizer) {
  std::string out;
  for (const auto& c : authorizer.Callers()) out += (out.empty() ? "" : ",") + c;
  return out;
}

void WritePortsFile(const std::string& path, const std::map<std::string, int>& ports) {
  if (path.empty()) return;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : ports) j[k] = v;
  // Write then rename, so a reader never sees half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

int MigrateOnly(const ServiceSpec& spec, db::Pool& pool, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    try {
      auto session = pool.OpenSession();
      const auto result = db::ApplyMigrations(*session, *spec.migrations, spec.name);
      logging::Info("migrations done", {{"applied", result.applied}, {"present", result.present}});
      return 0;
    } catch (const db::MigrationError& e) {
      logging::Error("migration failed", {{"error", e.what()}});
      return 1;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() > deadline) {
        logging::Error("database unreachable; giving up", {{"error", e.what()}});
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

// Connects, migrates and pings in the background so the server can answer
// health checks (NOT_SERVING) while the database is still coming up.
class Readiness {
 public:
  Readiness(const ServiceSpec& spec, db::Pool& pool, HealthService& health, bool auto_migrate,
            std::chrono::milliseconds interval, std::function<void()> on_first_ready)
      : spec_(spec),
        pool_(pool),
        health_(health),
        auto_migrate_(auto_migrate),
        interval_(interval),
        on_first_ready_(std::move(on_first_ready)) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run(std::stop_token stop) {
    bool migrated = false;
    bool first_ready_done = false;
    bool last_ready = false;
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      if (!migrated) {
        try {
          auto session = pool_.OpenSession();
          if (auto_migrate_) {
            const auto r = db::ApplyMigrations(*session, *spec_.migrations, spec_.name);
            logging::Info("migrations done", {{"applied", r.applied}, {"present", r.present}});
            migrated = true;
          } else {
            migrated = db::MigrationsApplied(*session, *spec_.migrations);
            if (!migrated) logging::Warn("waiting for migrations (AUTO_MIGRATE=false)");
          }
        } catch (const db::MigrationError& e) {
          // A broken migration will not fix itself; stay NOT_SERVING and say why.
          logging::Error("migration failed", {{"error", e.what()}});
        } catch (const std::exception&) {
          // Unreachable database: already logged by the pool; try again.
        }
      }
      const bool ready = migrated && pool_.Ping();
      if (ready != last_ready) {
        health_.SetAll(ready ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
        logging::Info(ready ? "serving" : "not serving",
                      {{"reason", ready ? "database reachable and migrated" : "database not ready"}});
        last_ready = ready;
      }
      if (ready && !first_ready_done) {
        first_ready_done = true;
        on_first_ready_();
        // Start-up frees much of what it allocated (migrations' SQL, the
        // templates' and libphonenumber's parsing); glibc keeps freed pages
        // below the heap's top resident until asked. Once, so an idle
        // replica holds only what it uses (notify: 0.7 MB).
        malloc_trim(0);
      }
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, interval_, [] { return false; });
    }
  }

  const ServiceSpec& spec_;
  db::Pool& pool_;
  HealthService& health_;
  bool auto_migrate_;
  std::chrono::milliseconds interval_;
  std::function<void()> on_first_ready_;
  std::jthread thread_;
};

}  // namespace

std::vector<Option> CommonOptions(const ServiceSpec& spec) {
  return {
      {.name = "DATABASE_URL",
       .help = "PostgreSQL connection string of this service's own database (URI or key=value).",
       .required = true,
       .secret = true},
      {.name = "GRPC_LISTEN_ADDRESS",
       .help = "host:port for gRPC (port 0 picks a free port).",
       .default_value = "0.0.0.0:" + std::to_string(spec.default_grpc_port),
       .kind = Kind::kHostPort},
      {.name = "METRICS_LISTEN_ADDRESS",
       .help = "host:port for Prometheus /metrics (IPv4; port 0 picks a free port).",
       .default_value = "0.0.0.0:" + std::to_string(spec.default_metrics_port),
       .kind = Kind::kHostPort},
      {.name = "HEALTH_LISTEN_ADDRESS",
       .help = "host:port of a plaintext port serving only grpc.health.v1.Health, for Kubernetes' "
               "native gRPC probes (they cannot speak TLS); empty for none.",
       .kind = Kind::kHostPort},
      {.name = "LOG_LEVEL", .help = "Minimum log level.", .default_value = "info",
       .kind = Kind::kChoice, .choices = {"debug", "info", "warn", "error"}},
      {.name = "DB_POOL_SIZE", .help = "Database connections kept open.", .default_value = "8",
       .kind = Kind::kInt, .min = 1, .max = 256},
      {.name = "DB_LEASE_TIMEOUT_MS",
       .help = "How long a request waits for a free connection before UNAVAILABLE.",
       .default_value = "2000", .kind = Kind::kInt, .min = 1, .max = 60000},
      {.name = "DB_STATEMENT_TIMEOUT_MS", .help = "Server-side limit per SQL statement.",
       .default_value = "10000", .kind = Kind::kInt, .min = 100, .max = 600000},
      {.name = "GRPC_MAX_THREADS", .help = "Handler threads (bounds concurrent RPCs).",
       .default_value = "64", .kind = Kind::kInt, .min = 2, .max = 4096},
      {.name = "GRPC_MAX_RECV_MESSAGE_BYTES", .help = "Largest request accepted.",
       .default_value = "4194304", .kind = Kind::kInt, .min = 1024, .max = 67108864},
      {.name = "TLS_CERT_FILE", .help = "PEM certificate chain for gRPC TLS; empty for plaintext."},
      {.name = "TLS_KEY_FILE", .help = "PEM private key for TLS_CERT_FILE."},
      {.name = "TLS_CLIENT_CA_FILE",
       .help = "PEM CA bundle; when set, clients must present a certificate it signed (mTLS)."},
      {.name = "SHUTDOWN_DRAIN_DELAY_MS",
       .help = "After SIGTERM, keep serving this long while reporting NOT_SERVING.",
       .default_value = "0", .kind = Kind::kInt, .min = 0, .max = 600000},
      {.name = "SHUTDOWN_TIMEOUT_MS",
       .help = "After the drain delay, how long in-flight RPCs get before they are cancelled.",
       .default_value = "10000", .kind = Kind::kInt, .min = 0, .max = 600000},
      {.name = "READINESS_INTERVAL_MS", .help = "How often the database is checked for health.",
       .default_value = "1000", .kind = Kind::kInt, .min = 50, .max = 60000},
      {.name = "AUTO_MIGRATE",
       .help = "Apply pending migrations at start (false: wait for a --migrate-only job).",
       .default_value = "true", .kind = Kind::kBool},
      {.name = "MIGRATE_ONLY", .help = "Apply migrations, then exit (0 on success).",
       .default_value = "false", .kind = Kind::kBool},
      {.name = "CHECK_CONFIG",
       .help = "Validate the configuration (files named by *_FILE included), print one line, exit: 0 if valid, "
               "2 if not. Nothing is bound or connected.",
       .default_value = "false", .kind = Kind::kBool},
      {.name = "MIGRATE_TIMEOUT_S",
       .help = "With --migrate-only: how long to wait for the database.",
       .default_value = "60", .kind = Kind::kInt, .min = 1, .max = 3600},
      {.name = "PORTS_FILE",
       .help = "When set, the bound ports are written here as JSON once listening (for tests)."},
      {.name = "CALLER_TOKENS",
       .help = "Bearer tokens of the callers, \"caller=token\" separated by commas or newlines (several per caller "
               "while one rotates); when set, every RPC but health and reflection needs one, and the *_CALLERS "
               "options say which callers may call what. Empty: no tokens.",
       .secret = true},
      {.name = "SECRET_RELOAD_INTERVAL_MS",
       .help = "How often secrets read from files are re-read (CALLER_TOKENS, NOTIFY_TOKEN, PAYMENTS_TOKEN, "
               "INVOICE_TOKEN, STRIPE_WEBHOOK_SECRETS); a changed one takes effect without a restart, one that "
               "does not validate, or an emptied file, is refused and logged. Other secrets need a restart.",
       .default_value = "10000", .kind = Kind::kInt, .min = 50, .max = 3600000},
  };
}

int ServiceMain(const ServiceSpec& spec, int argc, char** argv) {
  // Block the stop signals in every thread started from here on; the main
  // thread waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<Option> options = CommonOptions(spec);
  for (const auto& l : spec.extra_listeners) {
    options.push_back({.name = l.option, .help = l.help, .kind = Kind::kHostPort});
  }
  options.insert(options.end(), spec.options.begin(), spec.options.end());

  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << config::Usage(spec.name, spec.summary, options);
      return 0;
    }
  }
  config::Config cfg;
  std::unique_ptr<Authorizer> authorizer;
  try {
    const auto env = [](const char* name) { return std::getenv(name); };
    // --migrate-only needs the database and nothing else: the service's own
    // options are not required and not cross-checked, so a migration job or
    // initContainer is given DATABASE_URL alone (no Stripe key, no SMTP
    // password).
    std::vector<Option> relaxed = options;
    for (auto& o : relaxed) {
      if (o.name != "DATABASE_URL") o.required = false;
    }
    cfg = config::Parse(relaxed, args, env);
    const bool migrate_only = cfg.GetBool("MIGRATE_ONLY");
    if (!migrate_only) cfg = config::Parse(options, args, env);
    if (cfg.IsSet("TLS_CERT_FILE") != cfg.IsSet("TLS_KEY_FILE")) {
      throw config::ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
    }
    try {
      db::ToKeyValueConninfo(cfg.Get("DATABASE_URL"));
    } catch (const std::invalid_argument&) {
      throw config::ConfigError("DATABASE_URL (--database-url) is not a valid PostgreSQL connection string");
    }
    if (cfg.IsSet("TLS_CLIENT_CA_FILE") && !cfg.IsSet("TLS_CERT_FILE")) {
      throw config::ConfigError("TLS_CLIENT_CA_FILE (mTLS) needs TLS_CERT_FILE and TLS_KEY_FILE");
    }
    if (spec.validate && !migrate_only) spec.validate(cfg);
    std::vector<std::string> tokens = spec.outgoing_tokens;
    tokens.push_back("CALLER_TOKENS");
    for (const auto& option : tokens) {
      if (migrate_only) break;
      // An emptied Secret key must stop the start: for CALLER_TOKENS empty
      // would mean "no tokens required", a check silently switched off.
      if (!cfg.SecretFile(option).empty() && !cfg.IsSet(option)) {
        throw config::ConfigError(option + "_FILE names an empty file: " + cfg.SecretFile(option));
      }
      if (option == "CALLER_TOKENS" || !cfg.IsSet(option)) continue;  // the Authorizer below checks those
      try {
        BearerToken check(option, cfg.Get(option));
      } catch (const std::invalid_argument& e) {
        throw config::ConfigError(e.what());
      }
    }
    if (!migrate_only && cfg.IsSet("CALLER_TOKENS")) {
      std::map<std::string, std::set<std::string>> groups;
      for (const auto& rule : spec.access) {
        for (const auto& group : rule.groups) groups[group] = ParseCallerList(cfg.Get(group));
      }
      try {
        authorizer = std::make_unique<Authorizer>(cfg.Get("CALLER_TOKENS"), std::move(groups), spec.access);
      } catch (const std::invalid_argument& e) {
        throw config::ConfigError(e.what());
      }
    }
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "%s: configuration error: %s\n", spec.name.c_str(), e.what());
    return 2;
  }
  if (cfg.GetBool("CHECK_CONFIG")) {
    // For deployment checks: everything above passed, nothing was touched.
    std::cout << spec.name << ": configuration ok" << (cfg.GetBool("MIGRATE_ONLY") ? " (migrate-only)" : "") << "\n";
    return 0;
  }

  logging::Init(spec.name, logging::ParseLevel(cfg.Get("LOG_LEVEL")));
  SetErrorDomain(spec.name + ".billing");
  logging::Info("starting", {{"config", cfg.Redacted()}});
  if (authorizer) logging::Info("bearer tokens required", {{"callers", CallerNames(*authorizer)}});

  const db::PoolOptions pool_options{
      .url = cfg.Get("DATABASE_URL"),
      .size = static_cast<std::size_t>(cfg.GetInt("DB_POOL_SIZE")),
      .lease_timeout = std::chrono::milliseconds(cfg.GetInt("DB_LEASE_TIMEOUT_MS")),
      .statement_timeout_ms = static_cast<int>(cfg.GetInt("DB_STATEMENT_TIMEOUT_MS")),
      .application_name = spec.name};

  if (cfg.GetBool("MIGRATE_ONLY")) {
    db::Pool pool(pool_options);
    return MigrateOnly(spec, pool, std::chrono::seconds(cfg.GetInt("MIGRATE_TIMEOUT_S")));
  }

  try {
    metrics::Metrics metrics(cfg.Get("METRICS_LISTEN_ADDRESS"));
    db::Pool pool(pool_options, &metrics);
    clock::SystemClock system_clock;
    SecretReloader secrets(cfg, metrics);
    if (authorizer) {
      secrets.Watch("CALLER_TOKENS", [&authorizer](const std::string& tokens) {
        authorizer->ReplaceTokens(tokens);
        logging::Info("bearer tokens replaced", {{"callers", CallerNames(*authorizer)}});
      });
    }
    ServiceEnv env{cfg, pool, metrics, system_clock, secrets};
    ServiceRegistrar registrar;
    spec.build(env, registrar);

    std::map<std::string, std::string> extra_addresses;
    for (const auto& l : spec.extra_listeners) {
      if (cfg.IsSet(l.option)) extra_addresses[l.name] = cfg.Get(l.option);
    }
    GrpcServer server(
        {.listen_address = cfg.Get("GRPC_LISTEN_ADDRESS"),
         .extra_listen_addresses = extra_addresses,
         .health_listen_address = cfg.Get("HEALTH_LISTEN_ADDRESS"),
         .tls = {cfg.Get("TLS_CERT_FILE"), cfg.Get("TLS_KEY_FILE"), cfg.Get("TLS_CLIENT_CA_FILE")},
         .max_threads = static_cast<int>(cfg.GetInt("GRPC_MAX_THREADS")),
         .max_receive_message_bytes = static_cast<int>(cfg.GetInt("GRPC_MAX_RECV_MESSAGE_BYTES")),
         .drain_delay = std::chrono::milliseconds(cfg.GetInt("SHUTDOWN_DRAIN_DELAY_MS")),
         .shutdown_timeout = std::chrono::milliseconds(cfg.GetInt("SHUTDOWN_TIMEOUT_MS")),
         .authorizer = authorizer.get()},
        metrics);
    for (auto& s : registrar.services) {
      // An extra listener left unset serves its services on the main port.
      const std::string listener = extra_addresses.contains(s.listener) ? s.listener : "";
      server.AddService(s.full_name, std::move(s.impl), listener);
    }
    server.Start();

    registrar.ports["grpc"] = server.port();
    for (const auto& [name, port] : server.extra_ports()) registrar.ports[name] = port;
    registrar.ports["metrics"] = metrics.port();
    logging::Info("listening", {{"ports", registrar.ports}});
    WritePortsFile(cfg.Get("PORTS_FILE"), registrar.ports);
    // Joined on the way out before the pool, metrics and config it uses;
    // what it reloads (authorizer, tokens held by shared_ptr, the services'
    // own objects) outlives it.
    const std::chrono::milliseconds reload_interval(cfg.GetInt("SECRET_RELOAD_INTERVAL_MS"));
    std::jthread secret_reloads([&secrets, reload_interval](std::stop_token stop) { secrets.Run(stop, reload_interval); });

    std::vector<std::jthread> workers;
    std::mutex workers_mu;
    Readiness readiness(spec, pool, server.health(), cfg.GetBool("AUTO_MIGRATE"),
                        std::chrono::milliseconds(cfg.GetInt("READINESS_INTERVAL_MS")), [&] {
                          std::lock_guard lock(workers_mu);
                          for (auto& [name, run] : registrar.workers) {
                            logging::Info("worker started", {{"worker", name}});
                            workers.emplace_back(run);
                          }
                        });

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    const auto stop_started = std::chrono::steady_clock::now();
    logging::Info("shutting down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
    readiness.Stop();
    server.Shutdown();
    {
      std::lock_guard lock(workers_mu);
      for (auto& w : workers) w.request_stop();
      workers.clear();  // joins
    }
    logging::Info("stopped", {{"shutdown_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - stop_started)
                                                  .count()}});
    return 0;
  } catch (const std::exception& e) {
    logging::Error("fatal start-up error", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace billing::server
