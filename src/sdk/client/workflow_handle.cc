#include "temporalio/client/workflow_handle.h"

#include <future>
#include <memory>

#include "google/rpc/status.pb.h"
#include "sdk/client/client_core.h"
#include "sdk/client/proto_util.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace temporalio::client {

namespace enums = temporal::api::enums::v1;
using internal::AsyncStub;
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

namespace {

// Interprets a close event. Returns the run to follow next in `next_run_id`
// (continue-as-new, retry, cron), else the result payload; throws
// WorkflowFailedError & co.
std::optional<converter::Payload> HandleCloseEvent(
    const converter::DataConverter& dc, const temporal::api::history::v1::HistoryEvent& event,
    bool follow_runs, std::string* next_run_id) {
  switch (event.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
      const auto& attrs = event.workflow_execution_completed_event_attributes();
      if (follow_runs && !attrs.new_execution_run_id().empty()) {
        *next_run_id = attrs.new_execution_run_id();
        return std::nullopt;
      }
      if (attrs.result().payloads_size() == 0) return std::nullopt;
      converter::Payload payload = attrs.result().payloads(0);
      dc.Decode(&payload);
      return payload;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
      const auto& attrs = event.workflow_execution_failed_event_attributes();
      if (follow_runs && !attrs.new_execution_run_id().empty()) {
        *next_run_id = attrs.new_execution_run_id();
        return std::nullopt;
      }
      throw WorkflowFailedError(DecodeFailure(dc, attrs.failure()));
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: {
      converter::Payloads details = event.workflow_execution_canceled_event_attributes().details();
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
        *next_run_id = attrs.new_execution_run_id();
        return std::nullopt;
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
      *next_run_id = attrs.new_execution_run_id();
      return std::nullopt;
    }
    default:
      throw TemporalError("unexpected close event type " +
                          enums::EventType_Name(event.event_type()));
  }
}

// The state of one GetResultPayloadAsync: a chain of history long polls, each
// issued from the previous one's completion callback.
class ResultPoll : public std::enable_shared_from_this<ResultPoll> {
 public:
  ResultPoll(std::shared_ptr<internal::ClientCore> core, std::string workflow_id,
             std::string run_id, bool follow_runs,
             internal::AsyncCallback<std::optional<converter::Payload>> done)
      : core_(std::move(core)),
        workflow_id_(std::move(workflow_id)),
        run_id_(std::move(run_id)),
        follow_runs_(follow_runs),
        done_(std::move(done)) {}

  void Poll() {
    wsv1::GetWorkflowExecutionHistoryRequest request;
    request.set_namespace_(core_->namespace_());
    request.mutable_execution()->set_workflow_id(workflow_id_);
    request.mutable_execution()->set_run_id(run_id_);
    request.set_wait_new_event(true);
    request.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    request.set_skip_archival(true);
    request.set_next_page_token(page_token_);
    CallOptions call;
    call.timeout = internal::kLongPollTimeout;
    core_->CallAsync<wsv1::GetWorkflowExecutionHistoryRequest,
                     wsv1::GetWorkflowExecutionHistoryResponse>(
        &AsyncStub::GetWorkflowExecutionHistory, std::move(request),
        [self = shared_from_this()](const grpc::Status& status,
                                    wsv1::GetWorkflowExecutionHistoryResponse& response) {
          self->OnResponse(status, response);
        },
        call);
  }

 private:
  void OnResponse(const grpc::Status& status,
                  const wsv1::GetWorkflowExecutionHistoryResponse& response) {
    std::optional<converter::Payload> result;
    try {
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {  // long poll expired
        Poll();
        return;
      }
      if (!status.ok()) {
        internal::ThrowRpcError(status, "get workflow result " + workflow_id_, workflow_id_,
                                run_id_);
      }
      if (response.history().events_size() == 0) {
        page_token_ = response.next_page_token();
        Poll();
        return;
      }
      const auto& event = response.history().events(response.history().events_size() - 1);
      page_token_.clear();
      std::string next_run_id;
      result = HandleCloseEvent(core_->data_converter(), event, follow_runs_, &next_run_id);
      if (!next_run_id.empty()) {
        run_id_ = std::move(next_run_id);
        Poll();
        return;
      }
    } catch (...) {
      Finish(std::current_exception(), std::nullopt);
      return;
    }
    Finish(nullptr, std::move(result));
  }

  // Drops the core before completing, so the caller's Client normally holds
  // the last reference (see AsyncCall::OnDone).
  void Finish(std::exception_ptr error, std::optional<converter::Payload> result) {
    core_.reset();
    auto done = std::move(done_);
    done(std::move(error), std::move(result));
  }

  std::shared_ptr<internal::ClientCore> core_;
  std::string workflow_id_;
  std::string run_id_;
  std::string page_token_;
  bool follow_runs_;
  internal::AsyncCallback<std::optional<converter::Payload>> done_;
};

// Completes `promise` from a unary call's status.
void CompleteVoid(std::promise<void>& promise, const grpc::Status& status, std::string_view what,
                  const std::string& workflow_id, const std::string& run_id) {
  if (status.ok()) {
    promise.set_value();
  } else {
    promise.set_exception(internal::RpcErrorPtr(status, what, workflow_id, run_id));
  }
}

// The typed error for a failed QueryWorkflow.
std::exception_ptr QueryError(const converter::DataConverter& dc, const grpc::Status& status,
                              const std::string& workflow_id, const std::string& run_id) {
  try {
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      google::rpc::Status rpc_status;
      if (rpc_status.ParseFromString(status.error_details())) {
        for (const auto& detail : rpc_status.details()) {
          temporal::api::errordetails::v1::QueryFailedFailure failed;
          if (detail.UnpackTo(&failed)) {
            std::exception_ptr cause;
            if (failed.has_failure()) cause = DecodeFailure(dc, failed.failure());
            return std::make_exception_ptr(WorkflowQueryFailedError(status.error_message(), cause));
          }
        }
      }
    }
    return internal::RpcErrorPtr(status, "query workflow " + workflow_id, workflow_id, run_id);
  } catch (...) {
    return std::current_exception();
  }
}

}  // namespace

void WorkflowHandleBase::GetResultPayloadAsync(
    bool follow_runs, internal::AsyncCallback<std::optional<converter::Payload>> done) const {
  auto poll = std::make_shared<ResultPoll>(core_, id_, run_id_, follow_runs, std::move(done));
  poll->Poll();
}

std::future<void> WorkflowHandleBase::SignalPayloadsAsync(std::string_view name,
                                                          converter::Payloads args) const {
  wsv1::SignalWorkflowExecutionRequest request;
  try {
    data_converter().Encode(&args);
  } catch (...) {
    return internal::FailedFuture<void>(std::current_exception());
  }
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_signal_name(std::string(name));
  if (args.payloads_size() > 0) *request.mutable_input() = std::move(args);
  request.set_identity(core_->identity());
  request.set_request_id(internal::NewUuid());
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> future = promise->get_future();
  core_->CallAsync<wsv1::SignalWorkflowExecutionRequest, wsv1::SignalWorkflowExecutionResponse>(
      &AsyncStub::SignalWorkflowExecution, std::move(request),
      [promise, id = id_, run_id = target_run_id_](const grpc::Status& status,
                                                   wsv1::SignalWorkflowExecutionResponse&) {
        CompleteVoid(*promise, status, "signal workflow " + id, id, run_id);
      });
  return future;
}

void WorkflowHandleBase::QueryPayloadAsync(
    std::string_view name, converter::Payloads args,
    internal::AsyncCallback<std::optional<converter::Payload>> done) const {
  wsv1::QueryWorkflowRequest request;
  try {
    data_converter().Encode(&args);
  } catch (...) {
    done(std::current_exception(), std::nullopt);
    return;
  }
  request.set_namespace_(core_->namespace_());
  request.mutable_execution()->set_workflow_id(id_);
  request.mutable_execution()->set_run_id(target_run_id_);
  request.mutable_query()->set_query_type(std::string(name));
  if (args.payloads_size() > 0) *request.mutable_query()->mutable_query_args() = std::move(args);
  CallOptions call;
  call.timeout = std::max(core_->options().rpc_timeout, std::chrono::milliseconds(60000));
  core_->CallAsync<wsv1::QueryWorkflowRequest, wsv1::QueryWorkflowResponse>(
      &AsyncStub::QueryWorkflow, std::move(request),
      [core = core_, id = id_, run_id = target_run_id_, done = std::move(done)](
          const grpc::Status& status, wsv1::QueryWorkflowResponse& response) {
        const converter::DataConverter& dc = core->data_converter();
        if (!status.ok()) {
          done(QueryError(dc, status, id, run_id), std::nullopt);
          return;
        }
        if (response.has_query_rejected()) {
          done(std::make_exception_ptr(
                   QueryRejectedError(static_cast<int>(response.query_rejected().status()))),
               std::nullopt);
          return;
        }
        if (response.query_result().payloads_size() == 0) {
          done(nullptr, std::nullopt);
          return;
        }
        converter::Payload payload = response.query_result().payloads(0);
        try {
          dc.Decode(&payload);
        } catch (...) {
          done(std::current_exception(), std::nullopt);
          return;
        }
        done(nullptr, std::move(payload));
      },
      call);
}

std::future<void> WorkflowHandleBase::CancelAsync(const std::string& reason) const {
  wsv1::RequestCancelWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_identity(core_->identity());
  request.set_request_id(internal::NewUuid());
  request.set_first_execution_run_id(first_execution_run_id_);
  request.set_reason(reason);
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> future = promise->get_future();
  core_->CallAsync<wsv1::RequestCancelWorkflowExecutionRequest,
                   wsv1::RequestCancelWorkflowExecutionResponse>(
      &AsyncStub::RequestCancelWorkflowExecution, std::move(request),
      [promise, id = id_, run_id = target_run_id_](const grpc::Status& status,
                                                   wsv1::RequestCancelWorkflowExecutionResponse&) {
        CompleteVoid(*promise, status, "cancel workflow " + id, id, run_id);
      });
  return future;
}

std::future<void> WorkflowHandleBase::TerminateAsync(const std::string& reason) const {
  wsv1::TerminateWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_workflow_execution()->set_workflow_id(id_);
  request.mutable_workflow_execution()->set_run_id(target_run_id_);
  request.set_reason(reason);
  request.set_identity(core_->identity());
  request.set_first_execution_run_id(first_execution_run_id_);
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> future = promise->get_future();
  core_->CallAsync<wsv1::TerminateWorkflowExecutionRequest,
                   wsv1::TerminateWorkflowExecutionResponse>(
      &AsyncStub::TerminateWorkflowExecution, std::move(request),
      [promise, id = id_, run_id = target_run_id_](const grpc::Status& status,
                                                   wsv1::TerminateWorkflowExecutionResponse&) {
        CompleteVoid(*promise, status, "terminate workflow " + id, id, run_id);
      });
  return future;
}

std::future<WorkflowExecutionDescription> WorkflowHandleBase::DescribeAsync() const {
  wsv1::DescribeWorkflowExecutionRequest request;
  request.set_namespace_(core_->namespace_());
  request.mutable_execution()->set_workflow_id(id_);
  request.mutable_execution()->set_run_id(target_run_id_);
  auto promise = std::make_shared<std::promise<WorkflowExecutionDescription>>();
  auto future = promise->get_future();
  core_->CallAsync<wsv1::DescribeWorkflowExecutionRequest, wsv1::DescribeWorkflowExecutionResponse>(
      &AsyncStub::DescribeWorkflowExecution, std::move(request),
      [promise, id = id_, run_id = target_run_id_](
          const grpc::Status& status, wsv1::DescribeWorkflowExecutionResponse& response) {
        if (!status.ok()) {
          promise->set_exception(
              internal::RpcErrorPtr(status, "describe workflow " + id, id, run_id));
          return;
        }
        try {
          auto raw = std::make_shared<wsv1::DescribeWorkflowExecutionResponse>(std::move(response));
          WorkflowExecutionDescription out;
          static_cast<WorkflowExecution&>(out) =
              internal::FromProto(raw->workflow_execution_info());
          out.raw = std::move(raw);
          promise->set_value(std::move(out));
        } catch (...) {
          promise->set_exception(std::current_exception());
        }
      });
  return future;
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
