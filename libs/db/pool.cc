#include "db/pool.h"

#include <soci/postgresql/soci-postgresql.h>

#include <random>
#include <thread>

#include "db/conninfo.h"
#include "errors/error.h"
#include "logging/log.h"

namespace billing::db {
namespace {

constexpr int kMaxAttempts = 4;

PGconn* Conn(soci::session* session) {
  if (session == nullptr || session->get_backend() == nullptr) return nullptr;
  auto* backend = static_cast<soci::postgresql_session_backend*>(session->get_backend());
  return backend->conn_;
}

bool ConnectionBroken(soci::session* session) {
  PGconn* conn = Conn(session);
  return conn == nullptr || PQstatus(conn) != CONNECTION_OK;
}

errors::Error Unavailable(const std::string& what) {
  return errors::Error(errors::Reason::kDatabaseUnavailable, what + "; retry later");
}

}  // namespace

std::string SqlState(const std::exception& e) {
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) return pg->sqlstate();
  return {};
}

bool IsUniqueViolation(const std::exception& e) { return SqlState(e) == "23505"; }

std::string DescribeError(const std::exception& e) {
  const auto* soci_error = dynamic_cast<const soci::soci_error*>(&e);
  if (soci_error == nullptr) return e.what();
  std::string message = soci_error->get_error_message();
  std::string out;
  std::size_t start = 0;
  while (start < message.size()) {
    auto end = message.find('\n', start);
    if (end == std::string::npos) end = message.size();
    const std::string line = message.substr(start, end - start);
    if (line.rfind("DETAIL:", 0) != 0 && !line.empty()) out += (out.empty() ? "" : " ") + line;
    start = end + 1;
  }
  const std::string state = SqlState(e);
  return state.empty() ? out : out + " (SQLSTATE " + state + ")";
}

Failure Classify(const std::exception& e, soci::session* session) {
  const std::string state = SqlState(e);
  if (state == "23505") return Failure::kUniqueViolation;
  if (state == "40001" || state == "40P01") return Failure::kSerialization;
  if (state == "55P03") return Failure::kLockNotAvailable;
  if (dynamic_cast<const StalePlanError*>(&e) != nullptr) return Failure::kStalePlan;
  if (state == "57014") return Failure::kTimeout;
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
    return Failure::kConnection;
  }
  if (const auto* soci_error = dynamic_cast<const soci::soci_error*>(&e)) {
    if (soci_error->get_error_category() == soci::soci_error::connection_error) {
      return Failure::kConnection;
    }
    if (ConnectionBroken(session)) return Failure::kConnection;
  }
  return Failure::kOther;
}

Pool::Pool(PoolOptions options, metrics::Metrics* metrics)
    : options_(std::move(options)),
      conninfo_(ToKeyValueConninfo(options_.url,
                                   {{"connect_timeout", std::to_string(options_.connect_timeout_seconds)},
                                    {"application_name", options_.application_name}})),
      slots_(options_.size == 0 ? 1 : options_.size) {
  if (metrics != nullptr) {
    auto& registry = metrics->registry();
    lease_timeouts_ = &prometheus::BuildCounter()
                           .Name("db_pool_lease_timeouts_total")
                           .Help("Requests that found no free database connection in time")
                           .Register(registry)
                           .Add({});
    retries_ = &prometheus::BuildCounter()
                    .Name("db_transaction_retries_total")
                    .Help("Transactions run again after PostgreSQL aborted them")
                    .Register(registry);
    lease_wait_ = &prometheus::BuildHistogram()
                       .Name("db_pool_wait_seconds")
                       .Help("Time spent waiting for a database connection")
                       .Register(registry)
                       .Add({}, metrics::Metrics::LatencyBuckets());
  }
}

Pool::~Pool() = default;

std::unique_ptr<Session> Pool::OpenSession() const {
  try {
    auto session = std::make_unique<Session>(conninfo_);
    *session << "SET client_min_messages = warning";
    *session << "SET statement_timeout = " + std::to_string(options_.statement_timeout_ms);
    return session;
  } catch (const std::exception& e) {
    // libpq's message names host and port but never the password.
    logging::Warn("database connect failed", {{"error", DescribeError(e)}});
    throw Unavailable("the database is unreachable");
  }
}

Pool::Lease Pool::Acquire() {
  const auto start = std::chrono::steady_clock::now();
  std::size_t slot = 0;
  {
    std::unique_lock lock(mu_);
    auto free_slot = [&]() -> bool {
      // Prefer a slot with an open session, so idle connections get reused.
      std::optional<std::size_t> empty;
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].busy) continue;
        if (slots_[i].session) {
          slot = i;
          return true;
        }
        if (!empty) empty = i;
      }
      if (empty) slot = *empty;
      return empty.has_value();
    };
    if (!cv_.wait_for(lock, options_.lease_timeout, free_slot)) {
      if (lease_timeouts_ != nullptr) lease_timeouts_->Increment();
      throw Unavailable("all database connections are busy");
    }
    slots_[slot].busy = true;
  }
  if (lease_wait_ != nullptr) {
    lease_wait_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // Connect outside the lock; the slot is ours.
  if (!slots_[slot].session) {
    try {
      slots_[slot].session = OpenSession();
    } catch (...) {
      Release(slot, true);
      throw;
    }
  }
  return Lease(this, slot, slots_[slot].session.get());
}

void Pool::Release(std::size_t slot, bool invalid) {
  std::unique_ptr<Session> dropped;
  {
    std::lock_guard lock(mu_);
    if (invalid) dropped = std::move(slots_[slot].session);
    slots_[slot].busy = false;
  }
  cv_.notify_one();
  // `dropped` closes its connection here, outside the lock.
}

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), slot_(other.slot_), session_(other.session_), invalid_(other.invalid_) {
  other.pool_ = nullptr;
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(slot_, invalid_ || ConnectionBroken(session_));
}

void Pool::OnTransactFailure(Lease& lease, bool commit_sent, int attempt, bool in_transaction) {
  soci::session& sql = lease.session();
  auto rollback = [&] {
    if (!in_transaction) return;
    try {
      sql.rollback();
    } catch (...) {
      lease.Invalidate();
    }
  };
  auto backoff = [&](const char* reason) {
    if (retries_ != nullptr) retries_->Add({{"reason", reason}}).Increment();
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> jitter(0, 5 * attempt);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
  };
  try {
    throw;
  } catch (const errors::Error&) {
    rollback();
    throw;
  } catch (const std::exception& e) {
    const Failure failure = Classify(e, &sql);
    switch (failure) {
      case Failure::kConnection:
        lease.Invalidate();
        if (commit_sent) {
          logging::Warn("database connection lost during commit; outcome unknown",
                        {{"error", DescribeError(e)}});
          throw Unavailable("the database connection was lost while committing");
        }
        if (attempt < kMaxAttempts) {
          backoff("connection");
          return;
        }
        throw Unavailable("the database is unreachable");
      case Failure::kSerialization:
      case Failure::kStalePlan:
        rollback();
        if (attempt < kMaxAttempts) {
          backoff(failure == Failure::kStalePlan ? "stale_plan" : "serialization");
          return;
        }
        throw errors::Error(errors::Reason::kConcurrentModification,
                            "a concurrent change won; retry the request");
      case Failure::kTimeout:
        rollback();
        throw Unavailable("the database did not answer in time");
      case Failure::kLockNotAvailable:
        rollback();
        throw errors::Error(errors::Reason::kConcurrentModification,
                            "the record is locked by another request; retry the request");
      case Failure::kUniqueViolation:
      case Failure::kOther:
        rollback();
        throw;
    }
  } catch (...) {
    // Anything else (a domain signal that is not an exception class): the
    // transaction must not reach the next user of this session half done.
    rollback();
    throw;
  }
}

bool Pool::Ping() {
  std::lock_guard lock(ping_mu_);
  try {
    if (!ping_session_ || ConnectionBroken(ping_session_.get())) ping_session_ = OpenSession();
    int one = 0;
    *ping_session_ << "SELECT 1", soci::into(one);
    return one == 1;
  } catch (const std::exception&) {
    ping_session_.reset();
    return false;
  }
}

}  // namespace billing::db
