-- The outbox claim (kClaimEvents) takes the oldest due events whose payment
-- has no older event still pending. With only payment_events_due, that test
-- scanned every pending row for each candidate: under a backlog of 600
-- events a claim took 30-100 ms of PostgreSQL's time (measured by
-- bench/run.sh with pg_stat_statements and auto_explain). With these two, a
-- claim reads `limit` rows in seq order and probes one index entry for each
-- (on stale statistics: every pending row once, still linear).
--
-- Migrations run in a transaction, so these builds lock the outbox against
-- writes while they run. Delivered rows are never pruned: on a large outbox,
-- create both indexes by hand first with CREATE INDEX CONCURRENTLY (same
-- names and definitions); IF NOT EXISTS then skips them here.
CREATE INDEX IF NOT EXISTS payment_events_pending_seq ON payment_events_outbox (seq) WHERE state = 'PENDING';
CREATE INDEX IF NOT EXISTS payment_events_pending_by_payment ON payment_events_outbox (payment_id, seq)
  WHERE state = 'PENDING';
DROP INDEX IF EXISTS payment_events_due;
