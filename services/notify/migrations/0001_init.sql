-- The notify service's schema: every notification (stored before it is
-- sent, so nothing accepted is lost) and every attempt to deliver it.

CREATE TABLE notifications (
  notification_id      UUID PRIMARY KEY,
  -- Idempotency: one notification per (caller, request_id).
  caller               TEXT NOT NULL,
  request_id           TEXT NOT NULL,
  fingerprint          TEXT NOT NULL,
  kind                 TEXT NOT NULL
                       CHECK (kind IN ('INVOICE_LINK', 'RECEIPT', 'BOOKING_CONFIRMATION', 'PAYMENT_REMINDER')),
  channel              TEXT NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
  -- Normalized: the email address, or the E.164 phone number.
  recipient            TEXT NOT NULL,
  recipient_name       TEXT NOT NULL DEFAULT '',
  sender_name          TEXT NOT NULL DEFAULT '',
  invoice_id           TEXT NOT NULL DEFAULT '',
  booking_id           TEXT NOT NULL DEFAULT '',
  -- The message as rendered when the request was accepted.
  subject              TEXT NOT NULL DEFAULT '',
  body_text            TEXT NOT NULL,
  body_html            TEXT NOT NULL DEFAULT '',
  sms_segments         INT NOT NULL DEFAULT 0,
  status               TEXT NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'SENT', 'FAILED')),
  attempts             INT NOT NULL DEFAULT 0,
  next_attempt_at      TIMESTAMPTZ NOT NULL,
  provider_message_id  TEXT NOT NULL DEFAULT '',
  failure_reason       TEXT NOT NULL DEFAULT '',
  created_at           TIMESTAMPTZ NOT NULL,
  updated_at           TIMESTAMPTZ NOT NULL,
  sent_at              TIMESTAMPTZ,
  UNIQUE (caller, request_id)
);
-- The dispatchers' queue: due QUEUED rows, oldest first.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'QUEUED';
-- ListNotifications, newest first.
CREATE INDEX notifications_by_invoice ON notifications (invoice_id, created_at DESC, notification_id DESC);
CREATE INDEX notifications_by_booking ON notifications (booking_id, created_at DESC, notification_id DESC);
CREATE INDEX notifications_by_recipient ON notifications (recipient, created_at DESC, notification_id DESC);

CREATE TABLE delivery_attempts (
  notification_id      UUID NOT NULL REFERENCES notifications (notification_id),
  attempt_number       INT NOT NULL CHECK (attempt_number > 0),
  outcome              TEXT NOT NULL CHECK (outcome IN ('ACCEPTED', 'TRANSIENT_FAILURE', 'PERMANENT_FAILURE')),
  error                TEXT NOT NULL DEFAULT '',
  provider_message_id  TEXT NOT NULL DEFAULT '',
  started_at           TIMESTAMPTZ NOT NULL,
  duration_ms          BIGINT NOT NULL,
  PRIMARY KEY (notification_id, attempt_number)
);
