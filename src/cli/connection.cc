#include "cli/connection.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cli/output.h"
#include "temporalio/version.h"

namespace temporalio::cli {
namespace {

std::string ReadFile(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(fmt::format("cannot read {} file {:?}", flag, path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

Connection::Connection(ConnectionOptions options) : options_(std::move(options)) {
  identity_ = options_.identity;
  if (identity_.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    identity_ = fmt::format("{}@{}@temporal-cli", getpid(), host);
  }
  headers_.emplace_back("client-name", "temporal-cli");
  headers_.emplace_back("client-version", Version());
  headers_.emplace_back("temporal-namespace", options_.namespace_);
  if (!options_.api_key.empty()) {
    headers_.emplace_back("authorization", "Bearer " + options_.api_key);
  }
  for (const auto& kv : options_.grpc_meta) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(fmt::format("--grpc-meta wants KEY=VALUE, got {:?}", kv));
    }
    std::string key = kv.substr(0, eq);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers_.emplace_back(key, kv.substr(eq + 1));
  }
  if (options_.command_timeout.count() > 0) {
    deadline_ =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(options_.command_timeout);
  }

  bool use_tls = options_.tls || !options_.api_key.empty() || !options_.tls_cert_path.empty() ||
                 !options_.tls_key_path.empty() || !options_.tls_ca_path.empty() ||
                 !options_.tls_server_name.empty();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(128 * 1024 * 1024);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (use_tls) {
    if (options_.tls_cert_path.empty() != options_.tls_key_path.empty()) {
      throw CliError("--tls-cert-path and --tls-key-path must be given together");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options_.tls_ca_path.empty())
      ssl.pem_root_certs = ReadFile(options_.tls_ca_path, "--tls-ca-path");
    if (!options_.tls_cert_path.empty()) {
      ssl.pem_cert_chain = ReadFile(options_.tls_cert_path, "--tls-cert-path");
      ssl.pem_private_key = ReadFile(options_.tls_key_path, "--tls-key-path");
    }
    if (!options_.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options_.tls_server_name);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  channel_ = grpc::CreateCustomChannel(options_.address, credentials, args);
  workflow_ = temporal::api::workflowservice::v1::WorkflowService::NewStub(channel_);
  operator_ = temporal::api::operatorservice::v1::OperatorService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(
    std::optional<std::chrono::milliseconds> timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  for (const auto& [key, value] : headers_) context->AddMetadata(key, value);
  std::optional<std::chrono::system_clock::time_point> deadline = deadline_;
  if (timeout) {
    auto call_deadline = std::chrono::system_clock::now() + *timeout;
    if (!deadline || call_deadline < *deadline) deadline = call_deadline;
  }
  if (deadline) context->set_deadline(*deadline);
  return context;
}

void Connection::Check(const grpc::Status& status, std::string_view what) const {
  if (status.ok()) return;
  switch (status.error_code()) {
    case grpc::StatusCode::UNIMPLEMENTED:
      throw CliError(status.error_message().empty()
                         ? fmt::format("{}: the server does not implement this operation", what)
                         : fmt::format("{}: the server does not implement this operation ({})",
                                       what, status.error_message()));
    case grpc::StatusCode::UNAVAILABLE:
      throw CliError(fmt::format("{}: server at {} is unavailable: {}", what, options_.address,
                                 status.error_message()));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (deadline_ && std::chrono::system_clock::now() >= *deadline_) {
        throw CliError(fmt::format("{}: command timed out after {}", what,
                                   FormatDuration(options_.command_timeout)));
      }
      throw CliError(fmt::format("{}: deadline exceeded", what));
    default:
      throw CliError(fmt::format("{}: {}", what, status.error_message()));
  }
}

}  // namespace temporalio::cli
