// WorkflowMachines: the core of one workflow run, with no gRPC and no
// coroutines. History events go in; at every workflow task boundary the
// accumulated jobs are handed to an ActivationHandler (the workflow runtime),
// which issues commands back through this class; the commands of the latest
// activation are what the worker sends to the server.
//
// Workflow task boundaries: a WorkflowTaskStarted event is a boundary unless
// the next event is WorkflowTaskFailed/TimedOut (that attempt is skipped, its
// jobs roll over to the next boundary). An activation is "replaying" when the
// next event is WorkflowTaskCompleted (its commands are in history).
//
// Replay: command events (TimerStarted, ActivityTaskScheduled, ...) are
// matched in order against the commands issued by the previous activation; a
// mismatch, an event without a command, or a command left without an event at
// the next boundary throws workflow::NondeterminismError naming both sides.
// Events may be fed in several batches (sticky partial histories), but must
// be contiguous. WorkflowTaskCompleted.sdk_metadata (TS SDK flags) is ignored.
//
// Not thread-safe; owned by one run.
#ifndef TEMPORALIO_SDK_CORE_WORKFLOW_MACHINES_H_
#define TEMPORALIO_SDK_CORE_WORKFLOW_MACHINES_H_

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sdk/core/state_machine.h"
#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/history/v1/message.pb.h"

namespace temporalio::core {

using HistoryEvent = temporal::api::history::v1::HistoryEvent;
using Command = temporal::api::command::v1::Command;

struct Job {
  enum class Kind { kStartWorkflow, kFireTimer, kResolveActivity, kSignal, kCancelWorkflow };
  Kind kind;
  int64_t seq = 0;     // timer/activity sequence number
  HistoryEvent event;  // the event behind the job (attributes)
};

struct ActivationInfo {
  std::chrono::system_clock::time_point now;  // WorkflowTaskStarted event time
  bool replaying = false;
  int64_t started_event_id = 0;
};

class ActivationHandler {
 public:
  virtual ~ActivationHandler() = default;
  // Runs workflow code for `jobs` until it is blocked; may call the command
  // methods of WorkflowMachines. Throws to fail the workflow task.
  virtual void Activate(const ActivationInfo& info, std::vector<Job> jobs) = 0;
};

enum class ActivityCancelMode { kTryCancel, kWaitCancellationCompleted, kAbandon };

class WorkflowMachines {
 public:
  explicit WorkflowMachines(ActivationHandler* handler) : handler_(handler) {}

  // Feeds the next events (contiguous with earlier ones). Throws
  // NondeterminismError, or whatever the handler throws. The events are only
  // read (jobs copy what they need), so a replay can feed a History's events
  // where they are, without copying each one first.
  void Feed(const std::vector<HistoryEvent>& events);
  void Feed(const google::protobuf::RepeatedPtrField<HistoryEvent>& events);

  // Commands of the latest activation not yet matched by history (what to
  // send in RespondWorkflowTaskCompleted).
  std::vector<Command> CommandsToSend() const;
  // The same, moved out: the run keeps only what matching them against
  // history needs (kind, seq, timer id / activity type), not their inputs,
  // timeouts and headers, which an idle cached run would otherwise hold until
  // its next workflow task.
  std::vector<Command> TakeCommandsToSend();
  // Id of the last event fed (0 if none).
  int64_t last_event_id() const { return last_event_id_; }
  // For a history that ends after its last workflow task (replay of a
  // recorded history): throws NondeterminismError if the last activation
  // issued commands the history does not have.
  void FinishReplay() const;
  // Number of activations run so far.
  int activations() const { return activations_; }
  // True once a Complete/Fail/Cancel workflow command was issued.
  bool closed() const { return close_ != nullptr; }

  // --- Commands (called by the handler during Activate) ---
  void StartTimer(int64_t seq, std::chrono::milliseconds duration);
  // The timer must be pending (started, not fired).
  void CancelTimer(int64_t seq);
  void ScheduleActivity(int64_t seq,
                        temporal::api::command::v1::ScheduleActivityTaskCommandAttributes attrs,
                        ActivityCancelMode mode);
  // Returns true if the activity is resolved as canceled now (the caller
  // resolves it); false for WAIT_CANCELLATION_COMPLETED of a scheduled
  // activity (a job will resolve it).
  bool CancelActivity(int64_t seq);
  bool ActivityPending(int64_t seq) const;
  bool TimerPending(int64_t seq) const;
  void CompleteWorkflow(temporal::api::common::v1::Payloads result);
  void FailWorkflow(temporal::api::failure::v1::Failure failure);
  void CancelWorkflow();

  // For tests.
  TimerTraits::State timer_state(int64_t seq) const { return timers_.at(seq).machine.state(); }
  ActivityTraits::State activity_state(int64_t seq) const {
    return activities_.at(seq).machine.state();
  }

 private:
  enum class CommandKind {
    kStartTimer,
    kCancelTimer,
    kScheduleActivity,
    kRequestCancelActivity,
    kComplete,
    kFail,
    kCancel
  };
  struct Outgoing {
    CommandKind kind;
    int64_t seq = 0;
    std::unique_ptr<Command> command;  // null once taken (TakeCommandsToSend)
    std::string taken_id;              // then: the timer id or activity type
    bool dropped = false;
  };
  struct Timer {
    explicit Timer(int64_t seq) : machine(seq) {}
    TimerMachine machine;
    std::string timer_id;  // as recorded in history
    int64_t started_event_id = 0;
  };
  struct Activity {
    explicit Activity(int64_t seq) : machine(seq) {}
    ActivityMachine machine;
    ActivityCancelMode mode = ActivityCancelMode::kTryCancel;
    std::string activity_type;
    int64_t scheduled_event_id = 0;
  };

  template <typename Events>
  void FeedEvents(const Events& events);
  void HandleEvent(const HistoryEvent& event, const HistoryEvent* next);
  // The seq of the started, not yet fired or canceled timer with this id; 0 if none.
  int64_t StartedTimerSeq(const std::string& timer_id) const;
  void MatchCommandEvent(const HistoryEvent& event);
  void Boundary(const HistoryEvent& started, bool replaying);
  void HandleActivityEvent(const HistoryEvent& event, int64_t scheduled_event_id,
                           ActivityTraits::Event what);
  Outgoing& Add(CommandKind kind, int64_t seq, Command command);
  static std::string Describe(const Outgoing& command);
  static std::string Describe(const HistoryEvent& event);

  ActivationHandler* handler_;
  std::vector<Job> jobs_;
  // Lists, not deques: an empty libstdc++ deque still allocates ~580 bytes,
  // and every cached run holds two of these.
  std::list<Outgoing> outgoing_;  // issued by the running activation
  std::list<Outgoing> sent_;      // issued by the last activation, awaiting events
  // By value: map nodes do not move, and a cached run's timers and
  // activities need no allocation of their own.
  std::map<int64_t, Timer> timers_;
  std::map<int64_t, Activity> activities_;
  // Started timers whose id is not their seq (histories of other code); a
  // timer id that is its seq is found through timers_ (StartedTimerSeq).
  std::map<std::string, int64_t> timer_by_id_;
  std::map<int64_t, int64_t> activity_by_scheduled_id_;
  std::unique_ptr<CloseWorkflowMachine> close_;
  int64_t last_event_id_ = 0;
  bool last_was_wft_started_ = false;
  int activations_ = 0;
};

}  // namespace temporalio::core

#endif  // TEMPORALIO_SDK_CORE_WORKFLOW_MACHINES_H_
