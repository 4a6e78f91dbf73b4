#include "support/webhook_receiver.h"

namespace billing::testing {

WebhookReceiver::WebhookReceiver(std::function<int(const ReceivedRequest&, int)> responder)
    : responder_(std::move(responder)) {
  server_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    ReceivedRequest r{req.path, req.body, {}, std::chrono::steady_clock::now()};
    for (const auto& [k, v] : req.headers) r.headers[k] = v;
    int index;
    {
      std::lock_guard lock(mu_);
      index = static_cast<int>(received_.size());
      received_.push_back(r);
    }
    res.status = responder_ ? responder_(r, index) : 200;
    res.set_content("{}", "application/json");
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_.stop();
  thread_.join();
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> WebhookReceiver::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

bool WebhookReceiver::WaitFor(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (received_.size() >= n) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace billing::testing
