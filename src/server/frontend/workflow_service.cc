#include "server/frontend/workflow_service.h"

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>
#include <chrono>

#include "server/errors.h"

namespace temporalio::server::frontend {
namespace {

common::TimePoint Deadline(grpc::CallbackServerContext* context) {
  auto d = context->deadline();
  // No deadline: gRPC reports the far future; clamp to something sane.
  auto cap = std::chrono::system_clock::now() + std::chrono::hours(24);
  return d > cap ? cap : d;
}

// Task counters, from what a successful call returned.
template <class Response>
void CountTasks(Metrics&, const Response&) {}
void CountTasks(Metrics& m, const wsv1::PollWorkflowTaskQueueResponse& r) {
  if (!r.task_token().empty()) m.Record(Metrics::Event::kWorkflowTaskStarted);
}
void CountTasks(Metrics& m, const wsv1::PollActivityTaskQueueResponse& r) {
  if (!r.task_token().empty()) m.Record(Metrics::Event::kActivityTaskStarted);
}
void CountTasks(Metrics& m, const wsv1::StartWorkflowExecutionResponse& r) {
  if (r.started()) m.Record(Metrics::Event::kWorkflowStarted);
}
void CountTasks(Metrics& m, const wsv1::SignalWithStartWorkflowExecutionResponse& r) {
  if (r.started()) m.Record(Metrics::Event::kWorkflowStarted);
}
void CountTasks(Metrics& m, const wsv1::RespondWorkflowTaskCompletedResponse&) {
  m.Record(Metrics::Event::kWorkflowTaskCompleted);
}
void CountTasks(Metrics& m, const wsv1::RespondWorkflowTaskFailedResponse&) {
  m.Record(Metrics::Event::kWorkflowTaskFailed);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskCompletedResponse&) {
  m.Record(Metrics::Event::kActivityTaskCompleted);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskCompletedByIdResponse&) {
  m.Record(Metrics::Event::kActivityTaskCompleted);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskFailedResponse&) {
  m.Record(Metrics::Event::kActivityTaskFailed);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskFailedByIdResponse&) {
  m.Record(Metrics::Event::kActivityTaskFailed);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskCanceledResponse&) {
  m.Record(Metrics::Event::kActivityTaskCanceled);
}
void CountTasks(Metrics& m, const wsv1::RespondActivityTaskCanceledByIdResponse&) {
  m.Record(Metrics::Event::kActivityTaskCanceled);
}

// Finishes the call with the engine's outcome, counting it first.
template <class Response>
history::Done FinishWith(grpc::ServerUnaryReactor* reactor, Metrics* metrics, const char* operation,
                         const Response* response) {
  return [reactor, metrics, operation, response](absl::Status status) {
    if (metrics) {
      metrics->RecordRequest("frontend", operation, status);
      if (status.ok()) CountTasks(*metrics, *response);
    }
    reactor->Finish(ToGrpcStatus(status));
  };
}

// Puts a call's request and response on one protobuf arena, whose first block
// is part of the holder: parsing the request and building the response (a
// polled task's history, a completion's commands and payloads) allocate from
// it, and the whole call is freed at once instead of field by field.
template <class Request, class Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(initial_block_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    // Most calls (a hello workflow's tasks with 1 KiB payloads) fit.
    static constexpr size_t kInitialBlock = 8192;
    static google::protobuf::ArenaOptions Options(char* block) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = kInitialBlock;
      options.start_block_size = kInitialBlock;
      return options;
    }
    alignas(16) char initial_block_[kInitialBlock];
    google::protobuf::Arena arena_;
  };
};

}  // namespace

WorkflowService::WorkflowService(history::Engine* engine, std::string server_version,
                                 Metrics* metrics)
    : engine_(engine), server_version_(std::move(server_version)), metrics_(metrics) {
#ifdef NDEBUG
  // Release builds only: in a debug build of our code against Debian's
  // (release) libprotobuf 3.21, destroying an arena that holds a map field
  // (every Payload's metadata) crashes inside protobuf, whose debug
  // MapFieldLite::Destruct in the headers does not match the library's
  // release code. The sanitizer presets (CI's) are debug builds, so only the
  // release preset's tests (and every benchmark) run these calls through an
  // arena; valgrind finds nothing there.
#define TEMPORALIO_ARENA(Name)                                                                \
  do {                                                                                        \
    auto allocator =                                                                          \
        std::make_shared<ArenaMessageAllocator<wsv1::Name##Request, wsv1::Name##Response>>(); \
    SetMessageAllocatorFor_##Name(allocator.get());                                           \
    allocators_.push_back(std::move(allocator));                                              \
  } while (false)
  // The calls every workflow makes, and history reads.
  TEMPORALIO_ARENA(StartWorkflowExecution);
  TEMPORALIO_ARENA(SignalWorkflowExecution);
  TEMPORALIO_ARENA(SignalWithStartWorkflowExecution);
  TEMPORALIO_ARENA(GetWorkflowExecutionHistory);
  TEMPORALIO_ARENA(PollWorkflowTaskQueue);
  TEMPORALIO_ARENA(PollActivityTaskQueue);
  TEMPORALIO_ARENA(RespondWorkflowTaskCompleted);
  TEMPORALIO_ARENA(RespondWorkflowTaskFailed);
  TEMPORALIO_ARENA(RespondActivityTaskCompleted);
  TEMPORALIO_ARENA(RespondActivityTaskFailed);
  TEMPORALIO_ARENA(RecordActivityTaskHeartbeat);
  TEMPORALIO_ARENA(QueryWorkflow);
  TEMPORALIO_ARENA(RespondQueryTaskCompleted);
#undef TEMPORALIO_ARENA
#endif
}

grpc::ServerUnaryReactor* WorkflowService::GetSystemInfo(grpc::CallbackServerContext* context,
                                                         const wsv1::GetSystemInfoRequest*,
                                                         wsv1::GetSystemInfoResponse* response) {
  response->set_server_version(server_version_);
  auto* caps = response->mutable_capabilities();
  caps->set_signal_and_query_header(true);
  caps->set_internal_error_differentiation(true);
  caps->set_activity_failure_include_heartbeat(true);
  caps->set_supports_schedules(false);
  caps->set_encoded_failure_attributes(true);
  caps->set_build_id_based_versioning(false);
  caps->set_upsert_memo(true);
  caps->set_eager_workflow_start(false);
  caps->set_sdk_metadata(true);
  caps->set_count_group_by_execution_status(false);
  caps->set_nexus(false);
  if (metrics_) metrics_->RecordRequest("frontend", "GetSystemInfo", absl::OkStatus());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkflowService::GetClusterInfo(grpc::CallbackServerContext* context,
                                                          const wsv1::GetClusterInfoRequest*,
                                                          wsv1::GetClusterInfoResponse* response) {
  response->set_server_version(server_version_);
  response->set_cluster_name("active");
  response->set_cluster_id("temporalio-cpp-dev-server");
  response->set_history_shard_count(1);
  response->set_persistence_store("sqlite");
  response->set_visibility_store("sqlite");
  (*response->mutable_supported_clients())["temporal-cli"] = ">=0.1.0";
  if (metrics_) metrics_->RecordRequest("frontend", "GetClusterInfo", absl::OkStatus());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

#define TEMPORALIO_FORWARD(Name)                                                        \
  grpc::ServerUnaryReactor* WorkflowService::Name(grpc::CallbackServerContext* context, \
                                                  const wsv1::Name##Request* request,   \
                                                  wsv1::Name##Response* response) {     \
    auto* reactor = context->DefaultReactor();                                          \
    engine_->Name(*request, response, FinishWith(reactor, metrics_, #Name, response));  \
    return reactor;                                                                     \
  }

#define TEMPORALIO_FORWARD_DEADLINE(Name)                                               \
  grpc::ServerUnaryReactor* WorkflowService::Name(grpc::CallbackServerContext* context, \
                                                  const wsv1::Name##Request* request,   \
                                                  wsv1::Name##Response* response) {     \
    auto* reactor = context->DefaultReactor();                                          \
    engine_->Name(*request, response, Deadline(context),                                \
                  FinishWith(reactor, metrics_, #Name, response));                      \
    return reactor;                                                                     \
  }

#define TEMPORALIO_FORWARD_POLL(Name)                                                   \
  grpc::ServerUnaryReactor* WorkflowService::Name(grpc::CallbackServerContext* context, \
                                                  const wsv1::Name##Request* request,   \
                                                  wsv1::Name##Response* response) {     \
    auto* reactor = context->DefaultReactor();                                          \
    engine_->Name(*request, response, Deadline(context),                                \
                  FinishWith(reactor, metrics_, #Name, response),                       \
                  [context] { return context->IsCancelled(); });                        \
    return reactor;                                                                     \
  }

TEMPORALIO_FORWARD(RegisterNamespace)
TEMPORALIO_FORWARD(DescribeNamespace)
TEMPORALIO_FORWARD(ListNamespaces)
TEMPORALIO_FORWARD(UpdateNamespace)
TEMPORALIO_FORWARD(StartWorkflowExecution)
TEMPORALIO_FORWARD(SignalWorkflowExecution)
TEMPORALIO_FORWARD(SignalWithStartWorkflowExecution)
TEMPORALIO_FORWARD(RequestCancelWorkflowExecution)
TEMPORALIO_FORWARD(TerminateWorkflowExecution)
TEMPORALIO_FORWARD_DEADLINE(QueryWorkflow)
TEMPORALIO_FORWARD_DEADLINE(UpdateWorkflowExecution)
TEMPORALIO_FORWARD_DEADLINE(PollWorkflowExecutionUpdate)
TEMPORALIO_FORWARD_DEADLINE(GetWorkflowExecutionHistory)
TEMPORALIO_FORWARD(GetWorkflowExecutionHistoryReverse)
TEMPORALIO_FORWARD(DescribeWorkflowExecution)
TEMPORALIO_FORWARD(ListWorkflowExecutions)
TEMPORALIO_FORWARD(CountWorkflowExecutions)
TEMPORALIO_FORWARD(DescribeTaskQueue)
TEMPORALIO_FORWARD_POLL(PollWorkflowTaskQueue)
TEMPORALIO_FORWARD_POLL(PollActivityTaskQueue)
TEMPORALIO_FORWARD(RespondWorkflowTaskCompleted)
TEMPORALIO_FORWARD(RespondWorkflowTaskFailed)
TEMPORALIO_FORWARD(RespondQueryTaskCompleted)
TEMPORALIO_FORWARD(RecordActivityTaskHeartbeat)
TEMPORALIO_FORWARD(RecordActivityTaskHeartbeatById)
TEMPORALIO_FORWARD(RespondActivityTaskCompleted)
TEMPORALIO_FORWARD(RespondActivityTaskCompletedById)
TEMPORALIO_FORWARD(RespondActivityTaskFailed)
TEMPORALIO_FORWARD(RespondActivityTaskFailedById)
TEMPORALIO_FORWARD(RespondActivityTaskCanceled)
TEMPORALIO_FORWARD(RespondActivityTaskCanceledById)
TEMPORALIO_FORWARD(ResetStickyTaskQueue)
TEMPORALIO_FORWARD(ShutdownWorker)
TEMPORALIO_FORWARD(GetSearchAttributes)
TEMPORALIO_FORWARD(DeleteWorkflowExecution)

}  // namespace temporalio::server::frontend
