#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"
#include "errors/error.h"

namespace billing::invoice::domain {

struct InvoiceFilter {
  std::string booking_id;               // "" = any booking
  std::optional<InvoiceStatus> status;  // nullopt = any status
};

// A position in the newest-first invoice list: the list continues with
// invoices strictly older than this one. Keyset, so inserts never shift it.
struct InvoiceCursor {
  Time created_at{};
  std::string invoice_id;
};

// One database transaction's view of the invoice service's data. Lock*
// methods take row locks held until the transaction ends. Implementations:
// storage/pg_invoice_store (PostgreSQL) and, for unit tests, an in-memory
// fake.
class InvoiceTx {
 public:
  virtual ~InvoiceTx() = default;

  // Claims (caller, request_id) for this transaction. Returns nullopt when
  // the key is new (now held by this transaction), or the record of the
  // request that already used it. Concurrent claims of one key serialize: the
  // second waits for the first transaction and then sees its record.
  virtual std::optional<IdempotencyRecord> ClaimIdempotencyKey(const std::string& caller,
                                                               const std::string& request_id,
                                                               const std::string& method,
                                                               const std::string& fingerprint,
                                                               Time now) = 0;
  // Records the resource a claimed key produced.
  virtual void CompleteIdempotencyKey(const std::string& caller, const std::string& request_id,
                                      const std::string& resource_id) = 0;

  virtual std::optional<Booking> LockBooking(const std::string& booking_id) = 0;
  virtual std::optional<Booking> FindBooking(const std::string& booking_id) = 0;
  virtual void InsertBooking(const Booking& booking) = 0;
  // Writes the booking system's fields; paid_minor and created_at stay.
  virtual void UpdateBooking(const Booking& booking) = 0;
  virtual void SetBookingPaid(const std::string& booking_id, int64_t paid_minor, Time updated_at) = 0;
  virtual bool BookingHasInvoicesOrPayments(const std::string& booking_id) = 0;
  // Moves a booking, its invoices and payments to a new id.
  virtual void RenameBooking(const std::string& from, const std::string& to) = 0;

  virtual void InsertInvoice(const Invoice& invoice) = 0;
  virtual std::optional<Invoice> FindInvoice(const std::string& invoice_id) = 0;
  virtual std::optional<Invoice> FindInvoiceByToken(const std::string& token) = 0;
  virtual std::optional<Invoice> LockInvoice(const std::string& invoice_id) = 0;
  // The booking's OPEN invoices, locked.
  virtual std::vector<Invoice> LockOpenInvoices(const std::string& booking_id) = 0;
  // Writes status, status_reason, payment_pending, customer_payment_id,
  // updated_at and paid_at.
  virtual void UpdateInvoice(const Invoice& invoice) = 0;
  // Newest first, strictly after `after`, at most `limit`.
  virtual std::vector<Invoice> ListInvoices(const InvoiceFilter& filter, const std::optional<InvoiceCursor>& after,
                                            int limit) = 0;
  // OPEN invoices due at or before `now` without a pending payment, locked;
  // rows another transaction holds are skipped, so several sweepers share the
  // work without waiting on each other.
  virtual std::vector<Invoice> LockDueInvoices(Time now, int limit) = 0;

  virtual void InsertPayment(const CustomerPayment& payment) = 0;
  virtual std::optional<CustomerPayment> FindPayment(const std::string& customer_payment_id) = 0;
  // The payment that recorded this PaymentIntent, on any booking.
  virtual std::optional<CustomerPayment> FindPaymentByIntent(const std::string& payment_intent_id) = 0;
  virtual std::vector<CustomerPayment> ListPayments(const std::string& booking_id) = 0;

  // Appends to the invoice's log with the next sequence number (the caller
  // holds the invoice's row lock, or just created it).
  virtual void AppendEvent(const InvoiceEvent& event) = 0;
  // Oldest first, sequence > after_sequence, at most `limit`.
  virtual std::vector<InvoiceEvent> ListEvents(const std::string& invoice_id, int64_t after_sequence,
                                               int limit) = 0;

  // Pay attempts. UpdateAttempt writes status, payment ids, failure,
  // next_check_at and updated_at.
  virtual void InsertAttempt(const PayAttempt& attempt) = 0;
  virtual std::optional<PayAttempt> FindAttempt(const std::string& attempt_id) = 0;
  virtual std::optional<PayAttempt> LockAttempt(const std::string& attempt_id) = 0;
  virtual std::optional<PayAttempt> LockAttemptByPayment(const std::string& payment_id) = 0;
  virtual std::optional<PayAttempt> LockAttemptByIntent(const std::string& payment_intent_id) = 0;
  virtual void UpdateAttempt(const PayAttempt& attempt) = 0;
  // Queues a call to the payments service; a second one of the same kind for
  // the same payment is ignored.
  virtual void QueuePaymentAction(const PaymentAction& action) = 0;

  // Queues a notification in the outbox; returns its outbox id.
  virtual int64_t InsertNotification(const NotificationRecord& notification) = 0;
  virtual std::vector<NotificationRecord> ListNotifications(const std::string& invoice_id) = 0;
};

// What GetInvoice shows: an invoice, its booking, the booking's payments
// and the invoice's notifications, as of one instant.
struct InvoiceSnapshot {
  Invoice invoice{};
  Booking booking{};
  std::vector<CustomerPayment> payments{};
  std::vector<NotificationSummary> notifications{};
};

enum class InvoiceKey { kId, kToken };

class InvoiceStore {
 public:
  virtual ~InvoiceStore() = default;
  // Runs fn in one transaction: committed if fn returns, rolled back if it
  // throws. fn may be run again after a transient database failure, so it
  // must not have side effects outside the transaction.
  virtual void InTransaction(const std::function<void(InvoiceTx&)>& fn) = 0;

  // The invoice whose id or token is `value`, with what GetInvoice shows of
  // it; nullopt if none. This default reads it in one transaction; a store
  // may do it in one round trip (GetInvoice is the hottest read).
  virtual std::optional<InvoiceSnapshot> ReadInvoiceSnapshot(InvoiceKey key, const std::string& value) {
    std::optional<InvoiceSnapshot> out;
    InTransaction([&](InvoiceTx& tx) {
      out.reset();
      auto invoice = key == InvoiceKey::kId ? tx.FindInvoice(value) : tx.FindInvoiceByToken(value);
      if (!invoice) return;
      auto booking = tx.FindBooking(invoice->booking_id);
      if (!booking) throw errors::Error(errors::Reason::kInternal, "invoice without its booking");
      auto payments = tx.ListPayments(booking->booking_id);
      std::vector<NotificationSummary> notifications;
      for (const auto& n : tx.ListNotifications(invoice->invoice_id)) notifications.push_back(Summarize(n));
      out = InvoiceSnapshot{std::move(*invoice), std::move(*booking), std::move(payments), std::move(notifications)};
    });
    return out;
  }
};

// The pay flow's background work as its workers see it. Each call is one
// transaction; claims lease rows (SKIP LOCKED) so replicas share the work.
class PaymentWork {
 public:
  virtual ~PaymentWork() = default;
  // Attempts in progress whose next check is due, leased until lease_until.
  virtual std::vector<PayAttempt> ClaimAttemptsToCheck(Time now, Time lease_until, int limit) = 0;
  // Calls owed to the payments service, due, leased; counts the attempt.
  virtual std::vector<PaymentAction> ClaimPaymentActions(Time now, Time lease_until, int limit) = 0;
  virtual void MarkActionDone(const std::string& action_id, Time now) = 0;
  virtual void MarkActionRetry(const std::string& action_id, const std::string& error, Time next_attempt_at) = 0;
  virtual void MarkActionFailed(const std::string& action_id, const std::string& error, Time now) = 0;
};

// The outbox as the dispatcher sees it. Each call is one transaction. State
// changes are guarded by the state they expect (so a dispatcher whose lease
// ran out cannot overwrite newer news) and return whether they applied; the
// ones that apply append `event` to the invoice's log in the same
// transaction, stamped with the invoice's current status.
class NotificationOutbox {
 public:
  virtual ~NotificationOutbox() = default;
  // Leases up to `limit` PENDING notifications whose next attempt is due and
  // whose lease (if any) has run out, so no other dispatcher takes them
  // before `lease_until`. Counts the attempt.
  virtual std::vector<NotificationRecord> Claim(Time now, Time lease_until, int limit) = 0;
  // The invoice's current status (a link is only worth sending while OPEN).
  virtual std::optional<InvoiceStatus> InvoiceStatusOf(const std::string& invoice_id) = 0;
  // PENDING -> notify accepted it (QUEUED, or already SENT/FAILED).
  virtual bool MarkAccepted(int64_t outbox_id, const std::string& notification_id, NotificationState state,
                            const std::string& failure_reason, std::optional<Time> sent_at,
                            const InvoiceEvent& event) = 0;
  // PENDING, transient failure: try again at next_attempt_at (lease freed).
  virtual bool MarkRetry(int64_t outbox_id, const std::string& error, Time next_attempt_at) = 0;
  // PENDING -> FAILED for good (refused, or no longer worth sending).
  virtual bool MarkFailed(int64_t outbox_id, const std::string& error, const InvoiceEvent& event) = 0;
  // Leases up to `limit` QUEUED notifications whose delivery state is due
  // for a check, pushing their next check to next_sync_at.
  virtual std::vector<NotificationRecord> ClaimForSync(Time now, Time next_sync_at, int limit) = 0;
  // QUEUED -> SENT or FAILED, as notify reports.
  virtual bool UpdateDelivery(int64_t outbox_id, NotificationState state, const std::string& failure_reason,
                              std::optional<Time> sent_at, const InvoiceEvent& event) = 0;
  // QUEUED -> PENDING: notify no longer knows it; send it again.
  virtual bool Requeue(int64_t outbox_id, Time now, const InvoiceEvent& event) = 0;
  // PENDING notifications (the backlog), for metrics.
  virtual int64_t Backlog() = 0;
};

}  // namespace billing::invoice::domain
