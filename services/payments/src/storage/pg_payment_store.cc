#include "storage/pg_payment_store.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "db/row_reader.h"
#include "errors/error.h"
#include "storage/sql.h"

namespace billing::payments::storage {
namespace {

using db::Corrupt;
using db::Parsed;
using domain::IdempotencyKey;
using domain::Payment;
using domain::PaymentEvent;
using domain::Refund;
using domain::StoredResponse;
using domain::Time;
using nlohmann::json;
using Row = db::ResultRowReader;

long long Micros(Time t) { return clock::ToUnixMicros(t); }

std::map<std::string, std::string> ParseMetadata(const std::string& text) {
  const auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) Corrupt("payment metadata");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) Corrupt("payment metadata");
    out[k] = v.get<std::string>();
  }
  return out;
}

Payment ReadPayment(Row& r) {
  Payment p;
  p.payment_id = r.Str();
  p.caller = r.Str();
  p.request_id = r.Str();
  p.invoice_id = r.Str();
  p.amount.amount_minor = r.Int();
  p.amount.currency = r.Str();
  p.method_kind = Parsed(domain::ParseMethodKind(r.Str()), "method kind");
  p.method_id = r.Str();
  p.return_url = r.Str();
  p.description = r.Str();
  p.metadata = ParseMetadata(r.Str());
  p.status = Parsed(domain::ParsePaymentStatus(r.Str()), "payment status");
  p.payment_intent_id = r.Str();
  p.client_secret = r.Str();
  p.failure.code = r.Str();
  p.failure.decline_code = r.Str();
  p.failure.message = r.Str();
  p.amount_received_minor = r.Int();
  p.amount_refunded_minor = r.Int();
  p.abandoned_at = r.OptTime();
  p.cancellation_reason = Parsed(domain::ParseCancellationReason(r.Str()), "cancellation reason");
  p.next_sweep_at = r.OptTime();
  p.created_at = r.TimeAt();
  p.updated_at = r.TimeAt();
  return p;
}

Refund ReadRefund(Row& r) {
  Refund f;
  f.refund_id = r.Str();
  f.payment_id = r.Str();
  f.caller = r.Str();
  f.request_id = r.Str();
  f.amount.amount_minor = r.Int();
  f.amount.currency = r.Str();
  f.status = Parsed(domain::ParseRefundStatus(r.Str()), "refund status");
  f.reason = Parsed(domain::ParseRefundReason(r.Str()), "refund reason");
  f.automatic = r.Int32() != 0;
  f.provider_refund_id = r.Str();
  f.failure_reason = r.Str();
  f.created_at = r.TimeAt();
  f.updated_at = r.TimeAt();
  return f;
}

PaymentEvent ReadEvent(Row& r) {
  PaymentEvent e;
  e.event_key = r.Str();
  e.payment_id = r.Str();
  e.invoice_id = r.Str();
  e.payment_intent_id = r.Str();
  e.status = Parsed(domain::ParsePaymentStatus(r.Str()), "event status");
  e.amount_received.amount_minor = r.Int();
  e.amount_received.currency = r.Str();
  e.failure_code = r.Str();
  e.failure_message = r.Str();
  e.occurred_at = r.TimeAt();
  e.attempts = r.Int32();
  e.seq = r.Int();
  e.metadata = ParseMetadata(r.Str());
  return e;
}

// --- stored answers as JSON -------------------------------------------------

json OptTimeJson(const std::optional<Time>& t) { return t ? json(Micros(*t)) : json(nullptr); }
std::optional<Time> OptTimeFrom(const json& j) {
  if (j.is_null()) return std::nullopt;
  return clock::FromUnixMicros(j.get<long long>());
}

json RefundJson(const Refund& r) {
  return {{"refund_id", r.refund_id},
          {"payment_id", r.payment_id},
          {"caller", r.caller},
          {"request_id", r.request_id},
          {"amount_minor", r.amount.amount_minor},
          {"currency", r.amount.currency},
          {"status", domain::Name(r.status)},
          {"reason", domain::Name(r.reason)},
          {"automatic", r.automatic},
          {"provider_refund_id", r.provider_refund_id},
          {"failure_reason", r.failure_reason},
          {"created_at", Micros(r.created_at)},
          {"updated_at", Micros(r.updated_at)}};
}

Refund RefundFrom(const json& j) {
  Refund r;
  r.refund_id = j.at("refund_id").get<std::string>();
  r.payment_id = j.at("payment_id").get<std::string>();
  r.caller = j.at("caller").get<std::string>();
  r.request_id = j.at("request_id").get<std::string>();
  r.amount = {j.at("amount_minor").get<int64_t>(), j.at("currency").get<std::string>()};
  r.status = Parsed(domain::ParseRefundStatus(j.at("status").get<std::string>()), "stored refund status");
  r.reason = Parsed(domain::ParseRefundReason(j.at("reason").get<std::string>()), "stored refund reason");
  r.automatic = j.at("automatic").get<bool>();
  r.provider_refund_id = j.at("provider_refund_id").get<std::string>();
  r.failure_reason = j.at("failure_reason").get<std::string>();
  r.created_at = clock::FromUnixMicros(j.at("created_at").get<long long>());
  r.updated_at = clock::FromUnixMicros(j.at("updated_at").get<long long>());
  return r;
}

json PaymentJson(const Payment& p) {
  json refunds = json::array();
  for (const auto& r : p.refunds) refunds.push_back(RefundJson(r));
  return {{"payment_id", p.payment_id},
          {"caller", p.caller},
          {"request_id", p.request_id},
          {"invoice_id", p.invoice_id},
          {"amount_minor", p.amount.amount_minor},
          {"currency", p.amount.currency},
          {"method_kind", domain::Name(p.method_kind)},
          {"method_id", p.method_id},
          {"return_url", p.return_url},
          {"description", p.description},
          {"metadata", p.metadata},
          {"status", domain::Name(p.status)},
          {"payment_intent_id", p.payment_intent_id},
          {"client_secret", p.client_secret},
          {"failure_code", p.failure.code},
          {"failure_decline_code", p.failure.decline_code},
          {"failure_message", p.failure.message},
          {"amount_received_minor", p.amount_received_minor},
          {"amount_refunded_minor", p.amount_refunded_minor},
          {"abandoned_at", OptTimeJson(p.abandoned_at)},
          {"cancellation_reason", domain::Name(p.cancellation_reason)},
          {"created_at", Micros(p.created_at)},
          {"updated_at", Micros(p.updated_at)},
          {"refunds", refunds}};
}

Payment PaymentFrom(const json& j) {
  Payment p;
  p.payment_id = j.at("payment_id").get<std::string>();
  p.caller = j.at("caller").get<std::string>();
  p.request_id = j.at("request_id").get<std::string>();
  p.invoice_id = j.at("invoice_id").get<std::string>();
  p.amount = {j.at("amount_minor").get<int64_t>(), j.at("currency").get<std::string>()};
  p.method_kind = Parsed(domain::ParseMethodKind(j.at("method_kind").get<std::string>()), "stored method kind");
  p.method_id = j.at("method_id").get<std::string>();
  p.return_url = j.at("return_url").get<std::string>();
  p.description = j.at("description").get<std::string>();
  p.metadata = j.at("metadata").get<std::map<std::string, std::string>>();
  p.status = Parsed(domain::ParsePaymentStatus(j.at("status").get<std::string>()), "stored payment status");
  p.payment_intent_id = j.at("payment_intent_id").get<std::string>();
  p.client_secret = j.at("client_secret").get<std::string>();
  p.failure = {j.at("failure_code").get<std::string>(), j.at("failure_decline_code").get<std::string>(),
               j.at("failure_message").get<std::string>()};
  p.amount_received_minor = j.at("amount_received_minor").get<int64_t>();
  p.amount_refunded_minor = j.at("amount_refunded_minor").get<int64_t>();
  p.abandoned_at = OptTimeFrom(j.at("abandoned_at"));
  p.cancellation_reason = Parsed(domain::ParseCancellationReason(j.at("cancellation_reason").get<std::string>()),
                                 "stored cancellation reason");
  p.created_at = clock::FromUnixMicros(j.at("created_at").get<long long>());
  p.updated_at = clock::FromUnixMicros(j.at("updated_at").get<long long>());
  for (const auto& r : j.at("refunds")) p.refunds.push_back(RefundFrom(r));
  return p;
}

std::string ResponseJson(const StoredResponse& r) {
  json j = json::object();
  if (r.error) {
    j["error"] = {{"reason", errors::Name(*r.error)}, {"message", r.error_message}, {"field", r.error_field}};
  }
  if (r.payment) j["payment"] = PaymentJson(*r.payment);
  if (r.refund) j["refund"] = RefundJson(*r.refund);
  return j.dump();
}

StoredResponse ResponseFrom(const std::string& text) {
  StoredResponse r;
  try {
    const json j = json::parse(text);
    if (j.contains("error")) {
      const auto& e = j.at("error");
      r.error = Parsed(errors::ParseReason(e.at("reason").get<std::string>()), "stored error reason");
      r.error_message = e.at("message").get<std::string>();
      r.error_field = e.at("field").get<std::string>();
    }
    if (j.contains("payment")) r.payment = PaymentFrom(j.at("payment"));
    if (j.contains("refund")) r.refund = RefundFrom(j.at("refund"));
  } catch (const json::exception&) {
    Corrupt("stored answer of an idempotency key");
  }
  return r;
}

IdempotencyKey ReadKey(Row& r) {
  IdempotencyKey k;
  k.caller = r.Str();
  k.request_id = r.Str();
  k.operation = r.Str();
  k.fingerprint = r.Str();
  k.locked_until = r.OptTime();
  k.recovery_point = r.Str();
  k.finished = r.Int32() != 0;
  k.payment_id = r.Str();
  k.refund_id = r.Str();
  const std::string response = r.Str();
  if (!response.empty()) k.response = ResponseFrom(response);
  k.created_at = r.TimeAt();
  k.last_used_at = r.TimeAt();
  return k;
}

template <typename T, typename F>
std::vector<T> ReadAll(const db::Result& result, F read) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(result.Rows()));
  for (int i = 0; i < result.Rows(); ++i) {
    Row r(result, i);
    out.push_back(read(r));
  }
  return out;
}

// The single number a count(*) statement answers.
long long Count(const db::Result& result) {
  if (result.Empty()) Corrupt("a count without a row");
  return Row(result, 0).Int();
}

// --- one transaction ---------------------------------------------------------

class PgPaymentTx final : public domain::PaymentTx {
 public:
  explicit PgPaymentTx(db::Session& sql) : sql_(sql) {}

  std::optional<IdempotencyKey> ClaimKey(const IdempotencyKey& k) override {
    if (!sql_.Run(sql::kClaimKey, {{"caller", k.caller}, {"request_id", k.request_id}, {"operation", k.operation},
                                   {"fingerprint", k.fingerprint}, {"locked_until", k.locked_until},
                                   {"now", k.created_at}})
             .Empty()) {
      return std::nullopt;
    }
    const db::Result stored = sql_.Run(sql::kLockKey, {{"caller", k.caller}, {"request_id", k.request_id}});
    if (stored.Empty()) Corrupt("idempotency conflict without a row");
    Row r(stored, 0);
    return ReadKey(r);
  }

  void SetKeyLock(const std::string& caller, const std::string& request_id,
                  std::optional<Time> locked_until) override {
    sql_.Run(sql::kSetKeyLock, {{"locked_until", locked_until}, {"caller", caller}, {"request_id", request_id}});
  }

  void SetKeyResource(const std::string& caller, const std::string& request_id, const std::string& payment_id,
                      const std::string& refund_id) override {
    sql_.Run(sql::kSetKeyResource,
             {{"payment_id", payment_id}, {"refund_id", refund_id}, {"caller", caller}, {"request_id", request_id}});
  }

  void SetKeyRecoveryPoint(const std::string& caller, const std::string& request_id,
                           const std::string& recovery_point) override {
    sql_.Run(sql::kSetKeyRecoveryPoint,
             {{"recovery_point", recovery_point}, {"caller", caller}, {"request_id", request_id}});
  }

  void FinishKey(const std::string& caller, const std::string& request_id, const StoredResponse& response,
                 Time now) override {
    const std::string body = ResponseJson(response);
    sql_.Run(sql::kFinishKey, {{"response", body}, {"now", now}, {"caller", caller}, {"request_id", request_id}});
  }

  std::optional<IdempotencyKey> LockOpenCreateKey(const std::string& payment_id) override {
    const db::Result result = sql_.Run(sql::kLockOpenCreateKey, {{"payment_id", payment_id}});
    if (result.Empty()) return std::nullopt;
    Row r(result, 0);
    return ReadKey(r);
  }

  void InsertPayment(const Payment& p) override {
    const std::string kind(domain::Name(p.method_kind));
    const std::string status(domain::Name(p.status));
    const std::string metadata = json(p.metadata).dump();
    sql_.Run(sql::kInsertPayment,
             {{"payment_id", p.payment_id}, {"caller", p.caller}, {"request_id", p.request_id},
              {"invoice_id", p.invoice_id}, {"amount_minor", p.amount.amount_minor}, {"currency", p.amount.currency},
              {"method_kind", kind}, {"method_id", p.method_id}, {"return_url", p.return_url},
              {"description", p.description}, {"metadata", metadata}, {"status", status},
              {"next_sweep_at", p.next_sweep_at}, {"created_at", p.created_at}});
  }

  std::optional<Payment> FindPayment(const std::string& payment_id) override {
    return One(sql::kSelectPayment, "payment_id", payment_id);
  }
  std::optional<Payment> LockPayment(const std::string& payment_id) override {
    return One(sql::kLockPayment, "payment_id", payment_id);
  }
  std::optional<Payment> FindPaymentByIntent(const std::string& payment_intent_id) override {
    return One(sql::kSelectPaymentByIntent, "payment_intent_id", payment_intent_id);
  }
  std::optional<Payment> LockPaymentByIntent(const std::string& payment_intent_id) override {
    return One(sql::kLockPaymentByIntent, "payment_intent_id", payment_intent_id);
  }

  void UpdatePayment(const Payment& p) override {
    const std::string status(domain::Name(p.status));
    const std::string reason(domain::Name(p.cancellation_reason));
    sql_.Run(sql::kUpdatePayment,
             {{"status", status}, {"payment_intent_id", p.payment_intent_id}, {"client_secret", p.client_secret},
              {"failure_code", p.failure.code}, {"failure_decline_code", p.failure.decline_code},
              {"failure_message", p.failure.message}, {"amount_received_minor", p.amount_received_minor},
              {"amount_refunded_minor", p.amount_refunded_minor}, {"abandoned_at", p.abandoned_at},
              {"cancellation_reason", reason}, {"next_sweep_at", p.next_sweep_at}, {"updated_at", p.updated_at},
              {"payment_id", p.payment_id}});
  }

  std::vector<Payment> ListPayments(const domain::PaymentFilter& f, const std::optional<domain::PaymentCursor>& after,
                                    int limit) override {
    const std::string status = f.status ? std::string(domain::Name(*f.status)) : "";
    long long cursor_us = after ? Micros(after->created_at) : 253402300799000000LL;
    const std::string cursor_id = after ? after->payment_id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
    return ReadAll<Payment>(sql_.Run(sql::kListPayments, {{"invoice_id", f.invoice_id}, {"status", status},
                                                          {"cursor_us", cursor_us}, {"cursor_id", cursor_id},
                                                          {"limit", limit}},
                                     db::Session::Planning::kPerCall),  // optional filters: plan for the values given
                            ReadPayment);
  }

  void InsertRefund(const Refund& r, std::optional<Time> next_attempt_at) override {
    const std::string status(domain::Name(r.status));
    const std::string reason(domain::Name(r.reason));
    const std::string automatic = r.automatic ? "true" : "false";
    sql_.Run(sql::kInsertRefund,
             {{"refund_id", r.refund_id}, {"payment_id", r.payment_id}, {"caller", r.caller},
              {"request_id", r.request_id}, {"amount_minor", r.amount.amount_minor}, {"currency", r.amount.currency},
              {"status", status}, {"reason", reason}, {"automatic", automatic}, {"next_attempt_at", next_attempt_at},
              {"created_at", r.created_at}});
  }

  std::optional<Refund> LockRefund(const std::string& refund_id) override {
    return OneRefund(sql::kLockRefund, "refund_id", refund_id);
  }
  std::optional<Refund> LockRefundByProvider(const std::string& provider_refund_id) override {
    return OneRefund(sql::kLockRefundByProvider, "provider_refund_id", provider_refund_id);
  }

  void UpdateRefund(const Refund& r, std::optional<Time> next_attempt_at) override {
    const std::string status(domain::Name(r.status));
    sql_.Run(sql::kUpdateRefund, {{"status", status}, {"provider_refund_id", r.provider_refund_id},
                                  {"failure_reason", r.failure_reason}, {"next_attempt_at", next_attempt_at},
                                  {"updated_at", r.updated_at}, {"refund_id", r.refund_id}});
  }

  std::vector<Refund> ListRefunds(const std::string& payment_id) override {
    return ReadAll<Refund>(sql_.Run(sql::kListRefunds, {{"payment_id", payment_id}}), ReadRefund);
  }

  bool InsertStripeEvent(const domain::StripeEvent& e, Time received_at) override {
    const std::string object_id = e.intent ? e.intent->id : e.refund ? e.refund->id : e.charge_payment_intent;
    return !sql_.Run(sql::kInsertStripeEvent, {{"event_id", e.id}, {"type", e.type}, {"object_id", object_id},
                                               {"created", e.created}, {"received", received_at}})
                .Empty();
  }

  void QueueEvent(const PaymentEvent& e) override {
    const std::string status(domain::Name(e.status));
    sql_.Run(sql::kQueueEvent,
             {{"event_key", e.event_key}, {"payment_id", e.payment_id}, {"invoice_id", e.invoice_id},
              {"payment_intent_id", e.payment_intent_id}, {"status", status},
              {"amount_received_minor", e.amount_received.amount_minor}, {"currency", e.amount_received.currency},
              {"failure_code", e.failure_code}, {"failure_message", e.failure_message},
              {"occurred_at", e.occurred_at}});
  }

 private:
  std::optional<Payment> One(const char* query, const char* name, const std::string& value) {
    const db::Result result = sql_.Run(query, {{name, value}});
    if (result.Empty()) return std::nullopt;
    Row r(result, 0);
    return ReadPayment(r);
  }
  std::optional<Refund> OneRefund(const char* query, const char* name, const std::string& value) {
    const db::Result result = sql_.Run(query, {{name, value}});
    if (result.Empty()) return std::nullopt;
    Row r(result, 0);
    return ReadRefund(r);
  }

  db::Session& sql_;
};

}  // namespace

void PgPaymentStore::InTransaction(const std::function<void(domain::PaymentTx&)>& fn) {
  // A unique violation means a concurrent transaction inserted the same row
  // first (the same PaymentIntent seen by a webhook and a call): running the
  // whole function again sees that row. Nothing ran outside the rolled-back
  // transaction, so that is safe.
  db::TransactRetryingConflicts(pool_, [&](db::Session& session) {
    PgPaymentTx tx(session);
    fn(tx);
  });
}

std::vector<Payment> PgPaymentStore::ClaimSweep(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    const std::vector<Payment> candidates =
        ReadAll<Payment>(sql.Run(sql::kSweepCandidates, {{"now", now}, {"limit", limit}}), ReadPayment);
    std::vector<Payment> claimed;
    for (const auto& p : candidates) {
      const long long open = Count(sql.Run(sql::kCountOpenCreateKeys, {{"payment_id", p.payment_id}}));
      if (open > 0) {
        const long long taken = Count(sql.Run(
            sql::kLockCreateKeyForSweep, {{"lease_until", lease_until}, {"payment_id", p.payment_id}, {"now", now}}));
        if (taken == 0) {
          // Its call is in flight: not ours to touch until its lock runs out.
          sql.Run(sql::kDeferSweepToKeyLock, {{"payment_id", p.payment_id}});
          continue;
        }
      }
      sql.Run(sql::kSetNextSweep, {{"next_sweep_at", lease_until}, {"payment_id", p.payment_id}});
      claimed.push_back(p);
    }
    return claimed;
  });
}

void PgPaymentStore::ReleaseSweep(const std::string& payment_id, Time lease_until) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kReleaseCreateKey, {{"payment_id", payment_id}, {"lease_until", lease_until}});
  });
}

std::vector<Refund> PgPaymentStore::ClaimRefunds(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll<Refund>(
        sql.Run(sql::kClaimRefunds, {{"lease_until", lease_until}, {"now", now}, {"limit", limit}}), ReadRefund);
  });
}

std::vector<PaymentEvent> PgPaymentStore::ClaimEvents(Time now, Time lease_until, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    auto events = ReadAll<PaymentEvent>(
        sql.Run(sql::kClaimEvents, {{"lease_until", lease_until}, {"now", now}, {"limit", limit}},
                db::Session::Planning::kPerCall),
        ReadEvent);
    // RETURNING keeps no order; the outbox's order.
    std::sort(events.begin(), events.end(), [](const PaymentEvent& a, const PaymentEvent& b) { return a.seq < b.seq; });
    return events;
  });
}

void PgPaymentStore::MarkEventDelivered(const std::string& event_key, Time now) {
  pool_.Transact([&](db::Session& sql) { sql.Run(sql::kMarkEventDelivered, {{"now", now}, {"event_key", event_key}});
  });
}

void PgPaymentStore::MarkEventRetry(const std::string& event_key, const std::string& error, Time next_attempt_at) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kMarkEventRetry, {{"next_attempt_at", next_attempt_at}, {"error", error}, {"event_key", event_key}});
  });
}

void PgPaymentStore::MarkEventRejected(const std::string& event_key, const std::string& error, Time now) {
  pool_.Transact([&](db::Session& sql) {
    sql.Run(sql::kMarkEventRejected, {{"error", error}, {"now", now}, {"event_key", event_key}});
  });
}

int64_t PgPaymentStore::EventBacklog() {
  return pool_.Transact([&](db::Session& sql) { return static_cast<int64_t>(Count(sql.Run(sql::kEventBacklog)));
  });
}

std::vector<domain::PaymentStore::Unresolved> PgPaymentStore::UnresolvedPayments() {
  return pool_.Transact([&](db::Session& sql) {
    return ReadAll<Unresolved>(sql.Run(sql::kUnresolvedPayments), [](Row& r) {
      Unresolved u;
      u.status = Parsed(domain::ParsePaymentStatus(r.Str()), "payment status");
      u.count = r.Int();
      u.oldest_created = r.TimeAt();
      return u;
    });
  });
}

int PgPaymentStore::ReapKeys(Time before, int limit) {
  return pool_.Transact([&](db::Session& sql) {
    return static_cast<int>(Count(sql.Run(sql::kReapKeys, {{"before", before}, {"limit", limit}})));
  });
}

}  // namespace billing::payments::storage
