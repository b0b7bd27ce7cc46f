#include "temporalio/errors.h"

#include <utility>

namespace temporalio {

FailureError::FailureError(const std::string& message, std::exception_ptr cause)
    : TemporalError(message), cause_(std::move(cause)) {}

ApplicationError::ApplicationError(const std::string& message, ApplicationErrorOptions options)
    : FailureError(message, options.cause), options_(std::move(options)) {
  options_.cause = nullptr;  // held once, by FailureError
}

CanceledError::CanceledError(const std::string& message,
                             temporal::api::common::v1::Payloads details, std::exception_ptr cause)
    : FailureError(message, std::move(cause)), details_(std::move(details)) {}

TimeoutError::TimeoutError(const std::string& message, TimeoutType type,
                           temporal::api::common::v1::Payloads last_heartbeat_details,
                           std::exception_ptr cause)
    : FailureError(message, std::move(cause)),
      type_(type),
      last_heartbeat_details_(std::move(last_heartbeat_details)) {}

ServerError::ServerError(const std::string& message, bool non_retryable, std::exception_ptr cause)
    : FailureError(message, std::move(cause)), non_retryable_(non_retryable) {}

ActivityError::ActivityError(const std::string& message, ActivityErrorInfo info,
                             std::exception_ptr cause)
    : FailureError(message, std::move(cause)), info_(std::move(info)) {}

ChildWorkflowError::ChildWorkflowError(const std::string& message, ChildWorkflowErrorInfo info,
                                       std::exception_ptr cause)
    : FailureError(message, std::move(cause)), info_(std::move(info)) {}

RpcError::RpcError(grpc::StatusCode code, const std::string& message, std::string details)
    : TemporalError(message), code_(code), details_(std::move(details)) {}

WorkflowFailedError::WorkflowFailedError(std::exception_ptr cause, const std::string& message)
    : TemporalError(message), cause_(std::move(cause)) {}

WorkflowAlreadyStartedError::WorkflowAlreadyStartedError(std::string workflow_id,
                                                         std::string workflow_type,
                                                         std::string run_id)
    : TemporalError("Workflow execution already started: workflow_id=" + workflow_id +
                    " workflow_type=" + workflow_type + " run_id=" + run_id),
      workflow_id_(std::move(workflow_id)),
      workflow_type_(std::move(workflow_type)),
      run_id_(std::move(run_id)) {}

QueryRejectedError::QueryRejectedError(int status)
    : TemporalError("Query rejected, workflow execution status " + std::to_string(status)),
      status_(status) {}

}  // namespace temporalio
