// One hostile-input corpus for every RPC of the three services (issue 10).
//
// Each service's *_bad_input_test pins the exact code and field for cases
// chosen by hand. This test instead walks every field of every request type
// from the descriptors, so an RPC or a field added later is covered without
// anyone writing a case (a new RPC without a valid request below fails it).
// The whole system runs (PaySystem). Every RPC starts from a valid request;
// each variant changes one field, at any depth, to a hostile value: empty,
// 1 MB, invalid UTF-8, SQL, template and path-traversal text, NUL, CR LF,
// bidi controls, numeric extremes, unknown enum values, cleared messages,
// 20,000-element lists. On top of that come unknown fields, bytes that are
// no protobuf, a truncated message, and messages at, just over, and far
// over (16 MB) GRPC_MAX_RECV_MESSAGE_BYTES.
//
// Every answer must carry a code the API documents (never INTERNAL,
// UNKNOWN, UNAVAILABLE or a deadline), with a short message that neither
// echoes the input nor leaks internals, and each service must still be
// serving after every RPC's corpus. At the end: no request refused as
// invalid left its request_id in any database while every accepted write
// did; no megabyte string reached a database or a log; notify's file outbox
// holds only its own files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "billing/payments/v1/payments_service.grpc.pb.h"
#include "e2e/pay_system.h"
#include "support/grpc_helpers.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace pb = google::protobuf;
namespace iv1 = billing::invoice::v1;
namespace nv1 = billing::notify::v1;
using Code = grpc::StatusCode;

constexpr std::size_t kMaxMessage = 4 * 1024 * 1024;  // GRPC_MAX_RECV_MESSAGE_BYTES' default
const std::string kMegabyte(1 << 20, 'x');
// protobuf's runtime complains when it serializes a string field that is
// not UTF-8, so the variant sets this marker and the serialized bytes get
// the invalid sequence (the same length) in its place: what a client of
// another language could send.
constexpr char kBadUtf8Marker[] = "@@BAD-UTF8@@";
constexpr char kBadUtf8[] = "Zo\xC3\x28\xFF\xFE\xC0\xAF\xED\xA0\x80!";
static_assert(sizeof(kBadUtf8Marker) == sizeof(kBadUtf8));

std::string Repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * n);
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const std::vector<std::pair<std::string, std::string>>& HostileStrings() {
  static const std::vector<std::pair<std::string, std::string>> kStrings = {
      {"empty", ""},
      {"1 MB", kMegabyte},
      {"invalid UTF-8", kBadUtf8Marker},
      {"SQL", "x'); DROP TABLE invoices; --"},
      {"template", "{{pay_url}}{% if 1 %}${7*7}<script>alert(1)</script>"},
      {"path traversal", "../../../../etc/passwd"},
      {"NUL", std::string("a\0b", 3)},
      {"CR LF", "x\r\nBcc: evil@example.com\r\n\r\nbody"},
      {"bidi", "\u202Etxt.exe \U0001F389"},
      {"200k multibyte", Repeat("\u00e9", 100000)},
  };
  return kStrings;
}

// Sets (or, for a repeated field, appends) one hostile value.
using Setter = std::function<void(pb::Message&, const pb::FieldDescriptor*)>;

std::vector<std::pair<std::string, Setter>> HostileValues(const pb::FieldDescriptor* f) {
  std::vector<std::pair<std::string, Setter>> out;
  const bool rep = f->is_repeated();
  const auto add = [&](std::string label, auto set_one, auto add_one) {
    out.emplace_back(std::move(label), [=](pb::Message& m, const pb::FieldDescriptor* fd) {
      if (rep) {
        add_one(m.GetReflection(), &m, fd);
      } else {
        set_one(m.GetReflection(), &m, fd);
      }
    });
  };
  using R = const pb::Reflection*;
  using M = pb::Message*;
  using F = const pb::FieldDescriptor*;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      for (const auto& [label, value] : HostileStrings()) {
        add(label, [v = value](R r, M m, F fd) { r->SetString(m, fd, v); },
            [v = value](R r, M m, F fd) { r->AddString(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max()}) {
        add(std::to_string(v), [v](R r, M m, F fd) { r->SetInt64(m, fd, v); },
            [v](R r, M m, F fd) { r->AddInt64(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      for (int32_t v : {int32_t{0}, int32_t{-1}, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max()}) {
        add(std::to_string(v), [v](R r, M m, F fd) { r->SetInt32(m, fd, v); },
            [v](R r, M m, F fd) { r->AddInt32(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      for (uint64_t v : {uint64_t{0}, std::numeric_limits<uint64_t>::max()}) {
        add(std::to_string(v), [v](R r, M m, F fd) { r->SetUInt64(m, fd, v); },
            [v](R r, M m, F fd) { r->AddUInt64(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      for (uint32_t v : {uint32_t{0}, std::numeric_limits<uint32_t>::max()}) {
        add(std::to_string(v), [v](R r, M m, F fd) { r->SetUInt32(m, fd, v); },
            [v](R r, M m, F fd) { r->AddUInt32(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      for (double v : {std::nan(""), std::numeric_limits<double>::infinity(), -1e308}) {
        add(std::to_string(v),
            [v](R r, M m, F fd) {
              fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE ? r->SetDouble(m, fd, v)
                                                                     : r->SetFloat(m, fd, static_cast<float>(v));
            },
            [v](R r, M m, F fd) {
              fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE ? r->AddDouble(m, fd, v)
                                                                     : r->AddFloat(m, fd, static_cast<float>(v));
            });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      for (bool v : {true, false}) {
        add(v ? "true" : "false", [v](R r, M m, F fd) { r->SetBool(m, fd, v); },
            [v](R r, M m, F fd) { r->AddBool(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      // proto3 enums are open: a newer client's value arrives as a number.
      for (int v : {42, -7}) {
        add("enum " + std::to_string(v), [v](R r, M m, F fd) { r->SetEnumValue(m, fd, v); },
            [v](R r, M m, F fd) { r->AddEnumValue(m, fd, v); });
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return out;
}

// A field reached through singular messages and the first element of
// repeated ones (created when the valid request has none).
using Path = std::vector<const pb::FieldDescriptor*>;

pb::Message& ParentOf(pb::Message& root, const Path& path) {
  pb::Message* m = &root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const auto* f = path[i];
    const auto* r = m->GetReflection();
    if (f->is_repeated()) {
      m = r->FieldSize(*m, f) == 0 ? r->AddMessage(m, f) : r->MutableRepeatedMessage(m, f, 0);
    } else {
      m = r->MutableMessage(m, f);
    }
  }
  return *m;
}

std::string Dotted(const Path& path) {
  std::string out;
  for (const auto* f : path) out += (out.empty() ? "" : ".") + f->name() + (f->is_repeated() ? "[0]" : "");
  return out;
}

struct Variant {
  std::string label;
  std::function<void(pb::Message&)> mutate;  // on a copy of the valid request
  bool touches_request_id = false;
};

void AddFieldVariants(const pb::Descriptor* d, const Path& prefix, int depth, std::vector<Variant>& out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    Path path = prefix;
    path.push_back(f);
    const bool request_id = prefix.empty() && f->name() == "request_id";
    if (f->is_repeated()) {
      // A list far longer than any booking has: refused or handled, never a
      // crash or a stall.
      out.push_back({Dotted(path) + " x20000",
                     [path](pb::Message& root) {
                       auto& m = ParentOf(root, path);
                       const auto* r = m.GetReflection();
                       const auto* fd = path.back();
                       for (int k = 0; k < 20000; ++k) {
                         if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
                           r->AddMessage(&m, fd);
                         } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
                           r->AddString(&m, fd, "x" + std::to_string(k));
                         } else {
                           HostileValues(fd).front().second(m, fd);
                         }
                       }
                     }});
    }
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!f->is_repeated()) {
        out.push_back({Dotted(path) + " cleared", [path](pb::Message& root) {
                         auto& m = ParentOf(root, path);
                         m.GetReflection()->ClearField(&m, path.back());
                       }});
      }
      if (depth < 3) AddFieldVariants(f->message_type(), path, depth + 1, out);
      continue;
    }
    for (auto& [label, set] : HostileValues(f)) {
      out.push_back({Dotted(path) + " = " + label,
                     [path, set = set](pb::Message& root) {
                       auto& m = ParentOf(root, path);
                       if (path.back()->is_repeated()) m.GetReflection()->ClearField(&m, path.back());
                       set(m, path.back());
                     },
                     request_id});
    }
  }
}

// Wire-format pieces for the variants that no generated class can express.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string LengthDelimited(int field, const std::string& bytes) {
  return Varint((static_cast<uint64_t>(field) << 3) | 2) + Varint(bytes.size()) + bytes;
}
// `payload` padded with an unknown field to exactly `size` bytes.
std::string PaddedTo(const std::string& payload, std::size_t size) {
  std::size_t filler = size - payload.size();
  for (;;) {
    const std::string candidate = payload + LengthDelimited(19999, std::string(filler, 'f'));
    if (candidate.size() == size) return candidate;
    filler -= candidate.size() - size;
  }
}

// A unary call with raw bytes as the request: what any client, of any
// language or version, can put on the wire.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& payload) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string CodeName(Code code) {
  static const std::map<Code, std::string> kNames = {
      {Code::OK, "OK"},
      {Code::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {Code::NOT_FOUND, "NOT_FOUND"},
      {Code::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {Code::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {Code::ABORTED, "ABORTED"},
      {Code::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {Code::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {Code::INTERNAL, "INTERNAL"},
      {Code::UNAVAILABLE, "UNAVAILABLE"},
      {Code::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
  };
  const auto it = kNames.find(code);
  return it == kNames.end() ? "code " + std::to_string(static_cast<int>(code)) : it->second;
}

// The codes a hostile request may get: refusals the API documents, or
// success when the value is odd but acceptable (SQL text is just a name).
bool Documented(Code code) {
  static const std::set<Code> kCodes = {Code::OK,        Code::INVALID_ARGUMENT,    Code::NOT_FOUND,
                                        Code::ALREADY_EXISTS, Code::FAILED_PRECONDITION, Code::ABORTED,
                                        Code::OUT_OF_RANGE,   Code::RESOURCE_EXHAUSTED};
  return kCodes.count(code) > 0;
}

void ExpectHandled(const grpc::Status& s, const std::string& what) {
  EXPECT_TRUE(Documented(s.error_code())) << what << ": " << CodeName(s.error_code()) << " " << s.error_message();
  if (s.ok()) return;
  EXPECT_FALSE(s.error_message().empty()) << what;
  EXPECT_LT(s.error_message().size(), 400u) << what << ": the message echoes the input";
  const std::string message = Lower(s.error_message());
  for (const char* leak : {"std::", "what()", "exception", "sqlstate", "error:  ", "syntax error", "duplicate key",
                           "violates", "libpq", "soci", "pqxx", "terminate"}) {
    EXPECT_EQ(message.find(leak), std::string::npos) << what << ": internals in " << s.error_message();
  }
}

// One RPC of ours: where it is served and a valid request for it.
struct Target {
  std::string service;  // "invoice", "payments", "notify"
  std::string request;  // text format; {A}, {TOKEN}, ... are filled in from the setup
  bool writes;          // takes a request_id that makes each call new
};

class HostileInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sys_ = new PaySystem();
    values_ = new std::map<std::string, std::string>();
    Seed();
  }
  static void TearDownTestSuite() {
    delete sys_;
    delete values_;
  }

  // A booking, two invoices (one to pay, one to close), two payments (one
  // succeeded, one waiting for 3-D Secure) and a notification: the ids the
  // valid requests refer to.
  static void Seed() {
    auto& inv = sys_->invoice();
    // hb-1 holds the invoices; external payments go to hb-2 (they would pay
    // hb-1's invoices off), and UpsertBooking's corpus rewrites hb-3.
    for (const std::string booking : {"hb-1", "hb-2", "hb-3"}) {
      grpc::ClientContext ctx;
      iv1::UpsertBookingRequest req;
      ASSERT_TRUE(pb::TextFormat::ParseFromString(
          R"(booking { status: BOOKING_STATUS_PENDING
             customer { name: "Ann Lee" email: "ann@example.com" phone: "+14155550123" }
             total { amount_minor: 900000 currency_code: "USD" } activity_name: "Sunset kayak tour" })",
          &req));
      req.set_request_id("seed-booking-" + booking);
      req.mutable_booking()->set_booking_id(booking);
      iv1::UpsertBookingResponse resp;
      const auto s = inv.UpsertBooking(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    for (const std::string name : {"A", "B"}) {
      grpc::ClientContext ctx;
      iv1::CreateInvoiceRequest req;
      req.set_request_id("seed-invoice-" + name);
      req.set_booking_id("hb-1");
      req.mutable_amount()->set_amount_minor(1000);
      req.mutable_amount()->set_currency_code("USD");
      req.set_send_type(billing::common::v1::CHANNEL_EMAIL);
      iv1::CreateInvoiceResponse resp;
      const auto s = inv.CreateInvoice(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      (*values_)[name] = resp.invoice().invoice_id();
      (*values_)["TOKEN_" + name] = resp.invoice().token();
    }
    auto payments = pv1::PaymentService::NewStub(sys_->payments_process().Channel());
    for (const auto& [name, card] : {std::pair<std::string, std::string>{"P1", "pm_card_visa"},
                                     {"P2", "pm_card_threeDSecure2Required"}}) {
      grpc::ClientContext ctx;
      pv1::CreatePaymentRequest req;
      req.set_request_id("seed-payment-" + name);
      req.set_invoice_id("inv_hostile_seed");
      req.mutable_amount()->set_amount_minor(5000);
      req.mutable_amount()->set_currency_code("USD");
      req.set_payment_method_id(card);
      pv1::CreatePaymentResponse resp;
      const auto s = payments->CreatePayment(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      (*values_)[name] = resp.payment().payment_id();
      (*values_)["PI_" + name] = resp.payment().payment_intent_id();
    }
    auto notify = nv1::NotifyService::NewStub(sys_->notify_process().Channel());
    {
      grpc::ClientContext ctx;
      nv1::SendInvoiceLinkRequest req;
      ASSERT_TRUE(pb::TextFormat::ParseFromString(Fill(std::string(R"(request_id: "seed-link" )") + kLink), &req));
      nv1::SendInvoiceLinkResponse resp;
      const auto s = notify->SendInvoiceLink(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      (*values_)["N"] = resp.notification().notification_id();
    }
  }

  static std::string Fill(std::string text) {
    for (const auto& [name, value] : *values_) {
      const std::string key = "{" + name + "}";
      for (std::size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
    }
    return text;
  }

  static std::shared_ptr<grpc::Channel> ChannelOf(const std::string& service) {
    if (service == "invoice") return sys_->invoice_process().Channel();
    if (service == "payments") return sys_->payments_process().Channel();
    return sys_->notify_process().Channel();
  }
  static ServiceProcess& ProcessOf(const std::string& service) {
    if (service == "invoice") return sys_->invoice_process();
    if (service == "payments") return sys_->payments_process();
    return sys_->notify_process();
  }
  static std::string DumpOf(const TestDatabase& db) {
    const auto r = RunCommand({"pg_dump", "--data-only", "--no-owner", "--dbname=" + db.url()});
    EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
    return r.output;
  }

  static constexpr char kLink[] =
      R"(recipient { channel: CHANNEL_EMAIL email: "ann@example.com" name: "Ann Lee" }
         invoice_id: "inv_hostile_n" pay_url: "https://pay.example.com/i/abc" business_name: "Sunset Kayaks"
         amount_due { amount_minor: 1000 currency_code: "USD" }
         booking { booking_id: "hb-1" activity_name: "Sunset kayak tour" date: "2026-12-01" start: "17:00" })";

  static PaySystem* sys_;
  static std::map<std::string, std::string>* values_;
};

PaySystem* HostileInputTest::sys_ = nullptr;
std::map<std::string, std::string>* HostileInputTest::values_ = nullptr;

// Every method of every service, by full name.
const std::map<std::string, Target>& Targets() {
  static const std::string kRecipientSms = R"(recipient { channel: CHANNEL_SMS phone: "+14155550123" name: "Ann" })";
  static const std::map<std::string, Target> kTargets = {
      {"billing.invoice.v1.InvoiceService.UpsertBooking",
       {"invoice",
        R"(booking { booking_id: "hb-3" status: BOOKING_STATUS_PENDING
           customer { name: "Ann Lee" email: "ann@example.com" phone: "+14155550123" }
           total { amount_minor: 900000 currency_code: "USD" } activity_name: "Sunset kayak tour"
           start_local: "2026-12-01T17:00" end_local: "2026-12-01T19:30" time_zone: "America/Los_Angeles"
           confirmation_code: "CONF-1" })",
        true}},
      {"billing.invoice.v1.InvoiceService.GetBooking", {"invoice", R"(booking_id: "hb-1")", false}},
      {"billing.invoice.v1.InvoiceService.RecordExternalPayment",
       {"invoice",
        R"(booking_id: "hb-2" amount { amount_minor: 100 currency_code: "USD" } source: PAYMENT_SOURCE_DASHBOARD
           external_reference: "cash-1")",
        true}},
      {"billing.invoice.v1.InvoiceService.CreateInvoice",
       {"invoice",
        R"(booking_id: "hb-1" amount { amount_minor: 1000 currency_code: "USD" } send_type: CHANNEL_SMS
           line_items { name: "Kayak" quantity: 1 unit_amount { amount_minor: 1000 currency_code: "USD" }
                        amount { amount_minor: 1000 currency_code: "USD" } }
           days_until_due: 3)",
        true}},
      {"billing.invoice.v1.InvoiceService.GetInvoice", {"invoice", R"(token: "{TOKEN_A}")", false}},
      {"billing.invoice.v1.InvoiceService.ListInvoices", {"invoice", R"(booking_id: "hb-1" page_size: 5)", false}},
      {"billing.invoice.v1.InvoiceService.ResendInvoice",
       {"invoice", R"(invoice_id: "{A}" send_type: CHANNEL_SMS)", true}},
      {"billing.invoice.v1.InvoiceService.CloseInvoice",
       {"invoice", R"(invoice_id: "{B}" reason: "booking cancelled")", true}},
      {"billing.invoice.v1.InvoiceService.PayInvoice",
       {"invoice", R"(token: "{TOKEN_A}" payment_method_id: "pm_card_visa")", true}},
      {"billing.invoice.v1.InvoiceService.ListInvoiceEvents", {"invoice", R"(invoice_id: "{A}" page_size: 5)", false}},
      {"billing.invoice.v1.PaymentEventService.ApplyPaymentEvent",
       {"invoice",
        R"(invoice_id: "{A}" payment_id: "5b0f2c84-3c1e-4f7a-9d2b-8e6a1c0d4f31" payment_intent_id: "pi_hostile_unknown"
           status: PAYMENT_EVENT_STATUS_FAILED failure_code: "card_declined" failure_message: "declined")",
        true}},
      {"billing.payments.v1.PaymentService.CreatePayment",
       {"payments",
        R"(invoice_id: "inv_hostile_p" amount { amount_minor: 700 currency_code: "USD" }
           payment_method_id: "pm_card_visa" description: "Sunset kayak tour" metadata { key: "k" value: "v" })",
        true}},
      {"billing.payments.v1.PaymentService.ConfirmPayment",
       {"payments", R"(invoice_id: "inv_hostile_seed" payment_intent_id: "{PI_P2}")", true}},
      {"billing.payments.v1.PaymentService.GetPayment", {"payments", R"(payment_id: "{P1}")", false}},
      {"billing.payments.v1.PaymentService.ListPayments",
       {"payments", R"(invoice_id: "inv_hostile_seed" page_size: 5)", false}},
      {"billing.payments.v1.PaymentService.CancelPayment",
       {"payments", R"(payment_id: "{P2}" reason: CANCELLATION_REASON_REQUESTED_BY_CUSTOMER)", true}},
      {"billing.payments.v1.PaymentService.RefundPayment",
       {"payments",
        R"(payment_id: "{P1}" amount { amount_minor: 10 currency_code: "USD" } reason: REFUND_REASON_REQUESTED_BY_CUSTOMER)",
        true}},
      {"billing.notify.v1.NotifyService.SendInvoiceLink",
       {"notify", kRecipientSms + R"( invoice_id: "inv_hostile_n" pay_url: "https://pay.example.com/i/abc"
           business_name: "Sunset Kayaks" amount_due { amount_minor: 1000 currency_code: "USD" }
           booking { booking_id: "hb-1" activity_name: "Sunset kayak tour" date: "2026-12-01" start: "17:00" })",
        true}},
      {"billing.notify.v1.NotifyService.SendReceipt",
       {"notify", kRecipientSms + R"( invoice_id: "inv_hostile_n" business_name: "Sunset Kayaks"
           amount_paid { amount_minor: 1000 currency_code: "USD" } balance_remaining { amount_minor: 0 currency_code: "USD" }
           payment_reference: "pay_1" booking { booking_id: "hb-1" activity_name: "Sunset kayak tour" })",
        true}},
      {"billing.notify.v1.NotifyService.SendBookingConfirmation",
       {"notify", kRecipientSms + R"( invoice_id: "inv_hostile_n" business_name: "Sunset Kayaks"
           booking { booking_id: "hb-1" activity_name: "Sunset kayak tour" date: "2026-12-01" start: "17:00"
                     confirmation_code: "CONF-1" })",
        true}},
      {"billing.notify.v1.NotifyService.SendPaymentReminder",
       {"notify", kRecipientSms + R"( invoice_id: "inv_hostile_n" pay_url: "https://pay.example.com/i/abc"
           business_name: "Sunset Kayaks" amount_due { amount_minor: 1000 currency_code: "USD" })",
        true}},
      {"billing.notify.v1.NotifyService.GetNotification", {"notify", R"(notification_id: "{N}")", false}},
      {"billing.notify.v1.NotifyService.ListNotifications",
       {"notify", R"(invoice_id: "inv_hostile_n" page_size: 5)", false}},
  };
  return kTargets;
}

struct Outcome {
  std::string service;
  std::string request_id;
  Code code;
  std::string what;
};

TEST_F(HostileInputTest, EveryRpcAndFieldAnswersHostileInputWithADocumentedCode) {
  const auto* pool = pb::DescriptorPool::generated_pool();
  auto* factory = pb::MessageFactory::generated_factory();
  std::vector<Outcome> outcomes;
  int next_id = 0;
  const auto fresh_id = [&] {
    char buf[32];
    std::snprintf(buf, sizeof buf, "hx%06d.", ++next_id);
    return std::string(buf);
  };
  int calls = 0;
  std::size_t covered = 0;

  for (const char* service_name : {"billing.invoice.v1.InvoiceService", "billing.invoice.v1.PaymentEventService",
                                   "billing.payments.v1.PaymentService", "billing.notify.v1.NotifyService"}) {
    const auto* service = pool->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int mi = 0; mi < service->method_count(); ++mi) {
      const auto* method = service->method(mi);
      const auto found = Targets().find(method->full_name());
      ASSERT_NE(found, Targets().end()) << "add a valid request for " << method->full_name() << " to Targets()";
      const Target& target = found->second;
      const std::string rpc = "/" + service->full_name() + "/" + method->name();
      const auto channel = ChannelOf(target.service);
      const auto* type = method->input_type();
      std::unique_ptr<pb::Message> base(factory->GetPrototype(type)->New());
      ASSERT_TRUE(pb::TextFormat::ParseFromString(Fill(target.request), base.get())) << method->full_name();
      const auto* request_id_field = type->FindFieldByName("request_id");
      // (GetNotification has a request_id too, but to look one up by.)
      if (target.writes) {
        ASSERT_NE(request_id_field, nullptr) << method->full_name() << " takes no request_id";
      }
      ++covered;

      const auto send = [&](const std::string& label, const std::string& request_id, const std::string& bytes) {
        const auto status = CallRaw(channel, rpc, bytes);
        ++calls;
        const std::string what = method->name() + " " + label;
        ExpectHandled(status, what);
        outcomes.push_back({target.service, request_id, status.error_code(), what});
        return status;
      };
      const auto serialize = [&](const pb::Message& m) {
        std::string bytes = m.SerializeAsString();
        for (std::size_t at; (at = bytes.find(kBadUtf8Marker)) != std::string::npos;) {
          bytes.replace(at, sizeof(kBadUtf8Marker) - 1, kBadUtf8);
        }
        return bytes;
      };
      const auto with_fresh_id = [&](std::string* id) {
        std::unique_ptr<pb::Message> m(base->New());
        m->CopyFrom(*base);
        if (target.writes) {
          *id = fresh_id();
          m->GetReflection()->SetString(m.get(), request_id_field, *id);
        }
        return m;
      };

      // The valid request, then the same call again with unknown fields (a
      // newer client's): the same answer, since unknown fields are ignored.
      std::string id;
      auto valid = with_fresh_id(&id);
      const std::string valid_bytes = serialize(*valid);
      const auto first = send("valid", id, valid_bytes);
      // Each corpus starts from a request the service accepts, so the
      // hostile values reach every check behind the first.
      EXPECT_TRUE(first.ok()) << method->name() << ": " << first.error_message();
      const auto again =
          send("valid + unknown fields", id,
               valid_bytes + Varint(9999 << 3) + Varint(7) + LengthDelimited(10000, std::string(65536, 'u')));
      EXPECT_EQ(again.error_code(), first.error_code())
          << method->name() << ": " << first.error_message() << " / " << again.error_message();

      // Every field, one hostile value at a time.
      std::vector<Variant> variants;
      AddFieldVariants(type, {}, 0, variants);
      for (const auto& v : variants) {
        std::string vid;
        auto m = with_fresh_id(&vid);
        if (v.touches_request_id) vid.clear();
        v.mutate(*m);
        send(v.label, vid, serialize(*m));
      }

      // Bytes that are no request at all.
      std::string bad_id;
      auto framed = with_fresh_id(&bad_id);
      const std::string bytes = serialize(*framed);
      ExpectRefusal(send("not protobuf", "", "\xff\xff\xff\xff\x0f"), Code::INVALID_ARGUMENT, "");
      send("truncated", bad_id, bytes.substr(0, bytes.size() - 1));
      // The size limit: at the limit is read, one byte over and 16 MB are not.
      std::string at_id;
      auto at = with_fresh_id(&at_id);
      EXPECT_NE(send("at the size limit", at_id, PaddedTo(serialize(*at), kMaxMessage)).error_code(),
                Code::RESOURCE_EXHAUSTED)
          << method->name();
      std::string over_id;
      auto over = with_fresh_id(&over_id);
      EXPECT_EQ(send("one byte over the size limit", over_id, PaddedTo(serialize(*over), kMaxMessage + 1)).error_code(),
                Code::RESOURCE_EXHAUSTED)
          << method->name();
      std::string huge_id;
      auto huge = with_fresh_id(&huge_id);
      EXPECT_EQ(send("16 MB", huge_id, PaddedTo(serialize(*huge), 16 << 20)).error_code(), Code::RESOURCE_EXHAUSTED)
          << method->name();

      auto& process = ProcessOf(target.service);
      ASSERT_TRUE(process.Running()) << method->full_name() << " crashed the " << target.service << " service";
      ASSERT_EQ(process.Health(), "SERVING") << "after " << method->full_name();
    }
  }
  EXPECT_EQ(covered, Targets().size()) << "Targets() names an RPC the services no longer have";

  // What each RPC answered, for the log of the run.
  std::map<std::string, std::map<Code, int>> by_method;
  for (const auto& o : outcomes) ++by_method[o.what.substr(0, o.what.find(' '))][o.code];
  for (const auto& [name, codes] : by_method) {
    std::cout << "  " << name << ":";
    for (const auto& [code, n] : codes) std::cout << " " << CodeName(code) << " " << n;
    std::cout << "\n";
  }
  std::cout << calls << " hostile calls\n";

  // Databases: a refused request left nothing, an accepted write its key.
  const std::map<std::string, std::string> dumps = {{"invoice", DumpOf(sys_->invoice_db())},
                                                    {"payments", DumpOf(sys_->payments_db())},
                                                    {"notify", DumpOf(sys_->notify_db())}};
  int refused = 0;
  int accepted = 0;
  for (const auto& o : outcomes) {
    if (o.request_id.empty()) continue;
    if (o.code == Code::INVALID_ARGUMENT || o.code == Code::RESOURCE_EXHAUSTED) {
      ++refused;
      for (const auto& [name, dump] : dumps) {
        EXPECT_EQ(dump.find(o.request_id), std::string::npos)
            << o.what << " was refused but its request_id is in the " << name << " database";
      }
    } else if (o.code == Code::OK) {
      ++accepted;
      EXPECT_NE(dumps.at(o.service).find(o.request_id), std::string::npos)
          << o.what << " was accepted but left no idempotency key";
    }
  }
  std::cout << refused << " refused and " << accepted << " accepted writes checked in the databases\n";
  EXPECT_GT(refused, 100);
  EXPECT_GT(accepted, 20);
  // Huge values never reach a database: the megabyte, the size-limit
  // padding (an unknown field) and the 200,000-character string.
  for (const auto& huge : {std::string(64 * 1024, 'x'), std::string(64 * 1024, 'f'), Repeat("\u00e9", 20000)}) {
    for (const auto& [name, dump] : dumps) {
      EXPECT_EQ(dump.find(huge), std::string::npos) << "a huge string reached the " << name << " database";
    }
  }
  // Logs: a huge value is never echoed (a log line is not a place to store
  // a megabyte, and an attacker could fill the disk with them).
  const std::string logs = sys_->Logs();
  for (const char c : {'x', 'f'}) {
    const auto at = logs.find(std::string(4096, c));
    const auto line = logs.rfind('\n', at);
    EXPECT_EQ(at, std::string::npos) << "a log line echoes a huge value: "
                                     << logs.substr(line == std::string::npos ? 0 : line, 400);
  }

  // notify's file outbox holds its own files, whatever the recipients said.
  const std::regex own(R"([A-Za-z0-9_-]+\.(eml|sms\.txt))");
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(sys_->notify_outbox())) {
    EXPECT_TRUE(entry.is_regular_file()) << entry.path();
    EXPECT_TRUE(std::regex_match(entry.path().filename().string(), own)) << entry.path();
    EXPECT_EQ(entry.path().parent_path(), std::filesystem::path(sys_->notify_outbox())) << entry.path();
    ++files;
  }
  EXPECT_GT(files, 0) << "the SMS requests reached the file outbox";
}

}  // namespace
}  // namespace billing::testing
