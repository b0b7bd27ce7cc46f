// The `temporal` CLI's connection to a Temporal frontend: one gRPC channel,
// the WorkflowService and OperatorService stubs, and per-call contexts that
// carry the namespace/api-key headers and the --command-timeout deadline.
// Kept small on purpose so it can later be replaced by the SDK client.
#ifndef TEMPORALIO_CLI_CONNECTION_H_
#define TEMPORALIO_CLI_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "temporal/api/operatorservice/v1/service.grpc.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace temporalio::cli {

struct ConnectionOptions {
  std::string address = "127.0.0.1:7233";
  std::string namespace_ = "default";
  // Sent as "authorization: Bearer <api_key>"; turns TLS on.
  std::string api_key;
  // TLS is on when `tls` or any TLS path/server name is set.
  bool tls = false;
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string tls_ca_path;
  std::string tls_server_name;
  // Extra request headers, "KEY=VALUE".
  std::vector<std::string> grpc_meta;
  std::string identity;
  // Whole-command deadline; zero means none (long polls may then wait forever).
  std::chrono::nanoseconds command_timeout{0};
};

// Thread-compatible (the stubs themselves are thread-safe).
class Connection {
 public:
  // Creates the channel (lazily connected; an unreachable server shows up as
  // UNAVAILABLE on the first call). Throws CliError on unreadable TLS files
  // or malformed --grpc-meta.
  explicit Connection(ConnectionOptions options);

  const std::string& namespace_() const { return options_.namespace_; }
  const std::string& identity() const { return identity_; }
  const ConnectionOptions& options() const { return options_; }
  temporal::api::workflowservice::v1::WorkflowService::Stub& workflow() { return *workflow_; }
  temporal::api::operatorservice::v1::OperatorService::Stub& operator_service() {
    return *operator_;
  }

  // A context for one call. Its deadline is the earlier of the command
  // deadline and now + `timeout` (nullopt: no per-call limit, for long polls).
  std::unique_ptr<grpc::ClientContext> NewContext(
      std::optional<std::chrono::milliseconds> timeout = std::chrono::seconds(30)) const;

  // Throws CliError for a failed call: "<what>: <message>", with UNAVAILABLE,
  // UNIMPLEMENTED and a command-timeout DEADLINE_EXCEEDED spelled out.
  void Check(const grpc::Status& status, std::string_view what) const;

 private:
  ConnectionOptions options_;
  std::string identity_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::optional<std::chrono::system_clock::time_point> deadline_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<temporal::api::workflowservice::v1::WorkflowService::Stub> workflow_;
  std::unique_ptr<temporal::api::operatorservice::v1::OperatorService::Stub> operator_;
};

}  // namespace temporalio::cli

#endif  // TEMPORALIO_CLI_CONNECTION_H_
