#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

// Real processes for e2e tests: service binaries on free ports, and one-shot
// commands (buf curl, a binary's --help).
namespace billing::testing {

// A free TCP port on 127.0.0.1, for servers such as PostgreSQL that cannot
// bind port 0 themselves and for addresses fixed up front. It is picked at
// random below the kernel's ephemeral range (checked by binding it), so an
// outgoing connection cannot take it before the server binds it.
int FreePort();

struct CommandResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv to completion (killed after timeout) with env added to the
// current environment.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(60));

// A service binary started with GRPC_LISTEN_ADDRESS and METRICS_LISTEN_ADDRESS
// on port 0 and PORTS_FILE in a temp folder; the constructor waits until the
// ports are known and (by default) health reports SERVING.
class ServiceProcess {
 public:
  struct Options {
    std::string binary{};
    std::map<std::string, std::string> env{};
    std::vector<std::string> args{};
    bool wait_serving = true;
    std::chrono::seconds timeout{30};
  };
  explicit ServiceProcess(Options options);
  ~ServiceProcess();  // SIGKILL if still running

  int grpc_port() const { return Port("grpc"); }
  int metrics_port() const { return Port("metrics"); }
  int Port(const std::string& name) const;
  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port()); }
  pid_t pid() const { return pid_; }

  // A plaintext channel to the gRPC port.
  std::shared_ptr<grpc::Channel> Channel() const;

  // Health status of `service` ("" = whole server): "SERVING",
  // "NOT_SERVING", or the RPC error code name.
  std::string Health(const std::string& service = "",
                     std::shared_ptr<grpc::Channel> channel = nullptr) const;
  // Polls Health until it equals `want`; false on timeout.
  bool WaitHealth(const std::string& want, std::chrono::milliseconds timeout,
                  std::shared_ptr<grpc::Channel> channel = nullptr) const;

  // Sends sig and waits for exit; returns the exit code (-signal if killed),
  // or -1000 if it did not exit within timeout (then it is SIGKILLed).
  int Stop(int sig, std::chrono::milliseconds timeout, std::chrono::milliseconds* took = nullptr);
  bool Running();

  // Everything the process printed so far.
  std::string Logs() const;

 private:
  Options options_;
  std::string dir_;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::map<std::string, int> ports_;
};

// A helper server that is not one of ours (the SMTP sink): started with
// argv and env, ready once its output contains `ready_marker`. Can be
// stopped and started again with the same arguments (outage tests).
class HelperProcess {
 public:
  HelperProcess(std::vector<std::string> argv, std::string ready_marker,
                std::map<std::string, std::string> env = {}, std::chrono::seconds timeout = std::chrono::seconds(20));
  ~HelperProcess();  // SIGKILL if still running
  HelperProcess(const HelperProcess&) = delete;
  HelperProcess& operator=(const HelperProcess&) = delete;

  void Start();  // throws if it exits or is not ready in time
  void Stop();   // SIGTERM, then SIGKILL after 5 s
  std::string Logs() const;

 private:
  std::vector<std::string> argv_;
  std::string ready_marker_;
  std::map<std::string, std::string> env_;
  std::chrono::seconds timeout_;
  std::string dir_;
  int runs_ = 0;
  pid_t pid_ = -1;
};

// Paths baked in by CMake.
std::string InvoiceBinary();
std::string PaymentsBinary();
std::string NotifyBinary();
std::string BufBinary();
std::string EmulatorBinary();
std::string SourceDir();

// A unique temporary folder (removed by the OS's tmp cleaning, not by us,
// so failed tests leave their logs).
std::string MakeTempDir(const std::string& prefix);

// A whole file ("" if it cannot be read).
std::string ReadFile(const std::string& path);

// `env` with `more`'s entries added or replaced.
std::map<std::string, std::string> With(std::map<std::string, std::string> env,
                                        const std::map<std::string, std::string>& more);

}  // namespace billing::testing
