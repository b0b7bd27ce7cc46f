// temporal.api.workflowservice.v1.WorkflowService on gRPC's callback API:
// parked long polls hold no thread. Thin: decodes the call, hands it to the
// history engine, turns its status into a gRPC status with error details.
#ifndef TEMPORALIO_SERVER_FRONTEND_WORKFLOW_SERVICE_H_
#define TEMPORALIO_SERVER_FRONTEND_WORKFLOW_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "server/history/engine.h"
#include "server/metrics.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace temporalio::server::frontend {

namespace wsv1 = temporal::api::workflowservice::v1;

// Thread-safe; `engine` (and `metrics`, which may be null) must outlive it.
class WorkflowService final : public wsv1::WorkflowService::CallbackService {
 public:
  WorkflowService(history::Engine* engine, std::string server_version, Metrics* metrics = nullptr);

#define TEMPORALIO_RPC(Name)                                           \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context, \
                                 const wsv1::Name##Request* request,   \
                                 wsv1::Name##Response* response) override;
  TEMPORALIO_RPC(GetSystemInfo)
  TEMPORALIO_RPC(GetClusterInfo)
  TEMPORALIO_RPC(RegisterNamespace)
  TEMPORALIO_RPC(DescribeNamespace)
  TEMPORALIO_RPC(ListNamespaces)
  TEMPORALIO_RPC(UpdateNamespace)
  TEMPORALIO_RPC(StartWorkflowExecution)
  TEMPORALIO_RPC(SignalWorkflowExecution)
  TEMPORALIO_RPC(SignalWithStartWorkflowExecution)
  TEMPORALIO_RPC(RequestCancelWorkflowExecution)
  TEMPORALIO_RPC(TerminateWorkflowExecution)
  TEMPORALIO_RPC(QueryWorkflow)
  TEMPORALIO_RPC(UpdateWorkflowExecution)
  TEMPORALIO_RPC(PollWorkflowExecutionUpdate)
  TEMPORALIO_RPC(GetWorkflowExecutionHistory)
  TEMPORALIO_RPC(GetWorkflowExecutionHistoryReverse)
  TEMPORALIO_RPC(DescribeWorkflowExecution)
  TEMPORALIO_RPC(ListWorkflowExecutions)
  TEMPORALIO_RPC(CountWorkflowExecutions)
  TEMPORALIO_RPC(DescribeTaskQueue)
  TEMPORALIO_RPC(PollWorkflowTaskQueue)
  TEMPORALIO_RPC(PollActivityTaskQueue)
  TEMPORALIO_RPC(RespondWorkflowTaskCompleted)
  TEMPORALIO_RPC(RespondWorkflowTaskFailed)
  TEMPORALIO_RPC(RespondQueryTaskCompleted)
  TEMPORALIO_RPC(RecordActivityTaskHeartbeat)
  TEMPORALIO_RPC(RecordActivityTaskHeartbeatById)
  TEMPORALIO_RPC(RespondActivityTaskCompleted)
  TEMPORALIO_RPC(RespondActivityTaskCompletedById)
  TEMPORALIO_RPC(RespondActivityTaskFailed)
  TEMPORALIO_RPC(RespondActivityTaskFailedById)
  TEMPORALIO_RPC(RespondActivityTaskCanceled)
  TEMPORALIO_RPC(RespondActivityTaskCanceledById)
  TEMPORALIO_RPC(ResetStickyTaskQueue)
  TEMPORALIO_RPC(ShutdownWorker)
  TEMPORALIO_RPC(GetSearchAttributes)
  TEMPORALIO_RPC(DeleteWorkflowExecution)
#undef TEMPORALIO_RPC

 private:
  history::Engine* engine_;
  // The per-method allocators that put each call's request and response on
  // a protobuf arena; they must outlive the server, as this service does.
  std::vector<std::shared_ptr<void>> allocators_;
  std::string server_version_;
  Metrics* metrics_;
};

}  // namespace temporalio::server::frontend

#endif  // TEMPORALIO_SERVER_FRONTEND_WORKFLOW_SERVICE_H_
