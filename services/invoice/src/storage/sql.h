#pragma once

// Every SQL statement of the invoice service, by name. Times cross the
// boundary as int64 Unix microseconds (the domain's resolution), converted
// exactly in SQL rather than through SOCI's std::tm.
namespace billing::invoice::storage::sql {

#define BILLING_US(col) "(EXTRACT(EPOCH FROM " col ") * 1000000)::BIGINT"
#define BILLING_TS(param) "(TIMESTAMPTZ 'epoch' + CAST(" param " AS BIGINT) * INTERVAL '1 microsecond')"

// --- idempotency keys -------------------------------------------------------
inline constexpr char kClaimIdempotencyKey[] =
    "INSERT INTO idempotency_keys (caller, request_id, method, fingerprint, created_at) "
    "VALUES (:caller, :request_id, :method, :fingerprint, " BILLING_TS(":now") ") "
    "ON CONFLICT (caller, request_id) DO NOTHING RETURNING 1";
inline constexpr char kSelectIdempotencyKey[] =
    "SELECT method, fingerprint, resource_id FROM idempotency_keys "
    "WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kCompleteIdempotencyKey[] =
    "UPDATE idempotency_keys SET resource_id = :resource_id "
    "WHERE caller = :caller AND request_id = :request_id";

// --- bookings -----------------------------------------------------------------
#define BILLING_BOOKING_COLUMNS                                                              \
  "booking_id, status, customer_name, customer_email, customer_phone, currency, total_minor, " \
  "paid_minor, activity_name, start_local, end_local, time_zone, confirmation_code, "          \
  "required_agreement_ids::TEXT, " BILLING_US("slot_hold_expires_at") ", revision, "           \
  BILLING_US("created_at") ", " BILLING_US("updated_at")

inline constexpr char kSelectBooking[] =
    "SELECT " BILLING_BOOKING_COLUMNS " FROM bookings WHERE booking_id = :booking_id";
inline constexpr char kLockBooking[] =
    "SELECT " BILLING_BOOKING_COLUMNS " FROM bookings WHERE booking_id = :booking_id FOR UPDATE";
inline constexpr char kInsertBooking[] =
    "INSERT INTO bookings (booking_id, status, customer_name, customer_email, customer_phone, "
    "currency, total_minor, paid_minor, activity_name, start_local, end_local, time_zone, "
    "confirmation_code, required_agreement_ids, slot_hold_expires_at, revision, created_at, "
    "updated_at) VALUES (:booking_id, :status, :customer_name, :customer_email, :customer_phone, "
    ":currency, :total_minor, 0, :activity_name, :start_local, :end_local, :time_zone, "
    ":confirmation_code, CAST(:agreements AS JSONB), " BILLING_TS(":slot_hold") ", :revision, "
    BILLING_TS(":created") ", " BILLING_TS(":updated") ")";
inline constexpr char kUpdateBooking[] =
    "UPDATE bookings SET status = :status, customer_name = :customer_name, "
    "customer_email = :customer_email, customer_phone = :customer_phone, currency = :currency, "
    "total_minor = :total_minor, activity_name = :activity_name, start_local = :start_local, "
    "end_local = :end_local, time_zone = :time_zone, confirmation_code = :confirmation_code, "
    "required_agreement_ids = CAST(:agreements AS JSONB), "
    "slot_hold_expires_at = " BILLING_TS(":slot_hold") ", revision = :revision, "
    "updated_at = " BILLING_TS(":updated") " WHERE booking_id = :booking_id";
inline constexpr char kSetBookingPaid[] =
    "UPDATE bookings SET paid_minor = :paid, updated_at = " BILLING_TS(":updated") " WHERE booking_id = :booking_id";
inline constexpr char kRenameBooking[] = "UPDATE bookings SET booking_id = :to WHERE booking_id = :from";
inline constexpr char kBookingHasInvoicesOrPayments[] =
    "SELECT (EXISTS (SELECT 1 FROM invoices WHERE booking_id = :booking_id) OR "
    "EXISTS (SELECT 1 FROM customer_payments WHERE booking_id = :booking_id))::INT";

// --- invoices -------------------------------------------------------------------
#define BILLING_INVOICE_COLUMNS                                                                 \
  "invoice_id::TEXT, booking_id, status, currency, amount_minor, confirm_on_pay::INT, "          \
  "send_to_email_override, send_type, token, line_items::TEXT, fees::TEXT, custom_fields::TEXT, " \
  BILLING_US("due_at") ", status_reason, payment_pending::INT, "                                 \
  "COALESCE(customer_payment_id::TEXT, ''), " BILLING_US("created_at") ", "                      \
  BILLING_US("updated_at") ", " BILLING_US("paid_at") ", COALESCE(pending_attempt_id::TEXT, '')"

inline constexpr char kInsertInvoice[] =
    "INSERT INTO invoices (invoice_id, booking_id, status, currency, amount_minor, confirm_on_pay, "
    "send_to_email_override, send_type, token, line_items, fees, custom_fields, due_at, "
    "status_reason, created_at, updated_at) VALUES (CAST(:invoice_id AS UUID), :booking_id, "
    ":status, :currency, :amount_minor, CAST(:confirm_on_pay AS INT)::BOOLEAN, :override, "
    ":send_type, :token, CAST(:line_items AS JSONB), CAST(:fees AS JSONB), "
    "CAST(:custom_fields AS JSONB), " BILLING_TS(":due_at") ", :status_reason, "
    BILLING_TS(":created") ", " BILLING_TS(":updated") ")";
inline constexpr char kSelectInvoice[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE invoice_id = CAST(:invoice_id AS UUID)";
inline constexpr char kLockInvoice[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE invoice_id = CAST(:invoice_id AS UUID) FOR UPDATE";
inline constexpr char kSelectInvoiceByToken[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE token = :token";
inline constexpr char kLockOpenInvoicesOfBooking[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE booking_id = :booking_id AND status = 'OPEN' "
    "ORDER BY created_at, invoice_id FOR UPDATE";
inline constexpr char kUpdateInvoice[] =
    "UPDATE invoices SET status = :status, status_reason = :status_reason, "
    "payment_pending = CAST(:payment_pending AS INT)::BOOLEAN, "
    "pending_attempt_id = CAST(NULLIF(:pending_attempt_id, '') AS UUID), "
    "customer_payment_id = CAST(NULLIF(:customer_payment_id, '') AS UUID), "
    "updated_at = " BILLING_TS(":updated") ", paid_at = " BILLING_TS(":paid") " "
    "WHERE invoice_id = CAST(:invoice_id AS UUID)";
// Keyset pagination, newest first. Without a cursor the caller passes the
// largest possible key, so one statement serves every page.
inline constexpr char kListInvoices[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices "
    "WHERE (:booking_id = '' OR booking_id = :booking_id) AND (:status = '' OR status = :status) "
    "AND (created_at, invoice_id) < (" BILLING_TS(":cursor_us") ", CAST(:cursor_id AS UUID)) "
    "ORDER BY created_at DESC, invoice_id DESC LIMIT :limit";
inline constexpr char kLockDueInvoices[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices "
    "WHERE status = 'OPEN' AND due_at IS NOT NULL AND due_at <= " BILLING_TS(":now") " AND NOT payment_pending "
    "ORDER BY due_at, invoice_id LIMIT :limit FOR UPDATE SKIP LOCKED";
inline constexpr char kInvoiceStatusForUpdate[] =
    "SELECT status FROM invoices WHERE invoice_id = CAST(:invoice_id AS UUID) FOR UPDATE";

// --- payments ---------------------------------------------------------------------
inline constexpr char kInsertPayment[] =
    "INSERT INTO customer_payments (customer_payment_id, booking_id, invoice_id, currency, amount_minor, source, "
    "payment_intent_id, external_reference, created_at) VALUES (CAST(:id AS UUID), :booking_id, "
    "CAST(NULLIF(:invoice_id, '') AS UUID), :currency, :amount_minor, :source, NULLIF(:payment_intent_id, ''), "
    ":external_reference, " BILLING_TS(":created") ")";
#define BILLING_PAYMENT_COLUMNS                                                               \
  "customer_payment_id::TEXT, booking_id, COALESCE(invoice_id::TEXT, ''), currency, amount_minor, " \
  "source, COALESCE(payment_intent_id, ''), external_reference, " BILLING_US("created_at")
inline constexpr char kSelectPayment[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM customer_payments WHERE customer_payment_id = CAST(:id AS UUID)";
inline constexpr char kSelectPaymentByIntent[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM customer_payments WHERE payment_intent_id = :payment_intent_id";
inline constexpr char kListPaymentsByBooking[] =
    "SELECT " BILLING_PAYMENT_COLUMNS " FROM customer_payments WHERE booking_id = :booking_id "
    "ORDER BY created_at, customer_payment_id";

// --- events -------------------------------------------------------------------------
inline constexpr char kAppendEvent[] =
    "INSERT INTO invoice_events (invoice_id, sequence, type, from_status, to_status, reason, "
    "request_id, created_at, actor) SELECT CAST(:invoice_id AS UUID), "
    "COALESCE(MAX(sequence), 0) + 1, :type, :from_status, :to_status, :reason, :request_id, "
    BILLING_TS(":created") ", :actor FROM invoice_events WHERE invoice_id = CAST(:invoice_id AS UUID)";
inline constexpr char kListEvents[] =
    "SELECT sequence, invoice_id::TEXT, type, from_status, to_status, reason, request_id, "
    BILLING_US("created_at") ", actor FROM invoice_events "
    "WHERE invoice_id = CAST(:invoice_id AS UUID) AND sequence > :after ORDER BY sequence LIMIT :limit";

// --- the notification outbox -----------------------------------------------------------
#define BILLING_NOTIFICATION_COLUMNS                                                                \
  "outbox_id, invoice_id::TEXT, request::TEXT, state, notification_id, failure_reason, attempts, " \
  BILLING_US("created_at") ", " BILLING_US("sent_at") ", request_key::TEXT"

inline constexpr char kInsertNotification[] =
    "INSERT INTO invoice_notifications (invoice_id, purpose, channel, recipient, request, next_attempt_at, "
    "created_at) VALUES (CAST(:invoice_id AS UUID), :purpose, :channel, :recipient, CAST(:request AS JSONB), "
    BILLING_TS(":created") ", " BILLING_TS(":created") ") RETURNING outbox_id";
inline constexpr char kListNotifications[] =
    "SELECT " BILLING_NOTIFICATION_COLUMNS " FROM invoice_notifications "
    "WHERE invoice_id = CAST(:invoice_id AS UUID) ORDER BY outbox_id";
// What a view shows of a notification (domain::NotificationSummary): its
// columns, not the request (about 1 KB of JSON each).
#define BILLING_NOTIFICATION_SUMMARY_COLUMNS                                                                  \
  "outbox_id, purpose, channel, recipient, state, notification_id, failure_reason, " BILLING_US("created_at") \
  ", " BILLING_US("sent_at")
// GetInvoice in one round trip and one snapshot (a single statement needs no
// transaction): the invoice's columns, then its booking's (NULLs if it has
// none, which is corrupt), then the booking's payments and the invoice's
// notification summaries as JSON arrays of rows, each row an array in its
// columns' order (db::JsonRowReader reads them like soci rows).
#define BILLING_INVOICE_SNAPSHOT(where)                                                                    \
  "SELECT inv.*, bk.*, "                                                                                   \
  "(SELECT COALESCE(json_agg(json_build_array(" BILLING_PAYMENT_COLUMNS ") "                                \
  "ORDER BY created_at, customer_payment_id), '[]')::TEXT FROM customer_payments "                         \
  "WHERE booking_id = inv.booking_id), "                                                                   \
  "(SELECT COALESCE(json_agg(json_build_array(" BILLING_NOTIFICATION_SUMMARY_COLUMNS ") ORDER BY outbox_id), " \
  "'[]')::TEXT FROM invoice_notifications WHERE invoice_id = CAST(inv.invoice_id AS UUID)) "               \
  "FROM (SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE " where ") inv "                           \
  "LEFT JOIN LATERAL (SELECT " BILLING_BOOKING_COLUMNS " FROM bookings WHERE booking_id = inv.booking_id) bk " \
  "ON TRUE"
inline constexpr char kSelectInvoiceSnapshotById[] = BILLING_INVOICE_SNAPSHOT("invoice_id = CAST(:value AS UUID)");
inline constexpr char kSelectInvoiceSnapshotByToken[] = BILLING_INVOICE_SNAPSHOT("token = :value");
#undef BILLING_INVOICE_SNAPSHOT

// = ANY(ARRAY(...)) evaluates the locking subquery exactly once, so a
// claim never takes more than :limit rows. The two outbox claims order by
// the columns of their partial indexes (migration 0006), so the subquery
// stops after :limit entries. All four claims are planned per call
// (Planning::kPerCall): a plan kept from a nearly empty table scanned the
// whole table for the outer UPDATE once a backlog had grown.
inline constexpr char kClaimNotifications[] =
    "UPDATE invoice_notifications SET lease_until = " BILLING_TS(":lease_until") ", attempts = attempts + 1 "
    "WHERE outbox_id = ANY(ARRAY(SELECT outbox_id FROM invoice_notifications "
    "  WHERE state = 'PENDING' AND next_attempt_at <= " BILLING_TS(":now") " "
    "  AND (lease_until IS NULL OR lease_until <= " BILLING_TS(":now") ") "
    "  ORDER BY next_attempt_at, outbox_id LIMIT :limit FOR UPDATE SKIP LOCKED)) "
    "RETURNING " BILLING_NOTIFICATION_COLUMNS;
inline constexpr char kInvoiceStatus[] = "SELECT status FROM invoices WHERE invoice_id = CAST(:invoice_id AS UUID)";
inline constexpr char kMarkNotificationAccepted[] =
    "UPDATE invoice_notifications SET state = :state, notification_id = :notification_id, "
    "failure_reason = :failure_reason, sent_at = " BILLING_TS(":sent_at") ", lease_until = NULL "
    "WHERE outbox_id = :outbox_id AND state = 'PENDING' RETURNING invoice_id::TEXT";
inline constexpr char kMarkNotificationRetry[] =
    "UPDATE invoice_notifications SET failure_reason = :error, next_attempt_at = " BILLING_TS(":next") ", "
    "lease_until = NULL WHERE outbox_id = :outbox_id AND state = 'PENDING' RETURNING invoice_id::TEXT";
inline constexpr char kMarkNotificationFailed[] =
    "UPDATE invoice_notifications SET state = 'FAILED', failure_reason = :error, lease_until = NULL "
    "WHERE outbox_id = :outbox_id AND state = 'PENDING' RETURNING invoice_id::TEXT";
inline constexpr char kClaimForSync[] =
    "UPDATE invoice_notifications SET next_sync_at = " BILLING_TS(":next_sync") " "
    "WHERE outbox_id = ANY(ARRAY(SELECT outbox_id FROM invoice_notifications "
    "  WHERE state = 'QUEUED' AND COALESCE(next_sync_at, '-infinity'::TIMESTAMPTZ) <= " BILLING_TS(":now") " "
    "  ORDER BY COALESCE(next_sync_at, '-infinity'::TIMESTAMPTZ), outbox_id LIMIT :limit FOR UPDATE SKIP LOCKED)) "
    "RETURNING " BILLING_NOTIFICATION_COLUMNS;
inline constexpr char kUpdateNotificationDelivery[] =
    "UPDATE invoice_notifications SET state = :state, failure_reason = :failure_reason, "
    "sent_at = " BILLING_TS(":sent_at") " WHERE outbox_id = :outbox_id AND state = 'QUEUED' RETURNING invoice_id::TEXT";
inline constexpr char kRequeueNotification[] =
    "UPDATE invoice_notifications SET state = 'PENDING', notification_id = '', next_sync_at = NULL, "
    "next_attempt_at = " BILLING_TS(":now") " WHERE outbox_id = :outbox_id AND state = 'QUEUED' "
    "RETURNING invoice_id::TEXT";
inline constexpr char kCountPendingNotifications[] =
    "SELECT count(*) FROM invoice_notifications WHERE state = 'PENDING'";

#undef BILLING_BOOKING_COLUMNS
// --- pay attempts and payment actions ---
#define BILLING_ATTEMPT_COLUMNS                                                                              \
  "attempt_id::TEXT, invoice_id::TEXT, caller, request_id, currency, amount_minor, status, "                \
  "COALESCE(payment_id::TEXT, ''), COALESCE(payment_intent_id, ''), failure_code, failure_message, " BILLING_US( \
      "next_check_at") ", " BILLING_US("created_at") ", " BILLING_US("updated_at") ", booking_id, description"

inline constexpr char kInsertAttempt[] =
    "INSERT INTO pay_attempts (attempt_id, invoice_id, caller, request_id, currency, amount_minor, status, "
    "payment_id, payment_intent_id, failure_code, failure_message, next_check_at, created_at, updated_at, "
    "booking_id, description) VALUES ("
    "CAST(:attempt_id AS UUID), CAST(:invoice_id AS UUID), :caller, :request_id, :currency, :amount_minor, :status, "
    "CAST(NULLIF(:payment_id, '') AS UUID), NULLIF(:payment_intent_id, ''), :failure_code, :failure_message, "
    BILLING_TS(":next_check_at") ", " BILLING_TS(":created_at") ", " BILLING_TS(":updated_at") ", :booking_id, "
    ":description)";
inline constexpr char kSelectAttempt[] =
    "SELECT " BILLING_ATTEMPT_COLUMNS " FROM pay_attempts WHERE attempt_id = CAST(:attempt_id AS UUID)";
inline constexpr char kLockAttempt[] =
    "SELECT " BILLING_ATTEMPT_COLUMNS " FROM pay_attempts WHERE attempt_id = CAST(:attempt_id AS UUID) FOR UPDATE";
inline constexpr char kLockAttemptByPayment[] =
    "SELECT " BILLING_ATTEMPT_COLUMNS " FROM pay_attempts WHERE payment_id = CAST(:payment_id AS UUID) FOR UPDATE";
inline constexpr char kLockAttemptByIntent[] =
    "SELECT " BILLING_ATTEMPT_COLUMNS " FROM pay_attempts WHERE payment_intent_id = :payment_intent_id "
    "ORDER BY created_at DESC LIMIT 1 FOR UPDATE";
inline constexpr char kUpdateAttempt[] =
    "UPDATE pay_attempts SET status = :status, amount_minor = :amount_minor, "
    "payment_id = CAST(NULLIF(:payment_id, '') AS UUID), payment_intent_id = NULLIF(:payment_intent_id, ''), "
    "failure_code = :failure_code, failure_message = :failure_message, "
    "next_check_at = " BILLING_TS(":next_check_at") ", updated_at = " BILLING_TS(":updated_at") " "
    "WHERE attempt_id = CAST(:attempt_id AS UUID)";
// Attempts nobody has reported on lately, one replica each (leased).
inline constexpr char kClaimAttemptsToCheck[] =
    "UPDATE pay_attempts SET next_check_at = " BILLING_TS(":lease_until") " WHERE attempt_id = ANY(ARRAY("
    "SELECT attempt_id FROM pay_attempts WHERE next_check_at <= " BILLING_TS(":now") " "
    "AND status IN ('STARTED', 'REQUIRES_ACTION', 'PROCESSING') ORDER BY next_check_at LIMIT :limit "
    "FOR UPDATE SKIP LOCKED)) RETURNING " BILLING_ATTEMPT_COLUMNS;

inline constexpr char kQueuePaymentAction[] =
    "INSERT INTO payment_actions (action_id, kind, payment_id, invoice_id, reason, next_attempt_at, created_at) "
    "VALUES (CAST(:action_id AS UUID), :kind, CAST(:payment_id AS UUID), CAST(:invoice_id AS UUID), :reason, "
    BILLING_TS(":created_at") ", " BILLING_TS(":created_at") ") ON CONFLICT (kind, payment_id) DO NOTHING";
inline constexpr char kClaimPaymentActions[] =
    "UPDATE payment_actions SET attempts = attempts + 1, next_attempt_at = " BILLING_TS(":lease_until") " "
    "WHERE action_id = ANY(ARRAY(SELECT action_id FROM payment_actions WHERE state = 'PENDING' AND "
    "next_attempt_at <= " BILLING_TS(":now") " ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED)) "
    "RETURNING action_id::TEXT, kind, payment_id::TEXT, invoice_id::TEXT, reason, attempts, " BILLING_US("created_at");
inline constexpr char kMarkActionDone[] =
    "UPDATE payment_actions SET state = 'DONE', done_at = " BILLING_TS(":now") ", last_error = '' "
    "WHERE action_id = CAST(:action_id AS UUID) AND state = 'PENDING'";
inline constexpr char kMarkActionRetry[] =
    "UPDATE payment_actions SET next_attempt_at = " BILLING_TS(":next") ", last_error = :error "
    "WHERE action_id = CAST(:action_id AS UUID) AND state = 'PENDING'";
inline constexpr char kMarkActionFailed[] =
    "UPDATE payment_actions SET state = 'FAILED', done_at = " BILLING_TS(":now") ", last_error = :error "
    "WHERE action_id = CAST(:action_id AS UUID) AND state = 'PENDING'";

#undef BILLING_ATTEMPT_COLUMNS
#undef BILLING_INVOICE_COLUMNS
#undef BILLING_NOTIFICATION_COLUMNS
#undef BILLING_NOTIFICATION_SUMMARY_COLUMNS
#undef BILLING_PAYMENT_COLUMNS
#undef BILLING_US
#undef BILLING_TS

}  // namespace billing::invoice::storage::sql
