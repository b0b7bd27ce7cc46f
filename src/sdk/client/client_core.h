// Internal: the shared state behind Client, WorkflowHandle and the worker —
// the channel, the stub, the options, and the retrying call helper.
#ifndef TEMPORALIO_SDK_CLIENT_CLIENT_CORE_H_
#define TEMPORALIO_SDK_CLIENT_CLIENT_CORE_H_

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "sdk/client/timer_queue.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/client/client.h"

namespace temporalio::client::internal {

namespace wsv1 = temporal::api::workflowservice::v1;
using Stub = wsv1::WorkflowService::Stub;
// The stub's callback-API face (stub.async()).
using AsyncStub = class wsv1::WorkflowService::Stub::async;
// A callback-API unary method, e.g. &AsyncStub::StartWorkflowExecution.
template <class Req, class Resp>
using AsyncMethod = void (AsyncStub::*)(grpc::ClientContext*, const Req*, Resp*,
                                        std::function<void(grpc::Status)>);
// Receives an async call's final status and its response (valid during the call).
template <class Resp>
using AsyncDone = std::function<void(const grpc::Status&, Resp&)>;

inline constexpr std::chrono::milliseconds kLongPollTimeout{70000};

struct CallOptions {
  // Per-attempt deadline; 0 = the client's rpc_timeout.
  std::chrono::milliseconds timeout{0};
  // Stop retrying at this time (default: only max_attempts bounds retries).
  std::optional<std::chrono::steady_clock::time_point> overall_deadline;
  bool retry = true;
};

// Thread-safe: immutable after construction (gRPC stubs are thread-safe).
// Always owned by a shared_ptr from MakeClientCore (async calls keep it alive
// while in flight).
class ClientCore : public std::enable_shared_from_this<ClientCore> {
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

  // Call without blocking: issues the RPC on gRPC's callback API and returns
  // at once. Retries of UNAVAILABLE / RESOURCE_EXHAUSTED are scheduled on the
  // shared TimerQueue (no thread waits for the backoff). `done` runs exactly
  // once, with the final status, on a gRPC callback thread (or the timer
  // thread); it must not block and must not throw. The call state (context,
  // request, response) and this core stay alive until `done` has returned.
  template <class Req, class Resp>
  void CallAsync(AsyncMethod<Req, Resp> method, Req request, AsyncDone<Resp> done,
                 const CallOptions& call = {}) const;

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

// Marks the calling thread as one that runs gRPC completion callbacks (for
// the rest of its life; such threads run nothing else).
void MarkCallbackThread() noexcept;

// A ClientCore whose last owner may safely be an async call's callback: the
// deleter destroys it (and so the channel) on the TimerQueue thread when
// called on a gRPC callback thread. Destroying a channel there would release
// gRPC's shared callback completion queue from one of its own threads.
std::shared_ptr<ClientCore> MakeClientCore(ClientOptions options,
                                           std::shared_ptr<grpc::Channel> channel);

// Throws WorkflowNotFoundError for NOT_FOUND, RpcError otherwise; the message
// starts with `what`.
[[noreturn]] void ThrowRpcError(const grpc::Status& status, std::string_view what,
                                const std::string& workflow_id = "",
                                const std::string& run_id = "");

// The heap-allocated state of one CallAsync: owns everything gRPC reads or
// writes until the completion callback, and keeps the core alive.
template <class Req, class Resp>
class AsyncCall : public std::enable_shared_from_this<AsyncCall<Req, Resp>> {
 public:
  AsyncCall(std::shared_ptr<const ClientCore> core, AsyncMethod<Req, Resp> method, Req request,
            AsyncDone<Resp> done, const CallOptions& call)
      : core_(std::move(core)),
        method_(method),
        request_(std::move(request)),
        done_(std::move(done)),
        call_(call),
        delay_(core_->options().retry.initial_interval) {}

  // Issues the next attempt.
  void Start() {
    ++attempt_;
    std::chrono::milliseconds timeout =
        call_.timeout.count() > 0 ? call_.timeout : core_->options().rpc_timeout;
    if (call_.overall_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *call_.overall_deadline - std::chrono::steady_clock::now());
      timeout = std::max(std::chrono::milliseconds(1), std::min(timeout, left));
    }
    context_ = std::make_unique<grpc::ClientContext>();
    core_->PrepareContext(context_.get(), timeout);
    response_.Clear();
    (core_->stub().async()->*method_)(context_.get(), &request_, &response_,
                                      [self = this->shared_from_this()](grpc::Status status) {
                                        MarkCallbackThread();
                                        self->OnDone(status);
                                      });
  }

 private:
  void OnDone(const grpc::Status& status) {
    if (!status.ok() && call_.retry && ClientCore::IsRetryable(status.error_code()) &&
        RetryAllowed()) {
      auto when = std::chrono::steady_clock::now() + delay_;
      delay_ =
          std::min(core_->options().retry.max_interval,
                   std::chrono::milliseconds(static_cast<int64_t>(
                       static_cast<double>(delay_.count()) * core_->options().retry.multiplier)));
      TimerQueue::Shared().Schedule(when, [self = this->shared_from_this()] { self->Start(); });
      return;
    }
    // Release the context (it holds a channel reference) and then the core
    // before completing: once `done` runs, the caller may drop its Client, and
    // the last channel reference must not go away on a gRPC callback thread
    // (that tears down gRPC's callback queue from one of its own threads). If
    // the caller already dropped it, the core's deleter defers the teardown.
    context_.reset();
    core_.reset();
    AsyncDone<Resp> done = std::move(done_);
    try {
      done(status, response_);
    } catch (...) {
      std::terminate();  // `done` must not throw (see CallAsync).
    }
  }

  bool RetryAllowed() const {
    if (!call_.overall_deadline) return attempt_ < core_->options().retry.max_attempts;
    return std::chrono::steady_clock::now() + delay_ < *call_.overall_deadline;
  }

  std::shared_ptr<const ClientCore> core_;
  AsyncMethod<Req, Resp> method_;
  Req request_;
  Resp response_;
  std::unique_ptr<grpc::ClientContext> context_;
  AsyncDone<Resp> done_;
  CallOptions call_;
  int attempt_ = 0;
  std::chrono::milliseconds delay_;
};

template <class Req, class Resp>
void ClientCore::CallAsync(AsyncMethod<Req, Resp> method, Req request, AsyncDone<Resp> done,
                           const CallOptions& call) const {
  auto state = std::make_shared<AsyncCall<Req, Resp>>(shared_from_this(), method,
                                                      std::move(request), std::move(done), call);
  state->Start();
}

// Runs ThrowRpcError and returns what it threw, for completing a future.
std::exception_ptr RpcErrorPtr(const grpc::Status& status, std::string_view what,
                               const std::string& workflow_id = "", const std::string& run_id = "");

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
