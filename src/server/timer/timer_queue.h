// One thread that runs callbacks at their due time.
#ifndef TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_
#define TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/clock.h"

namespace temporalio::server::timer {

// Thread-safe. Callbacks run on the queue's own thread, one at a time, in due
// order; they must not block for long. Stop() (also run by the destructor)
// discards callbacks not yet due.
class TimerQueue {
 public:
  using Callback = std::function<void()>;

  explicit TimerQueue(const common::Clock* clock);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `callback` at or after `when`. Returns an id for Cancel.
  uint64_t Schedule(common::TimePoint when, Callback callback);
  // Drops a callback not yet run; no effect if it ran or is running.
  void Cancel(uint64_t id);
  void Stop();
  size_t size() const;

 private:
  void Run();

  const common::Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_. Key: (due time, id) so equal times keep schedule order.
  std::map<std::pair<common::TimePoint, uint64_t>, Callback> due_;
  std::map<uint64_t, common::TimePoint> by_id_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace temporalio::server::timer

#endif  // TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_
