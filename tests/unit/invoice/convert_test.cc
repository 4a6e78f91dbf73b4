#include <gtest/gtest.h>

#include <functional>

#include "api/convert.h"
#include "errors/error.h"

namespace billing::invoice::api {
namespace {

v1::CreateInvoiceRequest ValidCreate() {
  v1::CreateInvoiceRequest req;
  req.set_request_id("req-1");
  req.set_booking_id("bk-1");
  req.mutable_amount()->set_amount_minor(10000);
  req.mutable_amount()->set_currency_code("USD");
  req.set_send_type(common::CHANNEL_EMAIL);
  return req;
}

v1::UpsertBookingRequest ValidUpsert() {
  v1::UpsertBookingRequest req;
  req.set_request_id("u-1");
  auto* b = req.mutable_booking();
  b->set_booking_id("bk-1");
  b->set_status(v1::BOOKING_STATUS_PENDING);
  b->mutable_customer()->set_name("Ann");
  b->mutable_total()->set_amount_minor(25000);
  b->mutable_total()->set_currency_code("USD");
  b->set_start_local("2026-12-01T09:00");
  b->set_end_local("2026-12-01T11:00");
  return req;
}

struct Case {
  std::string name;
  std::function<void(v1::CreateInvoiceRequest&)> mutate;
  std::string field;  // the field the error must name
};

TEST(ConvertCreateInvoiceTest, AcceptsAValidRequest) {
  const auto cmd = ToCreateInvoiceCommand(ValidCreate(), "caller");
  EXPECT_EQ(cmd.caller, "caller");
  EXPECT_EQ(cmd.amount, (money::Money{10000, "USD"}));
  EXPECT_EQ(cmd.send_type, domain::Channel::kEmail);
}

TEST(ConvertCreateInvoiceTest, EveryBadFieldIsNamed) {
  const std::string huge(300, 'x');
  const std::vector<Case> cases = {
      {"no request_id", [](auto& r) { r.clear_request_id(); }, "request_id"},
      {"long request_id", [](auto& r) { r.set_request_id(std::string(129, 'r')); }, "request_id"},
      {"no booking", [](auto& r) { r.clear_booking_id(); }, "booking_id"},
      {"oversized booking", [&](auto& r) { r.set_booking_id(huge); }, "booking_id"},
      {"booking junk", [](auto& r) { r.set_booking_id("bk'; DROP TABLE invoices;--"); }, "booking_id"},
      {"no amount", [](auto& r) { r.clear_amount(); }, "amount"},
      {"zero amount", [](auto& r) { r.mutable_amount()->set_amount_minor(0); }, "amount.amount_minor"},
      {"negative amount", [](auto& r) { r.mutable_amount()->set_amount_minor(-100); }, "amount.amount_minor"},
      {"overflowing amount",
       [](auto& r) { r.mutable_amount()->set_amount_minor(INT64_MAX); }, "amount.amount_minor"},
      {"unknown currency", [](auto& r) { r.mutable_amount()->set_currency_code("XYZ"); }, "amount.currency_code"},
      {"lower-case currency", [](auto& r) { r.mutable_amount()->set_currency_code("usd"); }, "amount.currency_code"},
      {"empty currency", [](auto& r) { r.mutable_amount()->clear_currency_code(); }, "amount.currency_code"},
      {"bad email", [](auto& r) { r.set_send_to_email_override("ann@"); }, "send_to_email_override"},
      {"no send type", [](auto& r) { r.clear_send_type(); }, "send_type"},
      {"unknown send type", [](auto& r) { r.set_send_type(static_cast<common::Channel>(42)); }, "send_type"},
      {"line item without name",
       [](auto& r) {
         auto* li = r.add_line_items();
         li->set_quantity(1);
         li->mutable_unit_amount()->set_currency_code("USD");
       },
       "line_items[0].name"},
      {"line item zero quantity",
       [](auto& r) {
         auto* li = r.add_line_items();
         li->set_name("A");
         li->mutable_unit_amount()->set_currency_code("USD");
       },
       "line_items[0].quantity"},
      {"line item other currency",
       [](auto& r) {
         auto* li = r.add_line_items();
         li->set_name("A");
         li->set_quantity(1);
         li->mutable_unit_amount()->set_currency_code("EUR");
       },
       "line_items[0].unit_amount.currency_code"},
      {"fee negative",
       [](auto& r) {
         auto* f = r.add_fees();
         f->set_name("Fee");
         f->mutable_amount()->set_amount_minor(-1);
         f->mutable_amount()->set_currency_code("USD");
       },
       "fees[0].amount.amount_minor"},
      {"five custom fields",
       [](auto& r) {
         for (int i = 0; i < 5; ++i) {
           auto* c = r.add_custom_fields();
           c->set_name("n");
           c->set_value("v");
         }
       },
       "custom_fields"},
      {"custom field name too long",
       [](auto& r) {
         auto* c = r.add_custom_fields();
         c->set_name(std::string(41, 'n'));
         c->set_value("v");
       },
       "custom_fields[0].name"},
      {"days until due", [](auto& r) { r.set_days_until_due(0); }, "days_until_due"},
      {"bad due time", [](auto& r) { r.mutable_due_time()->set_nanos(-1); }, "due_time"},
  };
  for (const auto& c : cases) {
    auto req = ValidCreate();
    c.mutate(req);
    try {
      ToCreateInvoiceCommand(req, "");
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const errors::Error& e) {
      EXPECT_EQ(e.field(), c.field) << c.name;
      EXPECT_EQ(std::string(e.what()).rfind(c.field, 0), 0u) << c.name << ": " << e.what();
      EXPECT_TRUE(e.reason() == errors::Reason::kInvalidField ||
                  e.reason() == errors::Reason::kCurrencyMismatch)
          << c.name;
    }
  }
}

TEST(ConvertUpsertBookingTest, ValidatesShapes) {
  EXPECT_NO_THROW(ToUpsertBookingCommand(ValidUpsert(), ""));
  const std::vector<std::pair<std::function<void(v1::UpsertBookingRequest&)>, std::string>> cases = {
      {[](auto& r) { r.clear_booking(); }, "booking"},
      {[](auto& r) { r.mutable_booking()->set_status(v1::BOOKING_STATUS_UNSPECIFIED); }, "booking.status"},
      {[](auto& r) { r.mutable_booking()->set_status(static_cast<v1::BookingStatus>(99)); }, "booking.status"},
      {[](auto& r) { r.mutable_booking()->clear_total(); }, "booking.total"},
      {[](auto& r) { r.mutable_booking()->mutable_total()->set_amount_minor(-1); }, "booking.total.amount_minor"},
      {[](auto& r) { r.mutable_booking()->set_start_local("tomorrow"); }, "booking.start_local"},
      {[](auto& r) { r.mutable_booking()->set_end_local("2026-12-01T08:00"); }, "booking.end_local"},
      {[](auto& r) { r.mutable_booking()->set_time_zone("Mars/Olympus Mons"); }, "booking.time_zone"},
      {[](auto& r) { r.mutable_booking()->mutable_customer()->set_name(std::string(201, 'a')); },
       "booking.customer.name"},
      {[](auto& r) { r.mutable_booking()->mutable_customer()->set_email("\xff"); }, "booking.customer.email"},
      {[](auto& r) { r.mutable_booking()->add_required_agreement_ids("has space"); },
       "booking.required_agreement_ids[0]"},
      {[](auto& r) { r.mutable_booking()->set_revision(-1); }, "booking.revision"},
  };
  for (const auto& [mutate, field] : cases) {
    auto req = ValidUpsert();
    mutate(req);
    try {
      ToUpsertBookingCommand(req, "");
      ADD_FAILURE() << field << ": accepted";
    } catch (const errors::Error& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  }
}

}  // namespace
}  // namespace billing::invoice::api
