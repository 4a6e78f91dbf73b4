-- The invoice service's schema: the billing mirror of bookings, invoices,
-- customer payments, the append-only invoice event log, and idempotency keys.
-- Money is BIGINT minor units plus a currency code, never floating point.

CREATE TABLE bookings (
  booking_id             TEXT PRIMARY KEY,
  status                 TEXT NOT NULL
                         CHECK (status IN ('DRAFT', 'PENDING', 'CONFIRMED', 'CANCELED', 'VOIDED', 'POSTPONED')),
  customer_name          TEXT NOT NULL DEFAULT '',
  customer_email         TEXT NOT NULL DEFAULT '',
  customer_phone         TEXT NOT NULL DEFAULT '',
  currency               CHAR(3) NOT NULL,
  total_minor            BIGINT NOT NULL CHECK (total_minor >= 0),
  -- Sum of customer_payments.amount_minor; changed only with a payment row.
  paid_minor             BIGINT NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
  activity_name          TEXT NOT NULL DEFAULT '',
  start_local            TEXT NOT NULL DEFAULT '',
  end_local              TEXT NOT NULL DEFAULT '',
  time_zone              TEXT NOT NULL DEFAULT '',
  confirmation_code      TEXT NOT NULL DEFAULT '',
  required_agreement_ids JSONB NOT NULL DEFAULT '[]',
  slot_hold_expires_at   TIMESTAMPTZ,
  revision               BIGINT NOT NULL DEFAULT 0,
  created_at             TIMESTAMPTZ NOT NULL,
  updated_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE invoices (
  invoice_id             UUID PRIMARY KEY,
  booking_id             TEXT NOT NULL REFERENCES bookings (booking_id),
  status                 TEXT NOT NULL CHECK (status IN ('OPEN', 'PAID', 'CLOSED', 'CANCELED', 'EXPIRED')),
  currency               CHAR(3) NOT NULL,
  amount_minor           BIGINT NOT NULL CHECK (amount_minor > 0),
  confirm_on_pay         BOOLEAN NOT NULL,
  send_to_email_override TEXT NOT NULL DEFAULT '',
  send_type              TEXT NOT NULL CHECK (send_type IN ('EMAIL', 'SMS')),
  -- The payment link's secret. Unique so a token names one invoice.
  token                  TEXT NOT NULL UNIQUE,
  line_items             JSONB NOT NULL DEFAULT '[]',
  fees                   JSONB NOT NULL DEFAULT '[]',
  custom_fields          JSONB NOT NULL DEFAULT '[]',
  due_at                 TIMESTAMPTZ,
  status_reason          TEXT NOT NULL DEFAULT '',
  payment_pending        BOOLEAN NOT NULL DEFAULT FALSE,
  customer_payment_id    UUID,
  created_at             TIMESTAMPTZ NOT NULL,
  updated_at             TIMESTAMPTZ NOT NULL,
  paid_at                TIMESTAMPTZ
);
-- Keyset pagination: newest first, ties broken by id.
CREATE INDEX invoices_by_created ON invoices (created_at DESC, invoice_id DESC);
CREATE INDEX invoices_by_booking ON invoices (booking_id, created_at DESC, invoice_id DESC);
CREATE INDEX invoices_by_status ON invoices (status, created_at DESC, invoice_id DESC);

CREATE TABLE customer_payments (
  customer_payment_id    UUID PRIMARY KEY,
  booking_id             TEXT NOT NULL REFERENCES bookings (booking_id),
  invoice_id             UUID REFERENCES invoices (invoice_id),
  currency               CHAR(3) NOT NULL,
  amount_minor           BIGINT NOT NULL CHECK (amount_minor > 0),
  source                 TEXT NOT NULL CHECK (source IN ('INVOICE', 'DASHBOARD', 'AUTO_CHARGE', 'OTHER')),
  payment_intent_id      TEXT,
  external_reference     TEXT NOT NULL DEFAULT '',
  created_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX customer_payments_by_booking ON customer_payments (booking_id, created_at);
-- A PaymentIntent is money received once; recording it twice would
-- double-count it against the balance.
CREATE UNIQUE INDEX customer_payments_one_per_intent
  ON customer_payments (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
-- At most one successful payment per invoice.
CREATE UNIQUE INDEX customer_payments_one_per_invoice
  ON customer_payments (invoice_id) WHERE source = 'INVOICE';

CREATE TABLE invoice_events (
  invoice_id             UUID NOT NULL REFERENCES invoices (invoice_id),
  sequence               BIGINT NOT NULL CHECK (sequence > 0),
  type                   TEXT NOT NULL,
  from_status            TEXT NOT NULL DEFAULT '',
  to_status              TEXT NOT NULL,
  reason                 TEXT NOT NULL DEFAULT '',
  request_id             TEXT NOT NULL DEFAULT '',
  created_at             TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (invoice_id, sequence)
);

-- The event log is append-only: history is evidence.
CREATE FUNCTION invoice_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'invoice_events is append-only';
END;
$$;
CREATE TRIGGER invoice_events_no_update_or_delete
  BEFORE UPDATE OR DELETE ON invoice_events
  FOR EACH ROW EXECUTE FUNCTION invoice_events_append_only();

-- One row per (caller, request_id) of every mutating RPC.
CREATE TABLE idempotency_keys (
  caller                 TEXT NOT NULL,
  request_id             TEXT NOT NULL,
  method                 TEXT NOT NULL,
  fingerprint            TEXT NOT NULL,
  resource_id            TEXT NOT NULL DEFAULT '',
  created_at             TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (caller, request_id)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
