// Internal interface between the workflow API templates (workflow.h) and the
// per-run executor (src/sdk/workflow/). Not for user code.
//
// Every function here must be called on the thread that is currently running
// an activation of the run (Current() throws std::logic_error elsewhere).
#ifndef TEMPORALIO_WORKFLOW_DETAIL_RUNTIME_H_
#define TEMPORALIO_WORKFLOW_DETAIL_RUNTIME_H_

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "temporalio/converter/data_converter.h"
#include "temporalio/workflow/task.h"

namespace temporalio::workflow {

struct WorkflowInfo;

namespace detail {

struct ActivityRequest;

// The state of one pending operation (timer, activity, condition, latch).
// Resolved exactly once by the runtime; the waiter (if any) is then resumed
// by the run's executor, never inline.
struct PendingState {
  bool done = false;
  // The activity's result once it completed. Allocated then: every timer and
  // pending activity of a cached run holds a PendingState.
  std::unique_ptr<converter::Payload> value;
  bool flag = false;  // WaitCondition with timeout: true = condition met
  std::exception_ptr error;
  std::coroutine_handle<> waiter;
};

// co_await-able view of a PendingState; yields the payload or throws.
class PendingAwaitable {
 public:
  using WorkflowAwaitableTag = void;
  explicit PendingAwaitable(std::shared_ptr<PendingState> state) : state_(std::move(state)) {}
  bool await_ready() const noexcept { return state_->done; }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { state_->waiter = waiter; }
  // The resolved state (shared: it outlives the awaitable temporary).
  std::shared_ptr<PendingState> await_resume() const {
    if (state_->error) std::rethrow_exception(state_->error);
    return state_;
  }

 private:
  std::shared_ptr<PendingState> state_;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Each Start* issues its command now and returns the pending result plus
  // the operation's sequence number (for Cancel*). If a workflow cancellation
  // is waiting to be delivered, the operation is instead resolved at once
  // with CanceledError (no command).
  virtual std::shared_ptr<PendingState> StartTimer(std::chrono::milliseconds duration,
                                                   int64_t* seq) = 0;
  virtual void CancelTimer(int64_t seq) = 0;
  virtual std::shared_ptr<PendingState> StartActivity(const ActivityRequest& request,
                                                      int64_t* seq) = 0;
  virtual void CancelActivity(int64_t seq) = 0;
  // Resolved (flag = true) once `condition` is true when checked after the
  // executor goes idle; with a timeout, resolved with flag = false when it
  // elapses first.
  virtual std::shared_ptr<PendingState> WaitCondition(
      std::function<bool()> condition, std::optional<std::chrono::milliseconds> timeout) = 0;
  // Resolves a latch created by WhenAll/WhenAny (resumes its waiter).
  virtual void Resolve(const std::shared_ptr<PendingState>& state) = 0;
  // Runs `task` concurrently; the run owns it until it finishes or the run ends.
  virtual void Spawn(Task<void> task) = 0;

  virtual const WorkflowInfo& Info() const = 0;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  virtual std::mt19937_64& Random() = 0;
  virtual bool IsReplaying() const = 0;
  virtual const converter::DataConverter& Converter() const = 0;
};

// The runtime of the activation running on this thread; throws
// std::logic_error when called outside workflow code.
Runtime& Current();

}  // namespace detail
}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_DETAIL_RUNTIME_H_
