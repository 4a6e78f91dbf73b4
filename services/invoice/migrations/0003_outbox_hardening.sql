-- Outbox hardening. Each notification gets a random request key: the
-- request_id notify deduplicates on must stay unique even if this database
-- is restored or its sequences reset while notify's is not. Delivery-state
-- checks get a schedule, so replicas share them (SKIP LOCKED) and a slow row
-- never blocks newer ones.
ALTER TABLE invoice_notifications ADD COLUMN request_key UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE invoice_notifications ADD COLUMN next_sync_at TIMESTAMPTZ;
DROP INDEX invoice_notifications_queued;
CREATE INDEX invoice_notifications_sync ON invoice_notifications (next_sync_at NULLS FIRST) WHERE state = 'QUEUED';
