// workflow::Task<T>: the coroutine type of workflow code.
//
// Contract:
//  - Lazy: a Task does nothing until it is co_awaited (or started by the
//    runtime). Awaiting resumes the awaiter by symmetric transfer when the
//    task finishes, so deep call chains do not grow the stack.
//  - [[nodiscard]] and move-only; destroying a Task destroys its frame.
//  - Inside a Task, co_await accepts only workflow awaitables (another Task,
//    or what the workflow API returns: Sleep, ExecuteActivity, WaitCondition,
//    WhenAll/WhenAny, ...). Awaiting anything else (std::future, a gRPC call,
//    a foreign coroutine type) is a compile-time error, because it could not
//    be replayed deterministically.
//  - Not thread-safe: a Task belongs to one workflow run, driven by that run's
//    single-threaded executor.
#ifndef TEMPORALIO_WORKFLOW_TASK_H_
#define TEMPORALIO_WORKFLOW_TASK_H_

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace temporalio::workflow {

template <class T = void>
class Task;

namespace detail {

// An awaitable the workflow runtime accepts declares `using WorkflowAwaitableTag = void;`.
template <class A>
concept WorkflowAwaitable = requires {
  typename std::remove_cvref_t<A>::WorkflowAwaitableTag;
};

class PromiseBase {
 public:
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      std::coroutine_handle<> next = self.promise().continuation_;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  template <class A>
  A&& await_transform(A&& awaitable) {
    static_assert(WorkflowAwaitable<A>,
                  "temporalio: workflow code may only co_await workflow awaitables "
                  "(workflow::Task, Sleep, ExecuteActivity, WaitCondition, WhenAll, ...); "
                  "std::future, gRPC calls and other awaitables are not deterministic");
    return std::forward<A>(awaitable);
  }

  std::coroutine_handle<> continuation_;
  std::exception_ptr exception_;
};

template <class T>
class Promise final : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) {
    if constexpr (kBoxed) {
      value_ = std::make_unique<T>(std::forward<U>(value));
    } else {
      value_.emplace(std::forward<U>(value));
    }
  }
  T TakeResult() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(*value_);
  }

 private:
  // A large result (a Payload is 176 bytes) is allocated when it is produced:
  // suspended frames, which are most of a cached workflow, then hold a
  // pointer instead of room for a result they do not have yet.
  static constexpr bool kBoxed = sizeof(T) > 64;
  std::conditional_t<kBoxed, std::unique_ptr<T>, std::optional<T>> value_;
};

template <>
class Promise<void> final : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void TakeResult() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using WorkflowAwaitableTag = void;
  using ValueType = T;

  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool done() const noexcept { return handle_ && handle_.done(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation_ = awaiter;
    return handle_;
  }
  T await_resume() { return handle_.promise().TakeResult(); }

  // Runtime use: the raw handle (the runtime starts root tasks itself).
  std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

 private:
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_TASK_H_
