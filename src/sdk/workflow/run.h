// WorkflowRun: one workflow run's deterministic executor. It implements the
// core's ActivationHandler (jobs -> workflow code) and the workflow API's
// Runtime (workflow code -> commands), on top of core::WorkflowMachines.
//
// Single-threaded: every call must come from one thread at a time (the
// worker serializes tasks of a run). While an activation runs, the run is
// the thread's current runtime (workflow::detail::Current()).
#ifndef TEMPORALIO_SDK_WORKFLOW_RUN_H_
#define TEMPORALIO_SDK_WORKFLOW_RUN_H_

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sdk/core/workflow_machines.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/workflow/errors.h"
#include "temporalio/workflow/registry.h"
#include "temporalio/workflow/workflow.h"

namespace temporalio::workflow::internal {

struct RunParams {
  std::string namespace_;
  std::string workflow_id;
  std::string run_id;
  std::shared_ptr<const WorkflowRegistry> registry;
  const converter::DataConverter* data_converter = &converter::DataConverter::Default();
};

class WorkflowRun final : public core::ActivationHandler, public detail::Runtime {
 public:
  explicit WorkflowRun(RunParams params);
  ~WorkflowRun() override;

  // Feeds history and runs the activations it contains. Throws
  // NondeterminismError, WorkflowTaskError (unknown workflow type, workflow
  // code threw a non-Temporal exception, ...).
  void Feed(const std::vector<core::HistoryEvent>& events) { machines_.Feed(events); }
  void Feed(const google::protobuf::RepeatedPtrField<core::HistoryEvent>& events) {
    machines_.Feed(events);
  }
  std::vector<core::Command> Commands() const { return machines_.CommandsToSend(); }
  // Moves the commands out (see WorkflowMachines::TakeCommandsToSend).
  std::vector<core::Command> TakeCommands() { return machines_.TakeCommandsToSend(); }
  int64_t last_event_id() const { return machines_.last_event_id(); }
  bool closed() const { return machines_.closed(); }
  void FinishReplay() const { machines_.FinishReplay(); }
  // Runs a query handler; throws on unknown query or handler failure.
  converter::Payload Query(const std::string& name, const converter::Payloads& args);
  // steady_clock nanoseconds when the running activation began, 0 when idle
  // (read by the worker's deadlock detector from another thread).
  int64_t activation_started_ns() const { return activation_started_ns_.load(); }

  // core::ActivationHandler
  void Activate(const core::ActivationInfo& info, std::vector<core::Job> jobs) override;

  // detail::Runtime
  std::shared_ptr<detail::PendingState> StartTimer(std::chrono::milliseconds duration,
                                                   int64_t* seq) override;
  void CancelTimer(int64_t seq) override;
  std::shared_ptr<detail::PendingState> StartActivity(const detail::ActivityRequest& options,
                                                      int64_t* seq) override;
  void CancelActivity(int64_t seq) override;
  std::shared_ptr<detail::PendingState> WaitCondition(
      std::function<bool()> condition, std::optional<std::chrono::milliseconds> timeout) override;
  void Resolve(const std::shared_ptr<detail::PendingState>& state) override;
  void Spawn(Task<void> task) override;
  const WorkflowInfo& Info() const override { return info_; }
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::mt19937_64& Random() override {
    // Created on first use: the engine is 2.5 KB, most workflows never draw
    // from it, and idle cached runs dominate a worker's memory.
    if (!rng_) rng_ = std::make_unique<std::mt19937_64>(rng_seed_);
    return *rng_;
  }
  bool IsReplaying() const override { return replaying_; }
  const converter::DataConverter& Converter() const override { return *data_converter_; }

 private:
  struct ActivityInfo {
    std::string activity_type;
    std::string activity_id;
    std::shared_ptr<detail::PendingState> state;
  };
  struct Condition {
    std::function<bool()> predicate;
    std::shared_ptr<detail::PendingState> state;
    int64_t timer_seq = 0;  // 0 = no timeout
  };

  void StartWorkflow(const core::HistoryEvent& event);
  void ResolveActivity(int64_t seq, const core::HistoryEvent& event);
  void HandleSignal(const core::HistoryEvent& event);
  void RequestCancel();
  void RunUntilBlocked();
  void CheckFinished();
  // Ends the workflow with `error` (fail, cancel) or rethrows it as a
  // workflow task failure.
  void FinishWithError(std::exception_ptr error);
  void ResolveWithError(const std::shared_ptr<detail::PendingState>& state,
                        std::exception_ptr error);
  std::exception_ptr ActivityCanceled(int64_t seq);
  bool TakeUndeliveredCancel(std::shared_ptr<detail::PendingState>* state);

  std::shared_ptr<const WorkflowRegistry> registry_;
  const converter::DataConverter* data_converter_;
  core::WorkflowMachines machines_{this};
  std::shared_ptr<const WorkflowRegistration> registration_;
  std::shared_ptr<void> instance_;
  Task<converter::Payload> root_;
  std::list<Task<void>> spawned_;
  // FIFO of resumable coroutines: ready_[ready_head_, size). A vector, not a
  // deque: an empty deque allocates ~580 bytes per cached run.
  std::vector<std::coroutine_handle<>> ready_;
  size_t ready_head_ = 0;
  std::map<int64_t, std::shared_ptr<detail::PendingState>> timers_;  // pending timers
  std::map<int64_t, ActivityInfo> activities_;                       // pending activities
  std::list<Condition> conditions_;
  int64_t next_timer_seq_ = 1;
  int64_t next_activity_seq_ = 1;
  WorkflowInfo info_;
  std::chrono::system_clock::time_point now_;
  uint64_t rng_seed_ = 0;
  std::unique_ptr<std::mt19937_64> rng_;
  bool replaying_ = false;
  bool cancel_requested_ = false;
  bool cancel_undelivered_ = false;
  std::atomic<int64_t> activation_started_ns_{0};
};

}  // namespace temporalio::workflow::internal

#endif  // TEMPORALIO_SDK_WORKFLOW_RUN_H_
