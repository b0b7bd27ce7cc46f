// Internal: the shared state behind Client, WorkflowHandle and the worker —
// the channel, the stub, the options, and the retrying call helper.
#ifndef TEMPORALIO_SDK_CLIENT_CLIENT_CORE_H_
#define TEMPORALIO_SDK_CLIENT_CLIENT_CORE_H_

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/client/client.h"

namespace temporalio::client::internal {

namespace wsv1 = temporal::api::workflowservice::v1;
using Stub = wsv1::WorkflowService::Stub;

inline constexpr std::chrono::milliseconds kLongPollTimeout{70000};

struct CallOptions {
  // Per-attempt deadline; 0 = the client's rpc_timeout.
  std::chrono::milliseconds timeout{0};
  // Stop retrying at this time (default: only max_attempts bounds retries).
  std::optional<std::chrono::steady_clock::time_point> overall_deadline;
  bool retry = true;
};

// Thread-safe: immutable after construction (gRPC stubs are thread-safe).
class ClientCore {
 public:
  ClientCore(ClientOptions options, std::shared_ptr<grpc::Channel> channel);

  const ClientOptions& options() const noexcept { return options_; }
  const std::string& namespace_() const noexcept { return options_.namespace_; }
  const std::string& identity() const noexcept { return options_.identity; }
  const converter::DataConverter& data_converter() const noexcept {
    return options_.data_converter;
  }
  Stub& stub() const noexcept { return *stub_; }

  // Adds the client's metadata and a deadline of now + timeout.
  void PrepareContext(grpc::ClientContext* context, std::chrono::milliseconds timeout) const;

  // One RPC with the client's retries of UNAVAILABLE / RESOURCE_EXHAUSTED.
  // Returns the final status (never throws).
  template <class Req, class Resp>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& request, Resp* response, const CallOptions& call = {}) const {
    std::chrono::milliseconds timeout =
        call.timeout.count() > 0 ? call.timeout : options_.rpc_timeout;
    std::chrono::milliseconds delay = options_.retry.initial_interval;
    for (int attempt = 1;; ++attempt) {
      grpc::ClientContext context;
      std::chrono::milliseconds attempt_timeout = timeout;
      if (call.overall_deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *call.overall_deadline - std::chrono::steady_clock::now());
        attempt_timeout = std::max(std::chrono::milliseconds(1), std::min(timeout, left));
      }
      PrepareContext(&context, attempt_timeout);
      response->Clear();
      grpc::Status status = (stub_.get()->*method)(&context, request, response);
      if (status.ok() || !call.retry || !IsRetryable(status.error_code())) return status;
      if (!call.overall_deadline && attempt >= options_.retry.max_attempts) return status;
      if (call.overall_deadline &&
          std::chrono::steady_clock::now() + delay >= *call.overall_deadline) {
        return status;
      }
      std::this_thread::sleep_for(delay);
      delay = std::min(options_.retry.max_interval,
                       std::chrono::milliseconds(static_cast<int64_t>(
                           static_cast<double>(delay.count()) * options_.retry.multiplier)));
    }
  }

  // Call, throwing on failure (see ThrowRpcError).
  template <class Req, class Resp>
  void CallOrThrow(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                   const Req& request, Resp* response, std::string_view what,
                   const CallOptions& call = {}) const;

  static bool IsRetryable(grpc::StatusCode code) {
    return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
};

// Throws WorkflowNotFoundError for NOT_FOUND, RpcError otherwise; the message
// starts with `what`.
[[noreturn]] void ThrowRpcError(const grpc::Status& status, std::string_view what,
                                const std::string& workflow_id = "",
                                const std::string& run_id = "");

template <class Req, class Resp>
void ClientCore::CallOrThrow(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                             const Req& request, Resp* response, std::string_view what,
                             const CallOptions& call) const {
  grpc::Status status = Call(method, request, response, call);
  if (!status.ok()) ThrowRpcError(status, what);
}

// A random RFC 4122 version 4 UUID.
std::string NewUuid();

// "<pid>@<hostname>".
std::string DefaultIdentity();

}  // namespace temporalio::client::internal

#endif  // TEMPORALIO_SDK_CLIENT_CLIENT_CORE_H_
