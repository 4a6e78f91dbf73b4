#include "clients/template_renderer.h"

#include <mstch/mstch.hpp>

#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "clients/sms_text.h"

namespace billing::notify::clients {
namespace {

constexpr const char* kParts[] = {"subject", "text", "html", "sms", "sms_short"};

std::string Folder(domain::Kind kind) {
  std::string name(domain::Name(kind));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string Date(clock::Time t) {
  const std::time_t secs = static_cast<std::time_t>(clock::ToUnixMicros(t) / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// mstch's default escaper also rewrites '/', '=' and '`', which turns every
// pay link in an href into &#x2F; soup. Browsers decode it, but mail
// scanners and people reading the source do not, so escape only what HTML
// needs.
std::string EscapeHtml(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TemplateRenderer::TemplateRenderer(const std::string& dir) {
  // Process-wide in mstch; this is the only renderer in the process.
  mstch::config::escape = EscapeHtml;
  for (auto kind : {domain::Kind::kInvoiceLink, domain::Kind::kReceipt, domain::Kind::kBookingConfirmation,
                    domain::Kind::kPaymentReminder}) {
    for (const char* part : kParts) {
      const std::string key = Folder(kind) + "/" + part;
      std::ifstream in(dir + "/" + key + ".mustache");
      if (!in) throw std::runtime_error("missing template " + dir + "/" + key + ".mustache");
      std::stringstream ss;
      ss << in.rdbuf();
      templates_[key] = ss.str();
    }
  }
}

const std::string& TemplateRenderer::Template(domain::Kind kind, const std::string& part) const {
  return templates_.at(Folder(kind) + "/" + part);
}

domain::Content TemplateRenderer::Render(const domain::SendCommand& cmd) const {
  const auto& b = cmd.booking;
  const bool has_balance = cmd.balance_remaining && cmd.balance_remaining->amount_minor > 0;
  mstch::map ctx{
      {"business_name", cmd.business_name},
      {"recipient_name", cmd.recipient_name},
      {"greeting", cmd.recipient_name.empty() ? std::string("Hello,") : "Hi " + cmd.recipient_name + ","},
      {"invoice_id", cmd.invoice_id},
      {"pay_url", cmd.pay_url},
      {"amount", cmd.amount ? money::Format(*cmd.amount) : std::string()},
      {"balance", has_balance ? money::Format(*cmd.balance_remaining) : std::string()},
      {"has_balance", has_balance},
      // Only when the caller said so: a missing balance is unknown, not zero.
      {"paid_in_full", cmd.balance_remaining.has_value() && cmd.balance_remaining->amount_minor == 0},
      {"has_due", cmd.due_at.has_value()},
      {"due_date", cmd.due_at ? Date(*cmd.due_at) : std::string()},
      {"has_paid_date", cmd.paid_at.has_value()},
      {"paid_date", cmd.paid_at ? Date(*cmd.paid_at) : std::string()},
      {"has_activity", !b.activity_name.empty()},
      {"activity", b.activity_name},
      {"has_time", !b.date.empty()},
      {"date", b.date},
      {"start", b.start},
      {"end", b.end},
      {"multi_day", !b.end_date.empty() && b.end_date != b.date},
      {"end_date", b.end_date},
      {"has_confirmation_code", !b.confirmation_code.empty()},
      {"confirmation_code", b.confirmation_code},
      {"has_reference", !cmd.payment_reference.empty()},
      {"payment_reference", cmd.payment_reference},
  };
  domain::Content content;
  if (cmd.channel == domain::Channel::kEmail) {
    content.subject = Trim(mstch::render(Template(cmd.kind, "subject"), ctx));
    content.text = mstch::render(Template(cmd.kind, "text"), ctx);
    content.html = mstch::render(Template(cmd.kind, "html"), ctx);
    return content;
  }
  // One SMS segment where it can: the full text, else the short one.
  std::string body = Trim(mstch::render(Template(cmd.kind, "sms"), ctx));
  SmsSize size = MeasureSms(body);
  if (size.segments > 1) {
    const std::string shorter = Trim(mstch::render(Template(cmd.kind, "sms_short"), ctx));
    const SmsSize short_size = MeasureSms(shorter);
    if (short_size.segments < size.segments) {
      body = shorter;
      size = short_size;
    }
  }
  content.text = body;
  content.sms_segments = size.segments;
  return content;
}

}  // namespace billing::notify::clients
