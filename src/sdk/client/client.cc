#include "temporalio/client/client.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "common/grpc_util.h"
#include "common/uuid.h"
#include "google/rpc/status.pb.h"
#include "sdk/client/client_core.h"
#include "sdk/client/proto_util.h"
#include "temporal/api/errordetails/v1/message.pb.h"
#include "temporalio/version.h"

namespace temporalio::client {

using google::protobuf::util::TimeUtil;
using internal::CallOptions;
using internal::ClientCore;

namespace internal {

ClientCore::ClientCore(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(wsv1::WorkflowService::NewStub(channel_)) {}

namespace {
thread_local bool tls_callback_thread = false;
}  // namespace

void MarkCallbackThread() noexcept { tls_callback_thread = true; }

std::shared_ptr<ClientCore> MakeClientCore(ClientOptions options,
                                           std::shared_ptr<grpc::Channel> channel) {
  common::DisableMutexDeadlockDetection();
  return std::shared_ptr<ClientCore>(
      new ClientCore(std::move(options), std::move(channel)), [](ClientCore* core) {
        if (!tls_callback_thread) {
          delete core;
          return;
        }
        // Owned by the callback, so it is deleted even if the queue is torn
        // down (process exit) before the callback runs.
        TimerQueue::Shared().Schedule(
            std::chrono::steady_clock::now(),
            [owner = std::shared_ptr<ClientCore>(core)]() mutable { owner.reset(); });
      });
}

void ClientCore::PrepareContext(grpc::ClientContext* context,
                                std::chrono::milliseconds timeout) const {
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  context->AddMetadata("client-name", std::string(kSdkName));
  context->AddMetadata("client-version", std::string(Version()));
  context->AddMetadata("temporal-namespace", options_.namespace_);
  if (!options_.api_key.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.api_key);
  }
  for (const auto& [key, value] : options_.rpc_metadata) context->AddMetadata(key, value);
}

void ThrowRpcError(const grpc::Status& status, std::string_view what,
                   const std::string& workflow_id, const std::string& run_id) {
  std::string message = std::string(what) + ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    throw WorkflowNotFoundError(message, workflow_id, run_id, status.error_details());
  }
  throw RpcError(status.error_code(), message, status.error_details());
}

std::exception_ptr RpcErrorPtr(const grpc::Status& status, std::string_view what,
                               const std::string& workflow_id, const std::string& run_id) {
  try {
    ThrowRpcError(status, what, workflow_id, run_id);
  } catch (...) {
    return std::current_exception();
  }
}

std::string NewUuid() { return common::NewUuid(); }

std::string DefaultIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::to_string(getpid()) + "@" + host;
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Connect.

Client Client::Connect(ClientOptions options) {
  if (options.identity.empty()) options.identity = internal::DefaultIdentity();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(128 * 1024 * 1024);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 15000);
  // Retries are ours (ClientCore: Temporal's retryable codes, backoff,
  // overall deadlines). gRPC's retry filter would only add a layer that
  // buffers every call's messages: ~8% of a worker's CPU per workflow.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->server_root_ca_cert;
    ssl.pem_cert_chain = options.tls->client_cert;
    ssl.pem_private_key = options.tls->client_private_key;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls->server_name_override.empty()) {
      args.SetSslTargetNameOverride(options.tls->server_name_override);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(options.target_host, credentials, args);
  auto core = internal::MakeClientCore(std::move(options), std::move(channel));

  internal::wsv1::GetSystemInfoRequest request;
  internal::wsv1::GetSystemInfoResponse response;
  CallOptions call;
  call.overall_deadline = std::chrono::steady_clock::now() + core->options().connect_timeout;
  grpc::Status status = core->Call(&internal::Stub::GetSystemInfo, request, &response, call);
  if (!status.ok() && status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
    grpc::StatusCode code = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                                ? grpc::StatusCode::UNAVAILABLE
                                : status.error_code();
    throw RpcError(
        code, "failed to connect to " + core->options().target_host + ": " + status.error_message(),
        status.error_details());
  }
  return Client(std::move(core));
}

const ClientOptions& Client::options() const { return core_->options(); }

temporal::api::workflowservice::v1::WorkflowService::StubInterface& Client::WorkflowService()
    const {
  return core_->stub();
}

// ---------------------------------------------------------------------------
// Search attributes.

namespace {
converter::Payload TypedSearchAttribute(const nlohmann::json& json, const char* type) {
  converter::Payload payload = converter::detail::JsonToPayload(json);
  (*payload.mutable_metadata())["type"] = type;
  return payload;
}
}  // namespace

SearchAttributeValue::SearchAttributeValue(std::string keyword)
    : payload_(TypedSearchAttribute(keyword, "Keyword")) {}
SearchAttributeValue::SearchAttributeValue(const char* keyword)
    : SearchAttributeValue(std::string(keyword)) {}
SearchAttributeValue::SearchAttributeValue(int64_t value)
    : payload_(TypedSearchAttribute(value, "Int")) {}
SearchAttributeValue::SearchAttributeValue(int value)
    : SearchAttributeValue(static_cast<int64_t>(value)) {}
SearchAttributeValue::SearchAttributeValue(double value)
    : payload_(TypedSearchAttribute(value, "Double")) {}
SearchAttributeValue::SearchAttributeValue(bool value)
    : payload_(TypedSearchAttribute(value, "Bool")) {}
SearchAttributeValue::SearchAttributeValue(std::vector<std::string> keywords)
    : payload_(TypedSearchAttribute(keywords, "KeywordList")) {}
SearchAttributeValue::SearchAttributeValue(std::chrono::system_clock::time_point time)
    : payload_(TypedSearchAttribute(
          TimeUtil::ToString(TimeUtil::MillisecondsToTimestamp(
              std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch())
                  .count())),
          "Datetime")) {}

// ---------------------------------------------------------------------------
// Start / SignalWithStart.

namespace {

template <class Req>
void FillStart(const ClientCore& core, std::string_view workflow_type,
               const WorkflowOptions& options, converter::Payloads args, Req* request) {
  if (options.id.empty()) throw std::invalid_argument("WorkflowOptions.id is required");
  if (options.task_queue.empty()) {
    throw std::invalid_argument("WorkflowOptions.task_queue is required");
  }
  const converter::DataConverter& dc = core.data_converter();
  request->set_namespace_(core.namespace_());
  request->set_workflow_id(options.id);
  request->mutable_workflow_type()->set_name(std::string(workflow_type));
  request->mutable_task_queue()->set_name(options.task_queue);
  request->mutable_task_queue()->set_kind(temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
  dc.Encode(&args);
  if (args.payloads_size() > 0) *request->mutable_input() = std::move(args);
  if (options.execution_timeout) {
    *request->mutable_workflow_execution_timeout() =
        internal::ToDuration(*options.execution_timeout);
  }
  if (options.run_timeout) {
    *request->mutable_workflow_run_timeout() = internal::ToDuration(*options.run_timeout);
  }
  if (options.task_timeout) {
    *request->mutable_workflow_task_timeout() = internal::ToDuration(*options.task_timeout);
  }
  request->set_identity(core.identity());
  request->set_request_id(options.request_id.empty() ? internal::NewUuid() : options.request_id);
  request->set_workflow_id_reuse_policy(
      static_cast<temporal::api::enums::v1::WorkflowIdReusePolicy>(options.id_reuse_policy));
  request->set_workflow_id_conflict_policy(
      static_cast<temporal::api::enums::v1::WorkflowIdConflictPolicy>(options.id_conflict_policy));
  if (options.retry_policy) {
    internal::ToProto(*options.retry_policy, request->mutable_retry_policy());
  }
  request->set_cron_schedule(options.cron_schedule);
  for (const auto& [key, value] : options.memo) {
    converter::Payload payload = value.ToPayload(dc.payload_converter);
    dc.Encode(&payload);
    (*request->mutable_memo()->mutable_fields())[key] = std::move(payload);
  }
  for (const auto& [key, value] : options.search_attributes) {
    (*request->mutable_search_attributes()->mutable_indexed_fields())[key] = value.payload();
  }
  if (options.start_delay) {
    *request->mutable_workflow_start_delay() = internal::ToDuration(*options.start_delay);
  }
}

[[noreturn]] void ThrowStartError(const grpc::Status& status, std::string_view workflow_type,
                                  const WorkflowOptions& options) {
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    std::string run_id;
    google::rpc::Status rpc_status;
    if (rpc_status.ParseFromString(status.error_details())) {
      for (const auto& detail : rpc_status.details()) {
        temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure failure;
        if (detail.UnpackTo(&failure)) run_id = failure.run_id();
      }
    }
    throw WorkflowAlreadyStartedError(options.id, std::string(workflow_type), run_id);
  }
  internal::ThrowRpcError(status, "start workflow " + options.id, options.id);
}

}  // namespace

void Client::StartWorkflowPayloadsAsync(std::string_view workflow_type,
                                        const WorkflowOptions& options, converter::Payloads args,
                                        std::optional<SignalSpec> signal,
                                        internal::AsyncCallback<std::string> done) const {
  auto on_done = [done, workflow_type = std::string(workflow_type), options](
                     const grpc::Status& status, const std::string& run_id) {
    if (status.ok()) {
      done(nullptr, run_id);
      return;
    }
    try {
      ThrowStartError(status, workflow_type, options);
    } catch (...) {
      done(std::current_exception(), "");
    }
  };
  try {
    if (!signal) {
      internal::wsv1::StartWorkflowExecutionRequest request;
      FillStart(*core_, workflow_type, options, std::move(args), &request);
      core_->CallAsync<internal::wsv1::StartWorkflowExecutionRequest,
                       internal::wsv1::StartWorkflowExecutionResponse>(
          &internal::AsyncStub::StartWorkflowExecution, std::move(request),
          [on_done](const grpc::Status& status,
                    internal::wsv1::StartWorkflowExecutionResponse& response) {
            on_done(status, response.run_id());
          });
      return;
    }
    internal::wsv1::SignalWithStartWorkflowExecutionRequest request;
    FillStart(*core_, workflow_type, options, std::move(args), &request);
    request.set_signal_name(signal->name);
    data_converter().Encode(&signal->args);
    if (signal->args.payloads_size() > 0) *request.mutable_signal_input() = std::move(signal->args);
    core_->CallAsync<internal::wsv1::SignalWithStartWorkflowExecutionRequest,
                     internal::wsv1::SignalWithStartWorkflowExecutionResponse>(
        &internal::AsyncStub::SignalWithStartWorkflowExecution, std::move(request),
        [on_done](const grpc::Status& status,
                  internal::wsv1::SignalWithStartWorkflowExecutionResponse& response) {
          on_done(status, response.run_id());
        });
  } catch (...) {
    done(std::current_exception(), "");
  }
}

// ---------------------------------------------------------------------------
// List / Count.

WorkflowExecutionList Client::ListWorkflows(std::string query, int page_size) const {
  return WorkflowExecutionList(core_, std::move(query), page_size);
}

int64_t Client::CountWorkflows(std::string query) const {
  internal::wsv1::CountWorkflowExecutionsRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_query(std::move(query));
  internal::wsv1::CountWorkflowExecutionsResponse response;
  core_->CallOrThrow(&internal::Stub::CountWorkflowExecutions, request, &response,
                     "count workflows");
  return response.count();
}

WorkflowExecutionList::WorkflowExecutionList(std::shared_ptr<internal::ClientCore> core,
                                             std::string query, int page_size)
    : core_(std::move(core)), query_(std::move(query)), page_size_(page_size) {}

WorkflowExecutionList::Iterator WorkflowExecutionList::begin() {
  if (!started_) {
    started_ = true;
    index_ = 0;
    while (page_.empty() && !last_page_) FetchPage();
  }
  return Iterator(this);
}

bool WorkflowExecutionList::FetchPage() {
  internal::wsv1::ListWorkflowExecutionsRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_page_size(page_size_);
  request.set_next_page_token(next_page_token_);
  request.set_query(query_);
  internal::wsv1::ListWorkflowExecutionsResponse response;
  core_->CallOrThrow(&internal::Stub::ListWorkflowExecutions, request, &response, "list workflows");
  page_.clear();
  index_ = 0;
  for (const auto& info : response.executions()) {
    page_.push_back(internal::FromProto(info));
  }
  next_page_token_ = response.next_page_token();
  last_page_ = next_page_token_.empty();
  return !page_.empty();
}

void WorkflowExecutionList::Advance() {
  ++index_;
  while (index_ >= page_.size() && !last_page_) FetchPage();
}

const WorkflowExecution& WorkflowExecutionList::Iterator::operator*() const {
  return list_->page_[list_->index_];
}

WorkflowExecutionList::Iterator& WorkflowExecutionList::Iterator::operator++() {
  list_->Advance();
  return *this;
}

bool WorkflowExecutionList::Iterator::AtEnd() const {
  return list_ == nullptr || list_->index_ >= list_->page_.size();
}

// ---------------------------------------------------------------------------
// Async activity completion.

AsyncActivityHandle Client::GetAsyncActivityHandle(std::string task_token) const {
  return AsyncActivityHandle(core_, {.task_token = std::move(task_token)});
}

AsyncActivityHandle Client::GetAsyncActivityHandle(std::string workflow_id, std::string run_id,
                                                   std::string activity_id) const {
  return AsyncActivityHandle(core_, {.workflow_id = std::move(workflow_id),
                                     .run_id = std::move(run_id),
                                     .activity_id = std::move(activity_id)});
}

AsyncActivityHandle::AsyncActivityHandle(std::shared_ptr<internal::ClientCore> core,
                                         ActivityRef ref)
    : core_(std::move(core)), ref_(std::move(ref)) {}

const converter::DataConverter& AsyncActivityHandle::data_converter() const {
  return core_->data_converter();
}

void AsyncActivityHandle::CompletePayloads(converter::Payloads result) const {
  data_converter().Encode(&result);
  if (!ref_.task_token.empty()) {
    internal::wsv1::RespondActivityTaskCompletedRequest request;
    request.set_namespace_(core_->namespace_());
    request.set_task_token(ref_.task_token);
    if (result.payloads_size() > 0) *request.mutable_result() = std::move(result);
    request.set_identity(core_->identity());
    internal::wsv1::RespondActivityTaskCompletedResponse response;
    core_->CallOrThrow(&internal::Stub::RespondActivityTaskCompleted, request, &response,
                       "complete activity");
    return;
  }
  internal::wsv1::RespondActivityTaskCompletedByIdRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_workflow_id(ref_.workflow_id);
  request.set_run_id(ref_.run_id);
  request.set_activity_id(ref_.activity_id);
  if (result.payloads_size() > 0) *request.mutable_result() = std::move(result);
  request.set_identity(core_->identity());
  internal::wsv1::RespondActivityTaskCompletedByIdResponse response;
  core_->CallOrThrow(&internal::Stub::RespondActivityTaskCompletedById, request, &response,
                     "complete activity");
}

void AsyncActivityHandle::Fail(std::exception_ptr error) const {
  converter::Failure failure = data_converter().ToFailure(error);
  data_converter().EncodeFailure(&failure);
  if (!ref_.task_token.empty()) {
    internal::wsv1::RespondActivityTaskFailedRequest request;
    request.set_namespace_(core_->namespace_());
    request.set_task_token(ref_.task_token);
    *request.mutable_failure() = std::move(failure);
    request.set_identity(core_->identity());
    internal::wsv1::RespondActivityTaskFailedResponse response;
    core_->CallOrThrow(&internal::Stub::RespondActivityTaskFailed, request, &response,
                       "fail activity");
    return;
  }
  internal::wsv1::RespondActivityTaskFailedByIdRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_workflow_id(ref_.workflow_id);
  request.set_run_id(ref_.run_id);
  request.set_activity_id(ref_.activity_id);
  *request.mutable_failure() = std::move(failure);
  request.set_identity(core_->identity());
  internal::wsv1::RespondActivityTaskFailedByIdResponse response;
  core_->CallOrThrow(&internal::Stub::RespondActivityTaskFailedById, request, &response,
                     "fail activity");
}

bool AsyncActivityHandle::HeartbeatPayloads(converter::Payloads details) const {
  data_converter().Encode(&details);
  if (!ref_.task_token.empty()) {
    internal::wsv1::RecordActivityTaskHeartbeatRequest request;
    request.set_namespace_(core_->namespace_());
    request.set_task_token(ref_.task_token);
    if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
    request.set_identity(core_->identity());
    internal::wsv1::RecordActivityTaskHeartbeatResponse response;
    core_->CallOrThrow(&internal::Stub::RecordActivityTaskHeartbeat, request, &response,
                       "heartbeat activity");
    return response.cancel_requested();
  }
  internal::wsv1::RecordActivityTaskHeartbeatByIdRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_workflow_id(ref_.workflow_id);
  request.set_run_id(ref_.run_id);
  request.set_activity_id(ref_.activity_id);
  if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
  request.set_identity(core_->identity());
  internal::wsv1::RecordActivityTaskHeartbeatByIdResponse response;
  core_->CallOrThrow(&internal::Stub::RecordActivityTaskHeartbeatById, request, &response,
                     "heartbeat activity");
  return response.cancel_requested();
}

void AsyncActivityHandle::ReportCancellationPayloads(converter::Payloads details) const {
  data_converter().Encode(&details);
  if (!ref_.task_token.empty()) {
    internal::wsv1::RespondActivityTaskCanceledRequest request;
    request.set_namespace_(core_->namespace_());
    request.set_task_token(ref_.task_token);
    if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
    request.set_identity(core_->identity());
    internal::wsv1::RespondActivityTaskCanceledResponse response;
    core_->CallOrThrow(&internal::Stub::RespondActivityTaskCanceled, request, &response,
                       "report activity cancellation");
    return;
  }
  internal::wsv1::RespondActivityTaskCanceledByIdRequest request;
  request.set_namespace_(core_->namespace_());
  request.set_workflow_id(ref_.workflow_id);
  request.set_run_id(ref_.run_id);
  request.set_activity_id(ref_.activity_id);
  if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
  request.set_identity(core_->identity());
  internal::wsv1::RespondActivityTaskCanceledByIdResponse response;
  core_->CallOrThrow(&internal::Stub::RespondActivityTaskCanceledById, request, &response,
                     "report activity cancellation");
}

}  // namespace temporalio::client
