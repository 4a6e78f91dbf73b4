-- Claims commit before the send instead of holding a row lock through it:
-- the claimer's token, cleared when it records the outcome. A row that is
-- QUEUED with a token and a next_attempt_at in the past belonged to a
-- dispatcher that died mid-send; the next claim takes it over.
ALTER TABLE notifications ADD COLUMN claim_token UUID;
