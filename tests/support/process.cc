#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <grpcpp/create_channel.h>
#include <nlohmann/json.hpp>

#include "grpc/health/v1/health.grpc.pb.h"

extern char** environ;

namespace billing::testing {
namespace {

std::vector<std::string> MergedEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// fork + exec with stdout/stderr to `log_path`; returns the child's pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& log_path) {
  std::vector<std::string> env_strings = MergedEnv(env);
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (const auto& e : env_strings) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    // The test runner may block signals; the child must start clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);
    execve(c_argv[0], c_argv.data(), c_env.data());
    execvpe(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// Waits for pid up to timeout; returns true and the decoded status when it
// exited.
bool WaitFor(pid_t pid, std::chrono::milliseconds timeout, int* code) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *code = DecodeStatus(status);
      return true;
    }
    if (r < 0) {
      *code = -1;
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> With(std::map<std::string, std::string> env,
                                        const std::map<std::string, std::string>& more) {
  for (const auto& [k, v] : more) env[k] = v;
  return env;
}

namespace {

// The kernel's ephemeral range: every outgoing connection (to PostgreSQL, to
// another service) takes its local port from here, so a port chosen here
// and bound later can be taken in between by a connection. Free ports are
// therefore picked below it.
std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  int high = 60999;
  in >> low >> high;
  return {low, high};
}

bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  static std::mutex mu;
  static std::mt19937 rng(static_cast<unsigned>(getpid()) * 2654435761u ^
                          static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static std::set<int> given;  // never the same port twice in one process
  std::lock_guard lock(mu);
  const int low = std::min(EphemeralRange().first, 65535);
  if (low > 12000) {
    std::uniform_int_distribution<int> pick(10000, low - 1);
    for (int attempt = 0; attempt < 200; ++attempt) {
      const int port = pick(rng);
      if (!given.contains(port) && CanBind(port)) {
        given.insert(port);
        return port;
      }
    }
  }
  // No room below the ephemeral range: let the kernel choose.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind to a free port failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  const std::string dir = MakeTempDir("billing-cmd");
  const std::string log = dir + "/output.log";
  const pid_t pid = Spawn(argv, env, log);
  CommandResult result;
  if (!WaitFor(pid, timeout, &result.exit_code)) {
    kill(-pid, SIGKILL);
    int ignored;
    WaitFor(pid, std::chrono::seconds(5), &ignored);
    result.exit_code = -SIGKILL;
  }
  result.output = ReadFile(log);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return result;
}

ServiceProcess::ServiceProcess(Options options) : options_(std::move(options)) {
  dir_ = MakeTempDir("billing-svc");
  const std::string ports_file = dir_ + "/ports.json";
  std::map<std::string, std::string> env = {
      {"GRPC_LISTEN_ADDRESS", "127.0.0.1:0"},
      {"METRICS_LISTEN_ADDRESS", "127.0.0.1:0"},
      {"PORTS_FILE", ports_file},
      {"READINESS_INTERVAL_MS", "200"},
  };
  for (const auto& [k, v] : options_.env) env[k] = v;
  std::vector<std::string> argv = {options_.binary};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  pid_ = Spawn(argv, env, dir_ + "/output.log");

  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (!std::filesystem::exists(ports_file)) {
    int code = 0;
    if (WaitFor(pid_, std::chrono::milliseconds(0), &code)) {
      exited_ = true;
      throw std::runtime_error(options_.binary + " exited with " + std::to_string(code) +
                               " before listening:\n" + Logs());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(options_.binary + " did not start listening:\n" + Logs());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto ports = nlohmann::json::parse(ReadFile(ports_file));
  for (const auto& [k, v] : ports.items()) ports_[k] = v.get<int>();
  if (options_.wait_serving &&
      !WaitHealth("SERVING", std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout))) {
    throw std::runtime_error(options_.binary + " did not become SERVING:\n" + Logs());
  }
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    int ignored;
    WaitFor(pid_, std::chrono::seconds(5), &ignored);
  }
}

int ServiceProcess::Port(const std::string& name) const {
  auto it = ports_.find(name);
  if (it == ports_.end()) throw std::runtime_error("no port named " + name);
  return it->second;
}

std::shared_ptr<grpc::Channel> ServiceProcess::Channel() const {
  return grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
}

std::string ServiceProcess::Health(const std::string& service,
                                   std::shared_ptr<grpc::Channel> channel) const {
  if (!channel) channel = Channel();
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  const auto status = stub->Check(&ctx, req, &resp);
  if (!status.ok()) return "RPC_ERROR_" + std::to_string(status.error_code());
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

bool ServiceProcess::WaitHealth(const std::string& want, std::chrono::milliseconds timeout,
                                std::shared_ptr<grpc::Channel> channel) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Health("", channel) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

int ServiceProcess::Stop(int sig, std::chrono::milliseconds timeout, std::chrono::milliseconds* took) {
  if (exited_) return -1;
  const auto start = std::chrono::steady_clock::now();
  kill(pid_, sig);
  int code = 0;
  const bool done = WaitFor(pid_, timeout, &code);
  if (took != nullptr) {
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }
  if (!done) {
    kill(pid_, SIGKILL);
    WaitFor(pid_, std::chrono::seconds(5), &code);
    code = -1000;
  }
  exited_ = true;
  return code;
}

bool ServiceProcess::Running() {
  if (exited_) return false;
  int code = 0;
  if (WaitFor(pid_, std::chrono::milliseconds(0), &code)) exited_ = true;
  return !exited_;
}

std::string ServiceProcess::Logs() const { return ReadFile(dir_ + "/output.log"); }

HelperProcess::HelperProcess(std::vector<std::string> argv, std::string ready_marker,
                             std::map<std::string, std::string> env, std::chrono::seconds timeout)
    : argv_(std::move(argv)), ready_marker_(std::move(ready_marker)), env_(std::move(env)), timeout_(timeout) {
  dir_ = MakeTempDir("billing-helper");
  Start();
}

HelperProcess::~HelperProcess() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    int ignored;
    WaitFor(pid_, std::chrono::seconds(5), &ignored);
  }
}

void HelperProcess::Start() {
  if (pid_ > 0) return;
  // A log per run, so readiness is judged on this run's output only.
  const std::string log = dir_ + "/output-" + std::to_string(++runs_) + ".log";
  pid_ = Spawn(argv_, env_, log);
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (ReadFile(log).find(ready_marker_) == std::string::npos) {
    int code = 0;
    if (WaitFor(pid_, std::chrono::milliseconds(0), &code)) {
      pid_ = -1;
      throw std::runtime_error(argv_[0] + " exited with " + std::to_string(code) + ":\n" + ReadFile(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(argv_[0] + " did not get ready:\n" + ReadFile(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void HelperProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int code = 0;
  if (!WaitFor(pid_, std::chrono::seconds(5), &code)) {
    kill(-pid_, SIGKILL);
    WaitFor(pid_, std::chrono::seconds(5), &code);
  }
  pid_ = -1;
}

std::string HelperProcess::Logs() const {
  std::string out;
  for (int i = 1; i <= runs_; ++i) out += ReadFile(dir_ + "/output-" + std::to_string(i) + ".log");
  return out;
}

std::string InvoiceBinary() { return BILLING_INVOICE_BIN; }
std::string PaymentsBinary() { return BILLING_PAYMENTS_BIN; }
std::string NotifyBinary() { return BILLING_NOTIFY_BIN; }
std::string EmulatorBinary() { return BILLING_EMULATOR_BIN; }
std::string BufBinary() { return BILLING_SOURCE_DIR "/node_modules/.bin/buf"; }
std::string SourceDir() { return BILLING_SOURCE_DIR; }

}  // namespace billing::testing
