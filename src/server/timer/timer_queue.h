// One thread that runs callbacks at their due time.
#ifndef TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_
#define TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"

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
  struct Due {
    common::TimePoint when;
    uint64_t id;
    // std::push_heap keeps the greatest on top; the earliest must be.
    bool operator<(const Due& other) const {
      return when != other.when ? when > other.when : id > other.id;
    }
  };

  void Run();
  // Drops cancelled entries from the top of the heap; mu_ held.
  void PopCancelled();

  const common::Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_. A binary heap on (due time, id), so equal times keep
  // schedule order, plus the callbacks of the timers still pending. A
  // cancelled timer only leaves `callbacks_`; its heap entry is dropped when
  // it reaches the top, or when cancelled entries outnumber pending ones.
  // (A server schedules several timers per workflow and cancels most poll
  // timers: a heap push is a few moves in one array where a tree insert was
  // two node allocations and a walk of two trees.)
  std::vector<Due> heap_;
  absl::flat_hash_map<uint64_t, Callback> callbacks_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace temporalio::server::timer

#endif  // TEMPORALIO_SERVER_TIMER_TIMER_QUEUE_H_
