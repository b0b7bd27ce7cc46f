// Internal: the workflow half of worker::Worker. Polls a task queue for
// workflow tasks and runs them with the registered workflow definitions,
// over the client's connection (namespace, identity, metadata, DataConverter).
//
// Behaviour:
//  - Polls the normal task queue and (with a cache) a per-worker sticky
//    queue; long polls have a 70 s deadline. Polls and completions use
//    gRPC's callback API: a slot (max_concurrent_workflow_tasks) is taken
//    from the poll until the server has answered the task's completion, but
//    no thread waits meanwhile. A few executor threads run the polled tasks
//    (workflow code and encoding); tasks of one run are serialized.
//  - Caches up to max_cached_workflows runs (LRU). With 0 every task is
//    replayed from the full history (fetched with GetWorkflowExecutionHistory
//    when the poll returned a partial one). A run is evicted when it closes,
//    when its task fails or when the server rejects the completion.
//  - Payload codecs are applied to every payload of the polled history
//    (decode) and of the commands and query answers (encode).
//  - Answers legacy query tasks (RespondQueryTaskCompleted) and queries
//    attached to workflow tasks (query_results).
//  - Fails the workflow task (RespondWorkflowTaskFailed; only on attempt 1,
//    as sdk-core does) on non-determinism (cause NON_DETERMINISTIC_ERROR), on
//    a non-Temporal exception from workflow code, and when an activation
//    does not yield within deadlock_timeout. A deadlocked thread cannot be
//    interrupted: its run is abandoned and the thread is detached at
//    shutdown if still stuck.
//  - Eager activities: ScheduleActivityTask commands for this task queue
//    keep request_eager_execution (up to 3 per task, as sdk-core) only when
//    an activity slot could be reserved; activity_tasks in the reply run in
//    those slots, unused ones are given back.
//  - Shutdown() stops polling, cancels outstanding polls and waits for tasks
//    in progress. Idempotent; the destructor calls it.
// Thread-safe: Start/Shutdown may be called from any thread.
#ifndef TEMPORALIO_SDK_WORKFLOW_WORKFLOW_WORKER_H_
#define TEMPORALIO_SDK_WORKFLOW_WORKFLOW_WORKER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "temporalio/workflow/registry.h"

namespace temporalio::client::internal {
class ClientCore;
}  // namespace temporalio::client::internal

namespace temporal::api::workflowservice::v1 {
class PollActivityTaskQueueResponse;
}  // namespace temporal::api::workflowservice::v1

namespace temporalio::workflow::internal {

// The activity side of the same worker, for eager activity execution.
struct EagerActivitySlots {
  // Takes an activity slot if one is free.
  std::function<bool()> try_reserve;
  // Gives back a reserved slot the server did not use.
  std::function<void()> release;
  // Runs a task the server started eagerly, in a reserved slot.
  std::function<void(
      std::unique_ptr<temporal::api::workflowservice::v1::PollActivityTaskQueueResponse>)>
      start;
};

struct WorkflowWorkerOptions {
  std::string task_queue;
  // Empty = the client's identity.
  std::string identity;
  std::shared_ptr<const WorkflowRegistry> registry;
  size_t max_cached_workflows = 1000;
  // Workflow tasks in progress at once, counting outstanding polls and
  // completions awaiting the server's reply.
  int max_concurrent_workflow_tasks = 2;
  // Outstanding polls at most (within the slots above). 0 = one per slot.
  int workflow_pollers = 0;
  // Threads running workflow code. 0 = max(2, hardware threads), at most
  // one per slot.
  int workflow_task_executors = 0;
  std::chrono::milliseconds deadlock_timeout{2000};
  std::chrono::milliseconds sticky_schedule_to_start_timeout{10000};
  std::chrono::milliseconds poll_timeout{70000};
  // Unset: activities always go through the task queue.
  std::optional<EagerActivitySlots> eager_activities;
};

class WorkflowWorkerImpl;

class WorkflowWorker {
 public:
  WorkflowWorker(std::shared_ptr<client::internal::ClientCore> core, WorkflowWorkerOptions options);
  ~WorkflowWorker();
  WorkflowWorker(const WorkflowWorker&) = delete;
  WorkflowWorker& operator=(const WorkflowWorker&) = delete;

  // Starts the poller threads. Throws std::logic_error if called twice.
  void Start();
  void Shutdown();
  // The sticky queue name of this worker ("" when the cache is disabled).
  const std::string& sticky_task_queue() const;

 private:
  std::unique_ptr<WorkflowWorkerImpl> impl_;
};

}  // namespace temporalio::workflow::internal

#endif  // TEMPORALIO_SDK_WORKFLOW_WORKFLOW_WORKER_H_
