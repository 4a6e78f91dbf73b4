#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// A stand-in for a Kubernetes Service in front of replicas: a TCP proxy on
// 127.0.0.1 that hands each new connection to the next backend that accepts
// it (round robin, skipping refused ones). Like kube-proxy it balances
// connections, not requests, so a gRPC client stays on one replica until
// its connection breaks, and a SIGKILLed replica's connections break with
// it. Fault tests (the soak) put one in front of each service's replicas.
namespace billing::testing {

class TcpProxy {
 public:
  // backends: "127.0.0.1:PORT" each.
  explicit TcpProxy(std::vector<std::string> backends);
  ~TcpProxy();  // closes every connection and waits for their threads
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Connections accepted so far, and those no backend accepted.
  long accepted() const { return accepted_.load(); }
  long refused() const { return refused_.load(); }

 private:
  void AcceptLoop();
  int ConnectToABackend();
  void Pump(int client, int upstream);

  std::vector<std::pair<std::string, int>> backends_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<long> accepted_{0};
  std::atomic<long> refused_{0};
  std::atomic<unsigned> next_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;  // pump threads still running (guarded by mu_)
};

}  // namespace billing::testing
