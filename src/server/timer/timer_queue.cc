#include "server/timer/timer_queue.h"

#include <algorithm>

#include "common/thread_name.h"

namespace temporalio::server::timer {

TimerQueue::TimerQueue(const common::Clock* clock) : clock_(clock), thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() { Stop(); }

uint64_t TimerQueue::Schedule(common::TimePoint when, Callback callback) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  if (stopping_) return id;
  bool earliest = callbacks_.empty() || when < heap_.front().when;
  callbacks_.emplace(id, std::move(callback));
  heap_.push_back(Due{when, id});
  std::push_heap(heap_.begin(), heap_.end());
  if (earliest) cv_.notify_one();
  return id;
}

void TimerQueue::Cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  if (callbacks_.erase(id) == 0) return;
  PopCancelled();
  // Bound the memory of cancelled entries still deep in the heap.
  if (heap_.size() > 1024 && heap_.size() > 4 * callbacks_.size()) {
    std::erase_if(heap_, [this](const Due& d) { return !callbacks_.contains(d.id); });
    std::make_heap(heap_.begin(), heap_.end());
  }
}

void TimerQueue::PopCancelled() {
  while (!heap_.empty() && !callbacks_.contains(heap_.front().id)) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
}

void TimerQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    heap_.clear();
    callbacks_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t TimerQueue::size() const {
  std::lock_guard lock(mu_);
  return callbacks_.size();
}

void TimerQueue::Run() {
  common::SetCurrentThreadName("server-timers");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    PopCancelled();
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const Due first = heap_.front();
    if (clock_->Now() < first.when) {
      // The system clock; a virtual clock would notify on advance.
      cv_.wait_until(lock, first.when);
      continue;
    }
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
    auto it = callbacks_.find(first.id);
    Callback callback = std::move(it->second);
    callbacks_.erase(it);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace temporalio::server::timer
