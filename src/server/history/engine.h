// The dev server's core: namespaces, workflow executions (mutable state +
// history), task queues and timers, behind one lock. Every mutation is written
// through the Store; callers get their reply only once it is durable, and
// tasks reach pollers only once the state that produced them is durable.
#ifndef TEMPORALIO_SERVER_HISTORY_ENGINE_H_
#define TEMPORALIO_SERVER_HISTORY_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "server/persistence/store.h"
#include "temporal/api/enums/v1/common.pb.h"
#include "temporal/api/operatorservice/v1/request_response.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace temporalio::server::history {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace osv1 = temporal::api::operatorservice::v1;

// Runs once with the outcome. The response object given with the request must
// stay alive until then (the gRPC reactor owns both).
using Done = std::function<void(absl::Status)>;

struct EngineOptions {
  // Namespaces registered at start-up (besides "default", which always exists).
  std::vector<std::string> namespaces;
  // Custom search attributes registered at start-up in "default" and
  // `namespaces` (`temporal server start-dev --search-attribute`). Start()
  // fails if one is invalid or exists with another type.
  std::vector<std::pair<std::string, temporal::api::enums::v1::IndexedValueType>> search_attributes;
  // Largest payload blob accepted (the real server's default: 2 MiB).
  int64_t blob_size_limit = int64_t{2} * 1024 * 1024;
  // How long a long poll is held at most before an empty reply.
  std::chrono::milliseconds max_poll_wait = std::chrono::seconds(60);
  // Long poll on history (wait_new_event) is answered empty after this.
  std::chrono::milliseconds history_long_poll = std::chrono::seconds(20);
  // Idle runs (nothing in flight) untouched for `idle_sweep_ticks` sweeps are
  // kept serialized in memory until next used; a sweep runs every interval.
  std::chrono::milliseconds idle_sweep_interval = std::chrono::seconds(1);
  uint32_t idle_sweep_ticks = 3;
};

class EngineImpl;

// Thread-safe. All methods return at once; the outcome arrives through Done,
// possibly on another thread (the store's writer or the timer thread).
class Engine {
 public:
  // `store` and `clock` must outlive the engine.
  Engine(persistence::Store* store, const common::Clock* clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads namespaces and executions from the store, rebuilds task queues and
  // timers, and registers configured namespaces. Call once before serving.
  absl::Status Start();
  // Fails parked polls and stops timers; later calls fail with UNAVAILABLE.
  void Shutdown();
  // Runs currently kept serialized (idle); for tests and benchmarks.
  size_t FrozenRuns();
  // Times a frozen run was thawed (its history read back from the store).
  uint64_t ThawedRuns();
  // Activities started eagerly (in a workflow task completion's reply) so far.
  uint64_t EagerActivities();

  // Namespaces.
  void RegisterNamespace(const wsv1::RegisterNamespaceRequest& req,
                         wsv1::RegisterNamespaceResponse* resp, Done done);
  void DescribeNamespace(const wsv1::DescribeNamespaceRequest& req,
                         wsv1::DescribeNamespaceResponse* resp, Done done);
  void ListNamespaces(const wsv1::ListNamespacesRequest& req, wsv1::ListNamespacesResponse* resp,
                      Done done);
  void UpdateNamespace(const wsv1::UpdateNamespaceRequest& req, wsv1::UpdateNamespaceResponse* resp,
                       Done done);

  // Workflow lifecycle.
  void StartWorkflowExecution(const wsv1::StartWorkflowExecutionRequest& req,
                              wsv1::StartWorkflowExecutionResponse* resp, Done done);
  void SignalWorkflowExecution(const wsv1::SignalWorkflowExecutionRequest& req,
                               wsv1::SignalWorkflowExecutionResponse* resp, Done done);
  void SignalWithStartWorkflowExecution(const wsv1::SignalWithStartWorkflowExecutionRequest& req,
                                        wsv1::SignalWithStartWorkflowExecutionResponse* resp,
                                        Done done);
  void RequestCancelWorkflowExecution(const wsv1::RequestCancelWorkflowExecutionRequest& req,
                                      wsv1::RequestCancelWorkflowExecutionResponse* resp,
                                      Done done);
  void TerminateWorkflowExecution(const wsv1::TerminateWorkflowExecutionRequest& req,
                                  wsv1::TerminateWorkflowExecutionResponse* resp, Done done);
  // `deadline`: the caller's; the query waits for a worker until then.
  void QueryWorkflow(const wsv1::QueryWorkflowRequest& req, wsv1::QueryWorkflowResponse* resp,
                     common::TimePoint deadline, Done done);

  // Workflow updates. `deadline`: the caller's; without one the wait is
  // capped at the server's long-poll interval and the reached stage returned.
  void UpdateWorkflowExecution(const wsv1::UpdateWorkflowExecutionRequest& req,
                               wsv1::UpdateWorkflowExecutionResponse* resp,
                               common::TimePoint deadline, Done done);
  void PollWorkflowExecutionUpdate(const wsv1::PollWorkflowExecutionUpdateRequest& req,
                                   wsv1::PollWorkflowExecutionUpdateResponse* resp,
                                   common::TimePoint deadline, Done done);

  // Reads.
  void GetWorkflowExecutionHistory(const wsv1::GetWorkflowExecutionHistoryRequest& req,
                                   wsv1::GetWorkflowExecutionHistoryResponse* resp,
                                   common::TimePoint deadline, Done done);
  void GetWorkflowExecutionHistoryReverse(
      const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
      wsv1::GetWorkflowExecutionHistoryReverseResponse* resp, Done done);
  void DescribeWorkflowExecution(const wsv1::DescribeWorkflowExecutionRequest& req,
                                 wsv1::DescribeWorkflowExecutionResponse* resp, Done done);
  void ListWorkflowExecutions(const wsv1::ListWorkflowExecutionsRequest& req,
                              wsv1::ListWorkflowExecutionsResponse* resp, Done done);
  void CountWorkflowExecutions(const wsv1::CountWorkflowExecutionsRequest& req,
                               wsv1::CountWorkflowExecutionsResponse* resp, Done done);
  void DescribeTaskQueue(const wsv1::DescribeTaskQueueRequest& req,
                         wsv1::DescribeTaskQueueResponse* resp, Done done);

  // Workers. `client_gone` (may be empty) tells whether the client
  // cancelled the poll: asked, under the engine lock, before a task is
  // handed to the poll, which is then ended with CANCELLED instead.
  void PollWorkflowTaskQueue(const wsv1::PollWorkflowTaskQueueRequest& req,
                             wsv1::PollWorkflowTaskQueueResponse* resp, common::TimePoint deadline,
                             Done done, std::function<bool()> client_gone = nullptr);
  void PollActivityTaskQueue(const wsv1::PollActivityTaskQueueRequest& req,
                             wsv1::PollActivityTaskQueueResponse* resp, common::TimePoint deadline,
                             Done done, std::function<bool()> client_gone = nullptr);
  void RespondWorkflowTaskCompleted(const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                    wsv1::RespondWorkflowTaskCompletedResponse* resp, Done done);
  void RespondWorkflowTaskFailed(const wsv1::RespondWorkflowTaskFailedRequest& req,
                                 wsv1::RespondWorkflowTaskFailedResponse* resp, Done done);
  void RespondQueryTaskCompleted(const wsv1::RespondQueryTaskCompletedRequest& req,
                                 wsv1::RespondQueryTaskCompletedResponse* resp, Done done);
  void RecordActivityTaskHeartbeat(const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                   wsv1::RecordActivityTaskHeartbeatResponse* resp, Done done);
  void RecordActivityTaskHeartbeatById(const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
                                       wsv1::RecordActivityTaskHeartbeatByIdResponse* resp,
                                       Done done);
  void RespondActivityTaskCompleted(const wsv1::RespondActivityTaskCompletedRequest& req,
                                    wsv1::RespondActivityTaskCompletedResponse* resp, Done done);
  void RespondActivityTaskCompletedById(const wsv1::RespondActivityTaskCompletedByIdRequest& req,
                                        wsv1::RespondActivityTaskCompletedByIdResponse* resp,
                                        Done done);
  void RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& req,
                                 wsv1::RespondActivityTaskFailedResponse* resp, Done done);
  void RespondActivityTaskFailedById(const wsv1::RespondActivityTaskFailedByIdRequest& req,
                                     wsv1::RespondActivityTaskFailedByIdResponse* resp, Done done);
  void RespondActivityTaskCanceled(const wsv1::RespondActivityTaskCanceledRequest& req,
                                   wsv1::RespondActivityTaskCanceledResponse* resp, Done done);
  void RespondActivityTaskCanceledById(const wsv1::RespondActivityTaskCanceledByIdRequest& req,
                                       wsv1::RespondActivityTaskCanceledByIdResponse* resp,
                                       Done done);
  void ResetStickyTaskQueue(const wsv1::ResetStickyTaskQueueRequest& req,
                            wsv1::ResetStickyTaskQueueResponse* resp, Done done);
  void ShutdownWorker(const wsv1::ShutdownWorkerRequest& req, wsv1::ShutdownWorkerResponse* resp,
                      Done done);

  // Search attributes (OperatorService; per namespace, persisted). Add:
  // INVALID_ARGUMENT for a bad name/type, a system name or too many of one
  // type; ALREADY_EXISTS when registered with another type (same type: no-op).
  // Remove: INVALID_ARGUMENT for system attributes, NOT_FOUND for unknown ones.
  void AddSearchAttributes(const osv1::AddSearchAttributesRequest& req,
                           osv1::AddSearchAttributesResponse* resp, Done done);
  void RemoveSearchAttributes(const osv1::RemoveSearchAttributesRequest& req,
                              osv1::RemoveSearchAttributesResponse* resp, Done done);
  void ListSearchAttributes(const osv1::ListSearchAttributesRequest& req,
                            osv1::ListSearchAttributesResponse* resp, Done done);
  // System attributes plus every namespace's custom ones.
  void GetSearchAttributes(const wsv1::GetSearchAttributesRequest& req,
                           wsv1::GetSearchAttributesResponse* resp, Done done);

  // Terminates the run if open, then deletes its state, history and
  // visibility record; NOT_FOUND for an unknown run. Waiters on the run
  // (history long polls, queries) then fail with NOT_FOUND.
  void DeleteWorkflowExecution(const wsv1::DeleteWorkflowExecutionRequest& req,
                               wsv1::DeleteWorkflowExecutionResponse* resp, Done done);

 private:
  std::unique_ptr<EngineImpl> impl_;
};

}  // namespace temporalio::server::history

#endif  // TEMPORALIO_SERVER_HISTORY_ENGINE_H_
