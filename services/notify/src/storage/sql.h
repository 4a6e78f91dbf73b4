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
// The dispatcher's claim: the row stays locked until its transaction ends,
// and other dispatchers skip it.
inline constexpr char kClaimDue[] =
    "SELECT " BILLING_NOTIFICATION_COLUMNS " FROM notifications "
    "WHERE status = 'QUEUED' AND next_attempt_at <= " BILLING_TS(":now") " "
    "ORDER BY next_attempt_at, notification_id LIMIT 1 FOR UPDATE SKIP LOCKED";
// Guarded by the attempt count the dispatcher saw when it claimed the row,
// so the late re-recording after a failed commit (see DeliverNext) is a
// no-op when the first recording did land.
inline constexpr char kRecordDelivery[] =
    "UPDATE notifications SET status = :status, attempts = :attempts, next_attempt_at = " BILLING_TS(":next") ", "
    "provider_message_id = :provider_message_id, failure_reason = :failure_reason, "
    "updated_at = " BILLING_TS(":updated") ", sent_at = " BILLING_TS(":sent") " "
    "WHERE notification_id = CAST(:id AS UUID) AND status = 'QUEUED' AND attempts = :attempts - 1 RETURNING 1";
inline constexpr char kInsertAttempt[] =
    "INSERT INTO delivery_attempts (notification_id, attempt_number, outcome, error, provider_message_id, "
    "started_at, duration_ms) VALUES (CAST(:id AS UUID), :number, :outcome, :error, :provider_message_id, "
    BILLING_TS(":started") ", :duration_ms)";
inline constexpr char kQueueDepth[] = "SELECT count(*) FROM notifications WHERE status = 'QUEUED'";

#undef BILLING_US
#undef BILLING_TS
#undef BILLING_NOTIFICATION_COLUMNS

}  // namespace billing::notify::storage::sql
