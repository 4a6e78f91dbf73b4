#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "domain/invoice_store.h"
#include "domain/model.h"
#include "ids/ids.h"

namespace billing::invoice::domain {

struct UpsertBookingCommand {
  std::string caller{};
  std::string request_id{};
  Booking booking{};                  // paid_minor, created_at and updated_at are ignored
  std::string previous_booking_id{};  // set when the booking system renumbered it
};

struct UpsertBookingResult {
  Booking booking{};
  bool ignored_as_stale = false;
  std::vector<Invoice> changed_invoices{};  // canceled or settled by this change
};

struct RecordExternalPaymentCommand {
  std::string caller{};
  std::string request_id{};
  std::string booking_id{};
  Money amount{};
  PaymentSource source = PaymentSource::kOther;
  std::string external_reference{};
  std::string payment_intent_id{};
};

struct RecordExternalPaymentResult {
  CustomerPayment payment{};
  Booking booking{};
  std::vector<Invoice> settled_invoices{};
};

struct CreateInvoiceCommand {
  std::string caller{};
  std::string request_id{};
  std::string booking_id{};
  Money amount{};
  bool confirm_on_pay = false;
  std::string send_to_email_override{};  // "" = none
  Channel send_type = Channel::kEmail;
  std::vector<LineItem> line_items{};
  std::vector<Fee> fees{};
  std::vector<CustomField> custom_fields{};
  std::optional<Time> due_at{};
  std::optional<int> days_until_due{};

  // A digest of everything that defines the request (not the request_id), so
  // a reused key with a different request is recognised.
  std::string Fingerprint() const;
};

struct ResendInvoiceCommand {
  std::string caller{};
  std::string request_id{};
  std::string invoice_id{};
  std::optional<Channel> channel{};  // nullopt: the invoice's send_type
  std::string email_override{};      // for EMAIL, this time only
};

struct ResendInvoiceResult {
  Invoice invoice{};
  NotificationRecord notification{};
};

struct CloseInvoiceCommand {
  std::string caller{};
  std::string request_id{};
  std::string invoice_id{};
  std::string reason{};
};

// What GetInvoice shows: the invoice with its booking and the money so far.
struct InvoiceView {
  Invoice invoice{};
  Booking booking{};
  std::vector<CustomerPayment> payments{};
  std::vector<NotificationSummary> notifications{};
  // The invoice amount capped at the booking's balance; 0 unless OPEN.
  int64_t due_now_minor = 0;
};

struct InvoicePage {
  std::vector<Invoice> invoices{};
  std::string next_page_token{};
};

struct EventPage {
  std::vector<InvoiceEvent> events{};
  std::string next_page_token{};
};

struct InvoiceManagerOptions {
  // Payment links are pay_link_base_url + "/" + token.
  std::string pay_link_base_url{};
  // Shown as the sender of notifications.
  std::string business_name{};
};

// The invoice service's rules (seeds 000, 001, 002 and DESIGN.md §4).
// Validation of request shapes happens in the api layer; this class enforces
// everything that depends on stored state. Every mutation is idempotent on
// (caller, request_id), records its event, and queues its notification in
// the same transaction.
class InvoiceManager {
 public:
  InvoiceManager(InvoiceStore& store, const clock::Clock& clock, ids::IdGenerator& ids,
                 InvoiceManagerOptions options);

  // Creates or updates the mirror and applies booking changes (seed 002):
  // canceled, voided or postponed cancels unpaid invoices; a total the
  // booking's payments already cover settles its open invoices. Paid
  // invoices never change. A renumbered booking keeps its invoices.
  UpsertBookingResult UpsertBooking(const UpsertBookingCommand& cmd);
  Booking GetBooking(const std::string& booking_id, std::vector<CustomerPayment>* payments);

  // A charge taken elsewhere (dashboard, auto-charge, cash): recorded,
  // balance reduced; open invoices of a booking that owes nothing more are
  // marked PAID ("paid elsewhere").
  RecordExternalPaymentResult RecordExternalPayment(const RecordExternalPaymentCommand& cmd);

  // Creates an OPEN invoice after seed 000's prerequisites and queues the
  // link notification.
  Invoice CreateInvoice(const CreateInvoiceCommand& cmd);

  InvoiceView GetInvoiceById(const std::string& invoice_id);
  InvoiceView GetInvoiceByToken(const std::string& token);
  // Newest first. page_token comes from a previous page of the same filter.
  InvoicePage ListInvoices(const InvoiceFilter& filter, int page_size, const std::string& page_token);
  EventPage ListEvents(const std::string& invoice_id, int page_size, const std::string& page_token);

  // The same link again, optionally by another channel.
  ResendInvoiceResult ResendInvoice(const ResendInvoiceCommand& cmd);
  // OPEN -> CLOSED without payment; refused once paid or while a payment is
  // pending.
  Invoice CloseInvoice(const CloseInvoiceCommand& cmd);

  // Expires OPEN invoices past their due time (at most `limit` per call);
  // safe to run in every replica at once. Returns the invoices expired.
  std::vector<Invoice> ExpireDueInvoices(int limit);

  std::string PayUrl(const Invoice& invoice) const;
  static int64_t DueNow(const Invoice& invoice, const Booking& booking);

  // Building blocks for the pay flow (domain/pay_flow), which works inside
  // the same transactions.
  InvoiceView View(InvoiceTx& tx, Invoice invoice);
  static InvoiceView ViewOf(InvoiceSnapshot snapshot);
  // Moves an invoice to `to` and records why.
  void Transition(InvoiceTx& tx, Invoice& invoice, InvoiceStatus to, const std::string& type,
                  const std::string& reason, const std::string& actor, const std::string& request_id, Time now);
  // Marks the booking's open invoices PAID when it owes nothing more.
  std::vector<Invoice> SettleIfNothingOwed(InvoiceTx& tx, const Booking& booking, const std::string& type,
                                           const std::string& reason, const std::string& customer_payment_id,
                                           const std::string& actor, const std::string& request_id, Time now);
  // An invoice that stops taking payments lets go of its attempt in progress:
  // the attempt's payment is canceled through the payment-action outbox
  // (money it captures anyway is refunded when its outcome arrives).
  void DropPendingAttempt(InvoiceTx& tx, Invoice& invoice, const std::string& why, Time now);
  // A receipt or a booking confirmation for the invoice's customer, by the
  // invoice's channel.
  NotificationRequest MessageRequest(NotificationPurpose purpose, const Invoice& invoice, const Booking& booking) const;
  NotificationRecord QueueNotification(InvoiceTx& tx, const NotificationRequest& request, Time now);

 private:
  NotificationRequest LinkRequest(const Invoice& invoice, const Booking& booking, Channel channel,
                                  const std::string& email) const;

  InvoiceStore& store_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
  InvoiceManagerOptions options_;
};

// Who did it, for the event log: the caller, or "api" for anonymous calls.
std::string ActorOf(const std::string& caller);

// Booking facts for notifications, from the mirror.
BookingDetails DetailsOf(const Booking& booking);

}  // namespace billing::invoice::domain
