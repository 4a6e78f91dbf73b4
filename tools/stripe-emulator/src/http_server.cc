#include <thread>

#include "http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <regex>

#include "form.h"
#include "ids/ids.h"
#include "logging/log.h"

namespace billing::stripe_emulator {
namespace {

using Op = std::function<Json(const std::vector<std::string>& parts, const Json& params, const RequestContext& ctx)>;

std::string RandomAlnum(std::size_t n) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, 61);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(kAlphabet[pick(rng)]);
  return out;
}

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

// The operation for METHOD /v1/..., or nullptr.
Op Route(Emulator& e, const std::string& method, const std::vector<std::string>& p) {
  const auto n = p.size();
  if (n < 2 || p[0] != "v1") return nullptr;
  const std::string& r = p[1];
  if (r == "payment_intents") {
    if (n == 2 && method == "POST") return [&e](auto&, auto& j, auto& c) { return e.CreatePaymentIntent(j, c); };
    if (n == 3 && method == "GET") return [&e](auto& s, auto& j, auto&) { return e.RetrievePaymentIntent(s[2], j); };
    if (n == 4 && method == "POST" && p[3] == "confirm")
      return [&e](auto& s, auto& j, auto& c) { return e.ConfirmPaymentIntent(s[2], j, c); };
    if (n == 4 && method == "POST" && p[3] == "cancel")
      return [&e](auto& s, auto& j, auto& c) { return e.CancelPaymentIntent(s[2], j, c); };
    if (n == 4 && method == "POST" && p[3] == "capture")
      return [&e](auto& s, auto& j, auto& c) { return e.CapturePaymentIntent(s[2], j, c); };
  }
  if (r == "refunds") {
    if (n == 2 && method == "POST") return [&e](auto&, auto& j, auto& c) { return e.CreateRefund(j, c); };
    if (n == 3 && method == "GET") return [&e](auto& s, auto& j, auto&) { return e.RetrieveRefund(s[2], j); };
  }
  if (r == "charges" && n == 3 && method == "GET")
    return [&e](auto& s, auto& j, auto&) { return e.RetrieveCharge(s[2], j); };
  if (r == "payment_methods" && n == 3 && method == "GET")
    return [&e](auto& s, auto& j, auto&) { return e.RetrievePaymentMethod(s[2], j); };
  if (r == "test_helpers" && n == 3 && p[2] == "confirmation_tokens" && method == "POST")
    return [&e](auto&, auto& j, auto& c) { return e.CreateTestConfirmationToken(j, c); };
  if (r == "confirmation_tokens" && n == 3 && method == "GET")
    return [&e](auto& s, auto& j, auto&) { return e.RetrieveConfirmationToken(s[2], j); };
  if (r == "events") {
    if (n == 2 && method == "GET") return [&e](auto&, auto& j, auto&) { return e.ListEvents(j); };
    if (n == 3 && method == "GET") return [&e](auto& s, auto& j, auto&) { return e.RetrieveEvent(s[2], j); };
  }
  if (r == "webhook_endpoints") {
    if (n == 2 && method == "POST") return [&e](auto&, auto& j, auto&) { return e.CreateWebhookEndpoint(j); };
    if (n == 2 && method == "GET") return [&e](auto&, auto& j, auto&) { return e.ListWebhookEndpoints(j); };
    if (n == 3 && method == "GET") return [&e](auto& s, auto& j, auto&) { return e.RetrieveWebhookEndpoint(s[2], j); };
    if (n == 3 && method == "DELETE") return [&e](auto& s, auto& j, auto&) { return e.DeleteWebhookEndpoint(s[2], j); };
  }
  return nullptr;
}

// "sk_test_abcdef1234" -> "sk_test_******1234": what Stripe shows of a bad key.
std::string MaskKey(const std::string& key) {
  if (key.size() <= 12) return std::string(key.size(), '*');
  const std::size_t prefix = key.rfind("sk_test_", 0) == 0 ? 8 : key.rfind("sk_live_", 0) == 0 ? 8 : 0;
  return key.substr(0, prefix) + std::string(key.size() - prefix - 4, '*') + key.substr(key.size() - 4);
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(2), "application/json");
}

void SendError(httplib::Response& res, const ApiError& e) {
  for (const auto& [k, v] : e.headers) res.set_header(k, v);
  SendJson(res, e.status, {{"error", e.error}});
}

ApiError Unauthorized(const std::string& message) {
  ApiError e;
  e.status = 401;
  e.error = {{"type", "invalid_request_error"}, {"message", message}};
  e.headers["Www-Authenticate"] = "Basic realm=\"Stripe\"";
  return e;
}

ApiError IdempotencyConflict(const std::string& key) {
  ApiError e;
  e.status = 409;
  e.error = {{"type", "idempotency_error"},
             {"code", "idempotency_key_in_use"},
             {"doc_url", DocUrl("idempotency_key_in_use")},
             {"message", "There is currently another in-progress request using this Idempotent Key (that probably "
                         "means you submitted twice, and the other request is still going through): " +
                             key + ". Please try again later."}};
  e.headers["Stripe-Should-Retry"] = "true";
  return e;
}

ApiError InjectedError(const FaultRule& rule, const std::string& idempotency_key) {
  ApiError e;
  e.status = rule.status;
  if (rule.status == 429 && rule.code == "lock_timeout") {
    e.error = {{"type", "invalid_request_error"},
               {"code", "lock_timeout"},
               {"doc_url", DocUrl("lock_timeout")},
               {"message", "This object cannot be accessed right now because another API request or Stripe process "
                           "is currently accessing it. If you see this error intermittently, retry the request. If "
                           "you see this error frequently and are making multiple concurrent requests to a single "
                           "object, make your requests serially or at a lower rate."}};
    e.headers["Stripe-Should-Retry"] = "true";
  } else if (rule.status == 429) {
    e.error = {{"type", "invalid_request_error"},
               {"code", "rate_limit"},
               {"doc_url", DocUrl("rate_limit")},
               {"message", "Request rate limit exceeded. Learn more about rate limits here "
                           "https://stripe.com/docs/rate-limits."}};
    e.headers["Stripe-Rate-Limited-Reason"] = "global-rate";
  } else if (rule.status == 409) {
    e = IdempotencyConflict(idempotency_key.empty() ? "(none)" : idempotency_key);
  } else if (rule.status == 503) {
    e.error = {{"type", "api_error"}, {"message", "Stripe is temporarily unavailable. Please retry the request."}};
  } else {
    e.error = {{"type", "api_error"},
               {"message", "An unknown error occurred. Please retry the request (the request may or may not have "
                           "been processed)."}};
  }
  return e;
}

// A control request's JSON body (or {} when empty).
Json ControlBody(const httplib::Request& req) {
  if (req.body.empty()) return Json::object();
  return Json::parse(req.body);
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Emulator& emulator, IdempotencyStore& idempotency, Faults& faults,
                       WebhookDispatcher& webhooks)
    : options_(std::move(options)),
      emulator_(emulator),
      idempotency_(idempotency),
      faults_(faults),
      webhooks_(webhooks) {
  // Hanging and slow requests hold a thread each; keep plenty.
  server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_.set_keep_alive_max_count(1000);
  auto api = [this](const httplib::Request& req, httplib::Response& res) { HandleApi(req, res); };
  server_.Get(R"(/v1/.*)", api);
  server_.Post(R"(/v1/.*)", api);
  server_.Delete(R"(/v1/.*)", api);
  RegisterControl();
}

int HttpServer::Bind() {
  port_ = options_.port == 0 ? server_.bind_to_any_port(options_.host)
                             : (server_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port_ <= 0) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port));
  }
  return port_;
}

void HttpServer::Serve() { server_.listen_after_bind(); }

void HttpServer::Stop() {
  faults_.Clear();  // wakes hanging requests
  // httplib drops a stop() that comes before listen_after_bind() is running,
  // and the serving thread would then serve forever (a SIGTERM right after
  // start did this in CI). Wait, briefly, for it to be running.
  for (int i = 0; i < 200 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  server_.stop();
}

void HttpServer::HandleApi(const httplib::Request& req, httplib::Response& res) {
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = "req_" + RandomAlnum(14);
  const std::string idempotency_key = req.get_header_value("Idempotency-Key");
  logging::Fields log = {{"method", req.method}, {"path", req.path}, {"request_id", request_id}};
  if (!idempotency_key.empty()) log["idempotency_key"] = idempotency_key;
  auto finish = [&] {
    log["status"] = res.status;
    log["latency_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    logging::Info("request", log);
  };

  res.set_header("Request-Id", request_id);
  const std::string version =
      req.has_header("Stripe-Version") ? req.get_header_value("Stripe-Version") : options_.default_stripe_version;
  static const std::regex kVersion(R"(^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$)");
  if (!std::regex_match(version, kVersion)) {
    SendError(res, InvalidRequest("Invalid Stripe API version: " + version));
    return finish();
  }
  res.set_header("Stripe-Version", version);

  // Authentication: Bearer <key>, or Basic with the key as user name.
  const std::string auth = req.get_header_value("Authorization");
  std::string key;
  if (auth.rfind("Bearer ", 0) == 0) {
    key = auth.substr(7);
  } else if (auth.rfind("Basic ", 0) == 0) {
    std::string decoded;
    std::string b64 = auth.substr(6);
    // Basic uses standard base64; map it to the URL-safe alphabet we decode.
    for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!b64.empty() && b64.back() == '=') b64.pop_back();
    if (ids::Base64UrlDecode(b64, &decoded)) key = decoded.substr(0, decoded.find(':'));
  }
  if (key.empty() || key == "null") {
    SendError(res, Unauthorized(
                       "You did not provide an API key. You need to provide your API key in the Authorization header, "
                       "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                       "https://stripe.com/docs/api#authentication for details, or we can help at "
                       "https://support.stripe.com/."));
    return finish();
  }
  const bool known = options_.api_keys.empty()
                         ? key.rfind("sk_test_", 0) == 0 && key.size() > 8
                         : std::find(options_.api_keys.begin(), options_.api_keys.end(), key) != options_.api_keys.end();
  if (!known) {
    SendError(res, Unauthorized("Invalid API Key provided: " + MaskKey(key)));
    return finish();
  }

  // Faults that answer without executing come before anything is recorded.
  const auto fault = faults_.TakeHttp(req.method, req.path);
  if (fault) log["fault"] = fault->ToJson()["action"];
  if (fault && fault->action == FaultAction::kError) {
    SendError(res, InjectedError(*fault, idempotency_key));
    return finish();
  }

  Json params;
  try {
    if (req.method == "POST") {
      const std::string type = req.get_header_value("Content-Type");
      if (!req.body.empty() && type.rfind("application/x-www-form-urlencoded", 0) != 0) {
        throw InvalidRequest("Invalid request: unsupported Content-Type " + type +
                             ". If error persists and you need assistance, please contact support@stripe.com.");
      }
      params = ParseForm(req.body);
    } else {
      const auto q = req.target.find('?');
      params = ParseForm(q == std::string::npos ? "" : std::string_view(req.target).substr(q + 1));
    }
  } catch (const FormError& e) {
    SendError(res, InvalidRequest(e.what()));
    return finish();
  } catch (const ApiError& e) {
    SendError(res, e);
    return finish();
  }

  const Op op = Route(emulator_, req.method, Segments(req.path));
  if (!op) {
    ApiError e = InvalidRequest("Unrecognized request URL (" + req.method + ": " + req.path +
                                "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.");
    e.status = 404;
    SendError(res, e);
    return finish();
  }

  // A hang stands for a network or Stripe that does not answer: it holds
  // a retry that would be replayed as well, so nothing gets through while
  // the rule lasts.
  if (fault && fault->action == FaultAction::kHang) {
    faults_.Sleep(fault->hang_ms);
    FaultRule unavailable;
    unavailable.status = 503;
    SendError(res, InjectedError(unavailable, idempotency_key));
    return finish();
  }

  // Idempotency: POST only ("it has no effect" on GET and DELETE).
  const bool idempotent = req.method == "POST" && !idempotency_key.empty();
  if (idempotent) {
    if (idempotency_key.size() > 255) {
      SendError(res, InvalidRequest("Idempotency keys can be at most 255 characters long.", "Idempotency-Key"));
      return finish();
    }
    res.set_header("Idempotency-Key", idempotency_key);
    const std::string fingerprint = req.method + " " + req.path + " " + params.dump();
    const auto claim =
        idempotency_.ClaimOrReplay(key, idempotency_key, fingerprint, request_id, emulator_.clock().Now());
    switch (claim.claim) {
      case IdempotencyStore::Claim::kReplay:
        res.set_header("Idempotent-Replayed", "true");
        res.set_header("Original-Request", claim.stored.original_request_id);
        res.status = claim.stored.status;
        res.set_content(claim.stored.body, "application/json");
        log["replayed"] = true;
        return finish();
      case IdempotencyStore::Claim::kInProgress:
        SendError(res, IdempotencyConflict(idempotency_key));
        return finish();
      case IdempotencyStore::Claim::kMismatch: {
        ApiError e;
        e.status = 400;
        e.error = {{"type", "idempotency_error"},
                   {"message", "Keys for idempotent requests can only be used with the same parameters they were "
                               "first used with. Try using a key other than '" +
                                   idempotency_key + "' if you meant to execute a different request."}};
        SendError(res, e);
        return finish();
      }
      case IdempotencyStore::Claim::kClaimed:
        res.set_header("Idempotent-Replayed", "false");
        res.set_header("Original-Request", request_id);
        break;
    }
  }

  if (fault && fault->action == FaultAction::kLatency) faults_.Sleep(fault->latency_ms);

  int status = 200;
  std::string body;
  try {
    body = op(Segments(req.path), params, RequestContext{request_id, idempotency_key}).dump(2);
    if (idempotent) idempotency_.Complete(key, idempotency_key, status, body);
  } catch (const ApiError& e) {
    status = e.status;
    body = Json{{"error", e.error}}.dump(2);
    for (const auto& [k, v] : e.headers) res.set_header(k, v);
    if (idempotent) {
      if (e.executed) {
        idempotency_.Complete(key, idempotency_key, status, body);
      } else {
        idempotency_.Release(key, idempotency_key);
      }
    }
  }

  if (fault && fault->action == FaultAction::kExecuteThenError) {
    // The work is done (and stored for a retry with the same key); the
    // client only sees a failure.
    SendError(res, InjectedError(*fault, idempotency_key));
    return finish();
  }
  if (fault && fault->action == FaultAction::kExecuteThenDrop) {
    DropConnection(req);
    res.status = 500;  // never reaches the client
    return finish();
  }
  res.status = status;
  res.set_content(body, "application/json");
  finish();
}

void HttpServer::DropConnection(const httplib::Request& req) {
  // httplib does not expose the socket, so find it by its peer address.
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (fd <= 2) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    int peer_port = 0;
    int local_port = 0;
    char addr[INET6_ADDRSTRLEN] = {};
    if (peer.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<sockaddr_in*>(&peer);
      peer_port = ntohs(in->sin_port);
      inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
      local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    } else if (peer.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<sockaddr_in6*>(&peer);
      peer_port = ntohs(in6->sin6_port);
      inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
      local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    } else {
      continue;
    }
    if (peer_port == req.remote_port && req.remote_addr == addr && local_port == port_) {
      shutdown(fd, SHUT_RDWR);
      break;
    }
  }
  closedir(dir);
}

void HttpServer::RegisterControl() {
  auto control = [](auto handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
      try {
        SendJson(res, 200, handler(req));
      } catch (const ApiError& e) {
        SendError(res, e);
      } catch (const std::exception& e) {
        SendJson(res, 400, {{"error", {{"type", "invalid_request_error"}, {"message", e.what()}}}});
      }
    };
  };
  server_.Get("/_emulator/health", control([](const httplib::Request&) { return Json{{"ok", true}}; }));
  server_.Post(R"(/_emulator/payment_intents/([^/]+)/authenticate)", control([this](const httplib::Request& req) {
                 const Json body = ControlBody(req);
                 std::string outcome = body.value("outcome", req.get_param_value("outcome"));
                 if (outcome.empty()) outcome = "succeed";
                 if (outcome != "succeed" && outcome != "fail") {
                   throw std::invalid_argument("outcome must be succeed or fail");
                 }
                 return emulator_.Authenticate(req.matches[1], outcome == "succeed");
               }));
  // The page a next_action URL points at: what a customer's 3-D Secure
  // challenge would be, with buttons that call the authenticate endpoint.
  server_.Get(R"(/_emulator/3ds/([A-Za-z0-9_]+))", [](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    res.set_content("<!doctype html><title>3-D Secure (emulated)</title><h1>3-D Secure for " + id +
                        "</h1><form method=post action='/_emulator/payment_intents/" + id +
                        "/authenticate?outcome=succeed'><button>Complete authentication</button></form>"
                        "<form method=post action='/_emulator/payment_intents/" + id +
                        "/authenticate?outcome=fail'><button>Fail authentication</button></form>",
                    "text/html");
  });
  server_.Get("/_emulator/ledger", control([this](const httplib::Request&) { return emulator_.Ledger(); }));
  server_.Post("/_emulator/reset", control([this](const httplib::Request&) {
                 emulator_.Reset();
                 idempotency_.Clear();
                 faults_.Clear();
                 webhooks_.Clear();
                 return Json{{"reset", true}};
               }));
  server_.Get("/_emulator/clock",
              control([this](const httplib::Request&) { return Json{{"now", emulator_.clock().Now()}}; }));
  server_.Post("/_emulator/clock", control([this](const httplib::Request& req) {
                 const Json body = ControlBody(req);
                 if (body.contains("advance_seconds")) emulator_.clock().Advance(body["advance_seconds"].get<int64_t>());
                 if (body.contains("set")) emulator_.clock().Freeze(body["set"].get<int64_t>());
                 if (body.value("reset", false)) emulator_.clock().Reset();
                 return Json{{"now", emulator_.clock().Now()}};
               }));
  server_.Get("/_emulator/faults", control([this](const httplib::Request&) { return faults_.List(); }));
  server_.Post("/_emulator/faults",
               control([this](const httplib::Request& req) { return faults_.AddHttp(ControlBody(req)).ToJson(); }));
  server_.Post("/_emulator/webhook_faults",
               control([this](const httplib::Request& req) { return faults_.AddWebhook(ControlBody(req)).ToJson(); }));
  server_.Delete("/_emulator/faults", control([this](const httplib::Request&) {
                   faults_.Clear();
                   return Json{{"cleared", true}};
                 }));
  server_.Post("/_emulator/webhook_endpoints", control([this](const httplib::Request& req) {
                 const Json body = ControlBody(req);
                 return emulator_.AddWebhookEndpoint(body.at("url").get<std::string>(),
                                                     body.value("secrets", std::vector<std::string>{}),
                                                     body.value("enabled_events", std::vector<std::string>{"*"}));
               }));
  server_.Post(R"(/_emulator/webhook_endpoints/([^/]+)/secrets)", control([this](const httplib::Request& req) {
                 return emulator_.AddWebhookSecret(req.matches[1], ControlBody(req).at("secret").get<std::string>());
               }));
  server_.Get("/_emulator/webhook_deliveries",
              control([this](const httplib::Request&) { return webhooks_.Deliveries(); }));
}

}  // namespace billing::stripe_emulator
