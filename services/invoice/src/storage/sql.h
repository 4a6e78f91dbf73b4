#pragma once

// Every SQL statement of the invoice service, by name. Times cross the
// boundary as int64 Unix microseconds (the domain's resolution), converted
// exactly in SQL rather than through SOCI's std::tm.
namespace billing::invoice::storage::sql {

#define BILLING_US(col) "(EXTRACT(EPOCH FROM " col ") * 1000000)::BIGINT"
#define BILLING_TS(param) "(TIMESTAMPTZ 'epoch' + CAST(" param " AS BIGINT) * INTERVAL '1 microsecond')"

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
inline constexpr char kBookingHasInvoicesOrPayments[] =
    "SELECT (EXISTS (SELECT 1 FROM invoices WHERE booking_id = :booking_id) OR "
    "EXISTS (SELECT 1 FROM customer_payments WHERE booking_id = :booking_id))::INT";

#define BILLING_INVOICE_COLUMNS                                                                 \
  "invoice_id::TEXT, booking_id, status, currency, amount_minor, confirm_on_pay::INT, "          \
  "send_to_email_override, send_type, token, line_items::TEXT, fees::TEXT, custom_fields::TEXT, " \
  BILLING_US("due_at") ", status_reason, payment_pending::INT, "                                 \
  "COALESCE(customer_payment_id::TEXT, ''), " BILLING_US("created_at") ", "                      \
  BILLING_US("updated_at") ", " BILLING_US("paid_at")

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
inline constexpr char kSelectInvoiceByToken[] =
    "SELECT " BILLING_INVOICE_COLUMNS " FROM invoices WHERE token = :token";

inline constexpr char kListPaymentsByBooking[] =
    "SELECT customer_payment_id::TEXT, booking_id, COALESCE(invoice_id::TEXT, ''), currency, "
    "amount_minor, source, COALESCE(payment_intent_id, ''), external_reference, "
    BILLING_US("created_at") " FROM customer_payments WHERE booking_id = :booking_id "
    "ORDER BY created_at, customer_payment_id";

inline constexpr char kAppendEvent[] =
    "INSERT INTO invoice_events (invoice_id, sequence, type, from_status, to_status, reason, "
    "request_id, created_at) SELECT CAST(:invoice_id AS UUID), "
    "COALESCE(MAX(sequence), 0) + 1, :type, :from_status, :to_status, :reason, :request_id, "
    BILLING_TS(":created") " FROM invoice_events WHERE invoice_id = CAST(:invoice_id AS UUID)";

#undef BILLING_BOOKING_COLUMNS
#undef BILLING_INVOICE_COLUMNS
#undef BILLING_US
#undef BILLING_TS

}  // namespace billing::invoice::storage::sql
