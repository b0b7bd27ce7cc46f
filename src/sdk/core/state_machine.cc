#include "sdk/core/state_machine.h"

namespace temporalio::core {

const char* TimerTraits::StateName(State s) {
  switch (s) {
    case State::kCreated:
      return "Created";
    case State::kStartCommandCreated:
      return "StartCommandCreated";
    case State::kStarted:
      return "Started";
    case State::kFired:
      return "Fired";
    case State::kCancelCommandCreated:
      return "CancelCommandCreated";
    case State::kCanceled:
      return "Canceled";
  }
  return "?";
}
const char* TimerTraits::EventName(Event e) {
  switch (e) {
    case Event::kSchedule:
      return "Schedule";
    case Event::kTimerStarted:
      return "TimerStarted";
    case Event::kTimerFired:
      return "TimerFired";
    case Event::kCancel:
      return "Cancel";
    case Event::kCancelBeforeSent:
      return "CancelBeforeSent";
    case Event::kTimerCanceled:
      return "TimerCanceled";
  }
  return "?";
}

const char* ActivityTraits::StateName(State s) {
  switch (s) {
    case State::kCreated:
      return "Created";
    case State::kScheduleCommandCreated:
      return "ScheduleCommandCreated";
    case State::kScheduled:
      return "Scheduled";
    case State::kStarted:
      return "Started";
    case State::kCompleted:
      return "Completed";
    case State::kFailed:
      return "Failed";
    case State::kTimedOut:
      return "TimedOut";
    case State::kCancelCommandCreated:
      return "CancelCommandCreated";
    case State::kCancelRequested:
      return "CancelRequested";
    case State::kCanceled:
      return "Canceled";
    case State::kAbandoned:
      return "Abandoned";
  }
  return "?";
}
const char* ActivityTraits::EventName(Event e) {
  switch (e) {
    case Event::kSchedule:
      return "Schedule";
    case Event::kScheduledEvent:
      return "ActivityTaskScheduled";
    case Event::kStartedEvent:
      return "ActivityTaskStarted";
    case Event::kCompletedEvent:
      return "ActivityTaskCompleted";
    case Event::kFailedEvent:
      return "ActivityTaskFailed";
    case Event::kTimedOutEvent:
      return "ActivityTaskTimedOut";
    case Event::kCanceledEvent:
      return "ActivityTaskCanceled";
    case Event::kCancelBeforeSent:
      return "CancelBeforeSent";
    case Event::kRequestCancel:
      return "RequestCancel";
    case Event::kAbandon:
      return "Abandon";
    case Event::kCancelRequestedEvent:
      return "ActivityTaskCancelRequested";
  }
  return "?";
}

const char* CloseWorkflowTraits::StateName(State s) {
  switch (s) {
    case State::kCreated:
      return "Created";
    case State::kCommandCreated:
      return "CommandCreated";
    case State::kRecorded:
      return "Recorded";
  }
  return "?";
}
const char* CloseWorkflowTraits::EventName(Event e) {
  switch (e) {
    case Event::kSchedule:
      return "Schedule";
    case Event::kRecordedEvent:
      return "WorkflowExecutionClosed";
  }
  return "?";
}

}  // namespace temporalio::core
