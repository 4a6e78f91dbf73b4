-- Paying an invoice (DESIGN.md §7). Each PayInvoice attempt is a row; the
-- invoice points at its pending one while it runs, so a second attempt is
-- refused and a stale one can be cleared. Calls the invoice service owes the
-- payments service (cancel a PaymentIntent whose invoice went away, refund
-- money that arrived for an invoice that no longer wants it) go through an
-- outbox, written in the same transaction as the decision.

CREATE TABLE pay_attempts (
  attempt_id          UUID PRIMARY KEY,
  invoice_id          UUID NOT NULL REFERENCES invoices (invoice_id),
  -- The PayInvoice call that started it.
  caller              TEXT NOT NULL,
  request_id          TEXT NOT NULL,
  currency            CHAR(3) NOT NULL,
  amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
  status              TEXT NOT NULL
                      CHECK (status IN ('STARTED', 'REQUIRES_ACTION', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
  -- The payments service's payment and its PaymentIntent, once known.
  payment_id          UUID,
  payment_intent_id   TEXT,
  failure_code        TEXT NOT NULL DEFAULT '',
  failure_message     TEXT NOT NULL DEFAULT '',
  -- When the sync worker should ask the payments service about it.
  next_check_at       TIMESTAMPTZ,
  created_at          TIMESTAMPTZ NOT NULL,
  updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX pay_attempts_by_invoice ON pay_attempts (invoice_id, created_at);
CREATE UNIQUE INDEX pay_attempts_by_payment ON pay_attempts (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX pay_attempts_by_intent ON pay_attempts (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
-- At most one attempt in progress per invoice.
CREATE UNIQUE INDEX pay_attempts_one_in_progress ON pay_attempts (invoice_id)
  WHERE status IN ('STARTED', 'REQUIRES_ACTION', 'PROCESSING');
CREATE INDEX pay_attempts_to_check ON pay_attempts (next_check_at) WHERE next_check_at IS NOT NULL;

ALTER TABLE invoices ADD COLUMN pending_attempt_id UUID REFERENCES pay_attempts (attempt_id);

CREATE TABLE payment_actions (
  action_id           UUID PRIMARY KEY,
  kind                TEXT NOT NULL CHECK (kind IN ('CANCEL', 'REFUND')),
  payment_id          UUID NOT NULL,
  invoice_id          UUID NOT NULL REFERENCES invoices (invoice_id),
  reason              TEXT NOT NULL DEFAULT '',
  state               TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DONE', 'FAILED')),
  attempts            INT NOT NULL DEFAULT 0,
  next_attempt_at     TIMESTAMPTZ NOT NULL,
  last_error          TEXT NOT NULL DEFAULT '',
  created_at          TIMESTAMPTZ NOT NULL,
  done_at             TIMESTAMPTZ,
  UNIQUE (kind, payment_id)
);
CREATE INDEX payment_actions_due ON payment_actions (next_attempt_at) WHERE state = 'PENDING';
