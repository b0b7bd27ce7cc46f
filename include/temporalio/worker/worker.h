// Worker: polls one task queue for workflow tasks and activity tasks and runs
// the registered workflows and activities, over a Client's connection
// (namespace, identity, metadata, DataConverter including payload codecs).
//
//   auto client = temporalio::client::Client::Connect({.target_host = "127.0.0.1:7233"});
//   temporalio::worker::Worker worker(client, {.task_queue = "orders"});
//   worker.RegisterWorkflow(kOrderWorkflow, kApprove, kApproved);  // + signals/queries
//   worker.RegisterActivity(kCharge, &billing);  // ActivityDef<&Billing::Charge>
//   worker.RegisterActivity("Ship", [](const Order& o) { return Ship(o); });  // by name
//   worker.Run();  // until Shutdown() from another thread
//
// Workflow pollers run only when a workflow is registered, activity pollers
// only when an activity is; Start() with neither throws std::logic_error.
//
// Workflows (see temporalio/workflow/workflow.h for what workflow code may
// do): runs are cached (max_cached_workflows, LRU; 0 = replay every task from history);
// a non-determinism error, a non-Temporal exception from workflow code or
// an activation that does not yield within deadlock_timeout fails the
// workflow task (the server retries it); an ApplicationError fails the
// workflow. Legacy and attached queries are answered.
//
// Activity functions take one argument per payload (decoded with the
// client's DataConverter; a decode failure fails the attempt with a
// non-retryable ApplicationError of type "DecodeError") and return one
// payload (void: none). They run on worker threads, at most
// max_concurrent_activities at a time, possibly concurrently with themselves.
// Exceptions fail the attempt (ApplicationError controls type and
// retryability); CanceledError after a server cancellation request reports
// the activity canceled; activity::CompleteAsync() leaves it open.
//
// Thread safety: Register* before Start() (after it they throw
// std::logic_error); Start/Shutdown/Run are thread-safe. Shutdown stops both
// halves. The destructor calls Shutdown().
#ifndef TEMPORALIO_WORKER_WORKER_H_
#define TEMPORALIO_WORKER_WORKER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "temporalio/activity/context.h"
#include "temporalio/client/client.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"
#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/registry.h"

namespace temporalio::worker {

struct WorkerOptions {
  // Required.
  std::string task_queue;
  int max_concurrent_activities = 100;
  // Concurrent PollActivityTaskQueue calls (at most max_concurrent_activities).
  int activity_pollers = 2;
  // On Shutdown, how long running activities may finish before they are
  // cancelled (activity::IsCancelled()); Shutdown then waits for them to return.
  std::chrono::milliseconds graceful_shutdown_timeout{0};
  // Default: the client's identity.
  std::string identity;
  // Heartbeat throttling when an activity has no heartbeat timeout, and the cap.
  std::chrono::milliseconds default_heartbeat_throttle_interval{30000};
  std::chrono::milliseconds max_heartbeat_throttle_interval{60000};
  // Eager activity execution: a workflow task that schedules activities on
  // this task queue asks the server to start up to 3 of them right away for
  // this worker (when activity slots are free), saving a poll round trip each.
  // Needs both workflows and activities registered on this worker.
  bool disable_eager_activity_execution = false;

  // Workflows (used only when workflows are registered).
  // Cached workflow runs (LRU); 0 disables the cache and the sticky queue.
  size_t max_cached_workflows = 1000;
  // Workflow tasks in progress at once: polled and not yet answered,
  // outstanding polls included. Polls and completions do not hold a thread;
  // workflow code runs on max(2, hardware threads) executor threads.
  int max_concurrent_workflow_tasks = 2;
  // Concurrent PollWorkflowTaskQueue calls (at most
  // max_concurrent_workflow_tasks; with a cache at least 2 when possible, one
  // for the sticky queue).
  int workflow_pollers = 2;
  // An activation that does not yield within this fails its workflow task.
  std::chrono::milliseconds deadlock_timeout{2000};
  // How long the server waits for this worker to pick up a sticky task
  // before it falls back to the normal queue.
  std::chrono::milliseconds sticky_schedule_to_start_timeout{10000};
};

namespace detail {

// Decoded arguments in, encoded result out (codecs are applied by the worker).
using ActivityFn =
    std::function<converter::Payloads(const converter::DataConverter&, const converter::Payloads&)>;

template <class T>
struct CallableTraits : CallableTraits<decltype(&T::operator())> {};
template <class R, class... A>
struct CallableTraits<R (*)(A...)> {
  using Result = R;
  using Args = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct CallableTraits<R (*)(A...) noexcept> : CallableTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...)> : CallableTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) const> : CallableTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) noexcept> : CallableTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) const noexcept> : CallableTraits<R (*)(A...)> {};

template <class Tuple>
struct ArgDecoder;
template <class... Ts>
struct ArgDecoder<std::tuple<Ts...>> {
  static std::tuple<Ts...> Decode(const converter::DataConverter& dc,
                                  const converter::Payloads& input) {
    try {
      return dc.FromPayloads<Ts...>(input);
    } catch (const converter::DecodeError& e) {
      throw ApplicationError(std::string("failed to decode activity arguments: ") + e.what(),
                             {.type = "DecodeError", .non_retryable = true});
    }
  }
};

template <class F>
ActivityFn MakeActivityFn(F fn) {
  using Traits = CallableTraits<std::decay_t<F>>;
  using Result = typename Traits::Result;
  return [fn = std::move(fn)](const converter::DataConverter& dc,
                              const converter::Payloads& input) -> converter::Payloads {
    auto args = ArgDecoder<typename Traits::Args>::Decode(dc, input);
    if constexpr (std::is_void_v<Result>) {
      std::apply(fn, args);
      return {};
    } else {
      return dc.ToPayloads(std::apply(fn, args));
    }
  };
}

}  // namespace detail

namespace internal {
class WorkerImpl;
}  // namespace internal

class Worker {
 public:
  // Throws std::invalid_argument when task_queue is empty.
  Worker(client::Client client, WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // A free function, function pointer or lambda; types deduced from its signature.
  template <class F>
  Worker& RegisterActivity(std::string name, F fn) {
    RegisterActivityFn(std::move(name), detail::MakeActivityFn(std::move(fn)));
    return *this;
  }
  // A member function called on `object` (not owned; must outlive the worker).
  template <class C, class M>
  requires std::is_member_function_pointer_v<M> Worker& RegisterActivity(std::string name, M method,
                                                                         C* object) {
    using Traits = detail::CallableTraits<M>;
    auto bound = [method, object](auto&&... args) -> typename Traits::Result {
      return (object->*method)(std::forward<decltype(args)>(args)...);
    };
    RegisterActivityFn(std::move(name),
                       MakeBound<typename Traits::Result>(
                           std::move(bound), static_cast<typename Traits::Args*>(nullptr)));
    return *this;
  }
  // A typed activity definition, ActivityDef<&Fn> for a free function...
  template <auto F>
  requires std::is_void_v<typename ActivityDef<F>::Class> Worker& RegisterActivity(
      const ActivityDef<F>& def) {
    return RegisterActivity(std::string(def.name), F);
  }
  // ... or ActivityDef<&C::Method>, called on `object` (not owned; must
  // outlive the worker).
  template <auto F, class C>
  requires std::is_base_of_v<typename ActivityDef<F>::Class, C> Worker& RegisterActivity(
      const ActivityDef<F>& def, C* object) {
    return RegisterActivity(std::string(def.name), F, object);
  }
  // Type-erased registration (raw payloads).
  void RegisterActivityFn(std::string name, detail::ActivityFn fn);

  // A workflow (WorkflowDef or DynamicWorkflowDef) with its signal and query
  // handlers (SignalDef, QueryDef, DynamicSignalDef, DynamicQueryDef of the
  // same class). Throws std::invalid_argument when the name is taken.
  template <class Def, class... Handlers>
  Worker& RegisterWorkflow(const Def& def, const Handlers&... handlers) {
    MutableRegistry().Register(def, handlers...);
    return *this;
  }

  // Starts the pollers; returns at once. Throws std::logic_error if started twice.
  void Start();
  // Stops polling, lets running activities finish (then cancels them after
  // graceful_shutdown_timeout), waits for them, and tells the server. Idempotent.
  void Shutdown();
  // Start(), then blocks until Shutdown() completes (called from another thread).
  void Run();

 private:
  template <class R, class B, class... A>
  static detail::ActivityFn MakeBound(B bound, std::tuple<A...>*) {
    return detail::MakeActivityFn(
        std::function<R(const A&...)>([bound](const A&... a) -> R { return bound(a...); }));
  }
  // The registry workflows are added to; throws std::logic_error once started.
  workflow::WorkflowRegistry& MutableRegistry();

  std::shared_ptr<internal::WorkerImpl> impl_;
};

}  // namespace temporalio::worker

#endif  // TEMPORALIO_WORKER_WORKER_H_
