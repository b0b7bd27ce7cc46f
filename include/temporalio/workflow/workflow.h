// The workflow API: what workflow code may call. Everything here must be
// called from workflow code (a workflow's Run, its signal handlers, or tasks
// they spawn) while the worker is running an activation of that run; outside
// of it the functions throw std::logic_error.
//
// All awaiting functions return a lazy workflow::Task: the command (timer,
// activity) is issued when the Task is first awaited, except StartTimer and
// StartActivity which issue it at once and return a handle that can cancel.
//
// Cancellation: when the workflow is asked to cancel, every pending timer,
// activity and condition is cancelled (awaiting it throws CanceledError, or
// ActivityError caused by CanceledError for activities). If nothing is
// pending, the next Sleep/activity/condition throws CanceledError instead.
// The cancellation is delivered once: later awaits work normally, so the
// workflow may clean up (e.g. run a compensating activity). If the workflow
// then ends with a cancellation error, the run is recorded as canceled.
#ifndef TEMPORALIO_WORKFLOW_WORKFLOW_H_
#define TEMPORALIO_WORKFLOW_WORKFLOW_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"
#include "temporalio/retry_policy.h"
#include "temporalio/workflow/detail/runtime.h"
#include "temporalio/workflow/task.h"

namespace temporalio::workflow {

// Mirrors coresdk ActivityCancellationType / TS ActivityCancellationType.
enum class ActivityCancellationType {
  // Request cancellation and resolve the activity as canceled at once.
  kTryCancel = 0,
  // Request cancellation and wait until the activity reports it.
  kWaitCancellationCompleted = 1,
  // Resolve as canceled at once; do not tell the server.
  kAbandon = 2,
};

// Zero durations are "unset". One of start_to_close_timeout or
// schedule_to_close_timeout must be set (the server rejects the command
// otherwise and the workflow task fails).
//
// ActivityOptions is trivially destructible on purpose (string_view, pointer):
// GCC 12 destroys non-trivial temporaries inside a co_await expression twice,
// and `co_await ExecuteActivity(kDef, x, {.start_to_close_timeout = 5s})`
// must be safe. The referenced strings/policy only need to live until
// ExecuteActivity/StartActivity returns (they are copied then).
// With GCC 12 also avoid writing non-trivial temporaries such as
// std::string("x") yourself inside a co_await expression: bind them to a
// local first (string literals are fine: arguments are taken by reference).
struct ActivityOptions {
  std::chrono::milliseconds start_to_close_timeout{0};
  std::chrono::milliseconds schedule_to_close_timeout{0};
  std::chrono::milliseconds schedule_to_start_timeout{0};
  std::chrono::milliseconds heartbeat_timeout{0};
  const RetryPolicy* retry_policy = nullptr;  // null = server default
  // Empty = the workflow's task queue.
  std::string_view task_queue;
  ActivityCancellationType cancellation_type = ActivityCancellationType::kTryCancel;
  // Empty = the activity's sequence number, as the other SDKs do.
  std::string_view activity_id;
  // By default an activity on this worker's own task queue may start at once
  // in the reply to the workflow task that schedules it, when the worker has
  // a free activity slot (eager execution, as the other SDKs do); set to
  // always go through the task queue.
  bool disable_eager_execution = false;
};

namespace detail {
// ActivityOptions with owned strings, as the runtime keeps them.
struct ActivityRequest {
  std::string activity_type;
  converter::Payloads args;
  std::chrono::milliseconds start_to_close_timeout{0};
  std::chrono::milliseconds schedule_to_close_timeout{0};
  std::chrono::milliseconds schedule_to_start_timeout{0};
  std::chrono::milliseconds heartbeat_timeout{0};
  std::optional<RetryPolicy> retry_policy;
  std::string task_queue;
  ActivityCancellationType cancellation_type = ActivityCancellationType::kTryCancel;
  std::string activity_id;
  bool disable_eager_execution = false;
};
inline ActivityRequest MakeActivityRequest(std::string_view type, converter::Payloads args,
                                           const ActivityOptions& o) {
  ActivityRequest r;
  r.activity_type = std::string(type);
  r.args = std::move(args);
  r.start_to_close_timeout = o.start_to_close_timeout;
  r.schedule_to_close_timeout = o.schedule_to_close_timeout;
  r.schedule_to_start_timeout = o.schedule_to_start_timeout;
  r.heartbeat_timeout = o.heartbeat_timeout;
  if (o.retry_policy != nullptr) r.retry_policy = *o.retry_policy;
  r.task_queue = std::string(o.task_queue);
  r.cancellation_type = o.cancellation_type;
  r.activity_id = std::string(o.activity_id);
  r.disable_eager_execution = o.disable_eager_execution;
  return r;
}

// A by-reference view of one argument of declared type A, constructible from
// anything convertible to A without materializing an A temporary (see the
// GCC 12 note above); encodes it as an A.
template <class A>
class ArgRef {
 public:
  template <class U>
  requires std::is_convertible_v<const U&, A> ArgRef(const U& value)
      : ptr_(&value), encode_(&Encode<U>) {}  // NOLINT: implicit
  converter::Payload ToPayload(const converter::DataConverter& dc) const {
    return encode_(dc, ptr_);
  }

 private:
  template <class U>
  static converter::Payload Encode(const converter::DataConverter& dc, const void* p) {
    if constexpr (std::is_same_v<U, A>) {
      return dc.ToPayload(*static_cast<const A*>(p));
    } else {
      return dc.ToPayload(static_cast<A>(*static_cast<const U*>(p)));
    }
  }
  const void* ptr_;
  converter::Payload (*encode_)(const converter::DataConverter&, const void*);
};
template <class... A>
converter::Payloads EncodeArgs(const converter::DataConverter& dc, const ArgRef<A>&... args) {
  converter::Payloads payloads;
  ((*payloads.add_payloads() = args.ToPayload(dc)), ...);
  return payloads;
}
}  // namespace detail

struct WorkflowInfo {
  std::string namespace_;
  std::string workflow_id;
  std::string run_id;
  std::string workflow_type;
  std::string task_queue;
  std::string first_execution_run_id;
  int attempt = 1;
  std::chrono::system_clock::time_point start_time;
};

// A workflow is being replayed (its history is re-executed); Logger() is
// silent then.
bool IsReplaying();
const WorkflowInfo& Info();
// The start time of the current workflow task (deterministic).
std::chrono::system_clock::time_point Now();
// Deterministic pseudo-random numbers, seeded from the run's original run id
// (same seed on every replay): Random() is uniform in [0, 1).
double Random();
std::string Uuid4();
// The worker's payload converter (for raw payloads, e.g. in dynamic handlers).
const converter::PayloadConverter& PayloadConverter();

// Logging that is suppressed while replaying. Writes "[workflow <id>] msg" to
// std::clog.
class WorkflowLogger {
 public:
  void Info(std::string_view message) const;
  void Warn(std::string_view message) const;
  void Error(std::string_view message) const;
};
WorkflowLogger Logger();

// A durable timer. Sleep(0) resolves without a timer.
Task<void> Sleep(std::chrono::milliseconds duration);

// A timer started now; Cancel() cancels it (Wait() then throws CanceledError).
class Timer {
 public:
  explicit Timer(std::chrono::milliseconds duration);
  void Cancel();
  Task<void> Wait();

 private:
  std::shared_ptr<detail::PendingState> state_;
  int64_t seq_ = 0;
};

// Resolves once `condition()` is true (checked whenever the workflow is idle).
Task<void> WaitCondition(std::function<bool()> condition);
// As above; returns false if `timeout` elapses first.
Task<bool> WaitCondition(std::function<bool()> condition, std::chrono::milliseconds timeout);

// True if `error` is a cancellation (CanceledError, or an ActivityError /
// ChildWorkflowError caused by one).
bool IsCancellation(std::exception_ptr error);

namespace detail {
template <class R>
Task<R> AwaitActivity(std::shared_ptr<PendingState> state) {
  std::shared_ptr<PendingState> done = co_await PendingAwaitable(std::move(state));
  if constexpr (!std::is_void_v<R>) {
    co_return Current().Converter().template FromPayload<R>(done->value ? *done->value
                                                                        : converter::Payload());
  }
}
template <class R>
Task<R> ScheduleActivity(ActivityRequest request) {
  int64_t seq = 0;
  auto state = Current().StartActivity(request, &seq);
  if constexpr (std::is_void_v<R>) {
    co_await AwaitActivity<void>(std::move(state));
  } else {
    co_return co_await AwaitActivity<R>(std::move(state));
  }
}
}  // namespace detail

// An activity started with StartActivity.
template <class R>
class ActivityHandle {
 public:
  ActivityHandle(std::shared_ptr<detail::PendingState> state, int64_t seq)
      : state_(std::move(state)), seq_(seq) {}
  // Cancels per the options' cancellation_type; no-op once resolved.
  void Cancel() {
    if (!state_->done) detail::Current().CancelActivity(seq_);
  }
  // The activity's result; throws ActivityError on failure. Await once.
  Task<R> Result() { return detail::AwaitActivity<R>(state_); }

 private:
  std::shared_ptr<detail::PendingState> state_;
  int64_t seq_;
};

// Untyped activity by name: ExecuteActivity<std::string>("Greet", options, "x").
template <class R, class... Args>
Task<R> ExecuteActivity(std::string_view activity_type, const ActivityOptions& options,
                        const Args&... args) {
  return detail::ScheduleActivity<R>(detail::MakeActivityRequest(
      activity_type, detail::Current().Converter().ToPayloads(args...), options));
}

// --- Concurrency -----------------------------------------------------------

namespace detail {
template <class T>
struct WhenAllState {
  std::vector<std::optional<T>> results;
  std::exception_ptr first_error;
  size_t remaining = 0;
  std::shared_ptr<PendingState> latch = std::make_shared<PendingState>();
};
struct Empty {};
template <class T>
using VoidToEmpty = std::conditional_t<std::is_void_v<T>, Empty, T>;
template <class T>
Task<void> WhenAllChild(Task<T> task, std::shared_ptr<WhenAllState<VoidToEmpty<T>>> state,
                        size_t index) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      state->results[index].emplace();
    } else {
      state->results[index].emplace(co_await std::move(task));
    }
  } catch (...) {
    if (!state->first_error) state->first_error = std::current_exception();
  }
  if (--state->remaining == 0) Current().Resolve(state->latch);
}
struct WhenAnyState {
  std::optional<size_t> winner;
  std::shared_ptr<PendingState> latch = std::make_shared<PendingState>();
};
template <class T>
Task<void> WhenAnyChild(Task<T> task, std::shared_ptr<WhenAnyState> state, size_t index) {
  std::exception_ptr error;
  try {
    co_await std::move(task);
  } catch (...) {
    error = std::current_exception();
  }
  if (!state->winner) {
    state->winner = index;
    state->latch->error = error;
    Current().Resolve(state->latch);
  }
}
}  // namespace detail

// Runs all tasks concurrently; returns their results in order, or rethrows
// the first error (after all have finished).
template <class T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> WhenAll(
    std::vector<Task<T>> tasks) {
  auto state = std::make_shared<detail::WhenAllState<detail::VoidToEmpty<T>>>();
  state->results.resize(tasks.size());
  state->remaining = tasks.size();
  if (tasks.empty()) state->latch->done = true;
  for (size_t i = 0; i < tasks.size(); ++i) {
    detail::Current().Spawn(detail::WhenAllChild<T>(std::move(tasks[i]), state, i));
  }
  co_await detail::PendingAwaitable(state->latch);
  if (state->first_error) std::rethrow_exception(state->first_error);
  if constexpr (!std::is_void_v<T>) {
    std::vector<T> out;
    out.reserve(state->results.size());
    for (auto& r : state->results) out.push_back(std::move(*r));
    co_return out;
  }
}

// Runs the tasks concurrently; returns the index of the first to finish
// (rethrowing its error if it failed). The others keep running, owned by the
// run; their results are dropped.
template <class... Ts>
Task<size_t> WhenAny(Task<Ts>... tasks) {
  auto state = std::make_shared<detail::WhenAnyState>();
  size_t index = 0;
  (detail::Current().Spawn(detail::WhenAnyChild<Ts>(std::move(tasks), state, index++)), ...);
  co_await detail::PendingAwaitable(state->latch);
  co_return *state->winner;
}
template <class T>
Task<size_t> WhenAny(std::vector<Task<T>> tasks) {
  auto state = std::make_shared<detail::WhenAnyState>();
  for (size_t i = 0; i < tasks.size(); ++i) {
    detail::Current().Spawn(detail::WhenAnyChild<T>(std::move(tasks[i]), state, i));
  }
  co_await detail::PendingAwaitable(state->latch);
  co_return *state->winner;
}

}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_WORKFLOW_H_
