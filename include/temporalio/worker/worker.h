// Worker: polls one task queue for activity tasks and runs registered
// activity functions (workflow support is added by the workflow runtime).
//
//   temporalio::worker::Worker worker(client, {.task_queue = "orders"});
//   worker.RegisterActivity("Charge", [](const Order& o) { return Charge(o); });
//   worker.RegisterActivity("Ship", &Shipping::Ship, &shipping);
//   worker.Run();   // until Shutdown() from another thread
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
// Thread safety: Register* before Start(); Start/Shutdown/Run are
// thread-safe. The destructor calls Shutdown().
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
  // Type-erased registration (raw payloads).
  void RegisterActivityFn(std::string name, detail::ActivityFn fn);

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
  std::shared_ptr<internal::WorkerImpl> impl_;
};

}  // namespace temporalio::worker

#endif  // TEMPORALIO_WORKER_WORKER_H_
