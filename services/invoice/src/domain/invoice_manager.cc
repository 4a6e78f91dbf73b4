#include "domain/invoice_manager.h"

#include <algorithm>
#include <chrono>

#include "crypto/crypto.h"
#include "errors/error.h"
#include "validation/validation.h"

namespace billing::invoice::domain {
namespace {

using errors::Error;
using errors::Reason;

constexpr char kUpsertBooking[] = "UpsertBooking";
constexpr char kCreateInvoice[] = "CreateInvoice";

std::string BookingFingerprint(const Booking& b) {
  crypto::Fingerprint f(kUpsertBooking);
  f.Add(b.booking_id).Add(Name(b.status)).Add(b.customer.name).Add(b.customer.email);
  f.Add(b.customer.phone).Add(b.currency).AddInt(b.total_minor).Add(b.activity_name);
  f.Add(b.start_local).Add(b.end_local).Add(b.time_zone).Add(b.confirmation_code);
  f.AddInt(static_cast<int64_t>(b.required_agreement_ids.size()));
  for (const auto& id : b.required_agreement_ids) f.Add(id);
  f.AddInt(b.slot_hold_expires_at ? clock::ToUnixMicros(*b.slot_hold_expires_at) : -1);
  f.AddInt(b.revision);
  return f.Digest();
}

// The same key replays only the same operation; anything else is a client
// bug that must not be papered over.
void RequireSameRequest(const IdempotencyRecord& record, const std::string& method,
                        const std::string& fingerprint) {
  if (record.method != method || record.fingerprint != fingerprint) {
    throw Error(Reason::kIdempotencyKeyReused,
                "request_id was already used for a different request; use a new request_id",
                "request_id");
  }
}

}  // namespace

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

UpsertBookingResult InvoiceManager::UpsertBooking(const UpsertBookingCommand& cmd) {
  const std::string fingerprint = BookingFingerprint(cmd.booking);
  UpsertBookingResult result;
  store_.InTransaction([&](InvoiceTx& tx) {
    result = {};
    const Time now = clock_.Now();
    if (auto record = tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kUpsertBooking,
                                             fingerprint, now)) {
      RequireSameRequest(*record, kUpsertBooking, fingerprint);
      auto current = tx.FindBooking(record->resource_id);
      if (!current) throw Error(Reason::kBookingNotFound, "booking " + record->resource_id + " no longer exists");
      result.booking = *current;
      return;
    }
    Booking incoming = cmd.booking;
    auto existing = tx.LockBooking(incoming.booking_id);
    if (!existing) {
      incoming.paid_minor = 0;
      incoming.created_at = now;
      incoming.updated_at = now;
      tx.InsertBooking(incoming);
      result.booking = incoming;
    } else if (incoming.revision > 0 && incoming.revision <= existing->revision) {
      // Delivered out of order: the mirror already holds a newer version.
      result.booking = *existing;
      result.ignored_as_stale = true;
    } else {
      if (incoming.currency != existing->currency &&
          tx.BookingHasInvoicesOrPayments(incoming.booking_id)) {
        throw Error(Reason::kBookingCurrencyLocked,
                    "booking.total.currency_code cannot change from " + existing->currency +
                        " once the booking has invoices or payments",
                    "booking.total.currency_code");
      }
      incoming.paid_minor = existing->paid_minor;
      incoming.created_at = existing->created_at;
      incoming.updated_at = now;
      tx.UpdateBooking(incoming);
      result.booking = incoming;
    }
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, incoming.booking_id);
  });
  return result;
}

Booking InvoiceManager::GetBooking(const std::string& booking_id,
                                   std::vector<CustomerPayment>* payments) {
  Booking booking;
  store_.InTransaction([&](InvoiceTx& tx) {
    auto found = tx.FindBooking(booking_id);
    if (!found) throw Error(Reason::kBookingNotFound, "booking_id " + booking_id + " does not exist", "booking_id");
    booking = *found;
    if (payments != nullptr) *payments = tx.ListPayments(booking_id);
  });
  return booking;
}

Invoice InvoiceManager::CreateInvoice(const CreateInvoiceCommand& cmd) {
  const std::string fingerprint = cmd.Fingerprint();
  Invoice created;
  store_.InTransaction([&](InvoiceTx& tx) {
    const Time now = clock_.Now();
    if (auto record =
            tx.ClaimIdempotencyKey(cmd.caller, cmd.request_id, kCreateInvoice, fingerprint, now)) {
      RequireSameRequest(*record, kCreateInvoice, fingerprint);
      auto existing = tx.FindInvoice(record->resource_id);
      if (!existing) throw Error(Reason::kInternal, "idempotency record points at a missing invoice");
      created = *existing;
      return;
    }

    auto booking = tx.LockBooking(cmd.booking_id);
    if (!booking) {
      throw Error(Reason::kBookingNotFound, "booking_id " + cmd.booking_id + " does not exist",
                  "booking_id");
    }
    if (IsOff(booking->status)) {
      throw Error(Reason::kBookingCanceled,
                  "booking " + cmd.booking_id + " is " + std::string(Name(booking->status)) +
                      "; it cannot be invoiced");
    }
    if (cmd.amount.currency != booking->currency) {
      throw Error(Reason::kCurrencyMismatch,
                  "amount.currency_code must be the booking's currency " + booking->currency,
                  "amount.currency_code");
    }
    const int64_t balance = booking->BalanceMinor();
    if (balance <= 0) {
      throw Error(Reason::kNoBalance, "booking " + cmd.booking_id + " has no outstanding balance");
    }
    if (cmd.amount.amount_minor > balance) {
      throw Error(Reason::kAmountExceedsBalance,
                  "amount.amount_minor must be at most the booking's balance " +
                      money::Format({balance, booking->currency}),
                  "amount.amount_minor");
    }
    if (cmd.send_type == Channel::kEmail && cmd.send_to_email_override.empty() &&
        !validation::IsValidEmail(booking->customer.email)) {
      throw Error(Reason::kRecipientInvalid,
                  "the booking's customer has no valid email address; set send_to_email_override",
                  "send_to_email_override");
    }
    if (cmd.send_type == Channel::kSms && !validation::IsE164(booking->customer.phone)) {
      throw Error(Reason::kRecipientInvalid,
                  "the booking's customer has no valid E.164 phone number for SMS", "send_type");
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
                    .created_at = now});
    tx.CompleteIdempotencyKey(cmd.caller, cmd.request_id, inv.invoice_id);
    created = inv;
  });
  return created;
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
  view.invoice = std::move(invoice);
  view.booking = std::move(*booking);
  return view;
}

InvoiceView InvoiceManager::GetInvoiceById(const std::string& invoice_id) {
  InvoiceView view;
  store_.InTransaction([&](InvoiceTx& tx) {
    auto invoice = tx.FindInvoice(invoice_id);
    if (!invoice) {
      throw Error(Reason::kInvoiceNotFound, "invoice_id " + invoice_id + " does not exist", "invoice_id");
    }
    view = View(tx, std::move(*invoice));
  });
  return view;
}

InvoiceView InvoiceManager::GetInvoiceByToken(const std::string& token) {
  InvoiceView view;
  store_.InTransaction([&](InvoiceTx& tx) {
    auto invoice = tx.FindInvoiceByToken(token);
    // The token is a secret: never echo it back in the message.
    if (!invoice) throw Error(Reason::kInvoiceNotFound, "token matches no invoice", "token");
    view = View(tx, std::move(*invoice));
  });
  return view;
}

std::string InvoiceManager::PayUrl(const Invoice& invoice) const {
  return options_.pay_link_base_url + "/" + invoice.token;
}

}  // namespace billing::invoice::domain
