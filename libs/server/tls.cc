#include "server/tls.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <grpcpp/security/server_credentials.h>

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

}  // namespace billing::server
