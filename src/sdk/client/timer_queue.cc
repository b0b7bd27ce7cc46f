#include "sdk/client/timer_queue.h"

#include <utility>

namespace temporalio::client::internal {

TimerQueue& TimerQueue::Shared() {
  static TimerQueue queue;
  return queue;
}

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() {
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  dropped.swap(timers_);
}

void TimerQueue::Schedule(std::chrono::steady_clock::time_point when,
                          std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.emplace(when, std::move(callback));
  }
  cv_.notify_all();
}

void TimerQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    if (first->first > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> callback = std::move(first->second);
    timers_.erase(first);
    lock.unlock();
    callback();
    callback = nullptr;  // Release captured state outside the lock.
    lock.lock();
  }
}

}  // namespace temporalio::client::internal
