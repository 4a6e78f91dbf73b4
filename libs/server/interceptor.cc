#include "server/interceptor.h"

#include <chrono>
#include <optional>
#include <string_view>

#include "db/pool.h"
#include "errors/error.h"
#include "ids/ids.h"
#include "logging/log.h"
#include "server/authz.h"
#include "server/call_context.h"
#include "server/error_status.h"
#include "server/handler.h"

namespace billing::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

struct Families {
  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& seconds;
};

const char* TypeLabel(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY: return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING: return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING: return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING: return "bidi_stream";
  }
  return "unary";
}

bool AcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c >= 127) return false;
  }
  return true;
}

class ObservabilityInterceptor final : public grpc::experimental::Interceptor {
 public:
  ObservabilityInterceptor(ServerRpcInfo* info, Families* families, const Authorizer* authorizer)
      : info_(info), families_(families), authorizer_(authorizer), start_(std::chrono::steady_clock::now()) {
    // "/pkg.Service/Method"; anything else (an unregistered method) is
    // counted as unknown/unknown so callers cannot mint label values.
    const std::string_view path = info->method() != nullptr ? info->method() : "";
    const auto slash = path.rfind('/');
    if (path.size() > 1 && path[0] == '/' && slash != 0 && slash != std::string_view::npos) {
      service_ = std::string(path.substr(1, slash - 1));
      method_ = std::string(path.substr(slash + 1));
    } else {
      service_ = "unknown";
      method_ = "unknown";
    }
    quiet_ = service_ == "grpc.health.v1.Health" || service_ == "unknown" ||
             service_.rfind("grpc.reflection.", 0) == 0;
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      std::string request_id;
      std::optional<std::string_view> authorization;
      if (auto* md = methods->GetRecvInitialMetadata(); md != nullptr) {
        auto it = md->find("x-request-id");
        if (it != md->end()) request_id.assign(it->second.data(), it->second.size());
        auto auth = md->find("authorization");
        if (auth != md->end()) authorization = std::string_view(auth->second.data(), auth->second.size());
      }
      if (!AcceptableRequestId(request_id)) request_id = ids::NewUuid();
      request_id_ = request_id;
      BeginCall(info_->server_context(), std::move(request_id), authorizer_ != nullptr);
      // Health and reflection stay open (kubelet probes, grpcurl); an
      // unregistered method is UNIMPLEMENTED anyway.
      if (authorizer_ != nullptr && !quiet_) {
        auto decision = authorizer_->Check("/" + service_ + "/" + method_, authorization);
        if (!decision.caller.empty()) Annotate(info_->server_context(), "caller", decision.caller);
        SetAuthorization(info_->server_context(), std::move(decision.caller), std::move(decision.groups),
                         std::move(decision.error));
      }
      families_->started.Add(Labels()).Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (auto* md = methods->GetSendInitialMetadata(); md != nullptr && !request_id_.empty()) {
        md->emplace("x-request-id", request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (!Handled() && !quiet_) {
        // The handler never ran (the request did not decode): a refused
        // caller still hears the refusal, not what was wrong with its bytes.
        if (auto denied = Denied(info_->server_context())) {
          status = ToStatus(*denied);
          methods->ModifySendStatus(status);
        }
      }
      // gRPC's own decode failure is INTERNAL with an empty message (proto3
      // has no InitializationErrorString); nothing else matches both.
      if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty() && !Handled() &&
          !quiet_) {
        // gRPC answers INTERNAL itself when the request does not decode
        // (invalid UTF-8 in a string, a truncated message): that is the
        // caller's input, not our failure.
        status = ToStatus(errors::Error(errors::Reason::kMalformedRequest,
                                        "the request could not be decoded: a string field holds invalid UTF-8, or the "
                                        "message is malformed"));
        methods->ModifySendStatus(status);
      }
      Finish(status);
    }
    methods->Proceed();
  }

 private:
  bool Handled() const {
    // Peek at the call's facts without ending the call.
    return HandledFlag(info_->server_context());
  }

  std::map<std::string, std::string> Labels() const {
    return {{"grpc_type", TypeLabel(info_->type())}, {"grpc_service", service_}, {"grpc_method", method_}};
  }

  void Finish(const grpc::Status& status) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    auto labels = Labels();
    families_->seconds.Add(labels, metrics::Metrics::LatencyBuckets()).Observe(seconds);
    labels["grpc_code"] = std::string(CodeLabel(status.error_code()));
    families_->handled.Add(labels).Increment();

    CallFacts facts = EndCall(info_->server_context());
    const auto level = quiet_ ? logging::Level::kDebug : logging::Level::kInfo;
    if (!logging::Enabled(level)) return;
    logging::Fields fields = {
        {"method", "/" + service_ + "/" + method_},
        {"code", std::string(CodeName(status.error_code()))},
        {"latency_ms", static_cast<double>(static_cast<int64_t>(seconds * 1e6)) / 1000.0},
        {"request_id", facts.request_id.empty() ? request_id_ : facts.request_id},
    };
    for (auto& [k, v] : facts.annotations) fields[k] = v;
    if (!status.ok()) fields["error"] = status.error_message();
    logging::Log(level, "rpc", fields);
  }

  ServerRpcInfo* info_;
  Families* families_;
  const Authorizer* authorizer_;
  std::chrono::steady_clock::time_point start_;
  std::string service_;
  std::string method_;
  std::string request_id_;
  bool quiet_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(metrics::Metrics& metrics, const Authorizer* authorizer)
      : authorizer_(authorizer),
        families_{prometheus::BuildCounter()
                      .Name("grpc_server_started_total")
                      .Help("Total number of RPCs started on the server.")
                      .Register(metrics.registry()),
                  prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("Total number of RPCs completed on the server, regardless of success or failure.")
                      .Register(metrics.registry()),
                  prometheus::BuildHistogram()
                      .Name("grpc_server_handling_seconds")
                      .Help("Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.")
                      .Register(metrics.registry())} {}

  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new ObservabilityInterceptor(info, &families_, authorizer_);
  }

 private:
  const Authorizer* authorizer_;
  Families families_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeObservabilityInterceptorFactory(metrics::Metrics& metrics, const Authorizer* authorizer) {
  return std::make_unique<Factory>(metrics, authorizer);
}

void LogInternalError(const grpc::ServerContextBase* ctx, const std::exception* e) {
  // db::DescribeError drops SOCI's bound values (which can be link tokens)
  // and PostgreSQL's row-echoing DETAIL.
  const std::string what = e != nullptr ? db::DescribeError(*e) : "non-standard exception";
  logging::Error("internal error", {{"request_id", RequestId(ctx)}, {"error", what}});
}

}  // namespace billing::server
