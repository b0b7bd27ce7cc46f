#include "sdk/workflow/run.h"

#include "sdk/client/proto_util.h"

#include <google/protobuf/util/time_util.h>

#include <stdexcept>

namespace temporalio::workflow {
namespace detail {
namespace {
thread_local Runtime* current_runtime = nullptr;
}  // namespace

Runtime& Current() {
  if (current_runtime == nullptr) {
    throw std::logic_error("temporalio: workflow API called outside of workflow code");
  }
  return *current_runtime;
}
}  // namespace detail

namespace internal {
namespace {

using google::protobuf::util::TimeUtil;

class CurrentGuard {
 public:
  explicit CurrentGuard(detail::Runtime* runtime) : previous_(detail::current_runtime) {
    detail::current_runtime = runtime;
  }
  ~CurrentGuard() { detail::current_runtime = previous_; }

 private:
  detail::Runtime* previous_;
};

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::chrono::system_clock::time_point ToTimePoint(const google::protobuf::Timestamp& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(ts))));
}

google::protobuf::Duration ToDuration(std::chrono::milliseconds ms) {
  return TimeUtil::MillisecondsToDuration(ms.count());
}

}  // namespace

WorkflowRun::WorkflowRun(RunParams params)
    : registry_(std::move(params.registry)), data_converter_(params.data_converter) {
  // The ids live once, in info_: a cached run is mostly its own bookkeeping.
  info_.namespace_ = std::move(params.namespace_);
  info_.workflow_id = std::move(params.workflow_id);
  info_.run_id = std::move(params.run_id);
}

WorkflowRun::~WorkflowRun() {
  // Frames may reference the instance and each other: destroy them while the
  // run is still the current runtime (destructors of awaitables are trivial).
  CurrentGuard guard(this);
  spawned_.clear();
  root_ = Task<converter::Payload>();
}

void WorkflowRun::Activate(const core::ActivationInfo& info, std::vector<core::Job> jobs) {
  CurrentGuard guard(this);
  activation_started_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count());
  struct Idle {
    std::atomic<int64_t>* flag;
    ~Idle() { flag->store(0); }
  } idle{&activation_started_ns_};
  now_ = info.now;
  replaying_ = info.replaying;
  for (auto& job : jobs) {
    if (machines_.closed()) break;
    switch (job.kind) {
      case core::Job::Kind::kStartWorkflow:
        StartWorkflow(job.event);
        break;
      case core::Job::Kind::kFireTimer: {
        auto it = timers_.find(job.seq);
        if (it != timers_.end()) {
          auto state = it->second;
          timers_.erase(it);
          Resolve(state);
        }
        for (auto c = conditions_.begin(); c != conditions_.end(); ++c) {
          if (c->timer_seq == job.seq) {
            c->state->flag = false;
            Resolve(c->state);
            conditions_.erase(c);
            break;
          }
        }
        break;
      }
      case core::Job::Kind::kResolveActivity:
        ResolveActivity(job.seq, job.event);
        break;
      case core::Job::Kind::kSignal:
        HandleSignal(job.event);
        break;
      case core::Job::Kind::kCancelWorkflow:
        RequestCancel();
        break;
    }
  }
  RunUntilBlocked();
}

void WorkflowRun::StartWorkflow(const core::HistoryEvent& event) {
  const auto& a = event.workflow_execution_started_event_attributes();
  info_.workflow_type = a.workflow_type().name();
  info_.task_queue = a.task_queue().name();
  info_.attempt = a.attempt() > 0 ? a.attempt() : 1;
  info_.first_execution_run_id = a.first_execution_run_id();
  info_.start_time = ToTimePoint(event.event_time());
  const std::string& seed_source =
      a.original_execution_run_id().empty() ? info_.run_id : a.original_execution_run_id();
  rng_seed_ = Fnv1a(seed_source);
  rng_.reset();
  registration_ = registry_ ? registry_->Find(info_.workflow_type) : nullptr;
  if (!registration_) {
    std::string names;
    if (registry_) {
      for (const auto& n : registry_->Names()) names += (names.empty() ? "" : ", ") + n;
    }
    throw WorkflowTaskError("Workflow type " + info_.workflow_type +
                            " is not registered with this worker; registered: [" + names + "]");
  }
  instance_ = registration_->create();
  root_ = registration_->run(instance_.get(), a.input());
  ready_.push_back(root_.handle());
}

void WorkflowRun::HandleSignal(const core::HistoryEvent& event) {
  const auto& a = event.workflow_execution_signaled_event_attributes();
  if (!registration_) return;
  auto it = registration_->signals.find(a.signal_name());
  if (it == registration_->signals.end() && registration_->dynamic_signal) {
    try {
      registration_->dynamic_signal(instance_.get(), a.signal_name(), a.input());
    } catch (const FailureError&) {
      FinishWithError(std::current_exception());
    }
    return;
  }
  if (it == registration_->signals.end()) {
    if (!replaying_) {
      Logger().Warn("dropping signal " + a.signal_name() + ": no handler registered");
    }
    return;
  }
  try {
    it->second(instance_.get(), a.input());
  } catch (const FailureError&) {
    FinishWithError(std::current_exception());
  }
}

void WorkflowRun::RequestCancel() {
  cancel_requested_ = true;
  bool delivered = false;
  auto canceled = [] { return std::make_exception_ptr(CanceledError("Workflow cancelled")); };
  for (auto it = timers_.begin(); it != timers_.end();) {
    auto state = it->second;
    int64_t seq = it->first;
    it = timers_.erase(it);
    if (machines_.TimerPending(seq)) machines_.CancelTimer(seq);
    ResolveWithError(state, canceled());
    delivered = true;
  }
  std::vector<int64_t> activity_seqs;
  for (const auto& [seq, a] : activities_) activity_seqs.push_back(seq);
  for (int64_t seq : activity_seqs) {
    CancelActivity(seq);
    delivered = true;
  }
  for (auto& c : conditions_) {
    if (c.timer_seq != 0 && machines_.TimerPending(c.timer_seq)) machines_.CancelTimer(c.timer_seq);
    ResolveWithError(c.state, canceled());
    delivered = true;
  }
  conditions_.clear();
  if (!delivered) cancel_undelivered_ = true;
}

bool WorkflowRun::TakeUndeliveredCancel(std::shared_ptr<detail::PendingState>* state) {
  if (!cancel_undelivered_) return false;
  cancel_undelivered_ = false;
  *state = std::make_shared<detail::PendingState>();
  (*state)->done = true;
  (*state)->error = std::make_exception_ptr(CanceledError("Workflow cancelled"));
  return true;
}

std::shared_ptr<detail::PendingState> WorkflowRun::StartTimer(std::chrono::milliseconds duration,
                                                              int64_t* seq) {
  std::shared_ptr<detail::PendingState> state;
  *seq = 0;
  if (TakeUndeliveredCancel(&state)) return state;
  state = std::make_shared<detail::PendingState>();
  if (duration <= std::chrono::milliseconds(0)) {
    state->done = true;
    return state;
  }
  *seq = next_timer_seq_++;
  machines_.StartTimer(*seq, duration);
  timers_[*seq] = state;
  return state;
}

void WorkflowRun::CancelTimer(int64_t seq) {
  auto it = timers_.find(seq);
  if (it == timers_.end()) return;  // fired or already cancelled
  auto state = it->second;
  timers_.erase(it);
  machines_.CancelTimer(seq);
  ResolveWithError(state, std::make_exception_ptr(CanceledError("Timer cancelled")));
}

std::shared_ptr<detail::PendingState> WorkflowRun::StartActivity(
    const detail::ActivityRequest& options, int64_t* seq) {
  const std::string& activity_type = options.activity_type;
  std::shared_ptr<detail::PendingState> state;
  *seq = 0;
  if (TakeUndeliveredCancel(&state)) return state;
  state = std::make_shared<detail::PendingState>();
  *seq = next_activity_seq_++;
  temporal::api::command::v1::ScheduleActivityTaskCommandAttributes attrs;
  std::string id = options.activity_id.empty() ? std::to_string(*seq) : options.activity_id;
  attrs.set_activity_id(id);
  attrs.mutable_activity_type()->set_name(activity_type);
  attrs.mutable_task_queue()->set_name(options.task_queue.empty() ? info_.task_queue
                                                                  : options.task_queue);
  *attrs.mutable_input() = options.args;
  // A request; the worker keeps it only when it can run the activity itself.
  attrs.set_request_eager_execution(!options.disable_eager_execution);
  if (options.schedule_to_close_timeout.count() > 0) {
    *attrs.mutable_schedule_to_close_timeout() = ToDuration(options.schedule_to_close_timeout);
  }
  if (options.schedule_to_start_timeout.count() > 0) {
    *attrs.mutable_schedule_to_start_timeout() = ToDuration(options.schedule_to_start_timeout);
  }
  if (options.start_to_close_timeout.count() > 0) {
    *attrs.mutable_start_to_close_timeout() = ToDuration(options.start_to_close_timeout);
  }
  if (options.heartbeat_timeout.count() > 0) {
    *attrs.mutable_heartbeat_timeout() = ToDuration(options.heartbeat_timeout);
  }
  if (options.retry_policy) {
    client::internal::ToProto(*options.retry_policy, attrs.mutable_retry_policy());
  }
  core::ActivityCancelMode mode = core::ActivityCancelMode::kTryCancel;
  if (options.cancellation_type == ActivityCancellationType::kWaitCancellationCompleted) {
    mode = core::ActivityCancelMode::kWaitCancellationCompleted;
  } else if (options.cancellation_type == ActivityCancellationType::kAbandon) {
    mode = core::ActivityCancelMode::kAbandon;
  }
  machines_.ScheduleActivity(*seq, std::move(attrs), mode);
  activities_[*seq] = ActivityInfo{activity_type, id, state};
  return state;
}

std::exception_ptr WorkflowRun::ActivityCanceled(int64_t seq) {
  const ActivityInfo& a = activities_.at(seq);
  ActivityErrorInfo info;
  info.activity_type = a.activity_type;
  info.activity_id = a.activity_id;
  info.retry_state = RetryState::kCancelRequested;
  return std::make_exception_ptr(
      ActivityError("Activity task cancelled", info,
                    std::make_exception_ptr(CanceledError("Activity cancelled"))));
}

void WorkflowRun::CancelActivity(int64_t seq) {
  auto it = activities_.find(seq);
  if (it == activities_.end() || !machines_.ActivityPending(seq)) return;
  if (machines_.CancelActivity(seq)) {
    auto error = ActivityCanceled(seq);
    auto state = it->second.state;
    activities_.erase(it);
    ResolveWithError(state, error);
  }
}

void WorkflowRun::ResolveActivity(int64_t seq, const core::HistoryEvent& event) {
  auto it = activities_.find(seq);
  if (it == activities_.end()) return;
  ActivityInfo a = std::move(it->second);
  activities_.erase(it);
  namespace ev = temporal::api::enums::v1;
  ActivityErrorInfo info;
  info.activity_type = a.activity_type;
  info.activity_id = a.activity_id;
  const converter::DataConverter& dc = Converter();
  switch (event.event_type()) {
    case ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
      const auto& attrs = event.activity_task_completed_event_attributes();
      a.state->value = std::make_unique<converter::Payload>(
          attrs.result().payloads_size() > 0 ? attrs.result().payloads(0) : dc.ToPayload(nullptr));
      Resolve(a.state);
      return;
    }
    case ev::EVENT_TYPE_ACTIVITY_TASK_FAILED: {
      const auto& attrs = event.activity_task_failed_event_attributes();
      info.scheduled_event_id = attrs.scheduled_event_id();
      info.started_event_id = attrs.started_event_id();
      info.identity = attrs.identity();
      info.retry_state = static_cast<RetryState>(attrs.retry_state());
      ResolveWithError(a.state,
                       std::make_exception_ptr(ActivityError("Activity task failed", info,
                                                             dc.FromFailure(attrs.failure()))));
      return;
    }
    case ev::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
      const auto& attrs = event.activity_task_timed_out_event_attributes();
      info.scheduled_event_id = attrs.scheduled_event_id();
      info.started_event_id = attrs.started_event_id();
      info.retry_state = static_cast<RetryState>(attrs.retry_state());
      ResolveWithError(a.state,
                       std::make_exception_ptr(ActivityError("Activity task timed out", info,
                                                             dc.FromFailure(attrs.failure()))));
      return;
    }
    case ev::EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
      const auto& attrs = event.activity_task_canceled_event_attributes();
      info.scheduled_event_id = attrs.scheduled_event_id();
      info.started_event_id = attrs.started_event_id();
      info.identity = attrs.identity();
      info.retry_state = RetryState::kCancelRequested;
      ResolveWithError(
          a.state,
          std::make_exception_ptr(ActivityError(
              "Activity task cancelled", info,
              std::make_exception_ptr(CanceledError("Activity cancelled", attrs.details())))));
      return;
    }
    default:
      return;
  }
}

std::shared_ptr<detail::PendingState> WorkflowRun::WaitCondition(
    std::function<bool()> condition, std::optional<std::chrono::milliseconds> timeout) {
  std::shared_ptr<detail::PendingState> state;
  if (TakeUndeliveredCancel(&state)) return state;
  state = std::make_shared<detail::PendingState>();
  if (condition()) {
    state->done = true;
    state->flag = true;
    return state;
  }
  Condition c{std::move(condition), state, 0};
  if (timeout) {
    if (timeout->count() <= 0) {
      state->done = true;
      state->flag = false;
      return state;
    }
    c.timer_seq = next_timer_seq_++;
    machines_.StartTimer(c.timer_seq, *timeout);
  }
  conditions_.push_back(std::move(c));
  return state;
}

void WorkflowRun::Resolve(const std::shared_ptr<detail::PendingState>& state) {
  if (state->done) return;
  state->done = true;
  if (state->waiter) ready_.push_back(std::exchange(state->waiter, {}));
}

void WorkflowRun::ResolveWithError(const std::shared_ptr<detail::PendingState>& state,
                                   std::exception_ptr error) {
  if (state->done) return;
  state->error = std::move(error);
  Resolve(state);
}

void WorkflowRun::Spawn(Task<void> task) {
  spawned_.push_back(std::move(task));
  ready_.push_back(spawned_.back().handle());
}

void WorkflowRun::RunUntilBlocked() {
  for (;;) {
    while (ready_head_ < ready_.size() && !machines_.closed()) {
      auto handle = ready_[ready_head_++];
      handle.resume();  // may append to ready_
    }
    if (ready_head_ == ready_.size()) {
      ready_.clear();
      ready_head_ = 0;
    }
    CheckFinished();
    if (machines_.closed()) return;
    bool progressed = false;
    for (auto it = conditions_.begin(); it != conditions_.end();) {
      if (it->predicate()) {
        if (it->timer_seq != 0 && machines_.TimerPending(it->timer_seq)) {
          machines_.CancelTimer(it->timer_seq);
        }
        it->state->flag = true;
        Resolve(it->state);
        it = conditions_.erase(it);
        progressed = true;
      } else {
        ++it;
      }
    }
    if (!progressed && ready_head_ == ready_.size()) {
      // Blocked: give the queue's buffer back, an idle cached run needs none.
      std::vector<std::coroutine_handle<>>().swap(ready_);
      ready_head_ = 0;
      return;
    }
  }
}

void WorkflowRun::CheckFinished() {
  // Spawned tasks (async signal handlers, WhenAll/WhenAny children).
  for (auto it = spawned_.begin(); it != spawned_.end();) {
    if (it->done()) {
      std::exception_ptr error = it->handle().promise().exception_;
      it = spawned_.erase(it);
      if (error) {
        FinishWithError(error);
        if (machines_.closed()) return;
      }
    } else {
      ++it;
    }
  }
  if (machines_.closed() || !root_.done()) return;
  try {
    converter::Payload result = root_.handle().promise().TakeResult();
    converter::Payloads payloads;
    *payloads.add_payloads() = std::move(result);
    machines_.CompleteWorkflow(std::move(payloads));
  } catch (...) {
    FinishWithError(std::current_exception());
  }
}

void WorkflowRun::FinishWithError(std::exception_ptr error) {
  if (cancel_requested_ && IsCancellation(error)) {
    machines_.CancelWorkflow();
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const FailureError&) {
    machines_.FailWorkflow(Converter().ToFailure(error));
  } catch (const std::exception& e) {
    throw WorkflowTaskError(std::string("workflow code threw: ") + e.what());
  } catch (...) {
    throw WorkflowTaskError("workflow code threw a non-std exception");
  }
}

converter::Payload WorkflowRun::Query(const std::string& name, const converter::Payloads& args) {
  CurrentGuard guard(this);
  if (name == "__stack_trace" || name == "__enhanced_stack_trace") {
    return Converter().ToPayload(std::string());
  }
  if (!registration_) throw WorkflowTaskError("workflow has not started");
  auto it = registration_->queries.find(name);
  if (it == registration_->queries.end() && registration_->dynamic_query) {
    return registration_->dynamic_query(instance_.get(), name, args);
  }
  if (it == registration_->queries.end()) {
    std::string names;
    for (const auto& [n, h] : registration_->queries) names += (names.empty() ? "" : ", ") + n;
    throw ApplicationError("Workflow did not register a handler for " + name +
                           ". Registered queries: [" + names + "]");
  }
  return it->second(instance_.get(), args);
}

}  // namespace internal
}  // namespace temporalio::workflow
