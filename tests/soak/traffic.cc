#include "soak/traffic.h"

#include <future>
#include <set>
#include <random>
#include <thread>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"

namespace billing::testing::soak {
namespace {

namespace v1 = billing::invoice::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kCodeNames[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};

struct OpenInvoice {
  std::string invoice_id;
  std::string booking_id;
  std::string token;
  int64_t total = 0;
  billing::common::v1::Channel channel = billing::common::v1::CHANNEL_EMAIL;
};

// One worker: its own connection (a local subchannel pool, so workers spread
// over the replicas as separate clients would), its own bookings.
class Worker {
 public:
  Worker(System& system, Acknowledged& acks, std::string prefix, unsigned seed)
      : acks_(acks), prefix_(std::move(prefix)), rng_(seed) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub_ = v1::InvoiceService::NewStub(
        grpc::CreateCustomChannel(system.invoice_address(), grpc::InsecureChannelCredentials(), args));
  }

  void Loop(Clock::time_point until, CodeTally& tally) {
    tally_ = &tally;
    while (Clock::now() < until) {
      const int roll = Pick(100);
      if (mine_.empty() || roll < 22) {
        CreateOne();
      } else if (roll < 42) {
        GetOne();
      } else if (roll < 72) {
        PayOne();
      } else if (roll < 80) {
        PayContended();
      } else if (roll < 90) {
        ResendOne();
      } else {
        ChangeBooking();
      }
    }
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string NextId(const std::string& kind) { return prefix_ + "-" + kind + std::to_string(++n_); }
  void Tally(const std::string& op, const grpc::Status& s) { ++(*tally_)[op][CodeName(s.error_code())]; }

  // A client's retry: the same request (and request id) again after a
  // transient failure, with a short backoff.
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, std::chrono::seconds deadline = std::chrono::seconds(5)) {
    grpc::Status status;
    for (int attempt = 0; attempt < 6; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + deadline);
      status = ((*stub_).*method)(&ctx, req, resp);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
          status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
    }
    return status;
  }

  grpc::Status Upsert(const OpenInvoice& b, v1::BookingStatus booking_status, const std::string& op) {
    v1::UpsertBookingRequest req;
    req.set_request_id(NextId("u"));
    auto* booking = req.mutable_booking();
    booking->set_booking_id(b.booking_id);
    booking->set_status(booking_status);
    booking->mutable_customer()->set_name("Ann Lee");
    booking->mutable_customer()->set_email(b.booking_id + "@example.com");
    booking->mutable_customer()->set_phone("+14155550123");
    booking->mutable_total()->set_amount_minor(b.total);
    booking->mutable_total()->set_currency_code("USD");
    booking->set_activity_name("Sunset kayak tour");
    booking->set_start_local("2026-12-01T17:00");
    booking->set_end_local("2026-12-01T19:30");
    booking->set_confirmation_code("CONF-" + b.booking_id);
    v1::UpsertBookingResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::UpsertBooking, req, &resp);
    Tally(op, status);
    return status;
  }

  void CreateOne() {
    OpenInvoice inv;
    inv.booking_id = NextId("b");
    inv.total = 1000 * (5 + Pick(45));
    inv.channel = Pick(3) == 0 ? billing::common::v1::CHANNEL_SMS : billing::common::v1::CHANNEL_EMAIL;
    if (!Upsert(inv, v1::BOOKING_STATUS_PENDING, "UpsertBooking").ok()) return;
    v1::CreateInvoiceRequest req;
    req.set_request_id(NextId("c"));
    req.set_booking_id(inv.booking_id);
    req.mutable_amount()->set_amount_minor(inv.total);
    req.mutable_amount()->set_currency_code("USD");
    req.set_send_type(inv.channel);
    req.set_confirm_on_pay(true);
    v1::CreateInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::CreateInvoice, req, &resp);
    Tally("CreateInvoice", status);
    if (!status.ok()) return;
    inv.invoice_id = resp.invoice().invoice_id();
    inv.token = resp.invoice().token();
    {
      std::lock_guard lock(acks_.mu);
      acks_.invoices.push_back(inv.invoice_id);
    }
    mine_.push_back(inv);
    if (mine_.size() > 12) mine_.erase(mine_.begin());
  }

  OpenInvoice& Any() { return mine_[static_cast<std::size_t>(Pick(static_cast<int>(mine_.size())))]; }
  void Forget(const std::string& invoice_id) {
    std::erase_if(mine_, [&](const OpenInvoice& i) { return i.invoice_id == invoice_id; });
  }

  void GetOne() {
    v1::GetInvoiceRequest req;
    req.set_token(Any().token);
    v1::GetInvoiceResponse resp;
    Tally("GetInvoice", Call(&v1::InvoiceService::Stub::GetInvoice, req, &resp));
  }

  std::string Card() {
    const int roll = Pick(100);
    if (roll < 70) return "pm_card_visa";
    if (roll < 85) return "pm_card_visa_chargeDeclined";
    return "pm_card_visa_chargeDeclinedInsufficientFunds";
  }

  // One PayInvoice call, retried as a client would; returns its outcome.
  grpc::Status Pay(const OpenInvoice& inv, const std::string& card, v1::PayInvoiceResponse* resp) {
    v1::PayInvoiceRequest req;
    req.set_request_id(NextId("p"));
    req.set_token(inv.token);
    req.set_payment_method_id(card);
    return Call(&v1::InvoiceService::Stub::PayInvoice, req, resp, std::chrono::seconds(20));
  }

  void Settle(const OpenInvoice& inv, const grpc::Status& status, const v1::PayInvoiceResponse& resp) {
    if (status.ok() && resp.outcome() == v1::PAY_OUTCOME_SUCCEEDED) {
      std::lock_guard lock(acks_.mu);
      acks_.paid.emplace_back(inv.invoice_id, resp.payment_intent_id());
    }
    // Paid, or no longer payable, or its outcome is for the sweepers now.
    if ((status.ok() && resp.outcome() != v1::PAY_OUTCOME_FAILED) ||
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      Forget(inv.invoice_id);
    }
  }

  void PayOne() {
    const OpenInvoice inv = Any();
    v1::PayInvoiceResponse resp;
    const auto status = Pay(inv, Card(), &resp);
    Tally("PayInvoice", status);
    Settle(inv, status, resp);
  }

  // Two payers on one invoice at once (a double click, two tabs): at most
  // one charge; the other is refused (ABORTED while the first runs,
  // FAILED_PRECONDITION once it is paid).
  void PayContended() {
    const OpenInvoice inv = Any();
    v1::PayInvoiceResponse first_resp;
    v1::PayInvoiceResponse second_resp;
    auto second = std::async(std::launch::async, [&] { return Pay(inv, "pm_card_visa", &second_resp); });
    const auto first = Pay(inv, "pm_card_visa", &first_resp);
    const auto other = second.get();
    Tally("PayInvoice (two at once)", first);
    Tally("PayInvoice (two at once)", other);
    Settle(inv, first, first_resp);
    Settle(inv, other, second_resp);
  }

  void ResendOne() {
    const OpenInvoice& inv = Any();
    v1::ResendInvoiceRequest req;
    req.set_request_id(NextId("r"));
    req.set_invoice_id(inv.invoice_id);
    req.set_send_type(inv.channel);
    v1::ResendInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::ResendInvoice, req, &resp);
    Tally("ResendInvoice", status);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) Forget(inv.invoice_id);
  }

  // The booking system's changes: a dearer booking (an added guest), now
  // and then a cancellation (whose payment in flight must be refunded).
  void ChangeBooking() {
    OpenInvoice& inv = Any();
    if (Pick(5) == 0) {
      const OpenInvoice copy = inv;
      Upsert(copy, v1::BOOKING_STATUS_CANCELED, "UpsertBooking (cancel)");
      Forget(copy.invoice_id);
      return;
    }
    inv.total += 1000;
    Upsert(inv, v1::BOOKING_STATUS_PENDING, "UpsertBooking (change)");
  }

  Acknowledged& acks_;
  std::string prefix_;
  std::mt19937 rng_;
  std::unique_ptr<v1::InvoiceService::Stub> stub_;
  std::vector<OpenInvoice> mine_;
  CodeTally* tally_ = nullptr;
  int n_ = 0;
};

}  // namespace

std::string CodeName(int code) {
  return code >= 0 && code < static_cast<int>(std::size(kCodeNames)) ? kCodeNames[code] : std::to_string(code);
}

bool Unexpected(const std::string& code_name) {
  // UNAVAILABLE and DEADLINE_EXCEEDED are what faults look like after the
  // client's retries; ABORTED and FAILED_PRECONDITION are contended or
  // no-longer-payable invoices. Anything else means a bug: our requests are
  // valid, every invoice they name was acknowledged, and no failure may
  // surface as INTERNAL.
  static const std::set<std::string> kExpected = {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED",
                                                  "FAILED_PRECONDITION"};
  return !kExpected.contains(code_name);
}

Traffic::Traffic(System& system, Acknowledged& acks, unsigned seed, int workers)
    : system_(system), acks_(acks), seed_(seed), workers_(workers) {}

CodeTally Traffic::Run(const std::string& scenario, std::chrono::milliseconds duration) {
  ++runs_;
  const auto until = Clock::now() + duration;
  std::vector<CodeTally> tallies(static_cast<std::size_t>(workers_));
  std::vector<std::thread> threads;
  for (int w = 0; w < workers_; ++w) {
    threads.emplace_back([&, w] {
      Worker worker(system_, acks_, scenario + "-" + std::to_string(runs_) + "-w" + std::to_string(w),
                    seed_ * 7919u + static_cast<unsigned>(runs_ * 131 + w));
      worker.Loop(until, tallies[static_cast<std::size_t>(w)]);
    });
  }
  for (auto& t : threads) t.join();
  CodeTally total;
  for (const auto& t : tallies) {
    for (const auto& [op, codes] : t) {
      for (const auto& [code, n] : codes) total[op][code] += n;
    }
  }
  return total;
}

}  // namespace billing::testing::soak
