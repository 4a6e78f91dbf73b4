-- The invoice lifecycle: who did what, renumbered bookings, due dates, and
-- the notification outbox.

ALTER TABLE invoice_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';

-- The booking system may renumber a booking; its invoices and payments
-- follow it.
ALTER TABLE invoices
  DROP CONSTRAINT invoices_booking_id_fkey,
  ADD CONSTRAINT invoices_booking_id_fkey
    FOREIGN KEY (booking_id) REFERENCES bookings (booking_id) ON UPDATE CASCADE;
ALTER TABLE customer_payments
  DROP CONSTRAINT customer_payments_booking_id_fkey,
  ADD CONSTRAINT customer_payments_booking_id_fkey
    FOREIGN KEY (booking_id) REFERENCES bookings (booking_id) ON UPDATE CASCADE;

-- The due-date sweep reads only open invoices that have a due time.
CREATE INDEX invoices_open_due ON invoices (due_at) WHERE status = 'OPEN' AND due_at IS NOT NULL;

-- The transactional outbox: a notification row is written in the same
-- transaction as the change that wants it, then delivered to notify by a
-- dispatcher that leases rows (SKIP LOCKED) and retries with backoff.
CREATE TABLE invoice_notifications (
  outbox_id        BIGSERIAL PRIMARY KEY,
  invoice_id       UUID NOT NULL REFERENCES invoices (invoice_id),
  purpose          TEXT NOT NULL
                   CHECK (purpose IN ('INVOICE_LINK', 'RECEIPT', 'BOOKING_CONFIRMATION', 'PAYMENT_REMINDER')),
  channel          TEXT NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
  recipient        TEXT NOT NULL,
  request          JSONB NOT NULL,
  state            TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'QUEUED', 'SENT', 'FAILED')),
  notification_id  TEXT NOT NULL DEFAULT '',
  failure_reason   TEXT NOT NULL DEFAULT '',
  attempts         INT NOT NULL DEFAULT 0,
  next_attempt_at  TIMESTAMPTZ NOT NULL,
  lease_until      TIMESTAMPTZ,
  created_at       TIMESTAMPTZ NOT NULL,
  sent_at          TIMESTAMPTZ
);
CREATE INDEX invoice_notifications_by_invoice ON invoice_notifications (invoice_id, outbox_id);
CREATE INDEX invoice_notifications_due ON invoice_notifications (next_attempt_at) WHERE state = 'PENDING';
CREATE INDEX invoice_notifications_queued ON invoice_notifications (outbox_id) WHERE state = 'QUEUED';
