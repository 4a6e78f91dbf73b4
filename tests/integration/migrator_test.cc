#include <gtest/gtest.h>

#include <soci/postgresql/soci-postgresql.h>

#include <thread>

#include "db/conninfo.h"
#include "db/migrator.h"
#include "support/postgres.h"

namespace billing::db {
namespace {

using billing::testing::QueryInt;
using billing::testing::TestDatabase;

// A migration that is not idempotent: applying it twice would count 2.
const std::vector<Migration> kSet = {
    {1, "0001_counter.sql", "CREATE TABLE counter (n INT NOT NULL); INSERT INTO counter VALUES (1);"},
    {2, "0002_more.sql", "INSERT INTO counter VALUES (2); CREATE INDEX counter_n ON counter (n);"},
};

TEST(MigratorTest, AppliesInOrderOnceAndRecords) {
  TestDatabase db("mig");
  soci::session sql(soci::postgresql, ToKeyValueConninfo(db.url()));
  EXPECT_FALSE(MigrationsApplied(sql, kSet));
  // Given out of order, applied in version order.
  const auto first = ApplyMigrations(sql, {kSet[1], kSet[0]}, "test");
  EXPECT_EQ(first.applied, 2);
  const auto second = ApplyMigrations(sql, kSet, "test");
  EXPECT_EQ(second.applied, 0);
  EXPECT_EQ(second.present, 2);
  EXPECT_TRUE(MigrationsApplied(sql, kSet));
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM counter"), 2);
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM schema_migrations"), 2);
}

TEST(MigratorTest, ChangedMigrationIsAnError) {
  TestDatabase db("mig");
  soci::session sql(soci::postgresql, ToKeyValueConninfo(db.url()));
  ApplyMigrations(sql, kSet, "test");
  auto changed = kSet;
  changed[0].sql = "CREATE TABLE counter (n BIGINT);";
  EXPECT_THROW(ApplyMigrations(sql, changed, "test"), MigrationError);
}

TEST(MigratorTest, FailedMigrationIsRolledBackAndNotRecorded) {
  TestDatabase db("mig");
  soci::session sql(soci::postgresql, ToKeyValueConninfo(db.url()));
  const std::vector<Migration> broken = {
      kSet[0], {2, "0002_broken.sql", "CREATE TABLE half (x INT); SELECT no_such_function();"}};
  EXPECT_THROW(ApplyMigrations(sql, broken, "test"), MigrationError);
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM schema_migrations"), 1);
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0);
  // The lock was released: a fixed set applies.
  EXPECT_EQ(ApplyMigrations(sql, kSet, "test").applied, 1);
}

TEST(MigratorTest, ConcurrentRunnersApplyEachMigrationExactlyOnce) {
  TestDatabase db("mig");
  constexpr int kRunners = 8;
  std::vector<std::thread> threads;
  std::vector<int> applied(kRunners, -1);
  std::vector<std::string> errors(kRunners);
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] {
      try {
        soci::session sql(soci::postgresql, ToKeyValueConninfo(db.url()));
        applied[i] = ApplyMigrations(sql, kSet, "test").applied;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  for (int i = 0; i < kRunners; ++i) {
    EXPECT_EQ(errors[i], "") << "runner " << i;
    total += applied[i];
  }
  EXPECT_EQ(total, 2);
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM counter"), 2);
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM schema_migrations"), 2);
}

}  // namespace
}  // namespace billing::db
