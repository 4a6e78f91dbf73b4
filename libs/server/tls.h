#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>

#include "server/authz.h"

namespace billing::server {

// TLS for a gRPC port. No cert: plaintext. Cert + key: TLS. Plus a client CA:
// mutual TLS, where clients must present a certificate signed by that CA.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// Reads the files and builds server credentials. Throws std::runtime_error
// naming the file that cannot be read.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files);

// TLS for outgoing gRPC calls. No CA: plaintext. CA: TLS verifying the
// server. Plus cert + key: mutual TLS.
struct ClientTlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// A channel to `target` ("host:port") with the given TLS, sending
// "authorization: Bearer <token>" on every call when a token is given (the
// callee's CALLER_TOKENS; it may be replaced while the channel lives).
// Throws std::runtime_error naming an unreadable file.
std::shared_ptr<grpc::Channel> MakeClientChannel(const std::string& target, const ClientTlsFiles& files,
                                                 std::shared_ptr<const BearerToken> bearer_token = nullptr);

// Reads a whole file; throws std::runtime_error naming it on failure.
std::string ReadFileOrThrow(const std::string& path, const std::string& what);

}  // namespace billing::server
