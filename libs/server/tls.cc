#include "server/tls.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "server/authz.h"

namespace billing::server {

std::string ReadFileOrThrow(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + what + " " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files) {
  if (files.cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      files.client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                   : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back({ReadFileOrThrow(files.key_file, "TLS key"),
                                        ReadFileOrThrow(files.cert_file, "TLS certificate")});
  if (!files.client_ca_file.empty()) {
    options.pem_root_certs = ReadFileOrThrow(files.client_ca_file, "TLS client CA");
  }
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> MakeClientChannel(const std::string& target, const ClientTlsFiles& files,
                                                 std::shared_ptr<const BearerToken> bearer_token) {
  grpc::ChannelArguments args;
  // Fail fast instead of waiting for a connection: callers have deadlines
  // and retries of their own.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (files.ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFileOrThrow(files.ca_file, "client TLS CA");
    if (!files.cert_file.empty()) {
      options.pem_cert_chain = ReadFileOrThrow(files.cert_file, "client TLS certificate");
      options.pem_private_key = ReadFileOrThrow(files.key_file, "client TLS key");
    }
    credentials = grpc::SslCredentials(options);
  }
  if (bearer_token == nullptr) return grpc::CreateCustomChannel(target, credentials, args);
  // Metadata rather than gRPC's call credentials, which are never sent over
  // a plaintext channel (tokens without TLS are for inside a private network).
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeBearerTokenInterceptorFactory(std::move(bearer_token)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args, std::move(interceptors));
}

}  // namespace billing::server
