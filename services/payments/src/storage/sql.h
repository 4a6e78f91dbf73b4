#pragma once

// Every SQL statement of the payments service, by name. Times cross the
// boundary as int64 Unix microseconds, converted exactly in SQL; a NULL
// bound to BILLING_TS gives NULL.
namespace billing::payments::storage::sql {

#define BILLING_US(col) "(EXTRACT(EPOCH FROM " col ") * 1000000)::BIGINT"
#define BILLING_TS(param) "(TIMESTAMPTZ 'epoch' + CAST(" param " AS BIGINT) * INTERVAL '1 microsecond')"

#define BILLING_PAYMENT_COLUMNS                                                                                     \
  "payment_id::TEXT, caller, request_id, invoice_id, amount_minor, currency, method_kind, method_id, return_url, " \
  "description, metadata::TEXT, status, COALESCE(payment_intent_id, ''), client_secret, failure_code, "           \
  "failure_decline_code, failure_message, amount_received_minor, amount_refunded_minor, " BILLING_US(            \
      "abandoned_at") ", cancellation_reason, " BILLING_US("next_sweep_at") ", " BILLING_US("created_at") ", "     \
                                                                         BILLING_US("updated_at")
#define BILLING_REFUND_COLUMNS                                                                                  \
  "refund_id::TEXT, payment_id::TEXT, caller, request_id, amount_minor, currency, status, reason, "             \
  "automatic::INT, COALESCE(provider_refund_id, ''), failure_reason, " BILLING_US("created_at") ", " BILLING_US( \
      "updated_at")
#define BILLING_KEY_COLUMNS                                                                                    \
  "caller, request_id, operation, fingerprint, " BILLING_US("locked_until") ", recovery_point, finished::INT, " \
  "COALESCE(payment_id::TEXT, ''), COALESCE(refund_id::TEXT, ''), COALESCE(response::TEXT, ''), " BILLING_US( \
      "created_at") ", " BILLING_US("last_used_at")
#define BILLING_EVENT_COLUMNS                                                                                       \
  "event_key, payment_id::TEXT, invoice_id, payment_intent_id, status, amount_received_minor, currency, "          \
  "failure_code, failure_message, " BILLING_US("occurred_at") ", attempts, seq, "                                 \
  "(SELECT p.metadata::TEXT FROM payments p WHERE p.payment_id = payment_events_outbox.payment_id)"

// --- idempotency keys ---
// A concurrent insert of the same key waits for the first to commit, then
// does nothing; kLockKey then reads the winner.
inline constexpr char kClaimKey[] =
    "INSERT INTO idempotency_keys (caller, request_id, operation, fingerprint, locked_until, created_at, "
    "last_used_at) VALUES (:caller, :request_id, :operation, :fingerprint, " BILLING_TS(":locked_until") ", "
    BILLING_TS(":now") ", " BILLING_TS(":now") ") ON CONFLICT (caller, request_id) DO NOTHING RETURNING 1";
inline constexpr char kLockKey[] =
    "SELECT " BILLING_KEY_COLUMNS " FROM idempotency_keys WHERE caller = :caller AND request_id = :request_id "
    "FOR UPDATE";
inline constexpr char kSetKeyLock[] =
    "UPDATE idempotency_keys SET locked_until = " BILLING_TS(":locked_until") ", last_used_at = now() "
    "WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kSetKeyResource[] =
    "UPDATE idempotency_keys SET payment_id = CAST(NULLIF(:payment_id, '') AS UUID), "
    "refund_id = CAST(NULLIF(:refund_id, '') AS UUID) WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kSetKeyRecoveryPoint[] =
    "UPDATE idempotency_keys SET recovery_point = :recovery_point WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kFinishKey[] =
    "UPDATE idempotency_keys SET finished = true, recovery_point = 'finished', locked_until = NULL, "
    "response = CAST(:response AS JSONB), "
    "last_used_at = " BILLING_TS(":now") " WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kLockOpenCreateKey[] =
    "SELECT " BILLING_KEY_COLUMNS " FROM idempotency_keys WHERE payment_id = CAST(:payment_id AS UUID) "
    "AND operation = 'CreatePayment' AND NOT finished FOR UPDATE";
// The sweeper takes a payment's open CreatePayment key only if no call
// holds it (re-checked after waiting for a concurrent call's transaction).
inline constexpr char kLockCreateKeyForSweep[] =
    "WITH taken AS (UPDATE idempotency_keys SET locked_until = " BILLING_TS(":lease_until") " "
    "WHERE payment_id = CAST(:payment_id AS UUID) AND operation = 'CreatePayment' AND NOT finished "
    "AND (locked_until IS NULL OR locked_until <= " BILLING_TS(":now") ") RETURNING 1) SELECT count(*) FROM taken";
inline constexpr char kCountOpenCreateKeys[] =
    "SELECT count(*) FROM idempotency_keys WHERE payment_id = CAST(:payment_id AS UUID) "
    "AND operation = 'CreatePayment' AND NOT finished";
// After the sweep: a retried call may go ahead (unless a call took the key
// since, which only happens once the lease ran out).
// A payment whose CreatePayment call is in flight is looked at again when
// that call's lock runs out (instead of filling every sweep batch).
inline constexpr char kDeferSweepToKeyLock[] =
    "UPDATE payments SET next_sweep_at = GREATEST(next_sweep_at, (SELECT max(locked_until) FROM idempotency_keys "
    "WHERE payment_id = CAST(:payment_id AS UUID) AND operation = 'CreatePayment' AND NOT finished)) "
    "WHERE payment_id = CAST(:payment_id AS UUID)";
inline constexpr char kReleaseCreateKey[] =
    "UPDATE idempotency_keys SET locked_until = NULL WHERE payment_id = CAST(:payment_id AS UUID) "
    "AND operation = 'CreatePayment' AND NOT finished AND locked_until = " BILLING_TS(":lease_until");
inline constexpr char kReapKeys[] =
    "WITH gone AS (DELETE FROM idempotency_keys WHERE (caller, request_id) IN (SELECT caller, request_id "
    "FROM idempotency_keys WHERE last_used_at < " BILLING_TS(":before") " AND (locked_until IS NULL OR "
    "locked_until < " BILLING_TS(":before") ") ORDER BY last_used_at LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "RETURNING 1) SELECT count(*) FROM gone";

// --- payments ---
inline constexpr char kInsertPayment[] =
    "INSERT INTO payments (payment_id, caller, request_id, invoice_id, amount_minor, currency, method_kind, "
    "method_id, return_url, description, metadata, status, next_sweep_at, created_at, updated_at) VALUES ("
    "CAST(:payment_id AS UUID), :caller, :request_id, :invoice_id, :amount_minor, :currency, :method_kind, "
    ":method_id, :return_url, :description, CAST(:metadata AS JSONB), :status, " BILLING_TS(":next_sweep_at") ", "
    BILLING_TS(":created_at") ", " BILLING_TS(":created_at") ")";
inline constexpr char kSelectPayment[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE payment_id = CAST(:payment_id AS UUID)";
inline constexpr char kLockPayment[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE payment_id = CAST(:payment_id AS UUID) FOR UPDATE";
inline constexpr char kSelectPaymentByIntent[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE payment_intent_id = :payment_intent_id";
inline constexpr char kLockPaymentByIntent[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE payment_intent_id = :payment_intent_id FOR UPDATE";
inline constexpr char kUpdatePayment[] =
    "UPDATE payments SET status = :status, payment_intent_id = NULLIF(:payment_intent_id, ''), "
    "client_secret = :client_secret, failure_code = :failure_code, failure_decline_code = :failure_decline_code, "
    "failure_message = :failure_message, amount_received_minor = :amount_received_minor, "
    "amount_refunded_minor = :amount_refunded_minor, abandoned_at = " BILLING_TS(":abandoned_at") ", "
    "cancellation_reason = :cancellation_reason, next_sweep_at = " BILLING_TS(":next_sweep_at") ", "
    "updated_at = " BILLING_TS(":updated_at") " WHERE payment_id = CAST(:payment_id AS UUID)";
// Keyset pagination, newest first; without a cursor the caller passes the
// largest possible key.
inline constexpr char kListPayments[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE invoice_id = :invoice_id "
    "AND (:status = '' OR status = :status) "
    "AND (created_at, payment_id) < (" BILLING_TS(":cursor_us") ", CAST(:cursor_id AS UUID)) "
    "ORDER BY created_at DESC, payment_id DESC LIMIT :limit";
// The sweeper's candidates: due, skipping rows another sweeper holds.
inline constexpr char kSweepCandidates[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM payments WHERE next_sweep_at <= " BILLING_TS(":now") " "
    "ORDER BY next_sweep_at LIMIT :limit FOR UPDATE SKIP LOCKED";
inline constexpr char kSetNextSweep[] =
    "UPDATE payments SET next_sweep_at = " BILLING_TS(":next_sweep_at") " WHERE payment_id = CAST(:payment_id AS UUID)";

// --- refunds ---
inline constexpr char kInsertRefund[] =
    "INSERT INTO refunds (refund_id, payment_id, caller, request_id, amount_minor, currency, status, reason, "
    "automatic, next_attempt_at, created_at, updated_at) VALUES (CAST(:refund_id AS UUID), "
    "CAST(:payment_id AS UUID), :caller, :request_id, :amount_minor, :currency, :status, :reason, "
    "CAST(:automatic AS BOOLEAN), " BILLING_TS(":next_attempt_at") ", " BILLING_TS(":created_at") ", "
    BILLING_TS(":created_at") ")";
inline constexpr char kLockRefund[] =
    "SELECT " BILLING_REFUND_COLUMNS " FROM refunds WHERE refund_id = CAST(:refund_id AS UUID) FOR UPDATE";
inline constexpr char kLockRefundByProvider[] =
    "SELECT " BILLING_REFUND_COLUMNS " FROM refunds WHERE provider_refund_id = :provider_refund_id FOR UPDATE";
inline constexpr char kUpdateRefund[] =
    "UPDATE refunds SET status = :status, provider_refund_id = NULLIF(:provider_refund_id, ''), "
    "failure_reason = :failure_reason, next_attempt_at = " BILLING_TS(":next_attempt_at") ", "
    "updated_at = " BILLING_TS(":updated_at") " WHERE refund_id = CAST(:refund_id AS UUID)";
inline constexpr char kListRefunds[] =
    "SELECT " BILLING_REFUND_COLUMNS " FROM refunds WHERE payment_id = CAST(:payment_id AS UUID) "
    "ORDER BY created_at, refund_id";
// Due PENDING refunds whose RefundPayment call (if any) is not in flight:
// never sent to Stripe (or the answer was lost), or sent and still pending
// there (looked up).
inline constexpr char kClaimRefunds[] =
    "UPDATE refunds SET next_attempt_at = " BILLING_TS(":lease_until") " WHERE refund_id IN ("
    "SELECT r.refund_id FROM refunds r WHERE r.status = 'PENDING' AND r.next_attempt_at <= " BILLING_TS(":now") " "
    "AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.refund_id = r.refund_id AND NOT k.finished "
    "AND k.locked_until > " BILLING_TS(":now") ") "
    "ORDER BY r.next_attempt_at LIMIT :limit FOR UPDATE OF r SKIP LOCKED) RETURNING " BILLING_REFUND_COLUMNS;

// --- Stripe events and the outbox ---
inline constexpr char kInsertStripeEvent[] =
    "INSERT INTO stripe_events (event_id, type, object_id, stripe_created_at, received_at) VALUES (:event_id, "
    ":type, :object_id, " BILLING_TS(":created") ", " BILLING_TS(":received") ") ON CONFLICT (event_id) DO NOTHING "
    "RETURNING 1";
inline constexpr char kQueueEvent[] =
    "INSERT INTO payment_events_outbox (event_key, payment_id, invoice_id, payment_intent_id, status, "
    "amount_received_minor, currency, failure_code, failure_message, occurred_at, next_attempt_at) VALUES ("
    ":event_key, CAST(:payment_id AS UUID), :invoice_id, :payment_intent_id, :status, :amount_received_minor, "
    ":currency, :failure_code, :failure_message, " BILLING_TS(":occurred_at") ", " BILLING_TS(":occurred_at") ") "
    "ON CONFLICT (event_key) DO NOTHING";
// Per payment, in order: an event waits while an older one of the same
// payment (by the outbox's sequence) is still pending, in flight or backing
// off, so the invoice service never hears CANCELED before REQUIRES_ACTION.
// "Oldest pending of its payment" is a correlated sub-select rather than NOT
// EXISTS: the outbox grows from empty faster than autovacuum analyses it,
// and on those stale statistics the planner ran the anti-join as a scan of
// every pending row per candidate (30-100 ms a claim under a 600-event
// backlog, quadratic). The sub-select is one probe of
// payment_events_pending_by_payment per candidate whatever the statistics
// (3 ms for 800 pending rows on stale ones; 0.3 ms with the seq index once
// analysed). Migration 0004 has the EXPLAINs' story. It is planned per call
// (the store passes Planning::kPerCall): a generic plan kept from an empty
// table would find the claimed keys with a scan of the whole table.
inline constexpr char kClaimEvents[] =
    "UPDATE payment_events_outbox SET attempts = attempts + 1, next_attempt_at = " BILLING_TS(":lease_until") " "
    "WHERE event_key = ANY(ARRAY(SELECT o.event_key FROM payment_events_outbox o WHERE o.state = 'PENDING' "
    "AND o.next_attempt_at <= " BILLING_TS(":now") " AND o.seq = (SELECT e.seq FROM payment_events_outbox e "
    "WHERE e.payment_id = o.payment_id AND e.state = 'PENDING' ORDER BY e.payment_id, e.seq LIMIT 1) "
    "ORDER BY o.seq LIMIT :limit FOR UPDATE OF o SKIP LOCKED)) RETURNING " BILLING_EVENT_COLUMNS;
inline constexpr char kMarkEventDelivered[] =
    "UPDATE payment_events_outbox SET state = 'DELIVERED', delivered_at = " BILLING_TS(":now") ", last_error = '' "
    "WHERE event_key = :event_key AND state = 'PENDING'";
inline constexpr char kMarkEventRetry[] =
    "UPDATE payment_events_outbox SET next_attempt_at = " BILLING_TS(":next_attempt_at") ", last_error = :error "
    "WHERE event_key = :event_key AND state = 'PENDING'";
inline constexpr char kMarkEventRejected[] =
    "UPDATE payment_events_outbox SET state = 'REJECTED', last_error = :error, delivered_at = " BILLING_TS(":now")
    " WHERE event_key = :event_key AND state = 'PENDING'";
inline constexpr char kEventBacklog[] = "SELECT count(*) FROM payment_events_outbox WHERE state = 'PENDING'";
// Served by the partial index payments_unresolved (migration 0003).
inline constexpr char kUnresolvedPayments[] =
    "SELECT status, count(*)::BIGINT, " BILLING_US("min(created_at)") " FROM payments "
    "WHERE status IN ('PENDING', 'REQUIRES_ACTION', 'PROCESSING') GROUP BY status";

#undef BILLING_US
#undef BILLING_TS
#undef BILLING_PAYMENT_COLUMNS
#undef BILLING_REFUND_COLUMNS
#undef BILLING_KEY_COLUMNS
#undef BILLING_EVENT_COLUMNS

}  // namespace billing::payments::storage::sql
