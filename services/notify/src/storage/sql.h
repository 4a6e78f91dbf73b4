#pragma once

// Every SQL statement of the notify service, by name. Times cross the
// boundary as int64 Unix microseconds, converted exactly in SQL.
namespace billing::notify::storage::sql {

#define BILLING_US(col) "(EXTRACT(EPOCH FROM " col ") * 1000000)::BIGINT"
#define BILLING_TS(param) "(TIMESTAMPTZ 'epoch' + CAST(" param " AS BIGINT) * INTERVAL '1 microsecond')"
#define BILLING_NOTIFICATION_COLUMNS                                                                      \
  "notification_id::TEXT, caller, request_id, fingerprint, kind, channel, recipient, recipient_name, "   \
  "sender_name, invoice_id, booking_id, subject, body_text, body_html, sms_segments, status, attempts, " \
  BILLING_US("next_attempt_at") ", provider_message_id, failure_reason, " BILLING_US("created_at") ", "  \
  BILLING_US("updated_at") ", " BILLING_US("sent_at")

inline constexpr char kInsertNotification[] =
    "INSERT INTO notifications (notification_id, caller, request_id, fingerprint, kind, channel, recipient, "
    "recipient_name, sender_name, invoice_id, booking_id, subject, body_text, body_html, sms_segments, status, "
    "next_attempt_at, created_at, updated_at) VALUES (CAST(:id AS UUID), :caller, :request_id, :fingerprint, "
    ":kind, :channel, :recipient, :recipient_name, :sender_name, :invoice_id, :booking_id, :subject, :body_text, "
    ":body_html, :sms_segments, 'QUEUED', " BILLING_TS(":created") ", " BILLING_TS(":created") ", "
    BILLING_TS(":created") ") ON CONFLICT (caller, request_id) DO NOTHING RETURNING 1";
inline constexpr char kSelectByRequest[] =
    "SELECT " BILLING_NOTIFICATION_COLUMNS " FROM notifications WHERE caller = :caller AND request_id = :request_id";
inline constexpr char kSelectNotification[] =
    "SELECT " BILLING_NOTIFICATION_COLUMNS " FROM notifications WHERE notification_id = CAST(:id AS UUID)";
inline constexpr char kSelectAttempts[] =
    "SELECT attempt_number, outcome, error, provider_message_id, " BILLING_US("started_at") ", duration_ms "
    "FROM delivery_attempts WHERE notification_id = CAST(:id AS UUID) ORDER BY attempt_number";
// Keyset pagination, newest first; without a cursor the caller passes the
// largest possible key.
inline constexpr char kListNotifications[] =
    "SELECT " BILLING_NOTIFICATION_COLUMNS " FROM notifications "
    "WHERE (:invoice_id = '' OR invoice_id = :invoice_id) AND (:booking_id = '' OR booking_id = :booking_id) "
    "AND (:recipient = '' OR recipient = :recipient) AND (:status = '' OR status = :status) "
    "AND (created_at, notification_id) < (" BILLING_TS(":cursor_us") ", CAST(:cursor_id AS UUID)) "
    "ORDER BY created_at DESC, notification_id DESC LIMIT :limit";
// The dispatcher's claim, committed before the send: the oldest due row
// (skipping rows another claim is committing), its attempt counted, the
// claimer's token stamped, and next_attempt_at moved to the lease's end so
// nobody else picks it up meanwhile. It reads the queue in the order of its
// index (migration 0003), so the plan kept for every value reads one entry;
// with the old index that plan sorted every due row to find the first.
inline constexpr char kClaimDue[] =
    "UPDATE notifications SET attempts = attempts + 1, claim_token = CAST(:token AS UUID), "
    "next_attempt_at = " BILLING_TS(":lease_until") ", updated_at = " BILLING_TS(":now") " "
    "WHERE notification_id = (SELECT notification_id FROM notifications "
    "WHERE status = 'QUEUED' AND next_attempt_at <= " BILLING_TS(":now") " "
    "ORDER BY next_attempt_at, notification_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING " BILLING_NOTIFICATION_COLUMNS;
// Every attempt is kept, also one whose claim was lost (it may have sent).
inline constexpr char kInsertAttempt[] =
    "INSERT INTO delivery_attempts (notification_id, attempt_number, outcome, error, provider_message_id, "
    "started_at, duration_ms) VALUES (CAST(:id AS UUID), :number, :outcome, :error, :provider_message_id, "
    BILLING_TS(":started") ", :duration_ms) ON CONFLICT (notification_id, attempt_number) DO NOTHING";
// Only while the claim is still the caller's; clears it.
inline constexpr char kRecordDelivery[] =
    "UPDATE notifications SET status = :status, next_attempt_at = " BILLING_TS(":next") ", "
    "provider_message_id = :provider_message_id, failure_reason = :failure_reason, "
    "updated_at = " BILLING_TS(":updated") ", sent_at = " BILLING_TS(":sent") ", claim_token = NULL "
    "WHERE notification_id = CAST(:id AS UUID) AND claim_token = CAST(:token AS UUID) RETURNING 1";
inline constexpr char kQueueDepth[] = "SELECT count(*) FROM notifications WHERE status = 'QUEUED'";

#undef BILLING_US
#undef BILLING_TS
#undef BILLING_NOTIFICATION_COLUMNS

}  // namespace billing::notify::storage::sql
