// WorkflowHandle<R>: a client-side handle on one workflow execution (by
// workflow id, optionally pinned to a run id) whose result has type R
// (void: no result; converter::Payload: the raw payload).
//
// Handles are cheap value types; copies share the client's connection. All
// methods are thread-safe. Errors:
//   - WorkflowNotFoundError when the execution does not exist (gRPC NOT_FOUND),
//   - RpcError for any other gRPC failure (after the client's retries),
//   - converter::DecodeError when a payload does not decode into the
//     requested type.
//
// Async model: every operation X except FetchHistory (blocking only) has
// XAsync returning a std::future that is
// completed (value or one of the exceptions above, via set_exception) when
// the RPC finishes. XAsync never blocks and no thread waits while its RPC is
// in flight: the RPCs use gRPC's callback API, GetResultAsync re-issues its
// history long poll from the completion callback, and retry backoffs are
// timers on one shared timer thread. Futures are completed on gRPC's callback
// threads (payload codecs and converters for results run there too). In-flight
// operations keep the client's connection alive, so the Client and handle
// may be destroyed before their futures complete. The blocking X is XAsync().get()
// (do not call blocking methods from codecs or other code running on gRPC's
// callback threads).
#ifndef TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_
#define TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "temporal/api/history/v1/message.pb.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"

namespace temporal::api::workflowservice::v1 {
class DescribeWorkflowExecutionResponse;
}  // namespace temporal::api::workflowservice::v1

namespace temporalio {
// Typed definitions (temporalio/workflow/definitions.h); include that header
// to use the overloads taking them.
template <auto F>
struct WorkflowDef;
template <auto F>
struct SignalDef;
template <auto F>
struct QueryDef;
}  // namespace temporalio

namespace temporalio::client {

namespace internal {
class ClientCore;

// Encodes `values` as the declared parameter types of a typed definition
// (std::tuple<A...>): one payload each; a wrong count or an argument not
// convertible to its parameter type does not compile.
template <class Tuple>
struct TypedArgs;
template <class... A>
struct TypedArgs<std::tuple<A...>> {
  template <class... U>
  static converter::Payloads Encode(const converter::DataConverter& dc, const U&... values) {
    static_assert(sizeof...(U) == sizeof...(A), "wrong number of arguments for this definition");
    static_assert((std::is_convertible_v<const U&, A> && ...),
                  "argument not convertible to the definition's parameter type");
    return dc.ToPayloads(As<A>(values)...);
  }
  template <class T, class U>
  static decltype(auto) As(const U& value) {
    if constexpr (std::is_same_v<T, U>) {
      return (value);
    } else {
      return T(value);
    }
  }
};

// Completion of an untyped async operation: `error` is null on success.
// Runs on a gRPC callback thread; must not block or throw.
template <class T>
using AsyncCallback = std::function<void(std::exception_ptr error, T value)>;

template <class T>
std::future<T> FailedFuture(std::exception_ptr error) {
  std::promise<T> promise;
  promise.set_exception(std::move(error));
  return promise.get_future();
}
}  // namespace internal

// Mirrors temporal.api.enums.v1.WorkflowExecutionStatus (same numeric values).
enum class WorkflowExecutionStatus {
  kUnspecified = 0,
  kRunning = 1,
  kCompleted = 2,
  kFailed = 3,
  kCanceled = 4,
  kTerminated = 5,
  kContinuedAsNew = 6,
  kTimedOut = 7,
};

// A summary of one workflow execution, as listed or described.
struct WorkflowExecution {
  std::string workflow_id;
  std::string run_id;
  std::string workflow_type;
  std::string task_queue;
  WorkflowExecutionStatus status = WorkflowExecutionStatus::kUnspecified;
  std::optional<std::chrono::system_clock::time_point> start_time;
  std::optional<std::chrono::system_clock::time_point> execution_time;
  std::optional<std::chrono::system_clock::time_point> close_time;
  int64_t history_length = 0;
  // Memo values as stored (decode with the data converter's FromPayload<T>).
  std::map<std::string, converter::Payload> memo;
};

// WorkflowHandle::Describe(): the summary plus the raw response (include
// "temporal/api/workflowservice/v1/request_response.pb.h" to read it).
struct WorkflowExecutionDescription : WorkflowExecution {
  std::shared_ptr<const temporal::api::workflowservice::v1::DescribeWorkflowExecutionResponse> raw;
};

// The untyped part of WorkflowHandle<R>.
class WorkflowHandleBase {
 public:
  // The workflow id.
  const std::string& id() const noexcept { return id_; }
  // The run this handle was created for: the run StartWorkflow started, or the
  // run id given to GetWorkflowHandle ("" = the latest run).
  const std::string& run_id() const noexcept { return run_id_; }
  // The first run of the chain (set for handles returned by StartWorkflow).
  const std::string& first_execution_run_id() const noexcept { return first_execution_run_id_; }

  // Requests cancellation. Succeeds (no-op) if the workflow already closed.
  void Cancel(const std::string& reason = "") const { CancelAsync(reason).get(); }
  std::future<void> CancelAsync(const std::string& reason = "") const;
  // Terminates the execution; NOT_FOUND (WorkflowNotFoundError) if it already closed.
  void Terminate(const std::string& reason = "") const { TerminateAsync(reason).get(); }
  std::future<void> TerminateAsync(const std::string& reason = "") const;
  WorkflowExecutionDescription Describe() const { return DescribeAsync().get(); }
  std::future<WorkflowExecutionDescription> DescribeAsync() const;
  // The complete event history of the run (all pages).
  temporal::api::history::v1::History FetchHistory() const;

 protected:
  WorkflowHandleBase(std::shared_ptr<internal::ClientCore> core, std::string id, std::string run_id,
                     std::string target_run_id, std::string first_execution_run_id);

  // Long-polls for the run chain's close event, without blocking. `done`
  // gets the first result payload (decoded by the codecs), or nullopt when
  // there is none; or WorkflowFailedError for failed/canceled/terminated/
  // timed-out executions.
  void GetResultPayloadAsync(bool follow_runs,
                             internal::AsyncCallback<std::optional<converter::Payload>> done) const;
  std::future<void> SignalPayloadsAsync(std::string_view name, converter::Payloads args) const;
  // Errors: QueryRejectedError, WorkflowQueryFailedError.
  void QueryPayloadAsync(std::string_view name, converter::Payloads args,
                         internal::AsyncCallback<std::optional<converter::Payload>> done) const;
  const converter::DataConverter& data_converter() const;

  // Decodes a result/query payload into T (nullopt = the null payload).
  template <class T>
  static T DecodeAs(const converter::DataConverter& dc,
                    const std::optional<converter::Payload>& payload) {
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      return dc.template FromPayload<T>(payload.has_value() ? *payload
                                                            : converter::detail::NullPayload());
    }
  }

  // A callback completing `promise` with the payload decoded as T.
  template <class T>
  internal::AsyncCallback<std::optional<converter::Payload>> DecodeInto(
      std::shared_ptr<std::promise<T>> promise) const {
    // `self` (and with it the client's connection) is released before the
    // promise completes, so the caller's Client normally holds the last
    // reference and the connection is never torn down on a gRPC thread.
    return [promise, self = std::make_optional(*this)](
               std::exception_ptr error, std::optional<converter::Payload> payload) mutable {
      if (error) {
        self.reset();
        promise->set_exception(std::move(error));
        return;
      }
      try {
        if constexpr (std::is_void_v<T>) {
          self.reset();
          promise->set_value();
        } else {
          T value = DecodeAs<T>(self->data_converter(), payload);
          self.reset();
          promise->set_value(std::move(value));
        }
      } catch (...) {
        self.reset();
        promise->set_exception(std::current_exception());
      }
    };
  }

  std::shared_ptr<internal::ClientCore> core_;
  std::string id_;
  std::string run_id_;
  // The run id that Signal/Query/Cancel/Terminate/Describe address ("" = latest).
  std::string target_run_id_;
  std::string first_execution_run_id_;
};

template <class R>
class WorkflowHandle : public WorkflowHandleBase {
 public:
  using ResultType = R;

  // Waits until the workflow closes, following continue-as-new and retries
  // (follow_runs), and returns its result. Fails with WorkflowFailedError
  // whose cause() is an ApplicationError, CanceledError, TerminatedError or
  // TimeoutError.
  R GetResult(bool follow_runs = true) const { return GetResultAsync(follow_runs).get(); }
  // GetResult without blocking: one history long poll at a time, each issued
  // from the previous one's completion callback; no thread is parked.
  std::future<R> GetResultAsync(bool follow_runs = true) const {
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> future = promise->get_future();
    GetResultPayloadAsync(follow_runs, DecodeInto<R>(promise));
    return future;
  }

  // Sends a signal; one payload per argument.
  template <class... Args>
  void Signal(std::string_view signal_name, const Args&... args) const {
    SignalAsync(signal_name, args...).get();
  }
  template <class... Args>
  std::future<void> SignalAsync(std::string_view signal_name, const Args&... args) const {
    converter::Payloads payloads;
    try {
      payloads = data_converter().ToPayloads(args...);
    } catch (...) {
      return internal::FailedFuture<void>(std::current_exception());
    }
    return SignalPayloadsAsync(signal_name, std::move(payloads));
  }

  // Runs a query and decodes its answer into T.
  template <class T, class... Args>
  T Query(std::string_view query_name, const Args&... args) const {
    return QueryAsync<T>(query_name, args...).get();
  }
  template <class T, class... Args>
  std::future<T> QueryAsync(std::string_view query_name, const Args&... args) const {
    converter::Payloads payloads;
    try {
      payloads = data_converter().ToPayloads(args...);
    } catch (...) {
      return internal::FailedFuture<T>(std::current_exception());
    }
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> future = promise->get_future();
    QueryPayloadAsync(query_name, std::move(payloads), DecodeInto<T>(promise));
    return future;
  }

  // Typed signal: the arguments are checked against the handler's parameters.
  template <auto F, class... Vs>
  void Signal(const SignalDef<F>& def, const Vs&... args) const {
    SignalAsync(def, args...).get();
  }
  template <auto F, class... Vs>
  std::future<void> SignalAsync(const SignalDef<F>& def, const Vs&... args) const {
    converter::Payloads payloads;
    try {
      payloads =
          internal::TypedArgs<typename SignalDef<F>::Args>::Encode(data_converter(), args...);
    } catch (...) {
      return internal::FailedFuture<void>(std::current_exception());
    }
    return SignalPayloadsAsync(def.name, std::move(payloads));
  }

  // Typed query: returns the handler's result type.
  template <auto F, class... Vs>
  typename QueryDef<F>::Result Query(const QueryDef<F>& def, const Vs&... args) const {
    return QueryAsync(def, args...).get();
  }
  template <auto F, class... Vs>
  std::future<typename QueryDef<F>::Result> QueryAsync(const QueryDef<F>& def,
                                                       const Vs&... args) const {
    using T = typename QueryDef<F>::Result;
    converter::Payloads payloads;
    try {
      payloads = internal::TypedArgs<typename QueryDef<F>::Args>::Encode(data_converter(), args...);
    } catch (...) {
      return internal::FailedFuture<T>(std::current_exception());
    }
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> future = promise->get_future();
    QueryPayloadAsync(def.name, std::move(payloads), DecodeInto<T>(promise));
    return future;
  }

  // For the client (and SDK extensions); use Client::GetWorkflowHandle.
  WorkflowHandle(std::shared_ptr<internal::ClientCore> core, std::string id, std::string run_id,
                 std::string target_run_id, std::string first_execution_run_id)
      : WorkflowHandleBase(std::move(core), std::move(id), std::move(run_id),
                           std::move(target_run_id), std::move(first_execution_run_id)) {}
};

}  // namespace temporalio::client

#endif  // TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_
