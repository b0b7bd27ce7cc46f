// A table-driven finite state machine: the transition table is data, so each
// command machine (timer, activity, workflow close) is its table plus names.
// An event with no row for the current state is a non-determinism error.
#ifndef TEMPORALIO_SDK_CORE_STATE_MACHINE_H_
#define TEMPORALIO_SDK_CORE_STATE_MACHINE_H_

#include <span>
#include <string>

#include "temporalio/workflow/errors.h"

namespace temporalio::core {

template <class State, class Event>
struct Transition {
  State from;
  Event event;
  State to;
};

// Traits: static constexpr table kTable, State kInitial, const char* kName,
// static const char* StateName(State), static const char* EventName(Event).
template <class Traits>
class StateMachine {
 public:
  using State = typename Traits::State;
  using Event = typename Traits::Event;

  explicit StateMachine(int64_t seq) : seq_(seq) {}

  State state() const { return state_; }
  int64_t seq() const { return seq_; }

  // True if `event` is allowed in the current state.
  bool CanFire(Event event) const {
    for (const auto& t : Traits::kTable) {
      if (t.from == state_ && t.event == event) return true;
    }
    return false;
  }

  // Applies `event`; throws NondeterminismError naming the machine, its
  // state and the event when the table has no such transition.
  State Fire(Event event) {
    for (const auto& t : Traits::kTable) {
      if (t.from == state_ && t.event == event) {
        state_ = t.to;
        return state_;
      }
    }
    throw workflow::NondeterminismError(std::string("Nondeterminism: ") + Traits::kName + " (seq " +
                                        std::to_string(seq_) + ") got " + Traits::EventName(event) +
                                        " in state " + Traits::StateName(state_));
  }

 private:
  int64_t seq_;
  State state_ = Traits::kInitial;
};

// --- Timer -------------------------------------------------------------------

struct TimerTraits {
  enum class State {
    kCreated,
    kStartCommandCreated,
    kStarted,
    kFired,
    kCancelCommandCreated,
    kCanceled
  };
  enum class Event {
    kSchedule,          // workflow issues StartTimer
    kTimerStarted,      // TimerStarted event matched the command
    kTimerFired,        // TimerFired event
    kCancel,            // workflow cancels a started timer -> CancelTimer command
    kCancelBeforeSent,  // workflow cancels before StartTimer was sent: command dropped
    kTimerCanceled,     // TimerCanceled event matched the command
  };
  static constexpr State kInitial = State::kCreated;
  static constexpr const char* kName = "TimerMachine";
  static constexpr Transition<State, Event> kTable[] = {
      {State::kCreated, Event::kSchedule, State::kStartCommandCreated},
      {State::kStartCommandCreated, Event::kTimerStarted, State::kStarted},
      {State::kStartCommandCreated, Event::kCancelBeforeSent, State::kCanceled},
      {State::kStarted, Event::kTimerFired, State::kFired},
      {State::kStarted, Event::kCancel, State::kCancelCommandCreated},
      {State::kCancelCommandCreated, Event::kTimerCanceled, State::kCanceled},
  };
  static const char* StateName(State s);
  static const char* EventName(Event e);
};
using TimerMachine = StateMachine<TimerTraits>;

// --- Activity ----------------------------------------------------------------

struct ActivityTraits {
  enum class State {
    kCreated,
    kScheduleCommandCreated,
    kScheduled,
    kStarted,
    kCompleted,
    kFailed,
    kTimedOut,
    kCancelCommandCreated,
    kCancelRequested,
    kCanceled,
    kAbandoned,
  };
  enum class Event {
    kSchedule,              // workflow issues ScheduleActivityTask
    kScheduledEvent,        // ActivityTaskScheduled matched the command
    kStartedEvent,          // ActivityTaskStarted
    kCompletedEvent,        // ActivityTaskCompleted
    kFailedEvent,           // ActivityTaskFailed
    kTimedOutEvent,         // ActivityTaskTimedOut
    kCanceledEvent,         // ActivityTaskCanceled
    kCancelBeforeSent,      // cancel before the schedule command was sent
    kRequestCancel,         // cancel (TRY_CANCEL / WAIT_CANCELLATION_COMPLETED)
    kAbandon,               // cancel (ABANDON): no command
    kCancelRequestedEvent,  // ActivityTaskCancelRequested matched the command
  };
  static constexpr State kInitial = State::kCreated;
  static constexpr const char* kName = "ActivityMachine";
  static constexpr Transition<State, Event> kTable[] = {
      {State::kCreated, Event::kSchedule, State::kScheduleCommandCreated},
      {State::kScheduleCommandCreated, Event::kScheduledEvent, State::kScheduled},
      {State::kScheduleCommandCreated, Event::kCancelBeforeSent, State::kCanceled},
      {State::kScheduled, Event::kStartedEvent, State::kStarted},
      {State::kScheduled, Event::kCompletedEvent, State::kCompleted},
      {State::kScheduled, Event::kFailedEvent, State::kFailed},
      {State::kScheduled, Event::kTimedOutEvent, State::kTimedOut},
      {State::kScheduled, Event::kRequestCancel, State::kCancelCommandCreated},
      {State::kScheduled, Event::kAbandon, State::kAbandoned},
      {State::kStarted, Event::kCompletedEvent, State::kCompleted},
      {State::kStarted, Event::kFailedEvent, State::kFailed},
      {State::kStarted, Event::kTimedOutEvent, State::kTimedOut},
      {State::kStarted, Event::kRequestCancel, State::kCancelCommandCreated},
      {State::kStarted, Event::kAbandon, State::kAbandoned},
      {State::kCancelCommandCreated, Event::kCancelRequestedEvent, State::kCancelRequested},
      {State::kCancelRequested, Event::kStartedEvent, State::kCancelRequested},
      {State::kCancelRequested, Event::kCanceledEvent, State::kCanceled},
      {State::kCancelRequested, Event::kCompletedEvent, State::kCompleted},
      {State::kCancelRequested, Event::kFailedEvent, State::kFailed},
      {State::kCancelRequested, Event::kTimedOutEvent, State::kTimedOut},
      {State::kAbandoned, Event::kStartedEvent, State::kAbandoned},
      {State::kAbandoned, Event::kCompletedEvent, State::kAbandoned},
      {State::kAbandoned, Event::kFailedEvent, State::kAbandoned},
      {State::kAbandoned, Event::kTimedOutEvent, State::kAbandoned},
      {State::kAbandoned, Event::kCanceledEvent, State::kAbandoned},
  };
  static const char* StateName(State s);
  static const char* EventName(Event e);
};
using ActivityMachine = StateMachine<ActivityTraits>;

// --- Complete / Fail / Cancel workflow execution -----------------------------

struct CloseWorkflowTraits {
  enum class State { kCreated, kCommandCreated, kRecorded };
  enum class Event { kSchedule, kRecordedEvent };
  static constexpr State kInitial = State::kCreated;
  static constexpr const char* kName = "CloseWorkflowMachine";
  static constexpr Transition<State, Event> kTable[] = {
      {State::kCreated, Event::kSchedule, State::kCommandCreated},
      {State::kCommandCreated, Event::kRecordedEvent, State::kRecorded},
  };
  static const char* StateName(State s);
  static const char* EventName(Event e);
};
using CloseWorkflowMachine = StateMachine<CloseWorkflowTraits>;

}  // namespace temporalio::core

#endif  // TEMPORALIO_SDK_CORE_STATE_MACHINE_H_
