// Internal: a process-wide timer for scheduling short callbacks (the client's
// async RPC retries) without parking a thread per pending timer.
#ifndef TEMPORALIO_SDK_CLIENT_TIMER_QUEUE_H_
#define TEMPORALIO_SDK_CLIENT_TIMER_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace temporalio::client::internal {

// One thread runs every due callback, in deadline order. Callbacks must be
// short and must not block (they issue an async RPC and return); they run on
// the timer thread, never under the queue's lock, so they may Schedule more.
//
// Thread-safe. The thread starts with the first Shared() call (i.e. the first
// retry) and is joined at static destruction, dropping callbacks not yet due.
class TimerQueue {
 public:
  static TimerQueue& Shared();

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `callback` on the timer thread at (or soon after) `when`.
  void Schedule(std::chrono::steady_clock::time_point when, std::function<void()> callback);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers_;
  bool stop_ = false;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace temporalio::client::internal

#endif  // TEMPORALIO_SDK_CLIENT_TIMER_QUEUE_H_
