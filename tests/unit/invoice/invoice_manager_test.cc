#include <gtest/gtest.h>

#include <chrono>

#include "domain/invoice_manager.h"
#include "errors/error.h"
#include "unit/invoice/fake_invoice_store.h"

namespace billing::invoice::domain {
namespace {

using errors::Reason;

// Deterministic ids and tokens.
class SequentialIds final : public ids::IdGenerator {
 public:
  std::string NewId() override { return "00000000-0000-4000-8000-" + Pad(++n_); }
  std::string NewSecretToken() override { return "token" + std::to_string(++t_); }

 private:
  static std::string Pad(int n) {
    std::string s = std::to_string(n);
    return std::string(12 - s.size(), '0') + s;
  }
  int n_ = 0;
  int t_ = 0;
};

class InvoiceManagerTest : public ::testing::Test {
 protected:
  InvoiceManagerTest()
      : clock_(clock::FromUnixMicros(1'800'000'000'000'000)),
        manager_(store_, clock_, ids_, {.pay_link_base_url = "https://pay.example.com/i"}) {}

  Booking MakeBooking(const std::string& id = "bk-1") {
    Booking b;
    b.booking_id = id;
    b.status = BookingStatus::kPending;
    b.customer = {"Ann Lee", "ann@example.com", "+14155550123"};
    b.currency = "USD";
    b.total_minor = 25000;
    b.activity_name = "Sunset kayak tour";
    b.start_local = "2026-12-01T09:00:00";
    b.end_local = "2026-12-01T11:30:00";
    b.confirmation_code = "K7Q2";
    return b;
  }

  void Upsert(const Booking& b, const std::string& request_id) {
    manager_.UpsertBooking({.caller = "", .request_id = request_id, .booking = b});
  }

  CreateInvoiceCommand MakeCreate(const std::string& request_id = "req-1", int64_t amount = 10000) {
    CreateInvoiceCommand cmd;
    cmd.request_id = request_id;
    cmd.booking_id = "bk-1";
    cmd.amount = {amount, "USD"};
    cmd.send_type = Channel::kEmail;
    return cmd;
  }

  // The reason and field of the errors::Error that f throws.
  template <typename F>
  std::pair<Reason, std::string> ErrorOf(F&& f) {
    try {
      f();
    } catch (const errors::Error& e) {
      return {e.reason(), e.field()};
    }
    ADD_FAILURE() << "no error thrown";
    return {Reason::kInternal, ""};
  }

  testing::FakeInvoiceStore store_;
  clock::FakeClock clock_;
  SequentialIds ids_;
  InvoiceManager manager_;
};

TEST_F(InvoiceManagerTest, CreatesOpenInvoiceWithLinkAndEvent) {
  Upsert(MakeBooking(), "u1");
  auto cmd = MakeCreate();
  cmd.confirm_on_pay = true;
  cmd.line_items = {{"Adult", 2, 12500}};
  cmd.days_until_due = 7;
  const Invoice inv = manager_.CreateInvoice(cmd);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv.amount, (Money{10000, "USD"}));
  EXPECT_TRUE(inv.confirm_on_pay);
  EXPECT_EQ(manager_.PayUrl(inv), "https://pay.example.com/i/" + inv.token);
  EXPECT_EQ(inv.due_at, clock_.Now() + std::chrono::hours(24 * 7));
  const auto data = store_.Snapshot();
  ASSERT_EQ(data.events.size(), 1u);
  EXPECT_EQ(data.events[0].type, "CREATED");
  EXPECT_EQ(data.events[0].sequence, 1);
  EXPECT_EQ(data.events[0].to_status, InvoiceStatus::kOpen);
}

TEST_F(InvoiceManagerTest, SameRequestIdReplaysWithoutCreatingAgain) {
  Upsert(MakeBooking(), "u1");
  const Invoice first = manager_.CreateInvoice(MakeCreate("same"));
  const Invoice again = manager_.CreateInvoice(MakeCreate("same"));
  EXPECT_EQ(first.invoice_id, again.invoice_id);
  EXPECT_EQ(first.token, again.token);
  EXPECT_EQ(store_.Snapshot().invoices.size(), 1u);
  EXPECT_EQ(store_.Snapshot().events.size(), 1u);
}

TEST_F(InvoiceManagerTest, SameRequestIdWithDifferentRequestIsRejected) {
  Upsert(MakeBooking(), "u1");
  manager_.CreateInvoice(MakeCreate("same", 10000));
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("same", 9000)); });
  EXPECT_EQ(reason, Reason::kIdempotencyKeyReused);
  EXPECT_EQ(field, "request_id");
  // A request_id used for another method is also a different request.
  auto [reason2, field2] = ErrorOf([&] { Upsert(MakeBooking(), "same"); });
  EXPECT_EQ(reason2, Reason::kIdempotencyKeyReused);
  EXPECT_EQ(store_.Snapshot().invoices.size(), 1u);
}

TEST_F(InvoiceManagerTest, Seed000Prerequisites) {
  // Unknown booking.
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate()); }).first, Reason::kBookingNotFound);

  // Canceled, voided and postponed bookings cannot be invoiced.
  for (auto status : {BookingStatus::kCanceled, BookingStatus::kVoided, BookingStatus::kPostponed}) {
    Booking b = MakeBooking();
    b.status = status;
    Upsert(b, "u-" + std::string(Name(status)));
    EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c-" + std::string(Name(status)))); }).first,
              Reason::kBookingCanceled);
  }

  Booking b = MakeBooking();
  Upsert(b, "u-ok");
  // More than the balance.
  auto [r1, f1] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1", 25001)); });
  EXPECT_EQ(r1, Reason::kAmountExceedsBalance);
  EXPECT_EQ(f1, "amount.amount_minor");
  // Exactly the balance, and a deposit, are fine.
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c2", 25000)));
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c3", 500)));
  // Another currency.
  auto cmd = MakeCreate("c4");
  cmd.amount.currency = "EUR";
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(cmd); }).first, Reason::kCurrencyMismatch);

  // Nothing owed.
  b.total_minor = 0;
  Upsert(b, "u-free");
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c5", 1)); }).first, Reason::kNoBalance);
}

TEST_F(InvoiceManagerTest, RecipientRules) {
  Booking b = MakeBooking();
  b.customer.email = "not-an-email";
  b.customer.phone = "";
  Upsert(b, "u1");
  // EMAIL without a usable address and no override.
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1")); });
  EXPECT_EQ(reason, Reason::kRecipientInvalid);
  EXPECT_EQ(field, "send_to_email_override");
  // The override wins.
  auto cmd = MakeCreate("c2");
  cmd.send_to_email_override = "billing@corp.example.com";
  EXPECT_NO_THROW(manager_.CreateInvoice(cmd));
  // SMS needs an E.164 phone.
  cmd = MakeCreate("c3");
  cmd.send_type = Channel::kSms;
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(cmd); }).first, Reason::kRecipientInvalid);
  b.customer.phone = "+14155550123";
  Upsert(b, "u2");
  EXPECT_NO_THROW(manager_.CreateInvoice(cmd));
}

TEST_F(InvoiceManagerTest, DueTimeMustBeInTheFuture) {
  Upsert(MakeBooking(), "u1");
  auto cmd = MakeCreate();
  cmd.due_at = clock_.Now();
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(cmd); });
  EXPECT_EQ(reason, Reason::kInvalidField);
  EXPECT_EQ(field, "due_time");
}

TEST_F(InvoiceManagerTest, FailedCreateLeavesNothingBehind) {
  Upsert(MakeBooking(), "u1");
  const auto before = store_.Snapshot();
  ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1", 99999)); });
  const auto after = store_.Snapshot();
  EXPECT_EQ(after.invoices.size(), before.invoices.size());
  EXPECT_EQ(after.keys.size(), before.keys.size());  // the key is free for a corrected retry
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c1", 100)));
}

TEST_F(InvoiceManagerTest, StaleRevisionsAreIgnored) {
  Booking b = MakeBooking();
  b.revision = 5;
  Upsert(b, "u1");
  b.revision = 4;
  b.total_minor = 1;
  const auto result = manager_.UpsertBooking({.caller = "", .request_id = "u2", .booking = b});
  EXPECT_TRUE(result.ignored_as_stale);
  EXPECT_EQ(result.booking.total_minor, 25000);
  b.revision = 6;
  EXPECT_FALSE(manager_.UpsertBooking({.caller = "", .request_id = "u3", .booking = b}).ignored_as_stale);
  EXPECT_EQ(store_.Snapshot().bookings.at("bk-1").total_minor, 1);
}

TEST_F(InvoiceManagerTest, CurrencyLocksOnceInvoiced) {
  Booking b = MakeBooking();
  Upsert(b, "u1");
  b.currency = "EUR";
  EXPECT_NO_THROW(Upsert(b, "u2"));  // nothing billed yet
  b.currency = "USD";
  Upsert(b, "u3");
  manager_.CreateInvoice(MakeCreate());
  b.currency = "EUR";
  auto [reason, field] = ErrorOf([&] { Upsert(b, "u4"); });
  EXPECT_EQ(reason, Reason::kBookingCurrencyLocked);
  EXPECT_EQ(field, "booking.total.currency_code");
}

TEST_F(InvoiceManagerTest, DueNowIsCappedByBalanceAndZeroUnlessOpen) {
  Booking b = MakeBooking();
  Invoice inv;
  inv.amount = {10000, "USD"};
  b.total_minor = 25000;
  b.paid_minor = 20000;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 5000);
  b.paid_minor = 0;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 10000);
  b.paid_minor = 30000;  // overpaid
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 0);
  inv.status = InvoiceStatus::kPaid;
  b.paid_minor = 0;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 0);
}

TEST_F(InvoiceManagerTest, GetByIdAndTokenShowTheSameView) {
  Upsert(MakeBooking(), "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate());
  const auto by_id = manager_.GetInvoiceById(inv.invoice_id);
  const auto by_token = manager_.GetInvoiceByToken(inv.token);
  EXPECT_EQ(by_id.invoice.invoice_id, by_token.invoice.invoice_id);
  EXPECT_EQ(by_id.due_now_minor, 10000);
  EXPECT_EQ(by_id.booking.activity_name, "Sunset kayak tour");
  EXPECT_EQ(ErrorOf([&] { manager_.GetInvoiceByToken("nope"); }).first, Reason::kInvoiceNotFound);
  EXPECT_EQ(ErrorOf([&] { manager_.GetInvoiceById("00000000-0000-4000-8000-999999999999"); }).first,
            Reason::kInvoiceNotFound);
}

TEST(LocalDateTimeTest, NormalizesAndRejects) {
  EXPECT_EQ(*NormalizeLocalDateTime("2026-12-01T09:00"), "2026-12-01T09:00:00");
  EXPECT_EQ(*NormalizeLocalDateTime("2028-02-29T23:59:59"), "2028-02-29T23:59:59");
  for (const char* bad : {"2026-02-29T10:00", "2026-13-01T10:00", "2026-12-01 09:00", "2026-12-01T24:00",
                          "2026-12-01T09:60", "2026-12-01", "", "2026-12-01T09:00Z"}) {
    EXPECT_FALSE(NormalizeLocalDateTime(bad)) << bad;
  }
  const auto parts = SplitLocal("2026-12-01T09:30:00");
  EXPECT_EQ(parts.date, "2026-12-01");
  EXPECT_EQ(parts.time, "09:30");
}

}  // namespace
}  // namespace billing::invoice::domain
