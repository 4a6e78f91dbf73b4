#include "domain/invoice_manager.h"

#include <algorithm>
#include <chrono>

#include "crypto/crypto.h"
#include "paging/page_token.h"
#include "errors/error.h"
#include "validation/validation.h"

namespace billing::invoice::domain {
namespace {

using errors::Error;
using errors::Reason;

constexpr char kUpsertBooking[] = "UpsertBooking";
constexpr char kCreateInvoice[] = "CreateInvoice";
constexpr char kRecordExternalPayment[] = "RecordExternalPayment";
constexpr char kResendInvoice[] = "ResendInvoice";
constexpr char kCloseInvoice[] = "CloseInvoice";
constexpr char kSweeper[] = "system:due-date-sweeper";

std::string BookingFingerprint(const UpsertBookingCommand& cmd) {
  const Booking& b = cmd.booking;
  crypto::Fingerprint f(kUpsertBooking);
  f.Add(b.booking_id).Add(Name(b.status)).Add(b.customer.name).Add(b.customer.email);
  f.Add(b.customer.phone).Add(b.currency).AddInt(b.total_minor).Add(b.activity_name);
  f.Add(b.start_local).Add(b.end_local).Add(b.time_zone).Add(b.confirmation_code);
  f.AddInt(static_cast<int64_t>(b.required_agreement_ids.size()));
  for (const auto& id : b.required_agreement_ids) f.Add(id);
  f.AddInt(b.slot_hold_expires_at ? clock::ToUnixMicros(*b.slot_hold_expires_at) : -1);
  f.AddInt(b.revision);
  f.Add(cmd.previous_booking_id);
  return f.Digest();
}

// The same key replays only the same operation; anything else is a client
// bug that must not be papered over.
void RequireSameRequest(const IdempotencyRecord& record, const std::string& method,
                        const std::string& fingerprint) {
  if (record.method != method || record.fingerprint != fingerprint) {
    throw Error(Reason::kIdempotencyKeyReused,
                "request_id was already used for a different request; use a new request_id", "request_id");
  }
}

Invoice RequireInvoice(std::optional<Invoice> invoice, const std::string& invoice_id) {
  if (!invoice) {
    throw Error(Reason::kInvoiceNotFound, "invoice_id " + invoice_id + " does not exist", "invoice_id");
  }
  return *invoice;
}

// What a page token of the invoice list is bound to.
std::string FilterKey(const InvoiceFilter& f) { return f.booking_id + "|" + (f.status ? std::string(Name(*f.status)) : "*"); }

std::string EncodeInvoiceToken(const Invoice& last, const InvoiceFilter& f) {
  return paging::EncodeToken("i1", {last.created_at, last.invoice_id}, FilterKey(f));
}

std::optional<InvoiceCursor> DecodeInvoiceToken(const std::string& token, const InvoiceFilter& f) {
  const auto position = paging::DecodeToken("i1", token, FilterKey(f));
  if (!position) return std::nullopt;
  return InvoiceCursor{position->created_at, position->id};
}

std::string EncodeEventToken(const std::string& invoice_id, int64_t sequence) {
  return "e1." + ids::Base64UrlEncode(invoice_id + ":" + std::to_string(sequence));
}

int64_t DecodeEventToken(const std::string& token, const std::string& invoice_id) {
  if (token.empty()) return 0;
  const auto bad = [] { return errors::InvalidField("page_token", "is not a token from a previous page of this list"); };
  std::string raw;
  if (token.rfind("e1.", 0) != 0 || !ids::Base64UrlDecode(token.substr(3), &raw)) throw bad();
  const auto colon = raw.rfind(':');
  if (colon == std::string::npos || raw.substr(0, colon) != invoice_id) throw bad();
  const std::string seq = raw.substr(colon + 1);
  if (seq.empty() || seq.size() > 18 || seq.find_first_not_of("0123456789") != std::string::npos) throw bad();
  return std::stoll(seq);
}

// "ann@example.com" -> "a**@example.com", "+14155550123" -> "+1******0123":
// enough for support to recognise, without copying contact data into every
// log entry.
std::string MaskRecipient(const std::string& r) {
  const auto at = r.find('@');
  if (at != std::string::npos) return r.substr(0, 1) + std::string(at > 1 ? at - 1 : 0, '*') + r.substr(at);
  if (r.size() <= 6) return r;
  return r.substr(0, 2) + std::string(r.size() - 6, '*') + r.substr(r.size() - 4);
}

}  // namespace

std::string ActorOf(const std::string& caller) { return caller.empty() ? "api" : caller; }

BookingDetails DetailsOf(const Booking& b) {
  const auto start = SplitLocal(b.start_local);
  const auto end = SplitLocal(b.end_local);
  return {b.booking_id, b.activity_name, start.date, start.time, end.time, end.date, b.confirmation_code};
}

std::string CreateInvoiceCommand::Fingerprint() const {
  crypto::Fingerprint f(kCreateInvoice);
  f.Add(booking_id).AddInt(amount.amount_minor).Add(amount.currency).AddBool(confirm_on_pay);
  f.Add(send_to_email_override).Add(Name(send_type));
  f.AddInt(static_cast<int64_t>(line_items.size()));
  for (const auto& li : line_items) f.Add(li.name).AddInt(li.quantity).AddInt(li.unit_amount_minor);
  f.AddInt(static_cast<int64_t>(fees.size()));
  for (const auto& fee : fees) f.Add(fee.name).AddInt(fee.amount_minor);
  f.AddInt(static_cast<int64_t>(custom_fields.size()));
  for (const auto& cf : custom_fields) f.Add(cf.name).Add(cf.value);
  f.AddInt(due_at ? clock::ToUnixMicros(*due_at) : -1);
  f.AddInt(days_until_due.value_or(-1));
  return f.Digest();
}

InvoiceManager::InvoiceManager(InvoiceStore& store, const clock::Clock& clock, ids::IdGenerator& ids,
                               InvoiceManagerOptions options)
    : store_(store), clock_(clock), ids_(ids), options_(std::move(options)) {}

void InvoiceManager::Transition(InvoiceTx& tx, Invoice& invoice, InvoiceStatus to, const std::string& type,
                                const std::string& reason, const std::string& actor, const std::string& request_id,
                                Time now) {
  const InvoiceStatus from = invoice.status;
  invoice.status = to;
  invoice.status_reason = reason;
  invoice.updated_at = now;
  if (to == InvoiceStatus::kPaid) invoice.paid_at = now;
  tx.UpdateInvoice(invoice);
  tx.AppendEvent({.invoice_id = invoice.invoice_id,
                  .type = type,
                  .from_status = from,
                  .to_status = to,
                  .reason = reason,
                  .request_id = request_id,
                  .created_at = now,
                  .actor = actor});
}

std::vector<Invoice> InvoiceManager::SettleIfNothingOwed(InvoiceTx& tx, const Booking& booking, const std::string& type,
                                                         const std::string& reason,
                                                         const std::string& customer_payment_id,
                                                         const std::string& actor, const std::string& request_id,
                                                         Time now) {
  std::vector<Invoice> settled;
  if (booking.BalanceMinor() > 0) return settled;
  for (Invoice& inv : tx.LockOpenInvoices(booking.booking_id)) {
    inv.customer_payment_id = customer_payment_id;
    DropPendingAttempt(tx, inv, "invoice " + inv.invoice_id + " was settled otherwise", now);
    Transition(tx, inv, InvoiceStatus::kPaid, type, reason, actor, request_id, now);
    settled.push_back(inv);
  }
  return settled;
}

UpsertBookingResult InvoiceManager::UpsertBooking(const UpsertBookingCommand& cmd) {
  const std::string fingerprint = BookingFingerprint(cmd);
  const std::string actor = ActorOf(cmd.caller);
  UpsertBookingResult result;
  store_.InTransaction([&](InvoiceTx& tx) {
    result = {};
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kUpsertBooking, fingerprint, now)) {
      RequireSameRequest(*record, kUpsertBooking, fingerprint);
      auto current = tx.FindBooking(record->resource_id);
      if (!current) {
        throw Error(Reason::kBookingNotFound, "booking_id " + record->resource_id + " no longer exists", "booking_id");
      }
      result.booking = *current;
      return;
    }
    Booking incoming = cmd.booking;
    const std::string& id = incoming.booking_id;
    if (!cmd.previous_booking_id.empty() && cmd.previous_booking_id != id) {
      // Lock both in a fixed order so two renumberings cannot deadlock.
      const bool old_first = cmd.previous_booking_id < id;
      auto first = tx.LockBooking(old_first ? cmd.previous_booking_id : id);
      auto second = tx.LockBooking(old_first ? id : cmd.previous_booking_id);
      const auto& old_booking = old_first ? first : second;
      const auto& new_booking = old_first ? second : first;
      if (old_booking) {
        if (new_booking) {
          throw Error(Reason::kBookingIdTaken,
                      "booking.booking_id " + id + " already belongs to another booking; it cannot replace " +
                          cmd.previous_booking_id,
                      "booking.booking_id");
        }
        tx.RenameBooking(cmd.previous_booking_id, id);
      }
    }
    auto existing = tx.LockBooking(id);
    if (!existing) {
      incoming.paid_minor = 0;
      incoming.created_at = now;
      incoming.updated_at = now;
      tx.InsertBooking(incoming);
    } else if (incoming.revision > 0 && incoming.revision <= existing->revision) {
      // Delivered out of order: the mirror already holds a newer version.
      result.booking = *existing;
      result.ignored_as_stale = true;
      tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, id);
      return;
    } else {
      if (incoming.currency != existing->currency && tx.BookingHasInvoicesOrPayments(id)) {
        throw Error(Reason::kBookingCurrencyLocked,
                    "booking.total.currency_code cannot change from " + existing->currency +
                        " once the booking has invoices or payments",
                    "booking.total.currency_code");
      }
      incoming.paid_minor = existing->paid_minor;
      incoming.created_at = existing->created_at;
      incoming.updated_at = now;
      // A caller that sends no revision must not reset the stored one, or an
      // older delayed update would apply again afterwards.
      incoming.revision = std::max(incoming.revision, existing->revision);
      tx.UpdateBooking(incoming);
    }
    result.booking = incoming;

    // Seed 002: what a booking change does to its unpaid invoices.
    if (IsOff(incoming.status)) {
      const std::string reason = "booking " + id + " was " + std::string(Name(incoming.status));
      for (Invoice& inv : tx.LockOpenInvoices(id)) {
        DropPendingAttempt(tx, inv, reason, now);
        Transition(tx, inv, InvoiceStatus::kCanceled, "CANCELED", reason, actor, cmd.request_id, now);
        result.changed_invoices.push_back(inv);
      }
    } else {
      const auto settled = SettleIfNothingOwed(
          tx, incoming, "SETTLED",
          "settled: the booking's total is now " + money::Format({incoming.total_minor, incoming.currency}) +
              " and its payments cover it",
          "", actor, cmd.request_id, now);
      result.changed_invoices.insert(result.changed_invoices.end(), settled.begin(), settled.end());
    }
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, id);
  });
  return result;
}

Booking InvoiceManager::GetBooking(const std::string& booking_id, std::vector<CustomerPayment>* payments) {
  Booking booking;
  store_.InTransaction([&](InvoiceTx& tx) {
    auto found = tx.FindBooking(booking_id);
    if (!found) throw Error(Reason::kBookingNotFound, "booking_id " + booking_id + " does not exist", "booking_id");
    booking = *found;
    if (payments != nullptr) *payments = tx.ListPayments(booking_id);
  });
  return booking;
}

RecordExternalPaymentResult InvoiceManager::RecordExternalPayment(const RecordExternalPaymentCommand& cmd) {
  crypto::Fingerprint f(kRecordExternalPayment);
  f.Add(cmd.booking_id).AddInt(cmd.amount.amount_minor).Add(cmd.amount.currency).Add(Name(cmd.source));
  f.Add(cmd.external_reference).Add(cmd.payment_intent_id);
  const std::string fingerprint = f.Digest();
  const std::string actor = ActorOf(cmd.caller);
  RecordExternalPaymentResult result;
  store_.InTransaction([&](InvoiceTx& tx) {
    result = {};
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kRecordExternalPayment, fingerprint, now)) {
      RequireSameRequest(*record, kRecordExternalPayment, fingerprint);
      auto payment = tx.FindPayment(record->resource_id);
      if (!payment) throw Error(Reason::kInternal, "idempotency record points at a missing payment");
      result.payment = *payment;
      // The booking may have been renumbered since: follow the payment.
      if (auto booking = tx.FindBooking(payment->booking_id)) result.booking = *booking;
      return;
    }
    auto booking = tx.LockBooking(cmd.booking_id);
    if (!booking) {
      throw Error(Reason::kBookingNotFound, "booking_id " + cmd.booking_id + " does not exist", "booking_id");
    }
    if (cmd.amount.currency != booking->currency) {
      throw Error(Reason::kCurrencyMismatch, "amount.currency_code must be the booking's currency " + booking->currency,
                  "amount.currency_code");
    }
    if (!cmd.payment_intent_id.empty() && tx.FindPaymentByIntent(cmd.payment_intent_id)) {
      throw Error(Reason::kPaymentAlreadyRecorded,
                  "payment_intent_id " + cmd.payment_intent_id + " is already recorded as a payment",
                  "payment_intent_id");
    }
    // An invoice's own card payment is recorded by the pay flow when it
    // succeeds; recording it here too would count the money twice.
    if (!cmd.payment_intent_id.empty() && tx.LockAttemptByIntent(cmd.payment_intent_id)) {
      throw Error(Reason::kPaymentAlreadyRecorded,
                  "payment_intent_id " + cmd.payment_intent_id + " belongs to an invoice payment; it is recorded by it",
                  "payment_intent_id");
    }
    const auto paid = money::CheckedAdd(booking->paid_minor, cmd.amount.amount_minor);
    if (!paid || *paid > money::kMaxAmountMinor * 1000) {
      throw errors::InvalidField("amount.amount_minor", "would overflow the booking's paid total");
    }
    CustomerPayment payment;
    payment.customer_payment_id = ids_.NewId();
    payment.booking_id = cmd.booking_id;
    payment.amount = cmd.amount;
    payment.source = cmd.source;
    payment.payment_intent_id = cmd.payment_intent_id;
    payment.external_reference = cmd.external_reference;
    payment.created_at = now;
    tx.InsertPayment(payment);
    booking->paid_minor = *paid;
    booking->updated_at = now;
    tx.SetBookingPaid(booking->booking_id, booking->paid_minor, now);
    result.payment = payment;
    result.booking = *booking;
    result.settled_invoices = SettleIfNothingOwed(
        tx, *booking, "PAID_ELSEWHERE",
        "paid elsewhere (" + std::string(Name(cmd.source)) + ", " + money::Format(cmd.amount) + ")",
        payment.customer_payment_id, actor, cmd.request_id, now);
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, payment.customer_payment_id);
  });
  return result;
}

NotificationRequest InvoiceManager::LinkRequest(const Invoice& invoice, const Booking& booking, Channel channel,
                                                const std::string& email) const {
  NotificationRequest r;
  r.purpose = NotificationPurpose::kInvoiceLink;
  r.channel = channel;
  r.email = channel == Channel::kEmail ? email : "";
  r.phone = channel == Channel::kSms ? booking.customer.phone : "";
  r.recipient_name = booking.customer.name;
  r.invoice_id = invoice.invoice_id;
  r.pay_url = PayUrl(invoice);
  r.amount = {DueNow(invoice, booking), invoice.amount.currency};
  r.business_name = options_.business_name;
  r.booking = DetailsOf(booking);
  r.due_at = invoice.due_at;
  return r;
}

NotificationRecord InvoiceManager::QueueNotification(InvoiceTx& tx, const NotificationRequest& request, Time now) {
  NotificationRecord n;
  n.invoice_id = request.invoice_id;
  n.request = request;
  n.state = NotificationState::kPending;
  n.created_at = now;
  n.outbox_id = tx.InsertNotification(n);
  return n;
}

void InvoiceManager::DropPendingAttempt(InvoiceTx& tx, Invoice& invoice, const std::string& why, Time now) {
  if (!invoice.payment_pending) return;
  if (auto attempt = tx.LockAttempt(invoice.pending_attempt_id); attempt && !attempt->payment_id.empty()) {
    tx.QueuePaymentAction({.action_id = ids_.NewId(),
                           .kind = PaymentActionKind::kCancel,
                           .payment_id = attempt->payment_id,
                           .invoice_id = invoice.invoice_id,
                           .reason = why,
                           .attempts = 0,
                           .created_at = now});
  }
  // Without a payment id yet, the attempt's outcome decides when it arrives:
  // the invoice no longer takes payments, so it is canceled or refunded.
  invoice.payment_pending = false;
  invoice.pending_attempt_id.clear();
}

NotificationRequest InvoiceManager::MessageRequest(NotificationPurpose purpose, const Invoice& invoice,
                                                   const Booking& booking) const {
  NotificationRequest r;
  r.purpose = purpose;
  r.channel = invoice.send_type;
  r.email = invoice.send_to_email_override.empty() ? booking.customer.email : invoice.send_to_email_override;
  r.phone = booking.customer.phone;
  if (r.channel == Channel::kSms) r.email.clear();
  if (r.channel == Channel::kEmail) r.phone.clear();
  r.recipient_name = booking.customer.name;
  r.invoice_id = invoice.invoice_id;
  r.business_name = options_.business_name;
  r.booking = DetailsOf(booking);
  return r;
}

Invoice InvoiceManager::CreateInvoice(const CreateInvoiceCommand& cmd) {
  const std::string fingerprint = cmd.Fingerprint();
  const std::string actor = ActorOf(cmd.caller);
  Invoice created;
  store_.InTransaction([&](InvoiceTx& tx) {
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kCreateInvoice, fingerprint, now)) {
      RequireSameRequest(*record, kCreateInvoice, fingerprint);
      auto existing = tx.FindInvoice(record->resource_id);
      if (!existing) throw Error(Reason::kInternal, "idempotency record points at a missing invoice");
      created = *existing;
      return;
    }

    auto booking = tx.LockBooking(cmd.booking_id);
    if (!booking) {
      throw Error(Reason::kBookingNotFound, "booking_id " + cmd.booking_id + " does not exist", "booking_id");
    }
    if (IsOff(booking->status)) {
      throw Error(Reason::kBookingCanceled, "booking " + cmd.booking_id + " is " +
                                                std::string(Name(booking->status)) + "; it cannot be invoiced");
    }
    if (cmd.amount.currency != booking->currency) {
      throw Error(Reason::kCurrencyMismatch, "amount.currency_code must be the booking's currency " + booking->currency,
                  "amount.currency_code");
    }
    const int64_t balance = booking->BalanceMinor();
    if (balance <= 0) throw Error(Reason::kNoBalance, "booking " + cmd.booking_id + " has no outstanding balance");
    if (cmd.amount.amount_minor > balance) {
      throw Error(Reason::kAmountExceedsBalance,
                  "amount.amount_minor must be at most the booking's balance " +
                      money::Format({balance, booking->currency}),
                  "amount.amount_minor");
    }
    const std::string email = cmd.send_to_email_override.empty() ? booking->customer.email : cmd.send_to_email_override;
    if (cmd.send_type == Channel::kEmail && !validation::IsValidEmail(email)) {
      throw Error(Reason::kRecipientInvalid,
                  "the booking's customer has no valid email address; set send_to_email_override",
                  "send_to_email_override");
    }
    if (cmd.send_type == Channel::kSms && !validation::IsE164(booking->customer.phone)) {
      throw Error(Reason::kRecipientInvalid, "the booking's customer has no valid E.164 phone number for SMS",
                  "send_type");
    }
    std::optional<Time> due_at = cmd.due_at;
    if (cmd.days_until_due) {
      due_at = now + std::chrono::hours(24) * *cmd.days_until_due;
    } else if (due_at && *due_at <= now) {
      throw errors::InvalidField("due_time", "must be in the future");
    }

    Invoice inv;
    inv.invoice_id = ids_.NewId();
    inv.booking_id = cmd.booking_id;
    inv.status = InvoiceStatus::kOpen;
    inv.amount = cmd.amount;
    inv.confirm_on_pay = cmd.confirm_on_pay;
    inv.send_to_email_override = cmd.send_to_email_override;
    inv.send_type = cmd.send_type;
    inv.token = ids_.NewSecretToken();
    inv.line_items = cmd.line_items;
    inv.fees = cmd.fees;
    inv.custom_fields = cmd.custom_fields;
    inv.due_at = due_at;
    inv.created_at = now;
    inv.updated_at = now;
    tx.InsertInvoice(inv);
    tx.AppendEvent({.invoice_id = inv.invoice_id,
                    .type = "CREATED",
                    .from_status = std::nullopt,
                    .to_status = InvoiceStatus::kOpen,
                    .reason = "invoice created for " + money::Format(inv.amount),
                    .request_id = cmd.request_id,
                    .created_at = now,
                    .actor = actor});
    const auto request = LinkRequest(inv, *booking, inv.send_type, email);
    QueueNotification(tx, request, now);
    tx.AppendEvent({.invoice_id = inv.invoice_id,
                    .type = "NOTIFICATION_QUEUED",
                    .from_status = InvoiceStatus::kOpen,
                    .to_status = InvoiceStatus::kOpen,
                    .reason = "payment link queued by " + std::string(Name(inv.send_type)) + " to " +
                              MaskRecipient(request.Recipient()),
                    .request_id = cmd.request_id,
                    .created_at = now,
                    .actor = actor});
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, inv.invoice_id);
    created = inv;
  });
  return created;
}

ResendInvoiceResult InvoiceManager::ResendInvoice(const ResendInvoiceCommand& cmd) {
  crypto::Fingerprint f(kResendInvoice);
  f.Add(cmd.invoice_id).Add(cmd.channel ? Name(*cmd.channel) : "").Add(cmd.email_override);
  const std::string fingerprint = f.Digest();
  const std::string actor = ActorOf(cmd.caller);
  ResendInvoiceResult result;
  store_.InTransaction([&](InvoiceTx& tx) {
    result = {};
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kResendInvoice, fingerprint, now)) {
      RequireSameRequest(*record, kResendInvoice, fingerprint);
      result.invoice = RequireInvoice(tx.FindInvoice(cmd.invoice_id), cmd.invoice_id);
      for (const auto& n : tx.ListNotifications(cmd.invoice_id)) {
        if (std::to_string(n.outbox_id) == record->resource_id) result.notification = n;
      }
      return;
    }
    Invoice inv = RequireInvoice(tx.LockInvoice(cmd.invoice_id), cmd.invoice_id);
    if (inv.status != InvoiceStatus::kOpen) {
      throw Error(Reason::kInvoiceNotOpen,
                  "invoice " + inv.invoice_id + " is " + std::string(Name(inv.status)) + "; only OPEN invoices are resent");
    }
    auto booking = tx.FindBooking(inv.booking_id);
    if (!booking) throw Error(Reason::kInternal, "invoice without its booking");
    const Channel channel = cmd.channel.value_or(inv.send_type);
    std::string email = cmd.email_override;
    if (email.empty()) email = inv.send_to_email_override.empty() ? booking->customer.email : inv.send_to_email_override;
    if (channel == Channel::kEmail && !validation::IsValidEmail(email)) {
      throw Error(Reason::kRecipientInvalid,
                  "no valid email address for this invoice; set send_to_email_override", "send_to_email_override");
    }
    if (channel == Channel::kSms && !validation::IsE164(booking->customer.phone)) {
      throw Error(Reason::kRecipientInvalid, "the booking's customer has no valid E.164 phone number for SMS",
                  "send_type");
    }
    const auto request = LinkRequest(inv, *booking, channel, email);
    result.notification = QueueNotification(tx, request, now);
    tx.AppendEvent({.invoice_id = inv.invoice_id,
                    .type = "RESENT",
                    .from_status = inv.status,
                    .to_status = inv.status,
                    .reason = "payment link resent by " + std::string(Name(channel)) + " to " +
                              MaskRecipient(request.Recipient()),
                    .request_id = cmd.request_id,
                    .created_at = now,
                    .actor = actor});
    result.invoice = inv;
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, std::to_string(result.notification.outbox_id));
  });
  return result;
}

Invoice InvoiceManager::CloseInvoice(const CloseInvoiceCommand& cmd) {
  crypto::Fingerprint f(kCloseInvoice);
  f.Add(cmd.invoice_id).Add(cmd.reason);
  const std::string fingerprint = f.Digest();
  const std::string actor = ActorOf(cmd.caller);
  Invoice closed;
  store_.InTransaction([&](InvoiceTx& tx) {
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kCloseInvoice, fingerprint, now)) {
      RequireSameRequest(*record, kCloseInvoice, fingerprint);
      closed = RequireInvoice(tx.FindInvoice(cmd.invoice_id), cmd.invoice_id);
      return;
    }
    Invoice inv = RequireInvoice(tx.LockInvoice(cmd.invoice_id), cmd.invoice_id);
    if (inv.status == InvoiceStatus::kPaid) {
      throw Error(Reason::kInvoiceAlreadyPaid, "invoice " + inv.invoice_id + " is already paid; it cannot be closed");
    }
    if (inv.status != InvoiceStatus::kOpen) {
      throw Error(Reason::kInvoiceNotOpen,
                  "invoice " + inv.invoice_id + " is " + std::string(Name(inv.status)) + "; only OPEN invoices close");
    }
    if (inv.payment_pending) {
      throw Error(Reason::kPaymentPending,
                  "a payment for invoice " + inv.invoice_id + " is in progress; it cannot be closed until it resolves");
    }
    Transition(tx, inv, InvoiceStatus::kClosed, "CLOSED",
               cmd.reason.empty() ? "closed without payment" : cmd.reason, actor, cmd.request_id, now);
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, inv.invoice_id);
    closed = inv;
  });
  return closed;
}

std::vector<Invoice> InvoiceManager::ExpireDueInvoices(int limit) {
  std::vector<Invoice> expired;
  store_.InTransaction([&](InvoiceTx& tx) {
    expired.clear();
    const Time now = clock_.Now();
    for (Invoice& inv : tx.LockDueInvoices(now, limit)) {
      Transition(tx, inv, InvoiceStatus::kExpired, "EXPIRED", "not paid by its due time", kSweeper, "", now);
      expired.push_back(inv);
    }
  });
  return expired;
}

int64_t InvoiceManager::DueNow(const Invoice& invoice, const Booking& booking) {
  if (invoice.status != InvoiceStatus::kOpen) return 0;
  return std::max<int64_t>(0, std::min(invoice.amount.amount_minor, booking.BalanceMinor()));
}

InvoiceView InvoiceManager::View(InvoiceTx& tx, Invoice invoice) {
  auto booking = tx.FindBooking(invoice.booking_id);
  if (!booking) throw Error(Reason::kInternal, "invoice without its booking");
  InvoiceView view;
  view.due_now_minor = DueNow(invoice, *booking);
  view.payments = tx.ListPayments(invoice.booking_id);
  for (const auto& n : tx.ListNotifications(invoice.invoice_id)) view.notifications.push_back(Summarize(n));
  view.invoice = std::move(invoice);
  view.booking = std::move(*booking);
  return view;
}

InvoiceView InvoiceManager::ViewOf(InvoiceSnapshot snapshot) {
  InvoiceView view;
  view.due_now_minor = DueNow(snapshot.invoice, snapshot.booking);
  view.invoice = std::move(snapshot.invoice);
  view.booking = std::move(snapshot.booking);
  view.payments = std::move(snapshot.payments);
  view.notifications = std::move(snapshot.notifications);
  return view;
}

InvoiceView InvoiceManager::GetInvoiceById(const std::string& invoice_id) {
  auto snapshot = store_.ReadInvoiceSnapshot(InvoiceKey::kId, invoice_id);
  if (!snapshot) RequireInvoice(std::nullopt, invoice_id);
  return ViewOf(std::move(*snapshot));
}

InvoiceView InvoiceManager::GetInvoiceByToken(const std::string& token) {
  auto snapshot = store_.ReadInvoiceSnapshot(InvoiceKey::kToken, token);
  // The token is a secret: never echo it back in the message.
  if (!snapshot) throw Error(Reason::kInvoiceNotFound, "token matches no invoice", "token");
  return ViewOf(std::move(*snapshot));
}

InvoicePage InvoiceManager::ListInvoices(const InvoiceFilter& filter, int page_size, const std::string& page_token) {
  const auto cursor = DecodeInvoiceToken(page_token, filter);
  InvoicePage page;
  store_.InTransaction([&](InvoiceTx& tx) {
    page.invoices = tx.ListInvoices(filter, cursor, page_size + 1);
  });
  if (static_cast<int>(page.invoices.size()) > page_size) {
    page.invoices.resize(static_cast<std::size_t>(page_size));
    page.next_page_token = EncodeInvoiceToken(page.invoices.back(), filter);
  }
  return page;
}

EventPage InvoiceManager::ListEvents(const std::string& invoice_id, int page_size, const std::string& page_token) {
  const int64_t after = DecodeEventToken(page_token, invoice_id);
  EventPage page;
  store_.InTransaction([&](InvoiceTx& tx) {
    RequireInvoice(tx.FindInvoice(invoice_id), invoice_id);
    page.events = tx.ListEvents(invoice_id, after, page_size + 1);
  });
  if (static_cast<int>(page.events.size()) > page_size) {
    page.events.resize(static_cast<std::size_t>(page_size));
    page.next_page_token = EncodeEventToken(invoice_id, page.events.back().sequence);
  }
  return page;
}

std::string InvoiceManager::PayUrl(const Invoice& invoice) const {
  return options_.pay_link_base_url + "/" + invoice.token;
}

}  // namespace billing::invoice::domain
