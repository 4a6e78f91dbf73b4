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

// --- prepared statements per connection (db::Session::Run) ----------------

TEST(PlaceholdersTest, NamesBecomePositionsByFirstUse) {
  const auto p = TranslatePlaceholders(
      "SELECT :a::TEXT, ':not_a_name', :b_2, :a FROM t WHERE x = CAST(:b_2 AS INT) AND y = 'it''s :c' AND z = :c");
  EXPECT_EQ(p.text, "SELECT $1::TEXT, ':not_a_name', $2, $1 FROM t WHERE x = CAST($2 AS INT) AND y = 'it''s :c' AND z = $3");
  EXPECT_EQ(p.names, (std::vector<std::string>{"a", "b_2", "c"}));
  EXPECT_EQ(TranslatePlaceholders("SELECT 1 : 2").text, "SELECT 1 : 2");
}

constexpr char kInsertRow[] = "INSERT INTO kv (id, name, at) VALUES (:id, :name, :at) RETURNING id";
constexpr char kSelectRow[] =
    "SELECT id, name, at, at IS NULL, "
    "to_char((TIMESTAMPTZ 'epoch' + CAST(:t AS BIGINT) * INTERVAL '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD') "
    "FROM kv WHERE id = :id";

class SessionTest : public PoolTest {
 protected:
  void SetUp() override { ExecSql(db_.url(), "CREATE TABLE kv (id BIGINT PRIMARY KEY, name TEXT, at BIGINT)"); }
  static long long Prepared(Session& sql, const std::string& name_like) {
    long long n = 0;
    sql << "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '" + name_like + "'", soci::into(n);
    return n;
  }
};

TEST_F(SessionTest, AStatementIsPreparedOncePerConnectionAndReadBack) {
  Pool pool({.url = db_.url(), .size = 1});
  const std::string name = "first";
  for (long long id = 1; id <= 3; ++id) {
    const Result r = pool.Transact([&](Session& sql) {
      return sql.Run(kInsertRow, {{"id", id}, {"name", name}, {"at", std::optional<long long>()}});
    });
    ASSERT_EQ(r.Rows(), 1);
    EXPECT_EQ(ResultRowReader(r, 0).Int(), id);
    EXPECT_EQ(r.Affected(), 1);
  }
  pool.Transact([&](Session& sql) {
    sql.Run(kInsertRow, {{"id", 4}, {"name", "quote ' and $1 :id"}, {"at", clock::FromUnixMicros(1234567)}});
  });
  const Result r = pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 4}, {"t", 0}}); });
  ASSERT_EQ(r.Rows(), 1);
  ResultRowReader row(r, 0);
  EXPECT_EQ(row.Int(), 4);
  EXPECT_EQ(row.Str(), "quote ' and $1 :id");
  EXPECT_EQ(row.OptTime(), clock::FromUnixMicros(1234567));
  EXPECT_FALSE(row.Bool());
  EXPECT_EQ(row.Str(), "1970-01-01");
  const Result none = pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 99}, {"t", 0}}); });
  EXPECT_TRUE(none.Empty());
  const Result null_at = pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}, {"t", 0}}); });
  ResultRowReader first(null_at, 0);
  first.Int();
  first.Str();
  EXPECT_TRUE(first.NextIsNull());
  EXPECT_EQ(first.OptTime(), std::nullopt);
  EXPECT_TRUE(first.Bool());
  pool.Read([&](Session& sql) {
    EXPECT_EQ(sql.PreparedCount(), 2u);
    EXPECT_EQ(Prepared(sql, "billing_%"), 2) << "one server-side statement per SQL text";
    return 0;
  });
}

// A prepared statement belongs to the connection: the rollback of the
// transaction that prepared it keeps it, and the cache stays true.
TEST_F(SessionTest, APreparedStatementOutlivesARolledBackTransaction) {
  Pool pool({.url = db_.url(), .size = 1});
  EXPECT_THROW(pool.Transact([&](Session& sql) {
    sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}});
    throw std::runtime_error("the caller changed its mind");
  }),
               std::runtime_error);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 0);
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 1);
}

TEST_F(SessionTest, ErrorsAreClassifiedLikeSocis) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  try {
    pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "y"}, {"at", 5}}); });
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_TRUE(IsUniqueViolation(e));
    EXPECT_EQ(DescribeError(e).find("Key (id)"), std::string::npos) << "DETAIL echoes the row: " << DescribeError(e);
  }
  // The failed transaction left the connection usable, statement included.
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 2}, {"name", "y"}, {"at", 5}}); });
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 2);
}

TEST_F(SessionTest, MisboundArgumentsAreRefusedBeforeTheServer) {
  Pool pool({.url = db_.url(), .size = 1});
  EXPECT_THROW(pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}}); }), std::logic_error);
  EXPECT_THROW(pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}, {"t", 0}, {"x", 1}}); }),
               std::logic_error);
  EXPECT_THROW(pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}, {"t", 0}, {"id", 2}}); }),
               std::logic_error);
  const std::string with_nul("a\0b", 3);
  EXPECT_THROW(pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", with_nul}, {"at", 5}}); }),
               std::invalid_argument);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 0);
}

// The cache dies with its connection: after the server drops it, the pool
// reconnects and the statement is prepared again on the new connection.
TEST_F(SessionTest, AReconnectedSessionPreparesAfresh) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  ASSERT_EQ(pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}, {"t", 0}}); }).Rows(), 1);
  const long long pid = pool.Read([&](Session& sql) {
    return ResultRowReader(sql.Run("SELECT pg_backend_pid()"), 0).Int();
  });
  ExecSql(db_.url(), "SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  const Result r = pool.Read([&](Session& sql) { return sql.Run(kSelectRow, {{"id", 1}, {"t", 0}}); });
  EXPECT_EQ(r.Rows(), 1);
  pool.Read([&](Session& sql) {
    EXPECT_NE(ResultRowReader(sql.Run("SELECT pg_backend_pid()"), 0).Int(), pid);
    EXPECT_EQ(sql.PreparedCount(), 2u) << "the select and the pid query, on the new connection";
    return 0;
  });
}

// A pooler's DISCARD ALL (or anyone's DEALLOCATE) takes the statements
// away under the session: the next run is refused (26000), the session
// forgets everything and the pool runs the call again.
TEST_F(SessionTest, StatementsTheServerDroppedArePreparedAgain) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  pool.Read([&](Session& sql) {
    sql << "DEALLOCATE ALL";
    return 0;
  });
  int runs = 0;
  pool.Transact([&](Session& sql) {
    ++runs;
    sql.Run(kInsertRow, {{"id", 2}, {"name", "y"}, {"at", 6}});
  });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 2);
}

// kPerCall statements are planned for each call's values and never kept.
TEST_F(SessionTest, PerCallStatementsAreNotPrepared) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  pool.Read([&](Session& sql) {
    for (int i = 0; i < 3; ++i) {
      const Result r = sql.Run(kSelectRow, {{"id", 1}, {"t", 0}}, Session::Planning::kPerCall);
      EXPECT_EQ(ResultRowReader(r, 0).Int(), 1);
    }
    EXPECT_EQ(sql.PreparedCount(), 1u) << "only the insert";
    EXPECT_EQ(Prepared(sql, "billing_%"), 1);
    return 0;
  });
}

// Another replica's migration changes what a prepared statement returns:
// PostgreSQL refuses the old statement, the session forgets it, and the
// pool runs the transaction (or the read) again, which prepares afresh.
constexpr char kSelectAll[] = "SELECT * FROM kv WHERE id = :id";

TEST_F(SessionTest, AStatementOutdatedByASchemaChangeIsPreparedAfresh) {
  Pool pool({.url = db_.url(), .size = 1});
  pool.Transact([&](Session& sql) { sql.Run(kInsertRow, {{"id", 1}, {"name", "x"}, {"at", 5}}); });
  auto columns = [](const Result& r) { return PQnfields(r.get()); };
  EXPECT_EQ(pool.Read([&](Session& sql) { return columns(sql.Run(kSelectAll, {{"id", 1}})); }), 3);
  ExecSql(db_.url(), "ALTER TABLE kv ADD COLUMN extra INT");
  int runs = 0;
  EXPECT_EQ(pool.Transact([&](Session& sql) {
    ++runs;
    sql.Run(kInsertRow, {{"id", 2}, {"name", "y"}, {"at", 6}});
    return columns(sql.Run(kSelectAll, {{"id", 1}}));
  }),
            4);
  EXPECT_EQ(runs, 2) << "the refused run rolled back and ran again";
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM kv"), 2);
  ExecSql(db_.url(), "ALTER TABLE kv DROP COLUMN extra");
  EXPECT_EQ(pool.Read([&](Session& sql) { return columns(sql.Run(kSelectAll, {{"id", 1}})); }), 3);
}

}  // namespace
}  // namespace billing::db
