#include "sdk/core/workflow_machines.h"

#include <charconv>

#include <google/protobuf/util/time_util.h>

namespace temporalio::core {
namespace {

namespace ev = temporal::api::enums::v1;
using google::protobuf::util::TimeUtil;

bool IsCommandEvent(ev::EventType type) {
  switch (type) {
    case ev::EVENT_TYPE_TIMER_STARTED:
    case ev::EVENT_TYPE_TIMER_CANCELED:
    case ev::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
    case ev::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
    case ev::EVENT_TYPE_MARKER_RECORDED:
    case ev::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
    case ev::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case ev::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case ev::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
    case ev::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
    case ev::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:
    case ev::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED:
      return true;
    default:
      return false;
  }
}

std::string EventTypeName(ev::EventType type) {
  // EVENT_TYPE_TIMER_STARTED -> TimerStarted
  std::string raw = ev::EventType_Name(type);
  const std::string prefix = "EVENT_TYPE_";
  if (raw.rfind(prefix, 0) == 0) raw = raw.substr(prefix.size());
  std::string out;
  bool upper = true;
  for (char c : raw) {
    if (c == '_') {
      upper = true;
    } else {
      out += upper ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      upper = false;
    }
  }
  return out;
}

std::chrono::system_clock::time_point ToTimePoint(const google::protobuf::Timestamp& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(ts))));
}

[[noreturn]] void Nondeterminism(const std::string& message) {
  throw workflow::NondeterminismError("Nondeterminism: " + message);
}

// What names a command in messages: the timer id of a StartTimer, the
// activity type of a ScheduleActivityTask; empty for the others.
std::string CommandLabel(const Command& cmd) {
  if (cmd.has_start_timer_command_attributes()) {
    return cmd.start_timer_command_attributes().timer_id();
  }
  if (cmd.has_schedule_activity_task_command_attributes()) {
    return cmd.schedule_activity_task_command_attributes().activity_type().name();
  }
  return {};
}

}  // namespace

std::string WorkflowMachines::Describe(const HistoryEvent& e) {
  std::string s = EventTypeName(e.event_type()) + "(event_id=" + std::to_string(e.event_id());
  if (e.has_timer_started_event_attributes()) {
    s += ", timer_id=" + e.timer_started_event_attributes().timer_id();
  } else if (e.has_activity_task_scheduled_event_attributes()) {
    s += ", activity_type=" + e.activity_task_scheduled_event_attributes().activity_type().name();
  } else if (e.has_timer_canceled_event_attributes()) {
    s += ", timer_id=" + e.timer_canceled_event_attributes().timer_id();
  }
  return s + ")";
}

std::string WorkflowMachines::Describe(const Outgoing& c) {
  const std::string label = c.command ? CommandLabel(*c.command) : c.taken_id;
  std::string s;
  switch (c.kind) {
    case CommandKind::kStartTimer:
      s = "StartTimer(seq=" + std::to_string(c.seq) + ", timer_id=" + label;
      break;
    case CommandKind::kCancelTimer:
      s = "CancelTimer(seq=" + std::to_string(c.seq);
      break;
    case CommandKind::kScheduleActivity:
      s = "ScheduleActivityTask(seq=" + std::to_string(c.seq) + ", activity_type=" + label;
      break;
    case CommandKind::kRequestCancelActivity:
      s = "RequestCancelActivityTask(seq=" + std::to_string(c.seq);
      break;
    case CommandKind::kComplete:
      s = "CompleteWorkflowExecution(";
      break;
    case CommandKind::kFail:
      s = "FailWorkflowExecution(";
      break;
    case CommandKind::kCancel:
      s = "CancelWorkflowExecution(";
      break;
  }
  return s + ")";
}

void WorkflowMachines::Feed(const std::vector<HistoryEvent>& events) { FeedEvents(events); }

void WorkflowMachines::Feed(const google::protobuf::RepeatedPtrField<HistoryEvent>& events) {
  FeedEvents(events);
}

template <typename Events>
void WorkflowMachines::FeedEvents(const Events& events) {
  for (auto it = events.begin(); it != events.end(); ++it) {
    const HistoryEvent& e = *it;
    if (last_event_id_ != 0 && e.event_id() != last_event_id_ + 1) {
      throw workflow::WorkflowTaskError("history is not contiguous: got event " +
                                        std::to_string(e.event_id()) + " after " +
                                        std::to_string(last_event_id_));
    }
    last_event_id_ = e.event_id();
    last_was_wft_started_ = e.event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_STARTED;
    const auto next = std::next(it);
    HandleEvent(e, next != events.end() ? &*next : nullptr);
  }
}

int64_t WorkflowMachines::StartedTimerSeq(const std::string& timer_id) const {
  if (auto it = timer_by_id_.find(timer_id); it != timer_by_id_.end()) return it->second;
  int64_t seq = 0;
  const char* end = timer_id.data() + timer_id.size();
  auto [ptr, ec] = std::from_chars(timer_id.data(), end, seq);
  if (ec != std::errc() || ptr != end || seq <= 0) return 0;
  auto t = timers_.find(seq);
  if (t == timers_.end() || t->second.timer_id != timer_id ||
      t->second.machine.state() != TimerTraits::State::kStarted) {
    return 0;
  }
  return seq;
}

void WorkflowMachines::HandleEvent(const HistoryEvent& e, const HistoryEvent* next) {
  if (IsCommandEvent(e.event_type())) {
    MatchCommandEvent(e);
    return;
  }
  switch (e.event_type()) {
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
      jobs_.push_back(Job{Job::Kind::kStartWorkflow, 0, e});
      break;
    case ev::EVENT_TYPE_WORKFLOW_TASK_STARTED: {
      if (next != nullptr && (next->event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_FAILED ||
                              next->event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)) {
        break;  // a failed attempt: its jobs go to the next boundary
      }
      Boundary(e, next != nullptr && next->event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      break;
    }
    case ev::EVENT_TYPE_TIMER_FIRED: {
      const auto& a = e.timer_fired_event_attributes();
      const int64_t seq = StartedTimerSeq(a.timer_id());
      if (seq == 0) {
        Nondeterminism("history has " + Describe(e) + " for timer " + a.timer_id() +
                       " that the workflow did not start");
      }
      timers_.at(seq).machine.Fire(TimerTraits::Event::kTimerFired);
      timer_by_id_.erase(a.timer_id());
      jobs_.push_back(Job{Job::Kind::kFireTimer, seq, e});
      break;
    }
    case ev::EVENT_TYPE_ACTIVITY_TASK_STARTED:
      HandleActivityEvent(e, e.activity_task_started_event_attributes().scheduled_event_id(),
                          ActivityTraits::Event::kStartedEvent);
      break;
    case ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      HandleActivityEvent(e, e.activity_task_completed_event_attributes().scheduled_event_id(),
                          ActivityTraits::Event::kCompletedEvent);
      break;
    case ev::EVENT_TYPE_ACTIVITY_TASK_FAILED:
      HandleActivityEvent(e, e.activity_task_failed_event_attributes().scheduled_event_id(),
                          ActivityTraits::Event::kFailedEvent);
      break;
    case ev::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      HandleActivityEvent(e, e.activity_task_timed_out_event_attributes().scheduled_event_id(),
                          ActivityTraits::Event::kTimedOutEvent);
      break;
    case ev::EVENT_TYPE_ACTIVITY_TASK_CANCELED:
      HandleActivityEvent(e, e.activity_task_canceled_event_attributes().scheduled_event_id(),
                          ActivityTraits::Event::kCanceledEvent);
      break;
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      jobs_.push_back(Job{Job::Kind::kSignal, 0, e});
      break;
    case ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
      jobs_.push_back(Job{Job::Kind::kCancelWorkflow, 0, e});
      break;
    default:
      // WorkflowTaskScheduled/Completed/Failed/TimedOut, terminated, timed
      // out, ... need no action from the run.
      break;
  }
}

void WorkflowMachines::HandleActivityEvent(const HistoryEvent& e, int64_t scheduled_event_id,
                                           ActivityTraits::Event what) {
  auto it = activity_by_scheduled_id_.find(scheduled_event_id);
  if (it == activity_by_scheduled_id_.end()) {
    Nondeterminism("history has " + Describe(e) + " for scheduled event " +
                   std::to_string(scheduled_event_id) + " that the workflow did not schedule");
  }
  Activity& activity = activities_.at(it->second);
  using S = ActivityTraits::State;
  const S before = activity.machine.state();
  const S after = activity.machine.Fire(what);
  if (what == ActivityTraits::Event::kStartedEvent || after == S::kAbandoned) return;
  // Resolution: TRY_CANCEL already resolved the activity when it was cancelled.
  const bool already_resolved =
      before == S::kCancelRequested && activity.mode == ActivityCancelMode::kTryCancel;
  activity_by_scheduled_id_.erase(it);
  if (!already_resolved) {
    jobs_.push_back(Job{Job::Kind::kResolveActivity, activity.machine.seq(), e});
  }
}

void WorkflowMachines::MatchCommandEvent(const HistoryEvent& e) {
  if (sent_.empty()) {
    Nondeterminism("history has " + Describe(e) + " but the workflow issued no matching command");
  }
  Outgoing c = std::move(sent_.front());
  sent_.pop_front();
  auto mismatch = [&] {
    Nondeterminism("history has " + Describe(e) + " but the workflow issued " + Describe(c));
  };
  switch (c.kind) {
    case CommandKind::kStartTimer: {
      if (e.event_type() != ev::EVENT_TYPE_TIMER_STARTED) mismatch();
      Timer& t = timers_.at(c.seq);
      t.machine.Fire(TimerTraits::Event::kTimerStarted);
      t.timer_id = e.timer_started_event_attributes().timer_id();
      t.started_event_id = e.event_id();
      // Our timer ids are the seq; only others need the map (StartedTimerSeq).
      if (t.timer_id != std::to_string(c.seq)) timer_by_id_[t.timer_id] = c.seq;
      break;
    }
    case CommandKind::kCancelTimer: {
      if (e.event_type() != ev::EVENT_TYPE_TIMER_CANCELED) mismatch();
      Timer& t = timers_.at(c.seq);
      if (e.timer_canceled_event_attributes().timer_id() != t.timer_id) mismatch();
      t.machine.Fire(TimerTraits::Event::kTimerCanceled);
      break;
    }
    case CommandKind::kScheduleActivity: {
      if (e.event_type() != ev::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) mismatch();
      Activity& a = activities_.at(c.seq);
      if (e.activity_task_scheduled_event_attributes().activity_type().name() != a.activity_type) {
        mismatch();
      }
      a.machine.Fire(ActivityTraits::Event::kScheduledEvent);
      a.scheduled_event_id = e.event_id();
      activity_by_scheduled_id_[e.event_id()] = c.seq;
      break;
    }
    case CommandKind::kRequestCancelActivity: {
      if (e.event_type() != ev::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED) mismatch();
      Activity& a = activities_.at(c.seq);
      if (e.activity_task_cancel_requested_event_attributes().scheduled_event_id() !=
          a.scheduled_event_id) {
        mismatch();
      }
      a.machine.Fire(ActivityTraits::Event::kCancelRequestedEvent);
      break;
    }
    case CommandKind::kComplete:
      if (e.event_type() != ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) mismatch();
      close_->Fire(CloseWorkflowTraits::Event::kRecordedEvent);
      break;
    case CommandKind::kFail:
      if (e.event_type() != ev::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED) mismatch();
      close_->Fire(CloseWorkflowTraits::Event::kRecordedEvent);
      break;
    case CommandKind::kCancel:
      if (e.event_type() != ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED) mismatch();
      close_->Fire(CloseWorkflowTraits::Event::kRecordedEvent);
      break;
  }
}

void WorkflowMachines::Boundary(const HistoryEvent& started, bool replaying) {
  if (!sent_.empty()) {
    Nondeterminism("the workflow issued " + Describe(sent_.front()) +
                   " but history has no matching event before " + Describe(started));
  }
  ActivationInfo info;
  info.now = ToTimePoint(started.event_time());
  info.replaying = replaying;
  info.started_event_id = started.event_id();
  std::vector<Job> jobs = std::move(jobs_);
  jobs_.clear();
  ++activations_;
  handler_->Activate(info, std::move(jobs));
  for (auto& c : outgoing_) {
    if (!c.dropped) sent_.push_back(std::move(c));
  }
  outgoing_.clear();
}

void WorkflowMachines::FinishReplay() const {
  if (!last_was_wft_started_ && !sent_.empty()) {
    Nondeterminism("the workflow issued " + Describe(sent_.front()) +
                   " but the history ends (last event " + std::to_string(last_event_id_) + ")");
  }
}

std::vector<Command> WorkflowMachines::CommandsToSend() const {
  std::vector<Command> out;
  for (const auto& c : sent_) out.push_back(c.command ? *c.command : Command());
  return out;
}

std::vector<Command> WorkflowMachines::TakeCommandsToSend() {
  std::vector<Command> out;
  out.reserve(sent_.size());
  for (auto& c : sent_) {
    if (!c.command) continue;
    c.taken_id = CommandLabel(*c.command);
    out.push_back(std::move(*c.command));
    c.command.reset();
  }
  return out;
}

WorkflowMachines::Outgoing& WorkflowMachines::Add(CommandKind kind, int64_t seq, Command command) {
  outgoing_.push_back(
      Outgoing{kind, seq, std::make_unique<Command>(std::move(command)), {}, false});
  return outgoing_.back();
}

void WorkflowMachines::StartTimer(int64_t seq, std::chrono::milliseconds duration) {
  timers_.erase(seq);
  Timer& timer = timers_.try_emplace(seq, seq).first->second;
  timer.machine.Fire(TimerTraits::Event::kSchedule);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_START_TIMER);
  auto* a = cmd.mutable_start_timer_command_attributes();
  a->set_timer_id(std::to_string(seq));
  *a->mutable_start_to_fire_timeout() = TimeUtil::MillisecondsToDuration(duration.count());
  Add(CommandKind::kStartTimer, seq, std::move(cmd));
}

bool WorkflowMachines::TimerPending(int64_t seq) const {
  auto it = timers_.find(seq);
  if (it == timers_.end()) return false;
  auto s = it->second.machine.state();
  return s == TimerTraits::State::kStartCommandCreated || s == TimerTraits::State::kStarted;
}

void WorkflowMachines::CancelTimer(int64_t seq) {
  Timer& t = timers_.at(seq);
  if (t.machine.state() == TimerTraits::State::kStartCommandCreated) {
    t.machine.Fire(TimerTraits::Event::kCancelBeforeSent);
    for (auto& c : outgoing_) {
      if (c.kind == CommandKind::kStartTimer && c.seq == seq) c.dropped = true;
    }
    return;
  }
  t.machine.Fire(TimerTraits::Event::kCancel);
  timer_by_id_.erase(t.timer_id);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_CANCEL_TIMER);
  cmd.mutable_cancel_timer_command_attributes()->set_timer_id(t.timer_id);
  Add(CommandKind::kCancelTimer, seq, std::move(cmd));
}

void WorkflowMachines::ScheduleActivity(
    int64_t seq, temporal::api::command::v1::ScheduleActivityTaskCommandAttributes attrs,
    ActivityCancelMode mode) {
  activities_.erase(seq);
  Activity& activity = activities_.try_emplace(seq, seq).first->second;
  activity.machine.Fire(ActivityTraits::Event::kSchedule);
  activity.mode = mode;
  activity.activity_type = attrs.activity_type().name();
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
  *cmd.mutable_schedule_activity_task_command_attributes() = std::move(attrs);
  Add(CommandKind::kScheduleActivity, seq, std::move(cmd));
}

bool WorkflowMachines::ActivityPending(int64_t seq) const {
  auto it = activities_.find(seq);
  if (it == activities_.end()) return false;
  using S = ActivityTraits::State;
  auto s = it->second.machine.state();
  return s == S::kScheduleCommandCreated || s == S::kScheduled || s == S::kStarted;
}

bool WorkflowMachines::CancelActivity(int64_t seq) {
  Activity& a = activities_.at(seq);
  using S = ActivityTraits::State;
  if (a.machine.state() == S::kScheduleCommandCreated) {
    a.machine.Fire(ActivityTraits::Event::kCancelBeforeSent);
    for (auto& c : outgoing_) {
      if (c.kind == CommandKind::kScheduleActivity && c.seq == seq) c.dropped = true;
    }
    return true;
  }
  if (a.mode == ActivityCancelMode::kAbandon) {
    a.machine.Fire(ActivityTraits::Event::kAbandon);
    return true;
  }
  a.machine.Fire(ActivityTraits::Event::kRequestCancel);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
  cmd.mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(
      a.scheduled_event_id);
  Add(CommandKind::kRequestCancelActivity, seq, std::move(cmd));
  return a.mode == ActivityCancelMode::kTryCancel;
}

void WorkflowMachines::CompleteWorkflow(temporal::api::common::v1::Payloads result) {
  close_ = std::make_unique<CloseWorkflowMachine>(0);
  close_->Fire(CloseWorkflowTraits::Event::kSchedule);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  *cmd.mutable_complete_workflow_execution_command_attributes()->mutable_result() =
      std::move(result);
  Add(CommandKind::kComplete, 0, std::move(cmd));
}

void WorkflowMachines::FailWorkflow(temporal::api::failure::v1::Failure failure) {
  close_ = std::make_unique<CloseWorkflowMachine>(0);
  close_->Fire(CloseWorkflowTraits::Event::kSchedule);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
  *cmd.mutable_fail_workflow_execution_command_attributes()->mutable_failure() = std::move(failure);
  Add(CommandKind::kFail, 0, std::move(cmd));
}

void WorkflowMachines::CancelWorkflow() {
  close_ = std::make_unique<CloseWorkflowMachine>(0);
  close_->Fire(CloseWorkflowTraits::Event::kSchedule);
  Command cmd;
  cmd.set_command_type(ev::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION);
  cmd.mutable_cancel_workflow_execution_command_attributes();
  Add(CommandKind::kCancel, 0, std::move(cmd));
}

}  // namespace temporalio::core
