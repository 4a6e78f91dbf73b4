// billing-bench: the load generator behind bench/run.sh.
//
//   billing-bench load --scenario NAME --target HOST:PORT [options]
//     Seeds what the scenario needs through the public API (untimed), then
//     runs a closed loop and prints one JSON object: QPS, latency
//     percentiles, outcomes by gRPC code, and, when given --pids and
//     --pg-url, each service's CPU seconds per 1,000 calls, its RSS, and
//     the write transactions per call across the cluster.
//   billing-bench serving-time --target HOST:PORT --since-ns NS
//     Polls grpc.health.v1.Health/Check until SERVING and prints the
//     milliseconds since NS (CLOCK_REALTIME, e.g. `date +%s%N` taken just
//     before the exec).
//
// Scenarios: health (an empty unary call: the ceiling), get-invoice (by
// token), create-invoice, pay-invoice (a card that succeeds, through invoice
// -> payments -> the Stripe emulator and back), send-invoice-link (notify,
// waiting for every message to be delivered by the file transport).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "load/driver.h"
#include "load/probes.h"

namespace billing::bench {
namespace {

namespace inv = billing::invoice::v1;
namespace ntf = billing::notify::v1;
namespace common = billing::common::v1;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using Clock = std::chrono::steady_clock;

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + a);
      a = a.substr(2);
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        values_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        throw std::invalid_argument("--" + a + " needs a value");
      }
    }
  }
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    const auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  std::string Require(const std::string& key) const {
    const auto v = Get(key);
    if (v.empty()) throw std::invalid_argument("--" + key + " is required");
    return v;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    const auto v = Get(key);
    return v.empty() ? fallback : std::stoll(v);
  }

 private:
  std::map<std::string, std::string> values_;
};

// Several channels, each its own HTTP/2 connection, as a fleet of callers
// would open (one connection serializes on one server thread's reads).
std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("billing.bench.channel", i);
    out.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

template <class Service>
std::vector<std::unique_ptr<typename Service::Stub>> Stubs(const std::vector<std::shared_ptr<grpc::Channel>>& chans) {
  std::vector<std::unique_ptr<typename Service::Stub>> out;
  for (const auto& c : chans) out.push_back(Service::NewStub(c));
  return out;
}

common::Money Usd(int64_t minor) {
  common::Money m;
  m.set_amount_minor(minor);
  m.set_currency_code("USD");
  return m;
}

// Ids unique to this process, so a run can repeat against the same databases.
std::string RunId() {
  return std::to_string(std::chrono::system_clock::now().time_since_epoch().count() / 1000 % 100000000000);
}

// Seeding runs through the same closed loop, unmeasured in spirit: any
// failure is fatal, since the scenario would measure the wrong thing.
void Seed(const char* what, int64_t n, const CallFactory& factory) {
  const auto t0 = Clock::now();
  LoadOptions o;
  o.concurrency = 16;
  o.requests = n;
  o.warmup = std::chrono::milliseconds(0);
  const auto r = RunClosedLoop(o, factory);
  if (r.ok != n) {
    std::string detail;
    for (const auto& [label, count] : r.outcomes) detail += " " + label + "=" + std::to_string(count);
    throw std::runtime_error(std::string("seeding ") + what + " failed:" + detail);
  }
  std::fprintf(stderr, "  seeded %lld %s in %.1f s\n", static_cast<long long>(n), what,
               std::chrono::duration<double>(Clock::now() - t0).count());
}

class InvoiceSeeder {
 public:
  InvoiceSeeder(const std::vector<std::shared_ptr<grpc::Channel>>& chans, std::string run)
      : stubs_(Stubs<inv::InvoiceService>(chans)), run_(std::move(run)) {}

  std::string BookingId(int64_t i) const { return "bench-" + run_ + "-" + std::to_string(i); }

  void Bookings(int64_t n, int64_t total_minor) {
    Seed("bookings", n, [&, total_minor](int slot, int64_t seq) -> std::unique_ptr<Call> {
      inv::UpsertBookingRequest req;
      req.set_request_id("bench-" + run_ + "-booking-" + std::to_string(seq));
      auto* b = req.mutable_booking();
      b->set_booking_id(BookingId(seq));
      b->set_status(inv::BOOKING_STATUS_PENDING);
      b->mutable_customer()->set_name("Guest " + std::to_string(seq));
      b->mutable_customer()->set_email("guest" + std::to_string(seq) + "@example.com");
      *b->mutable_total() = Usd(total_minor);
      b->set_activity_name("Sunset kayak tour");
      b->set_start_local("2026-12-01T17:00");
      b->set_end_local("2026-12-01T19:30");
      b->set_time_zone("America/Denver");
      return std::make_unique<UnaryCall<inv::InvoiceService::Stub, inv::UpsertBookingRequest, inv::UpsertBookingResponse>>(
          stubs_[slot % stubs_.size()].get(), &inv::InvoiceService::Stub::PrepareAsyncUpsertBooking, std::move(req));
    });
  }

  // One invoice per booking; returns their pay tokens, in booking order.
  std::vector<std::string> Invoices(int64_t n, int64_t amount_minor) {
    std::vector<std::string> tokens(n);
    std::mutex mu;
    Seed("invoices", n, [&](int slot, int64_t seq) -> std::unique_ptr<Call> {
      inv::CreateInvoiceRequest req;
      req.set_request_id("bench-" + run_ + "-seed-invoice-" + std::to_string(seq));
      req.set_booking_id(BookingId(seq));
      *req.mutable_amount() = Usd(amount_minor);
      req.set_send_type(common::CHANNEL_EMAIL);
      req.set_days_until_due(7);
      return std::make_unique<UnaryCall<inv::InvoiceService::Stub, inv::CreateInvoiceRequest, inv::CreateInvoiceResponse>>(
          stubs_[slot % stubs_.size()].get(), &inv::InvoiceService::Stub::PrepareAsyncCreateInvoice, std::move(req),
          [&tokens, &mu, seq](const inv::CreateInvoiceResponse& resp) -> std::string {
            const auto& url = resp.invoice().pay_url();
            std::lock_guard lock(mu);
            tokens[seq] = url.substr(url.rfind('/') + 1);
            return tokens[seq].empty() ? "no_pay_url" : "";
          });
    });
    return tokens;
  }

  const std::vector<std::unique_ptr<inv::InvoiceService::Stub>>& stubs() const { return stubs_; }

 private:
  std::vector<std::unique_ptr<inv::InvoiceService::Stub>> stubs_;
  std::string run_;
};

// Waits until the cluster stops writing (the asynchronous work the calls
// caused, outbox dispatch, webhooks, deliveries, has drained); returns the
// seconds it took. At most one write per 300 ms counts as quiet.
double WaitQuiet(const std::string& pg_url, std::chrono::seconds limit = std::chrono::seconds(180)) {
  if (pg_url.empty()) return 0;
  const auto t0 = Clock::now();
  int64_t last = NextTransactionId(pg_url);
  int calm = 0;
  while (calm < 3 && Clock::now() - t0 < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const int64_t now = NextTransactionId(pg_url);
    calm = now - last <= 1 ? calm + 1 : 0;
    last = now;
  }
  return std::chrono::duration<double>(Clock::now() - t0).count() - 0.9;
}

std::map<std::string, int> ParsePids(const std::string& spec) {
  std::map<std::string, int> out;
  std::size_t pos = 0;
  while (pos < spec.size()) {
    auto comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const auto item = spec.substr(pos, comma - pos);
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--pids wants name=pid,...");
    out[item.substr(0, eq)] = std::stoi(item.substr(eq + 1));
    pos = comma + 1;
  }
  return out;
}

int Load(const Args& args) {
  const std::string scenario = args.Require("scenario");
  const std::string target = args.Require("target");
  const std::string pg_url = args.Get("pg-url");
  const auto pids = ParsePids(args.Get("pids"));
  const auto chans = OpenChannels(target, static_cast<int>(args.Int("channels", 4)));
  const std::string run = RunId();

  LoadOptions options;
  options.concurrency = static_cast<int>(args.Int("concurrency", 16));
  options.threads = static_cast<int>(args.Int("threads", 2));
  options.duration = std::chrono::milliseconds(args.Int("duration-ms", 10000));
  options.warmup = std::chrono::milliseconds(args.Int("warmup-ms", 2000));
  options.requests = args.Int("requests", 0);
  options.warmup_requests = args.Int("warmup-requests", 0);

  CallFactory factory;
  std::function<void(nlohmann::json&)> finish;  // scenario-specific figures after the run
  InvoiceSeeder seeder(chans, run);
  std::vector<std::string> tokens;
  std::string phase = "measure";
  auto health = Stubs<Health>(chans);
  auto notify = Stubs<ntf::NotifyService>(chans);

  if (scenario == "health") {
    factory = [&](int slot, int64_t) -> std::unique_ptr<Call> {
      return std::make_unique<UnaryCall<Health::Stub, HealthCheckRequest, HealthCheckResponse>>(
          health[slot % health.size()].get(), &Health::Stub::PrepareAsyncCheck, HealthCheckRequest(),
          [](const HealthCheckResponse& r) { return r.status() == HealthCheckResponse::SERVING ? "" : "not_serving"; });
    };
  } else if (scenario == "get-invoice") {
    const int64_t n = args.Int("invoices", 256);
    seeder.Bookings(n, 100000);
    tokens = seeder.Invoices(n, 10000);
    factory = [&](int slot, int64_t seq) -> std::unique_ptr<Call> {
      inv::GetInvoiceRequest req;
      req.set_token(tokens[seq % tokens.size()]);
      return std::make_unique<UnaryCall<inv::InvoiceService::Stub, inv::GetInvoiceRequest, inv::GetInvoiceResponse>>(
          seeder.stubs()[slot % seeder.stubs().size()].get(), &inv::InvoiceService::Stub::PrepareAsyncGetInvoice,
          std::move(req),
          [](const inv::GetInvoiceResponse& r) { return r.invoice().invoice_id().empty() ? "no_invoice" : ""; });
    };
  } else if (scenario == "create-invoice") {
    const int64_t n = args.Int("bookings", 256);
    // Room for millions of 1.00 invoices per booking.
    seeder.Bookings(n, 100'000'000'000);
    factory = [&, n](int slot, int64_t seq) -> std::unique_ptr<Call> {
      inv::CreateInvoiceRequest req;
      req.set_request_id("bench-" + run + "-create-" + std::to_string(seq));
      req.set_booking_id(seeder.BookingId(seq % n));
      *req.mutable_amount() = Usd(100);
      req.set_send_type(common::CHANNEL_EMAIL);
      req.set_days_until_due(7);
      return std::make_unique<UnaryCall<inv::InvoiceService::Stub, inv::CreateInvoiceRequest, inv::CreateInvoiceResponse>>(
          seeder.stubs()[slot % seeder.stubs().size()].get(), &inv::InvoiceService::Stub::PrepareAsyncCreateInvoice,
          std::move(req));
    };
  } else if (scenario == "pay-invoice") {
    // Every call pays its own invoice, so nothing contends; count mode, as
    // each call uses up a seeded invoice.
    if (options.requests == 0) options.requests = 2000;
    if (options.warmup_requests == 0) options.warmup_requests = 100;
    const int64_t n = options.requests + options.warmup_requests;
    seeder.Bookings(n, 5000);
    tokens = seeder.Invoices(n, 5000);
    factory = [&](int slot, int64_t seq) -> std::unique_ptr<Call> {
      inv::PayInvoiceRequest req;
      req.set_request_id("bench-" + run + "-pay-" + std::to_string(seq));
      req.set_token(tokens[seq]);
      req.set_payment_method_id("pm_card_visa");
      return std::make_unique<UnaryCall<inv::InvoiceService::Stub, inv::PayInvoiceRequest, inv::PayInvoiceResponse>>(
          seeder.stubs()[slot % seeder.stubs().size()].get(), &inv::InvoiceService::Stub::PrepareAsyncPayInvoice,
          std::move(req), [](const inv::PayInvoiceResponse& r) -> std::string {
            return r.outcome() == inv::PAY_OUTCOME_SUCCEEDED ? "" : "outcome=" + inv::PayOutcome_Name(r.outcome());
          });
    };
  } else if (scenario == "send-invoice-link") {
    factory = [&](int slot, int64_t seq) -> std::unique_ptr<Call> {
      ntf::SendInvoiceLinkRequest req;
      // The warm-up is a run of its own, numbered from 0 too.
      req.set_request_id("bench-" + run + "-" + phase + "-link-" + std::to_string(seq));
      auto* to = req.mutable_recipient();
      to->set_channel(common::CHANNEL_EMAIL);
      to->set_email("guest" + std::to_string(seq % 1000) + "@example.com");
      to->set_name("Ann Lee");
      req.set_invoice_id("inv_bench_" + run + "_" + std::to_string(seq));
      req.set_pay_url("https://pay.example.com/i/tok" + std::to_string(seq));
      *req.mutable_amount_due() = Usd(12500);
      req.set_business_name("Sunset Kayaks");
      auto* b = req.mutable_booking();
      b->set_booking_id("bench-" + run + "-" + std::to_string(seq));
      b->set_activity_name("Sunset kayak tour");
      b->set_date("2026-12-01");
      b->set_start("17:00");
      b->set_end("19:30");
      return std::make_unique<UnaryCall<ntf::NotifyService::Stub, ntf::SendInvoiceLinkRequest,
                                        ntf::SendInvoiceLinkResponse>>(
          notify[slot % notify.size()].get(), &ntf::NotifyService::Stub::PrepareAsyncSendInvoiceLink, std::move(req));
    };
  } else {
    throw std::invalid_argument("unknown --scenario " + scenario);
  }

  // Deliveries are counted as files in the outbox: a separate warm-up (and
  // its deliveries) first, so that the measured run's files are its own.
  const std::string outbox = args.Get("outbox-dir");
  if (scenario == "send-invoice-link") {
    if (outbox.empty()) throw std::invalid_argument("send-invoice-link needs --outbox-dir");
    LoadOptions warm = options;
    warm.duration = options.warmup;
    warm.warmup = std::chrono::milliseconds(0);
    phase = "warmup";
    RunClosedLoop(warm, factory);
    phase = "measure";
    options.warmup = std::chrono::milliseconds(0);
  }
  const double settle = WaitQuiet(pg_url);
  std::fprintf(stderr, "  settled in %.1f s; running %s\n", settle, scenario.c_str());

  const int64_t files_before = outbox.empty() ? 0 : CountFiles(outbox, ".eml");
  const int64_t xid_before = pg_url.empty() ? 0 : NextTransactionId(pg_url);
  std::map<std::string, ProcessSample> cpu_before;
  const int pg_pid = static_cast<int>(args.Int("pg-pid", 0));
  double pg_cpu_before = 0;
  Clock::time_point measured_from;
  options.at_measure_start = [&] {
    measured_from = Clock::now();
    if (pg_pid > 0) pg_cpu_before = TreeCpuSeconds(pg_pid);
    for (const auto& [name, pid] : pids) {
      if (auto s = SampleProcess(pid)) cpu_before[name] = *s;
    }
  };
  const LoadResult r = RunClosedLoop(options, factory);

  nlohmann::json out;
  out["scenario"] = scenario;
  out["concurrency"] = options.concurrency;
  out["seconds"] = r.seconds;
  out["calls"] = r.calls;
  out["ok"] = r.ok;
  out["qps"] = r.Qps();
  out["p50_ms"] = r.latency.p50_ms;
  out["p90_ms"] = r.latency.p90_ms;
  out["p99_ms"] = r.latency.p99_ms;
  out["max_ms"] = r.latency.max_ms;
  out["outcomes"] = r.outcomes;

  // Asynchronous work the calls caused is part of their cost: wait for it
  // (and, for notify, for every message to be delivered) before sampling.
  if (!outbox.empty()) {
    const int64_t want = files_before + r.ok;
    const auto limit = Clock::now() + std::chrono::seconds(180);
    while (CountFiles(outbox, ".eml") < want && Clock::now() < limit) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const double all_delivered = std::chrono::duration<double>(Clock::now() - measured_from).count();
    const int64_t delivered = CountFiles(outbox, ".eml") - files_before;
    out["delivered"] = delivered;
    out["delivered_per_s"] = all_delivered > 0 ? static_cast<double>(delivered) / all_delivered : 0;
  }
  out["drain_seconds"] = WaitQuiet(pg_url);
  nlohmann::json cpu = nlohmann::json::object(), rss = nlohmann::json::object(), peak = nlohmann::json::object();
  const int64_t calls_all = r.calls + options.warmup_requests;
  for (const auto& [name, pid] : pids) {
    const auto s = SampleProcess(pid);
    if (!s || !cpu_before.count(name)) continue;
    cpu[name] = r.calls > 0 ? (s->cpu_seconds - cpu_before[name].cpu_seconds) * 1000.0 / static_cast<double>(r.calls) : 0;
    rss[name] = s->rss_kb;
    peak[name] = s->peak_rss_kb;
  }
  if (pg_pid > 0 && r.calls > 0) {
    cpu["postgres"] = (TreeCpuSeconds(pg_pid) - pg_cpu_before) * 1000.0 / static_cast<double>(r.calls);
  }
  out["cpu_s_per_1000"] = cpu;
  out["rss_kb"] = rss;
  out["peak_rss_kb"] = peak;
  if (!pg_url.empty() && calls_all > 0) {
    // Over the whole run, warm-up included (count mode), and its drained tail.
    out["write_xacts_per_call"] =
        static_cast<double>(NextTransactionId(pg_url) - xid_before) / static_cast<double>(calls_all);
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

int ServingTime(const Args& args) {
  const std::string target = args.Require("target");
  const int64_t since_ns = args.Int("since-ns", 0);
  const auto limit = Clock::now() + std::chrono::milliseconds(args.Int("timeout-ms", 20000));
  while (Clock::now() < limit) {
    // A fresh channel per attempt: no reconnect backoff between attempts.
    grpc::ChannelArguments ca;
    ca.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = Health::NewStub(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), ca));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    HealthCheckResponse resp;
    const auto status = stub->Check(&ctx, HealthCheckRequest(), &resp);
    if (status.ok() && resp.status() == HealthCheckResponse::SERVING) {
      const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      std::printf("%.1f\n", static_cast<double>(now_ns - since_ns) / 1e6);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::fprintf(stderr, "%s did not become SERVING\n", target.c_str());
  return 1;
}

}  // namespace
}  // namespace billing::bench

int main(int argc, char** argv) {
  const std::string usage =
      "usage: billing-bench load --scenario health|get-invoice|create-invoice|pay-invoice|send-invoice-link\n"
      "                          --target HOST:PORT [--concurrency 16] [--duration-ms 10000] [--warmup-ms 2000]\n"
      "                          [--requests N --warmup-requests N] [--channels 4] [--threads 2]\n"
      "                          [--pids name=pid,...] [--pg-url URL] [--pg-pid POSTMASTER_PID] [--outbox-dir DIR]\n"
      "       billing-bench serving-time --target HOST:PORT --since-ns NS [--timeout-ms 20000]\n";
  if (argc < 2) {
    std::fputs(usage.c_str(), stderr);
    return 2;
  }
  try {
    const billing::bench::Args args(argc, argv);
    const std::string cmd = argv[1];
    if (cmd == "load") return billing::bench::Load(args);
    if (cmd == "serving-time") return billing::bench::ServingTime(args);
    std::fputs(usage.c_str(), stderr);
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "billing-bench: %s\n%s", e.what(), usage.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "billing-bench: %s\n", e.what());
    return 1;
  }
}
