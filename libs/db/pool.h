#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include <soci/soci.h>

#include "db/session.h"
#include "errors/error.h"
#include "metrics/metrics.h"

namespace billing::db {

struct PoolOptions {
  // libpq connection string: a URI ("postgresql://user:pw@host:5432/db") or
  // key=value pairs.
  std::string url;
  // Connections kept open; also the most concurrent transactions.
  std::size_t size = 8;
  // How long a request waits for a free connection before it fails with
  // DATABASE_UNAVAILABLE, instead of queueing forever.
  std::chrono::milliseconds lease_timeout{2000};
  int connect_timeout_seconds = 3;
  // Server-side cap per statement, so a stuck lock cannot pin a request (and
  // a pool slot) forever.
  int statement_timeout_ms = 10000;
  std::string application_name = "billing";
};

// How PostgreSQL failed, from SOCI's exception and the connection's state.
enum class Failure {
  kUniqueViolation,    // 23505
  kSerialization,      // 40001, 40P01: the server rolled back; safe to retry
  kLockNotAvailable,   // 55P03
  kStalePlan,          // StalePlanError: a prepared statement outdated or gone; nothing applied, safe to retry
  kTimeout,            // 57014 statement_timeout / canceled
  kConnection,         // the connection is gone (08xxx, or PQstatus bad)
  kOther,
};
Failure Classify(const std::exception& e, soci::session* session);
// The SQLSTATE of a PostgreSQL error, or "" for other exceptions.
std::string SqlState(const std::exception& e);
bool IsUniqueViolation(const std::exception& e);
// An exception's text that is safe to log: SOCI's what() appends the failing
// statement and its bound values, and PostgreSQL's DETAIL can echo a whole
// row ("Failing row contains (...)"); both are dropped.
std::string DescribeError(const std::exception& e);

// A fixed-size pool of PostgreSQL sessions with lazy (re)connection.
//
// Nothing connects at construction, so a service can start, report
// NOT_SERVING, and become ready when the database appears. A connection that
// fails is dropped and reopened on its next lease: the pool survives a
// database restart without a process restart.
class Pool {
 public:
  explicit Pool(PoolOptions options, metrics::Metrics* metrics = nullptr);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Session& session() { return *session_; }
    // The connection is broken; close it so the next lease reopens it.
    void Invalidate() { invalid_ = true; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::size_t slot, Session* session)
        : pool_(pool), slot_(slot), session_(session) {}
    Pool* pool_;
    std::size_t slot_;
    Session* session_;
    bool invalid_ = false;
  };

  // A connected session for the caller's exclusive use. Throws
  // errors::Error(DATABASE_UNAVAILABLE) when none frees up within
  // lease_timeout or the database cannot be reached.
  Lease Acquire();

  // Runs fn(session) between BEGIN and COMMIT and returns what fn returns.
  // fn takes a db::Session& (for prepared statements, Session::Run) or,
  // for plain SOCI, a soci::session&.
  //
  // The whole function is run again (up to a few times) when PostgreSQL
  // aborted the transaction (serialization failure, deadlock) or the
  // connection broke before COMMIT was sent: in both cases nothing was
  // applied. If the connection breaks during COMMIT, the outcome is unknown;
  // that surfaces as DATABASE_UNAVAILABLE without a retry, and the caller's
  // idempotency key makes its own retry safe. errors::Error thrown by fn rolls
  // back and propagates unchanged, as do other database errors (classify them
  // with Classify/IsUniqueViolation).
  template <typename F>
  auto Transact(F&& fn) -> std::invoke_result_t<F&, Session&>;

  // Runs fn(session) without BEGIN and COMMIT, for a single read-only
  // statement (which has its own snapshot): two round trips fewer on the
  // hottest reads. Retried like Transact when the connection broke; other
  // errors propagate as from Transact.
  template <typename F>
  auto Read(F&& fn) -> std::invoke_result_t<F&, Session&>;

  // Opens a dedicated, configured session outside the pool (migrations,
  // advisory locks). Throws errors::Error(DATABASE_UNAVAILABLE).
  std::unique_ptr<Session> OpenSession() const;

  // One round trip on a dedicated connection (never waits for the pool, so
  // a busy pool does not look like a dead database). Reconnects as needed.
  bool Ping();

  const PoolOptions& options() const { return options_; }

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    bool busy = false;
  };
  void Release(std::size_t slot, bool invalid);
  // Called from inside a catch block of Transact: rolls back, then either
  // returns (retry) or throws the error the caller should see.
  void OnTransactFailure(Lease& lease, bool commit_sent, int attempt, bool in_transaction = true);

  PoolOptions options_;
  std::string conninfo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::mutex ping_mu_;
  std::unique_ptr<Session> ping_session_;
  prometheus::Counter* lease_timeouts_ = nullptr;
  prometheus::Family<prometheus::Counter>* retries_ = nullptr;
  prometheus::Histogram* lease_wait_ = nullptr;
};

// Runs pool.Transact(fn) and runs it again when it fails with a unique
// violation: a concurrent transaction inserted the same key first, and the
// next run sees that row and decides. After `attempts` runs the caller gets
// CONCURRENT_MODIFICATION. fn must have no effects outside the transaction.
template <typename F>
void TransactRetryingConflicts(Pool& pool, F&& fn, int attempts = 3);

template <typename F>
auto Pool::Transact(F&& fn) -> std::invoke_result_t<F&, Session&> {
  using Returned = std::invoke_result_t<F&, Session&>;
  for (int attempt = 1;; ++attempt) {
    Lease lease = Acquire();
    Session& sql = lease.session();
    bool commit_sent = false;
    try {
      sql.begin();
      if constexpr (std::is_void_v<Returned>) {
        fn(sql);
        commit_sent = true;
        sql.commit();
        return;
      } else {
        Returned result = fn(sql);
        commit_sent = true;
        sql.commit();
        return result;
      }
    } catch (...) {
      OnTransactFailure(lease, commit_sent, attempt);  // throws unless retrying
    }
  }
}

template <typename F>
auto Pool::Read(F&& fn) -> std::invoke_result_t<F&, Session&> {
  for (int attempt = 1;; ++attempt) {
    Lease lease = Acquire();
    try {
      return fn(lease.session());
    } catch (...) {
      OnTransactFailure(lease, /*commit_sent=*/false, attempt, /*in_transaction=*/false);
    }
  }
}

template <typename F>
void TransactRetryingConflicts(Pool& pool, F&& fn, int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      pool.Transact(fn);
      return;
    } catch (const std::exception& e) {
      if (!IsUniqueViolation(e)) throw;
      if (attempt >= attempts) {
        throw errors::Error(errors::Reason::kConcurrentModification,
                            "a concurrent request changed the same records; retry the request");
      }
    }
  }
}

}  // namespace billing::db
