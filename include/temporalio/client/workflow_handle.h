// WorkflowHandle<R>: a client-side handle on one workflow execution (by
// workflow id, optionally pinned to a run id) whose result has type R
// (void: no result; converter::Payload: the raw payload).
//
// Handles are cheap value types; copies share the client's connection. All
// methods are blocking, thread-safe, and throw:
//   - WorkflowNotFoundError when the execution does not exist (gRPC NOT_FOUND),
//   - RpcError for any other gRPC failure (after the client's retries),
//   - converter::DecodeError when a payload does not decode into the
//     requested type.
#ifndef TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_
#define TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "temporal/api/history/v1/message.pb.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"

namespace temporal::api::workflowservice::v1 {
class DescribeWorkflowExecutionResponse;
}  // namespace temporal::api::workflowservice::v1

namespace temporalio::client {

namespace internal {
class ClientCore;
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
  void Cancel(const std::string& reason = "") const;
  // Terminates the execution; NOT_FOUND (WorkflowNotFoundError) if it already closed.
  void Terminate(const std::string& reason = "") const;
  WorkflowExecutionDescription Describe() const;
  // The complete event history of the run (all pages).
  temporal::api::history::v1::History FetchHistory() const;

 protected:
  WorkflowHandleBase(std::shared_ptr<internal::ClientCore> core, std::string id, std::string run_id,
                     std::string target_run_id, std::string first_execution_run_id);

  // Waits for the run chain's close event. Returns the first result payload
  // (decoded by the codecs), or nullopt when there is none; throws
  // WorkflowFailedError for failed/canceled/terminated/timed-out executions.
  std::optional<converter::Payload> GetResultPayload(bool follow_runs) const;
  void SignalPayloads(std::string_view name, converter::Payloads args) const;
  // Throws QueryRejectedError, WorkflowQueryFailedError.
  std::optional<converter::Payload> QueryPayload(std::string_view name,
                                                 converter::Payloads args) const;
  const converter::DataConverter& data_converter() const;

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

  // Blocks until the workflow closes, following continue-as-new and retries
  // (follow_runs), and returns its result. Throws WorkflowFailedError whose
  // cause() is an ApplicationError, CanceledError, TerminatedError or
  // TimeoutError.
  R GetResult(bool follow_runs = true) const {
    std::optional<converter::Payload> payload = GetResultPayload(follow_runs);
    if constexpr (std::is_void_v<R>) {
      return;
    } else if (payload.has_value()) {
      return data_converter().template FromPayload<R>(*payload);
    } else {
      return data_converter().template FromPayload<R>(converter::detail::NullPayload());
    }
  }
  // GetResult on a new thread.
  std::future<R> GetResultAsync(bool follow_runs = true) const {
    WorkflowHandle copy = *this;
    return std::async(std::launch::async,
                      [copy, follow_runs]() -> R { return copy.GetResult(follow_runs); });
  }

  // Sends a signal; one payload per argument.
  template <class... Args>
  void Signal(std::string_view signal_name, const Args&... args) const {
    SignalPayloads(signal_name, data_converter().ToPayloads(args...));
  }

  // Runs a query and decodes its answer into T.
  template <class T, class... Args>
  T Query(std::string_view query_name, const Args&... args) const {
    std::optional<converter::Payload> payload =
        QueryPayload(query_name, data_converter().ToPayloads(args...));
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      return data_converter().template FromPayload<T>(
          payload.has_value() ? *payload : converter::detail::NullPayload());
    }
  }

  // For the client (and SDK extensions); use Client::GetWorkflowHandle.
  WorkflowHandle(std::shared_ptr<internal::ClientCore> core, std::string id, std::string run_id,
                 std::string target_run_id, std::string first_execution_run_id)
      : WorkflowHandleBase(std::move(core), std::move(id), std::move(run_id),
                           std::move(target_run_id), std::move(first_execution_run_id)) {}
};

}  // namespace temporalio::client

#endif  // TEMPORALIO_CLIENT_WORKFLOW_HANDLE_H_
