-- The phase an idempotent call reached, as in rocket-rides-atomic: a resumed
-- call continues from here. CreatePayment: started -> intent_created ->
-- finished; the others: started -> finished.
ALTER TABLE idempotency_keys ADD COLUMN recovery_point TEXT NOT NULL DEFAULT 'started'
  CHECK (recovery_point IN ('started', 'intent_created', 'finished'));
UPDATE idempotency_keys SET recovery_point = 'finished' WHERE finished;

-- The outbox's order: per payment, events go out in the order they were
-- queued (a sequence, not application clocks, which differ between
-- replicas).
ALTER TABLE payment_events_outbox ADD COLUMN seq BIGSERIAL;
