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
  std::string caller;
  std::string request_id;
  Booking booking;  // paid_minor, created_at and updated_at are ignored
};

struct UpsertBookingResult {
  Booking booking;
  bool ignored_as_stale = false;
};

struct CreateInvoiceCommand {
  std::string caller;
  std::string request_id;
  std::string booking_id;
  Money amount;
  bool confirm_on_pay = false;
  std::string send_to_email_override;  // "" = none
  Channel send_type = Channel::kEmail;
  std::vector<LineItem> line_items;
  std::vector<Fee> fees;
  std::vector<CustomField> custom_fields;
  std::optional<Time> due_at;
  std::optional<int> days_until_due;

  // A digest of everything that defines the request (not the request_id), so
  // a reused key with a different request is recognised.
  std::string Fingerprint() const;
};

// What GetInvoice shows: the invoice with its booking and the money so far.
struct InvoiceView {
  Invoice invoice;
  Booking booking;
  std::vector<CustomerPayment> payments;
  // The invoice amount capped at the booking's balance; 0 unless OPEN.
  int64_t due_now_minor = 0;
};

struct InvoiceManagerOptions {
  // Payment links are pay_link_base_url + "/" + token.
  std::string pay_link_base_url;
};

// The invoice service's rules (seed 000 and DESIGN.md §4). Validation of
// request shapes happens in the api layer; this class enforces everything
// that depends on stored state.
class InvoiceManager {
 public:
  InvoiceManager(InvoiceStore& store, const clock::Clock& clock, ids::IdGenerator& ids,
                 InvoiceManagerOptions options);

  UpsertBookingResult UpsertBooking(const UpsertBookingCommand& cmd);
  Booking GetBooking(const std::string& booking_id, std::vector<CustomerPayment>* payments);

  // Creates an OPEN invoice after seed 000's prerequisites: the booking
  // exists, is not canceled/voided/postponed, is in the invoice's currency,
  // owes more than zero, the amount is at most the balance, and the channel
  // has a usable recipient. Idempotent on (caller, request_id).
  Invoice CreateInvoice(const CreateInvoiceCommand& cmd);

  InvoiceView GetInvoiceById(const std::string& invoice_id);
  InvoiceView GetInvoiceByToken(const std::string& token);

  std::string PayUrl(const Invoice& invoice) const;

  static int64_t DueNow(const Invoice& invoice, const Booking& booking);

 private:
  InvoiceView View(InvoiceTx& tx, Invoice invoice);

  InvoiceStore& store_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
  InvoiceManagerOptions options_;
};

}  // namespace billing::invoice::domain
