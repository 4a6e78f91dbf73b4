// The fault suite and bounded soak (issue 10): mixed traffic against two
// replicas of every service while faults are injected on a schedule, one
// scenario after another; after each, the system is left to settle and the
// invariant checker runs over everything done so far. Prints (and with
// --report writes) a markdown table: scenario, faults injected, requests by
// final code, time to settle, invariants held.
//
//   billing-soak [--duration S] [--workers N] [--seed N] [--scenarios a,b]
//                [--report FILE] [--caption TEXT]
//
// Exit code 0 when every invariant held after every scenario and no request
// got a code a correct system never answers (see traffic.cc); 1 otherwise.
// scripts/soak.sh runs the long version; ctest's soak_e2e_test a short one.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "soak/invariants.h"
#include "soak/soak_system.h"
#include "soak/traffic.h"

namespace billing::testing::soak {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  int duration_s = 300;  // traffic, over all scenarios
  int workers = 3;
  unsigned seed = 1;
  std::vector<std::string> scenarios;
  std::string report;
  std::string caption;
};

// What a scenario's fault schedule did, for the report.
struct FaultLog {
  std::map<std::string, int> counts;  // fault -> calls, events or outages it hit
  std::vector<std::string> notes;     // observations (health during an outage)
  bool notify_killed = false;
  void Add(const std::string& fault, int times = 1) { counts[fault] += times; }
  std::string Describe() const {
    std::string out;
    for (const auto& [fault, n] : counts) out += (out.empty() ? "" : ", ") + fault + (n > 1 ? " ×" + std::to_string(n) : "");
    for (const auto& note : notes) out += (out.empty() ? "" : "; ") + note;
    return out.empty() ? "none" : out;
  }
};

// A fault schedule: runs beside the traffic for `window` (faults stop
// before the traffic does, so the last requests meet a healthy system).
using Schedule = std::function<void(System&, std::mt19937&, milliseconds window, FaultLog&)>;

// Sleeps until `at` after `start` (never past the window's end).
void SleepUntil(Clock::time_point start, milliseconds at) { std::this_thread::sleep_until(start + at); }

void RestartPostgres(System& s, FaultLog& log) {
  std::map<std::pair<int, int>, int> pids;
  for (Service svc : {Service::kInvoice, Service::kPayments, Service::kNotify}) {
    for (int i = 0; i < kReplicas; ++i) pids[{static_cast<int>(svc), i}] = s.Pid(svc, i);
  }
  s.postgres().Stop();
  log.Add("PostgreSQL stopped for 2 s");
  // Every replica must say so (Kubernetes takes it out of its Service) ...
  int not_serving = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (Service svc : {Service::kInvoice, Service::kPayments, Service::kNotify}) {
    for (int i = 0; i < kReplicas; ++i) {
      while (Clock::now() < deadline && s.Health(svc, i) != "NOT_SERVING") {
        std::this_thread::sleep_for(milliseconds(100));
      }
      not_serving += s.Health(svc, i) == "NOT_SERVING" ? 1 : 0;
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  s.postgres().Start();
  // ... and come back by itself, with no restart.
  int serving = 0;
  int same_pid = 0;
  const auto back_by = Clock::now() + std::chrono::seconds(20);
  for (Service svc : {Service::kInvoice, Service::kPayments, Service::kNotify}) {
    for (int i = 0; i < kReplicas; ++i) {
      while (Clock::now() < back_by && s.Health(svc, i) != "SERVING") std::this_thread::sleep_for(milliseconds(100));
      serving += s.Health(svc, i) == "SERVING" ? 1 : 0;
      same_pid += s.Pid(svc, i) == pids[{static_cast<int>(svc), i}] ? 1 : 0;
    }
  }
  const int all = 3 * kReplicas;
  log.notes.push_back(std::to_string(not_serving) + "/" + std::to_string(all) + " replicas NOT_SERVING while down, " +
                      std::to_string(serving) + "/" + std::to_string(all) + " SERVING after, " +
                      std::to_string(same_pid) + "/" + std::to_string(all) + " without a restart");
  if (not_serving != all || serving != all || same_pid != all) log.Add("HEALTH CHECK FAILED");
}

void KillOne(System& s, std::mt19937& rng, FaultLog& log) {
  const auto svc = static_cast<Service>(std::uniform_int_distribution<int>(0, 2)(rng));
  const int replica = std::uniform_int_distribution<int>(0, kReplicas - 1)(rng);
  s.Kill(svc, replica);
  log.Add(std::string("SIGKILL ") + NameOf(svc));
  if (svc == Service::kNotify) log.notify_killed = true;
  std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(200, 1500)(rng)));
  s.Start(svc, replica);
}

// Stripe failing the way Stripe fails: errors before and after executing,
// dropped connections after charging, rate limits, hangs past our timeout.
void StripeFaultBurst(System& s, std::mt19937& rng, FaultLog& log) {
  static const std::vector<std::pair<std::string, nlohmann::json>> kFaults = {
      {"Stripe 500", {{"action", "error"}, {"status", 500}}},
      {"Stripe 503", {{"action", "error"}, {"status", 503}}},
      {"Stripe 429", {{"action", "error"}, {"status", 429}, {"code", "rate_limit"}}},
      {"Stripe 429 lock_timeout", {{"action", "error"}, {"status", 429}, {"code", "lock_timeout"}}},
      {"Stripe executes then 500", {{"action", "execute_then_error"}}},
      {"Stripe executes then drops", {{"action", "execute_then_drop"}}},
      {"Stripe hangs 2.5 s", {{"action", "hang"}, {"hang_ms", 2500}}},
  };
  const auto& [name, spec] = kFaults[std::uniform_int_distribution<std::size_t>(0, kFaults.size() - 1)(rng)];
  nlohmann::json rule = spec;
  rule["method"] = "POST";
  rule["path"] = "*";
  rule["times"] = 3;
  s.Emulator("POST", "/_emulator/faults", rule);
  log.Add(name, 3);
}

void WebhookStorm(System& s, FaultLog& log, int times) {
  for (const char* action : {"duplicate", "twin", "reorder", "delay", "bad_signature", "stale_timestamp", "drop"}) {
    s.Emulator("POST", "/_emulator/webhook_faults", {{"action", action}, {"times", times}});
    log.Add(std::string("webhook ") + action, times);
  }
}

void DeliveryOutage(System& s, FaultLog& log, milliseconds length) {
  s.smtp().Stop();
  s.sms().SetAvailable(false);
  log.Add("SMTP and SMS down " + std::to_string(length.count() / 1000) + " s");
  std::this_thread::sleep_for(length);
  s.smtp().Start();
  s.sms().SetAvailable(true);
}

std::map<std::string, Schedule> Scenarios() {
  std::map<std::string, Schedule> m;
  m["1-baseline"] = [](System&, std::mt19937&, milliseconds, FaultLog&) {};
  m["2-postgres-restart"] = [](System& s, std::mt19937&, milliseconds window, FaultLog& log) {
    const auto start = Clock::now();
    SleepUntil(start, window / 4);
    do {
      RestartPostgres(s, log);
      std::this_thread::sleep_for(std::chrono::seconds(3));
    } while (Clock::now() - start < window * 3 / 4);
  };
  m["3-stripe-faults"] = [](System& s, std::mt19937& rng, milliseconds window, FaultLog& log) {
    const auto start = Clock::now();
    while (Clock::now() - start < window) {
      StripeFaultBurst(s, rng, log);
      std::this_thread::sleep_for(std::min(window / 8, milliseconds(2500)));
    }
  };
  m["4-kill-replicas"] = [](System& s, std::mt19937& rng, milliseconds window, FaultLog& log) {
    const auto start = Clock::now();
    while (Clock::now() - start < window) {
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(300, 1500)(rng)));
      KillOne(s, rng, log);
    }
  };
  m["5-smtp-sms-outage"] = [](System& s, std::mt19937&, milliseconds window, FaultLog& log) {
    const auto start = Clock::now();
    SleepUntil(start, window / 5);
    DeliveryOutage(s, log, window / 2);
  };
  m["6-webhook-storm"] = [](System& s, std::mt19937&, milliseconds window, FaultLog& log) {
    WebhookStorm(s, log, std::max(3, static_cast<int>(window.count() / 1000)));
    std::this_thread::sleep_for(window);
  };
  m["7-slow-stripe"] = [](System& s, std::mt19937&, milliseconds window, FaultLog& log) {
    // Past payments' STRIPE_TIMEOUT_MS (1.5 s), its retries and invoice's
    // deadline for the whole call: every layer times out while Stripe
    // still executes the requests late.
    const auto start = Clock::now();
    SleepUntil(start, window / 5);
    s.Emulator("POST", "/_emulator/faults", {{"action", "latency"}, {"latency_ms", 2500}, {"sticky", true}});
    log.Add("Stripe answers after 2.5 s for " + std::to_string(window.count() / 2000) + " s");
    std::this_thread::sleep_for(window / 2);
    s.Emulator("DELETE", "/_emulator/faults");
  };
  m["8-mixed"] = [](System& s, std::mt19937& rng, milliseconds window, FaultLog& log) {
    // The soak proper: any fault at any time, overlapping traffic.
    const auto start = Clock::now();
    while (Clock::now() - start < window) {
      switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
        case 0: KillOne(s, rng, log); break;
        case 1: StripeFaultBurst(s, rng, log); break;
        case 2: WebhookStorm(s, log, 2); break;
        case 3: DeliveryOutage(s, log, milliseconds(1500)); break;
        case 4: RestartPostgres(s, log); break;
      }
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(500, 2000)(rng)));
    }
  };
  return m;
}

// Undoes every fault: what an operator's "all clear" would be.
void ClearFaults(System& s) {
  s.Emulator("DELETE", "/_emulator/faults");
  s.Emulator("DELETE", "/_emulator/webhook_faults");
  s.sms().SetAvailable(true);
  s.StartAll();
}

struct ScenarioResult {
  std::string name;
  std::string faults;
  CodeTally tally;
  double settle_s = 0;
  std::vector<InvariantResult> invariants;
  long unexpected = 0;
};

std::string RequestsCell(const CodeTally& tally) {
  std::map<std::string, long> by_code;
  long total = 0;
  for (const auto& [op, codes] : tally) {
    for (const auto& [code, n] : codes) {
      by_code[code] += n;
      total += n;
    }
  }
  std::string out = std::to_string(total) + ":";
  for (const auto& [code, n] : by_code) out += " " + code + " " + std::to_string(n);
  return out;
}

std::string Markdown(const Options& o, const std::vector<ScenarioResult>& results, bool passed) {
  std::ostringstream md;
  if (!o.caption.empty()) md << o.caption << "\n\n";
  md << "Two replicas of each service behind TCP proxies (the stand-in for their Kubernetes Services), one "
        "PostgreSQL cluster, the Stripe emulator, a real SMTP server and the SMS endpoint; "
     << o.workers << " client workers; " << o.duration_s << " s of traffic over " << results.size()
     << " scenarios; seed " << o.seed << ". Result: **" << (passed ? "passed" : "FAILED") << "**.\n\n";
  md << "| Scenario | Faults injected | Requests by final code | Settled in | Invariants |\n";
  md << "|---|---|---|---|---|\n";
  for (const auto& r : results) {
    int held = 0;
    std::string broken;
    for (const auto& i : r.invariants) {
      if (i.held) ++held;
      else broken += (broken.empty() ? " — broken: " : ", ") + i.name;
    }
    char settle[32];
    std::snprintf(settle, sizeof settle, r.settle_s < 0 ? "not settled" : "%.1f s", r.settle_s);
    md << "| " << r.name << " | " << r.faults << " | " << RequestsCell(r.tally) << " | " << settle << " | " << held
       << "/" << r.invariants.size() << " held" << broken << " |\n";
  }
  if (!results.empty()) {
    md << "\nThe invariants, as checked after the last scenario (cumulative over the run):\n\n";
    md << "| Invariant | Meaning | Last check |\n|---|---|---|\n";
    const auto descriptions = InvariantDescriptions();
    for (std::size_t i = 0; i < descriptions.size() && i < results.back().invariants.size(); ++i) {
      const auto& r = results.back().invariants[i];
      md << "| " << descriptions[i].first << " | " << descriptions[i].second << " | " << (r.held ? "held: " : "BROKEN: ")
         << r.detail << " |\n";
    }
    md << "\nRequests by operation over the run:\n\n| Operation | Final codes |\n|---|---|\n";
    CodeTally all;
    for (const auto& r : results) {
      for (const auto& [op, codes] : r.tally) {
        for (const auto& [code, n] : codes) all[op][code] += n;
      }
    }
    for (const auto& [op, codes] : all) {
      std::string cell;
      for (const auto& [code, n] : codes) cell += (cell.empty() ? "" : ", ") + code + " " + std::to_string(n);
      md << "| " << op << " | " << cell << " |\n";
    }
  }
  return md.str();
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--duration") o.duration_s = std::stoi(next());
    else if (a == "--workers") o.workers = std::stoi(next());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--report") o.report = next();
    else if (a == "--caption") o.caption = next();
    else if (a == "--scenarios") {
      std::stringstream ss(next());
      for (std::string s; std::getline(ss, s, ',');) o.scenarios.push_back(s);
    } else {
      throw std::invalid_argument("unknown argument " + a);
    }
  }
  if (o.duration_s < 8 || o.workers < 1) throw std::invalid_argument("--duration >= 8 and --workers >= 1");
  return o;
}

int Run(const Options& o) {
  auto all = Scenarios();
  std::vector<std::string> names = o.scenarios;
  if (names.empty()) {
    for (const auto& [name, schedule] : all) names.push_back(name);
  }
  for (const auto& n : names) {
    if (!all.contains(n)) throw std::invalid_argument("unknown scenario " + n);
  }
  const milliseconds per_scenario(1000L * o.duration_s / static_cast<long>(names.size()));

  std::cerr << "soak: starting the system\n";
  const auto began = Clock::now();
  const auto stamp = [&] {
    return "[" + std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - began).count() / 1000) +
           " s] ";
  };
  System system;
  std::cerr << stamp() << "soak: system up\n";
  Acknowledged acks;
  Traffic traffic(system, acks, o.seed, o.workers);
  std::mt19937 rng(o.seed);
  std::vector<ScenarioResult> results;
  bool notify_killed = false;
  bool passed = true;
  for (const auto& name : names) {
    std::cerr << "soak: " << name << " (" << per_scenario.count() / 1000.0 << " s)\n";
    FaultLog log;
    std::thread faults([&] {
      try {
        all[name](system, rng, per_scenario * 3 / 4, log);
      } catch (const std::exception& e) {
        log.notes.push_back(std::string("fault schedule error: ") + e.what());
        log.Add("SCHEDULE ERROR");
      }
    });
    ScenarioResult r;
    r.name = name;
    r.tally = traffic.Run(name, per_scenario);
    std::cerr << stamp() << "traffic done\n";
    faults.join();
    std::cerr << stamp() << "faults done\n";
    ClearFaults(system);
    notify_killed = notify_killed || log.notify_killed;
    r.faults = log.Describe();
    r.settle_s = WaitUntilSettled(system, std::chrono::seconds(90));
    std::cerr << stamp() << "settled\n";
    r.invariants = CheckInvariants(system, acks, notify_killed);
    std::cerr << stamp() << "checked\n";
    for (const auto& [op, codes] : r.tally) {
      for (const auto& [code, n] : codes) {
        if (Unexpected(code)) {
          r.unexpected += n;
          std::cerr << "soak: UNEXPECTED " << op << " " << code << " x" << n << "\n";
        }
      }
    }
    for (const auto& i : r.invariants) {
      std::cerr << "  " << (i.held ? "held  " : "BROKEN") << " " << i.name << ": " << i.detail << "\n";
      passed = passed && i.held;
    }
    passed = passed && r.unexpected == 0 && r.faults.find("FAILED") == std::string::npos &&
             r.faults.find("ERROR") == std::string::npos;
    std::cerr << "  faults: " << r.faults << "\n  requests: " << RequestsCell(r.tally) << "\n";
    results.push_back(std::move(r));
  }
  const std::string md = Markdown(o, results, passed);
  std::cout << md;
  if (!o.report.empty()) std::ofstream(o.report) << md;
  if (!passed) {
    const std::string logs_file = MakeTempDir("billing-soak") + "/logs.txt";
    std::ofstream(logs_file) << system.Logs();
    std::cerr << "soak: FAILED; every process's log is in " << logs_file << "\n";
  }
  return passed ? 0 : 1;
}

}  // namespace
}  // namespace billing::testing::soak

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    return billing::testing::soak::Run(billing::testing::soak::Parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "billing-soak: " << e.what() << "\n";
    return 2;
  }
}
