#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// An HTTP server on a free port that records every POST it receives, for
// tests of webhook senders. The responder decides each status.
namespace billing::testing {

struct ReceivedRequest {
  std::string path;
  std::string body;
  std::map<std::string, std::string> headers;
  std::chrono::steady_clock::time_point at;
};

class WebhookReceiver {
 public:
  // responder(request, index) -> HTTP status; default 200.
  explicit WebhookReceiver(std::function<int(const ReceivedRequest&, int)> responder = nullptr);
  ~WebhookReceiver();

  std::string url(const std::string& path = "/webhook") const;
  std::vector<ReceivedRequest> Received() const;
  // Waits until at least n requests arrived; false on timeout.
  bool WaitFor(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::function<int(const ReceivedRequest&, int)> responder_;
  mutable std::mutex mu_;
  std::vector<ReceivedRequest> received_;
};

}  // namespace billing::testing
