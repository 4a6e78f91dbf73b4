#include <gtest/gtest.h>

#include <soci/postgresql/soci-postgresql.h>

#include <atomic>
#include <thread>

#include "db/pool.h"
#include "errors/error.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::db {
namespace {

using billing::testing::ExecSql;
using billing::testing::QueryInt;
using billing::testing::TestDatabase;

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ExecSql(db_.url(), "CREATE TABLE t (id INT PRIMARY KEY)"); }
  TestDatabase db_{"pool"};
};

errors::Reason ReasonOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const errors::Error& e) {
    return e.reason();
  }
  ADD_FAILURE() << "no errors::Error";
  return errors::Reason::kInternal;
}

TEST_F(PoolTest, TransactCommitsAndReturns) {
  Pool pool({.url = db_.url(), .size = 2});
  const int n = pool.Transact([](soci::session& sql) {
    sql << "INSERT INTO t VALUES (1)";
    int count = 0;
    sql << "SELECT count(*)::INT FROM t", soci::into(count);
    return count;
  });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 1);
}

// A value thrown as a signal (not an exception class) rolls back too; once
// it did not, and the open transaction was committed by the session's next
// user.
TEST_F(PoolTest, ANonExceptionThrowRollsBackAndPropagates) {
  struct Signal {
    int value;
  };
  Pool pool({.url = db_.url(), .size = 1});
  int caught = 0;
  try {
    pool.Transact([](soci::session& sql) {
      sql << "INSERT INTO t VALUES (1)";
      throw Signal{7};
    });
  } catch (const Signal& s) {
    caught = s.value;
  }
  EXPECT_EQ(caught, 7);
  pool.Transact([](soci::session& sql) { sql << "INSERT INTO t VALUES (2)"; });
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 1);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t WHERE id = 1"), 0);
}

TEST_F(PoolTest, DomainErrorRollsBackAndPropagates) {
  Pool pool({.url = db_.url(), .size = 1});
  EXPECT_EQ(ReasonOf([&] {
              pool.Transact([](soci::session& sql) {
                sql << "INSERT INTO t VALUES (1)";
                throw errors::Error(errors::Reason::kNoBalance, "nope");
              });
            }),
            errors::Reason::kNoBalance);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 0);
  // The connection is clean for the next transaction.
  pool.Transact([](soci::session& sql) { sql << "INSERT INTO t VALUES (2)"; });
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 1);
}

TEST_F(PoolTest, UniqueViolationPropagatesClassified) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([](soci::session& sql) { sql << "INSERT INTO t VALUES (1)"; });
  try {
    pool.Transact([](soci::session& sql) { sql << "INSERT INTO t VALUES (1)"; });
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_TRUE(IsUniqueViolation(e));
  }
}

TEST_F(PoolTest, SerializationFailuresAreRetried) {
  Pool pool({.url = db_.url(), .size = 1});
  int calls = 0;
  pool.Transact([&](soci::session& sql) {
    sql << "INSERT INTO t VALUES (7)";
    if (++calls < 3) throw soci::postgresql_soci_error("could not serialize access", "40001");
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 1);  // the aborted attempts left nothing
}

TEST_F(PoolTest, BusyPoolAnswersUnavailableInsteadOfWaitingForever) {
  Pool pool({.url = db_.url(), .size = 1, .lease_timeout = std::chrono::milliseconds(200)});
  auto held = pool.Acquire();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReasonOf([&] { pool.Acquire(); }), errors::Reason::kDatabaseUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(PoolTest, UnreachableDatabaseIsUnavailable) {
  const std::string url = "postgresql://postgres@127.0.0.1:" + std::to_string(billing::testing::FreePort()) + "/x";
  Pool pool({.url = url, .size = 1, .connect_timeout_seconds = 1});
  EXPECT_EQ(ReasonOf([&] { pool.Acquire(); }), errors::Reason::kDatabaseUnavailable);
  EXPECT_FALSE(pool.Ping());
}

TEST_F(PoolTest, ReconnectsAfterTheServerDropsTheConnection) {
  Pool pool({.url = db_.url(), .size = 1});
  int backend_pid = 0;
  pool.Transact([&](soci::session& sql) { sql << "SELECT pg_backend_pid()", soci::into(backend_pid); });
  ExecSql(db_.url(), "SELECT pg_terminate_backend(" + std::to_string(backend_pid) + ")");
  // The next transaction finds the connection dead before COMMIT, reconnects
  // and runs once.
  pool.Transact([](soci::session& sql) { sql << "INSERT INTO t VALUES (3)"; });
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 1);
  int new_pid = 0;
  pool.Transact([&](soci::session& sql) { sql << "SELECT pg_backend_pid()", soci::into(new_pid); });
  EXPECT_NE(new_pid, backend_pid);
  EXPECT_TRUE(pool.Ping());
}

TEST_F(PoolTest, ConcurrentTransactionsShareThePool) {
  Pool pool({.url = db_.url(), .size = 4});
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      pool.Transact([&](soci::session& sql) { sql << "INSERT INTO t VALUES (" << i << ")"; });
      ++done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 16);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM t"), 16);
}

}  // namespace
}  // namespace billing::db
