// The exception hierarchy of the Temporal C++ SDK.
//
// Every exception the SDK's public API throws derives from TemporalError.
// FailureError and its subclasses are the C++ face of the wire type
// temporal.api.failure.v1.Failure: user code throws them (an activity throws
// ApplicationError to fail with a type and details) and the SDK throws them
// when a workflow, activity or child workflow failed. The failure converter
// (temporalio/converter/failure_converter.h) maps them to and from the proto.
//
// Exceptions are immutable after construction except for the setters marked
// as used by the failure converter; they are safe to copy and to read from
// several threads. A cause is held as a std::exception_ptr (any exception,
// usually a FailureError) and is shared, not copied, by copies.
#ifndef TEMPORALIO_ERRORS_H_
#define TEMPORALIO_ERRORS_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <grpcpp/support/status_code_enum.h>

#include "temporal/api/common/v1/message.pb.h"

namespace temporal::api::failure::v1 {
class Failure;
}  // namespace temporal::api::failure::v1

namespace temporalio {

// Base of every exception the SDK throws.
class TemporalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Mirrors temporal.api.enums.v1.RetryState (same numeric values).
enum class RetryState {
  kUnspecified = 0,
  kInProgress = 1,
  kNonRetryableFailure = 2,
  kTimeout = 3,
  kMaximumAttemptsReached = 4,
  kRetryPolicyNotSet = 5,
  kInternalServerError = 6,
  kCancelRequested = 7,
};

// Mirrors temporal.api.enums.v1.TimeoutType (same numeric values).
enum class TimeoutType {
  kUnspecified = 0,
  kStartToClose = 1,
  kScheduleToStart = 2,
  kScheduleToClose = 3,
  kHeartbeat = 4,
};

// Mirrors temporal.api.enums.v1.ApplicationErrorCategory (same numeric values).
enum class ApplicationErrorCategory {
  kUnspecified = 0,
  kBenign = 1,  // Expected failure: logged at a lower level, not counted as an error metric.
};

// An error that has a temporal.api.failure.v1.Failure representation. Thrown
// as is, it becomes a Failure without failure info (as another SDK's
// TemporalFailure); the subclasses below carry the specific info.
class FailureError : public TemporalError {
 public:
  explicit FailureError(const std::string& message, std::exception_ptr cause = nullptr);

  // The failure message (same as what()).
  std::string message() const { return what(); }
  // The error that caused this one, or null.
  const std::exception_ptr& cause() const noexcept { return cause_; }
  // Stack trace text as sent by the SDK that raised the failure (C++ errors
  // raised here have none).
  const std::string& stack_trace() const noexcept { return stack_trace_; }
  void set_stack_trace(std::string stack_trace) { stack_trace_ = std::move(stack_trace); }

  // When this error was decoded from a Failure, that Failure (with its cause
  // chain); converting the error back to a Failure returns it unchanged, as
  // the other SDKs do. Null for errors raised in C++. Set by the failure
  // converter.
  const std::shared_ptr<const temporal::api::failure::v1::Failure>& failure() const noexcept {
    return failure_;
  }
  void set_failure(std::shared_ptr<const temporal::api::failure::v1::Failure> failure) {
    failure_ = std::move(failure);
  }

 private:
  std::exception_ptr cause_;
  std::string stack_trace_;
  std::shared_ptr<const temporal::api::failure::v1::Failure> failure_;
};

struct ApplicationErrorOptions {
  // A name for the kind of error, matched against RetryPolicy.non_retryable_error_types.
  std::string type;
  bool non_retryable = false;
  // Extra values, one payload each; build them with converter::ToPayloads(...).
  temporal::api::common::v1::Payloads details;
  // Overrides the retry policy's next backoff when set.
  std::optional<std::chrono::milliseconds> next_retry_delay;
  ApplicationErrorCategory category = ApplicationErrorCategory::kUnspecified;
  std::exception_ptr cause;
};

// A failure raised by user code. Throw it from activities and workflows to
// control the type, retryability and details the caller sees.
class ApplicationError : public FailureError {
 public:
  explicit ApplicationError(const std::string& message, ApplicationErrorOptions options = {});

  const std::string& type() const noexcept { return options_.type; }
  bool non_retryable() const noexcept { return options_.non_retryable; }
  const temporal::api::common::v1::Payloads& details() const noexcept { return options_.details; }
  const std::optional<std::chrono::milliseconds>& next_retry_delay() const noexcept {
    return options_.next_retry_delay;
  }
  ApplicationErrorCategory category() const noexcept { return options_.category; }

 private:
  ApplicationErrorOptions options_;
};

// Cancellation of a workflow, activity or child workflow.
class CanceledError : public FailureError {
 public:
  explicit CanceledError(const std::string& message,
                         temporal::api::common::v1::Payloads details = {},
                         std::exception_ptr cause = nullptr);
  const temporal::api::common::v1::Payloads& details() const noexcept { return details_; }

 private:
  temporal::api::common::v1::Payloads details_;
};

// The workflow was terminated.
class TerminatedError : public FailureError {
 public:
  using FailureError::FailureError;
};

// A workflow or activity timeout.
class TimeoutError : public FailureError {
 public:
  TimeoutError(const std::string& message, TimeoutType type,
               temporal::api::common::v1::Payloads last_heartbeat_details = {},
               std::exception_ptr cause = nullptr);
  TimeoutType type() const noexcept { return type_; }
  const temporal::api::common::v1::Payloads& last_heartbeat_details() const noexcept {
    return last_heartbeat_details_;
  }

 private:
  TimeoutType type_;
  temporal::api::common::v1::Payloads last_heartbeat_details_;
};

// A failure raised by the server.
class ServerError : public FailureError {
 public:
  ServerError(const std::string& message, bool non_retryable, std::exception_ptr cause = nullptr);
  bool non_retryable() const noexcept { return non_retryable_; }

 private:
  bool non_retryable_;
};

struct ActivityErrorInfo {
  int64_t scheduled_event_id = 0;
  int64_t started_event_id = 0;
  std::string identity;
  std::string activity_type;
  std::string activity_id;
  RetryState retry_state = RetryState::kUnspecified;
};

// An activity called from a workflow failed; cause() says why (an
// ApplicationError, TimeoutError, CanceledError, ...).
class ActivityError : public FailureError {
 public:
  ActivityError(const std::string& message, ActivityErrorInfo info,
                std::exception_ptr cause = nullptr);
  const ActivityErrorInfo& info() const noexcept { return info_; }

 private:
  ActivityErrorInfo info_;
};

struct ChildWorkflowErrorInfo {
  std::string namespace_;
  std::string workflow_id;
  std::string run_id;
  std::string workflow_type;
  int64_t initiated_event_id = 0;
  int64_t started_event_id = 0;
  RetryState retry_state = RetryState::kUnspecified;
};

// A child workflow failed; cause() says why.
class ChildWorkflowError : public FailureError {
 public:
  ChildWorkflowError(const std::string& message, ChildWorkflowErrorInfo info,
                     std::exception_ptr cause = nullptr);
  const ChildWorkflowErrorInfo& info() const noexcept { return info_; }

 private:
  ChildWorkflowErrorInfo info_;
};

// --- Client-side errors (not part of the Failure mapping). ---

// A gRPC call to the server failed. `details` holds the serialized
// google.rpc.Status details (Temporal error details), possibly empty.
class RpcError : public TemporalError {
 public:
  RpcError(grpc::StatusCode code, const std::string& message, std::string details = {});
  grpc::StatusCode code() const noexcept { return code_; }
  const std::string& details() const noexcept { return details_; }

 private:
  grpc::StatusCode code_;
  std::string details_;
};

// A workflow execution the client waited on did not complete successfully;
// cause() is the FailureError it failed with (ApplicationError, CanceledError,
// TerminatedError, TimeoutError, ...).
class WorkflowFailedError : public TemporalError {
 public:
  explicit WorkflowFailedError(std::exception_ptr cause,
                               const std::string& message = "Workflow execution failed");
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

// StartWorkflow found a running execution with the same workflow id (and the
// id reuse/conflict policy forbids another).
class WorkflowAlreadyStartedError : public TemporalError {
 public:
  WorkflowAlreadyStartedError(std::string workflow_id, std::string workflow_type,
                              std::string run_id);
  const std::string& workflow_id() const noexcept { return workflow_id_; }
  const std::string& workflow_type() const noexcept { return workflow_type_; }
  const std::string& run_id() const noexcept { return run_id_; }

 private:
  std::string workflow_id_;
  std::string workflow_type_;
  std::string run_id_;
};

// A query was rejected because of the workflow's status (query reject condition).
// `status` is the temporal.api.enums.v1.WorkflowExecutionStatus value.
class QueryRejectedError : public TemporalError {
 public:
  explicit QueryRejectedError(int status);
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// The workflow execution (or activity) addressed by a client call does not
// exist, or has already completed (gRPC NOT_FOUND).
class WorkflowNotFoundError : public RpcError {
 public:
  WorkflowNotFoundError(const std::string& message, std::string workflow_id, std::string run_id,
                        std::string details = {})
      : RpcError(grpc::StatusCode::NOT_FOUND, message, std::move(details)),
        workflow_id_(std::move(workflow_id)),
        run_id_(std::move(run_id)) {}
  const std::string& workflow_id() const noexcept { return workflow_id_; }
  const std::string& run_id() const noexcept { return run_id_; }

 private:
  std::string workflow_id_;
  std::string run_id_;
};

// The worker answered a query with a failure (e.g. unknown query type or the
// handler threw); cause() is the decoded FailureError, when the worker sent one.
class WorkflowQueryFailedError : public TemporalError {
 public:
  explicit WorkflowQueryFailedError(const std::string& message, std::exception_ptr cause = nullptr)
      : TemporalError(message), cause_(std::move(cause)) {}
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

}  // namespace temporalio

#endif  // TEMPORALIO_ERRORS_H_
