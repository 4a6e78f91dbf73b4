-- The payments service's schema: payment attempts (one PaymentIntent each),
-- refunds, idempotency keys with their stored answers, the Stripe events
-- received, and the outbox of outcomes for the invoice service.

CREATE TABLE payments (
  payment_id             UUID PRIMARY KEY,
  -- The CreatePayment call that made it.
  caller                 TEXT NOT NULL,
  request_id             TEXT NOT NULL,
  invoice_id             TEXT NOT NULL,
  amount_minor           BIGINT NOT NULL CHECK (amount_minor > 0),
  currency               TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  method_kind            TEXT NOT NULL CHECK (method_kind IN ('payment_method', 'confirmation_token')),
  method_id              TEXT NOT NULL,
  return_url             TEXT NOT NULL DEFAULT '',
  description            TEXT NOT NULL DEFAULT '',
  metadata               JSONB NOT NULL DEFAULT '{}',
  status                 TEXT NOT NULL
                         CHECK (status IN ('PENDING', 'REQUIRES_ACTION', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
  -- NULL until Stripe answered the create call.
  payment_intent_id      TEXT UNIQUE,
  client_secret          TEXT NOT NULL DEFAULT '',
  failure_code           TEXT NOT NULL DEFAULT '',
  failure_decline_code   TEXT NOT NULL DEFAULT '',
  failure_message        TEXT NOT NULL DEFAULT '',
  amount_received_minor  BIGINT NOT NULL DEFAULT 0 CHECK (amount_received_minor >= 0),
  amount_refunded_minor  BIGINT NOT NULL DEFAULT 0 CHECK (amount_refunded_minor >= 0),
  -- Given up: its PaymentIntent is canceled at Stripe, and money it still
  -- captures is refunded automatically.
  abandoned_at           TIMESTAMPTZ,
  cancellation_reason    TEXT NOT NULL DEFAULT '',
  -- When the sweeper should look at it next; NULL: nothing left to do.
  next_sweep_at          TIMESTAMPTZ,
  created_at             TIMESTAMPTZ NOT NULL,
  updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_by_invoice ON payments (invoice_id, created_at DESC, payment_id DESC);
CREATE INDEX payments_to_sweep ON payments (next_sweep_at) WHERE next_sweep_at IS NOT NULL;

CREATE TABLE refunds (
  refund_id              UUID PRIMARY KEY,
  payment_id             UUID NOT NULL REFERENCES payments (payment_id),
  -- The RefundPayment call; empty for automatic refunds.
  caller                 TEXT NOT NULL DEFAULT '',
  request_id             TEXT NOT NULL DEFAULT '',
  amount_minor           BIGINT NOT NULL CHECK (amount_minor > 0),
  currency               TEXT NOT NULL,
  status                 TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
  reason                 TEXT NOT NULL DEFAULT '',
  automatic              BOOLEAN NOT NULL DEFAULT false,
  provider_refund_id     TEXT UNIQUE,
  failure_reason         TEXT NOT NULL DEFAULT '',
  -- When the refund worker should (re)try the Stripe call; NULL: not its job.
  next_attempt_at        TIMESTAMPTZ,
  created_at             TIMESTAMPTZ NOT NULL,
  updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at, refund_id);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL;

CREATE TABLE idempotency_keys (
  caller                 TEXT NOT NULL,
  request_id             TEXT NOT NULL,
  operation              TEXT NOT NULL,
  fingerprint            TEXT NOT NULL,
  -- In flight until then (a crashed call's lock runs out).
  locked_until           TIMESTAMPTZ,
  finished               BOOLEAN NOT NULL DEFAULT false,
  payment_id             UUID,
  refund_id              UUID,
  -- The answer replayed to retries: the payment (and refund) as answered,
  -- or the error.
  response               JSONB,
  created_at             TIMESTAMPTZ NOT NULL,
  last_used_at           TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (caller, request_id)
);
CREATE INDEX idempotency_keys_open_by_payment ON idempotency_keys (payment_id) WHERE NOT finished;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (last_used_at);

CREATE TABLE stripe_events (
  event_id               TEXT PRIMARY KEY,
  type                   TEXT NOT NULL,
  object_id              TEXT NOT NULL DEFAULT '',
  stripe_created_at      TIMESTAMPTZ NOT NULL,
  received_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE payment_events_outbox (
  -- The idempotency key at the invoice service: one per payment and status.
  event_key              TEXT PRIMARY KEY,
  payment_id             UUID NOT NULL REFERENCES payments (payment_id),
  invoice_id             TEXT NOT NULL,
  payment_intent_id      TEXT NOT NULL DEFAULT '',
  status                 TEXT NOT NULL,
  amount_received_minor  BIGINT NOT NULL DEFAULT 0,
  currency               TEXT NOT NULL,
  failure_code           TEXT NOT NULL DEFAULT '',
  failure_message        TEXT NOT NULL DEFAULT '',
  occurred_at            TIMESTAMPTZ NOT NULL,
  state                  TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'REJECTED')),
  attempts               INT NOT NULL DEFAULT 0,
  next_attempt_at        TIMESTAMPTZ NOT NULL,
  last_error             TEXT NOT NULL DEFAULT '',
  delivered_at           TIMESTAMPTZ
);
CREATE INDEX payment_events_due ON payment_events_outbox (next_attempt_at) WHERE state = 'PENDING';
