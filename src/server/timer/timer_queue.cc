#include "server/timer/timer_queue.h"

#include "common/thread_name.h"

namespace temporalio::server::timer {

TimerQueue::TimerQueue(const common::Clock* clock) : clock_(clock), thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() { Stop(); }

uint64_t TimerQueue::Schedule(common::TimePoint when, Callback callback) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  if (stopping_) return id;
  bool earliest = due_.empty() || when < due_.begin()->first.first;
  due_.emplace(std::make_pair(when, id), std::move(callback));
  by_id_.emplace(id, when);
  if (earliest) cv_.notify_one();
  return id;
}

void TimerQueue::Cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  due_.erase(std::make_pair(it->second, id));
  by_id_.erase(it);
}

void TimerQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    due_.clear();
    by_id_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t TimerQueue::size() const {
  std::lock_guard lock(mu_);
  return due_.size();
}

void TimerQueue::Run() {
  common::SetCurrentThreadName("server-timers");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    common::TimePoint when = first->first.first;
    if (clock_->Now() < when) {
      // The system clock; a virtual clock would notify on advance.
      cv_.wait_until(lock, when);
      continue;
    }
    Callback callback = std::move(first->second);
    by_id_.erase(first->first.second);
    due_.erase(first);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace temporalio::server::timer
