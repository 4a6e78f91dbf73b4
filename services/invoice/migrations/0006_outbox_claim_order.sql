-- The outbox claims read their rows in the order they take them, so a
-- claim reads about :limit index entries however long the backlog is.
-- The old indexes held only the first sort key: every claim fetched and
-- sorted the whole backlog (4,000 rows and 4 ms a claim, measured in the
-- CreateInvoice benchmark), which made the hand-off slower the further it
-- fell behind.
--
-- A delivery-state check is due when next_sync_at is NULL (never checked)
-- or past; COALESCE folds both into one range the index can bound.
--
-- Replicas still on the previous version keep working during a rollout:
-- their claims mean the same, they are only slower until replaced.
--
-- Migrations run in a transaction. The builds lock invoice_notifications
-- against writes (CreateInvoice, receipts) while they run: both took 0.16 s
-- for 185,000 rows of a cached table, about a second per million. The drops
-- come last: DROP INDEX locks the table against reads too, until the commit
-- that follows at once, but it waits for any transaction using the table
-- first. Sent rows are never pruned: on a large table, create both indexes
-- by hand first with CREATE INDEX CONCURRENTLY (same names and definitions;
-- check that pg_index.indisvalid is true, a failed concurrent build leaves
-- an invalid index behind); IF NOT EXISTS then skips them here.
CREATE INDEX IF NOT EXISTS invoice_notifications_due_order
  ON invoice_notifications (next_attempt_at, outbox_id) WHERE state = 'PENDING';
CREATE INDEX IF NOT EXISTS invoice_notifications_sync_order
  ON invoice_notifications ((COALESCE(next_sync_at, '-infinity'::TIMESTAMPTZ)), outbox_id) WHERE state = 'QUEUED';
DROP INDEX IF EXISTS invoice_notifications_due;
DROP INDEX IF EXISTS invoice_notifications_sync;
