-- The dispatchers' claim reads the queue in the order it takes rows, so a
-- claim reads about one index entry however long the queue is. The old
-- index held only next_attempt_at: a claim fetched and sorted every due row
-- to find the first (4.3 ms a claim, 88 % of notify's statement time, in
-- the SendInvoiceLink benchmark with a queue of a few thousand).
--
-- Replicas still on the previous version keep working during a rollout;
-- their claims are only slower until replaced.
--
-- Migrations run in a transaction. The build locks notifications against
-- writes (new sends) while it runs, about a second per million rows of a
-- cached table; the drop, last, locks it against reads too until the commit
-- that follows at once, but waits for any transaction using the table
-- first. Sent rows are never pruned: on a large table, create the index by
-- hand first with CREATE INDEX CONCURRENTLY (same name and definition;
-- check that pg_index.indisvalid is true, a failed concurrent build leaves
-- an invalid index behind); IF NOT EXISTS then skips it here.
CREATE INDEX IF NOT EXISTS notifications_due_order
  ON notifications (next_attempt_at, notification_id) WHERE status = 'QUEUED';
DROP INDEX IF EXISTS notifications_due;
