#include "temporalio/client/workflow_handle.h"

#include "google/rpc/status.pb.h"
#include "sdk/client/client_core.h"
#include "sdk/client/proto_util.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace temporalio::client {

namespace enums = temporal::api::enums::v1;
using internal::CallOptions;
using internal::Stub;
namespace wsv1 = internal::wsv1;

WorkflowHandleBase::WorkflowHandleBase(std::shared_ptr<internal::ClientCore> core, std::string id,
                                       std::string run_id, std::string target_run_id,
                                       std::string first_execution_run_id)
    : core_(std::move(core)),
      id_(std::move(id)),
      run_id_(std::move(run_id)),
      target_run_id_(std::move(target_run_id)),
      first_execution_run_id_(std::move(first_execution_run_id)) {}

const converter::DataConverter& WorkflowHandleBase::data_converter() const {
  return core_->data_converter();
}

namespace {

std::exception_ptr DecodeFailure(const converter::DataConverter& dc,
                                 const converter::Failure& failure) {
  converter::Failure copy = failure;
  dc.DecodeFailure(&copy);
  return dc.FromFailure(copy);
}

}  // namespace

std::optional<converter::Payload> WorkflowHandleBase::GetResultPayload(bool follow_runs) const {
  const converter::DataConverter& dc = data_converter();
  std::string run_id = run_id_;
  std::string page_token;
  for (;;) {
    wsv1::GetWorkflowExecutionHistoryRequest request;
    request.set_namespace_(core_->namespace_());
    request.mutable_execution()->set_workflow_id(id_);
    request.mutable_execution()->set_run_id(run_id);
    request.set_wait_new_event(true);
    request.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    request.set_skip_archival(true);
    request.set_next_page_token(page_token);
    wsv1::GetWorkflowExecutionHistoryResponse response;
    CallOptions call;
    call.timeout = internal::kLongPollTimeout;
    grpc::Status status = core_->Call(&Stub::GetWorkflowExecutionHistory, request, &response, call);
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) continue;  // long poll
    if (!status.ok()) internal::ThrowRpcError(status, "get workflow result " + id_, id_, run_id);
    if (response.history().events_size() == 0) {
      page_token = response.next_page_token();
      continue;
    }
    const auto& event = response.history().events(response.history().events_size() - 1);
    page_token.clear();
    switch (event.event_type()) {
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        const auto& attrs = event.workflow_execution_completed_event_attributes();
        if (follow_runs && !attrs.new_execution_run_id().empty()) {
          run_id = attrs.new_execution_run_id();
          continue;
        }
        if (attrs.result().payloads_size() == 0) return std::nullopt;
        converter::Payload payload = attrs.result().payloads(0);
        dc.Decode(&payload);
        return payload;
      }
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
        const auto& attrs = event.workflow_execution_failed_event_attributes();
        if (follow_runs && !attrs.new_execution_run_id().empty()) {
          run_id = attrs.new_execution_run_id();
          continue;
        }
        throw WorkflowFailedError(DecodeFailure(dc, attrs.failure()));
      }
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: {
        converter::Payloads details =
            event.workflow_execution_canceled_event_attributes().details();
        dc.Decode(&details);
        throw WorkflowFailedError(
            std::make_exception_ptr(CanceledError("Workflow execution cancelled", details)));
      }
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
        const auto& attrs = event.workflow_execution_terminated_event_attributes();
        throw WorkflowFailedError(std::make_exception_ptr(TerminatedError(
            attrs.reason().empty() ? "Workflow execution terminated" : attrs.reason())));
      }
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: {
        const auto& attrs = event.workflow_execution_timed_out_event_attributes();
        if (follow_runs && !attrs.new_execution_run_id().empty()) {
          run_id = attrs.new_execution_run_id();
          continue;
        }
        throw WorkflowFailedError(std::make_exception_ptr(
            TimeoutError("Workflow execution timed out", TimeoutType::kStartToClose)));
      }
      case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: {
        const auto& attrs = event.workflow_execution_continued_as_new_event_attributes();
        if (!follow_runs || attrs.new_execution_run_id().empty()) {
          throw TemporalError("Workflow execution continued as new (run " +
                              attrs.new_execution_run_id() + ")");
        }
        run_id = attrs.new_execution_run_id();
        continue;
      }
      default:
        throw TemporalError("unexpected close event type " +
                            enums::EventType_Name(event.event_type()));
    }
  }
}

void WorkflowHandleBase::SignalPayloads(std::string_view name, converter::Payloads args) const {
  data_converter().Encode(&args);
  wsv1::SignalWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_signal_name(std::string(name));
  if (args.payloads_size() > 0) *request.mutable_input() = std::move(args);
  request.set_identity(core_->identity());
  request.set_request_id(internal::NewUuid());
  wsv1::SignalWorkflowExecutionResponse response;
  grpc::Status status = core_->Call(&Stub::SignalWorkflowExecution, request, &response);
  if (!status.ok()) internal::ThrowRpcError(status, "signal workflow " + id_, id_, target_run_id_);
}

std::optional<converter::Payload> WorkflowHandleBase::QueryPayload(std::string_view name,
                                                                   converter::Payloads args) const {
  const converter::DataConverter& dc = data_converter();
  dc.Encode(&args);
  wsv1::QueryWorkflowRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_execution()->set_workflow_id(id_);
  request.mutable_execution()->set_run_id(target_run_id_);
  request.mutable_query()->set_query_type(std::string(name));
  if (args.payloads_size() > 0) *request.mutable_query()->mutable_query_args() = std::move(args);
  wsv1::QueryWorkflowResponse response;
  CallOptions call;
  call.timeout = std::max(core_->options().rpc_timeout, std::chrono::milliseconds(60000));
  grpc::Status status = core_->Call(&Stub::QueryWorkflow, request, &response, call);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      google::rpc::Status rpc_status;
      if (rpc_status.ParseFromString(status.error_details())) {
        for (const auto& detail : rpc_status.details()) {
          temporal::api::errordetails::v1::QueryFailedFailure failed;
          if (detail.UnpackTo(&failed)) {
            std::exception_ptr cause;
            if (failed.has_failure()) cause = DecodeFailure(dc, failed.failure());
            throw WorkflowQueryFailedError(status.error_message(), cause);
          }
        }
      }
    }
    internal::ThrowRpcError(status, "query workflow " + id_, id_, target_run_id_);
  }
  if (response.has_query_rejected()) {
    throw QueryRejectedError(static_cast<int>(response.query_rejected().status()));
  }
  if (response.query_result().payloads_size() == 0) return std::nullopt;
  converter::Payload payload = response.query_result().payloads(0);
  dc.Decode(&payload);
  return payload;
}

void WorkflowHandleBase::Cancel(const std::string& reason) const {
  wsv1::RequestCancelWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_identity(core_->identity());
  request.set_request_id(internal::NewUuid());
  request.set_first_execution_run_id(first_execution_run_id_);
  request.set_reason(reason);
  wsv1::RequestCancelWorkflowExecutionResponse response;
  grpc::Status status = core_->Call(&Stub::RequestCancelWorkflowExecution, request, &response);
  if (!status.ok()) internal::ThrowRpcError(status, "cancel workflow " + id_, id_, target_run_id_);
}

void WorkflowHandleBase::Terminate(const std::string& reason) const {
  wsv1::TerminateWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_reason(reason);
  request.set_identity(core_->identity());
  request.set_first_execution_run_id(first_execution_run_id_);
  wsv1::TerminateWorkflowExecutionResponse response;
  grpc::Status status = core_->Call(&Stub::TerminateWorkflowExecution, request, &response);
  if (!status.ok()) {
    internal::ThrowRpcError(status, "terminate workflow " + id_, id_, target_run_id_);
  }
}

WorkflowExecutionDescription WorkflowHandleBase::Describe() const {
  wsv1::DescribeWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_execution()->set_workflow_id(id_);
  request.mutable_execution()->set_run_id(target_run_id_);
  auto response = std::make_shared<wsv1::DescribeWorkflowExecutionResponse>();
  grpc::Status status = core_->Call(&Stub::DescribeWorkflowExecution, request, response.get());
  if (!status.ok()) {
    internal::ThrowRpcError(status, "describe workflow " + id_, id_, target_run_id_);
  }
  WorkflowExecutionDescription out;
  static_cast<WorkflowExecution&>(out) = internal::FromProto(response->workflow_execution_info());
  out.raw = std::move(response);
  return out;
}

temporal::api::history::v1::History WorkflowHandleBase::FetchHistory() const {
  temporal::api::history::v1::History history;
  std::string page_token;
  do {
    wsv1::GetWorkflowExecutionHistoryRequest request;
    request.set_namespace_(core_->namespace_());
    request.mutable_execution()->set_workflow_id(id_);
    request.mutable_execution()->set_run_id(target_run_id_);
    request.set_next_page_token(page_token);
    request.set_skip_archival(true);
    wsv1::GetWorkflowExecutionHistoryResponse response;
    grpc::Status status = core_->Call(&Stub::GetWorkflowExecutionHistory, request, &response);
    if (!status.ok()) {
      internal::ThrowRpcError(status, "fetch history of " + id_, id_, target_run_id_);
    }
    for (auto& event : *response.mutable_history()->mutable_events()) {
      *history.add_events() = std::move(event);
    }
    page_token = response.next_page_token();
  } while (!page_token.empty());
  return history;
}

}  // namespace temporalio::client
