// Internal: the per-attempt activity context (heartbeat throttling,
// cancellation) and the heartbeat scheduler that flushes throttled details.
#ifndef TEMPORALIO_SDK_ACTIVITY_CONTEXT_INTERNAL_H_
#define TEMPORALIO_SDK_ACTIVITY_CONTEXT_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "sdk/client/client_core.h"
#include "temporalio/activity/context.h"

namespace temporalio::activity::internal {

enum class CancelReason { kNone = 0, kServer, kNotFound, kWorkerShutdown };

class ActivityContext;

// One thread that sends throttled heartbeats when their interval ends.
class HeartbeatScheduler {
 public:
  HeartbeatScheduler();
  ~HeartbeatScheduler();  // Stop()
  void Schedule(std::weak_ptr<ActivityContext> context, std::chrono::steady_clock::time_point at);
  void Stop();

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<ActivityContext>> due_;  // mu_
  bool stop_ = false;                                                                         // mu_
  std::thread thread_;
};

// Thread-safe.
class ActivityContext : public std::enable_shared_from_this<ActivityContext> {
 public:
  ActivityContext(std::shared_ptr<client::internal::ClientCore> core, ActivityInfo info,
                  std::chrono::milliseconds throttle, HeartbeatScheduler* scheduler);

  const ActivityInfo& info() const noexcept { return info_; }
  const converter::DataConverter& data_converter() const { return core_->data_converter(); }
  void Heartbeat(converter::Payloads details);
  // Called by the scheduler when a throttle interval ended.
  void FlushPending();
  // Stops heartbeating; returns the latest details recorded (sent or not).
  converter::Payloads Finish();

  void RequestCancel(CancelReason reason);
  CancelReason cancel_reason() const noexcept { return cancel_reason_.load(); }
  std::stop_token token() const noexcept { return stop_source_.get_token(); }

 private:
  void SendLocked(std::unique_lock<std::mutex>& lock);

  std::shared_ptr<client::internal::ClientCore> core_;
  const ActivityInfo info_;
  const std::chrono::milliseconds throttle_;
  HeartbeatScheduler* const scheduler_;
  std::stop_source stop_source_;
  std::atomic<CancelReason> cancel_reason_{CancelReason::kNone};

  std::mutex mu_;
  converter::Payloads latest_details_;                  // mu_
  bool has_pending_ = false;                            // mu_
  bool in_flight_ = false;                              // mu_
  bool flush_scheduled_ = false;                        // mu_
  bool done_ = false;                                   // mu_
  std::chrono::steady_clock::time_point next_allowed_;  // mu_
};

// The context of the activity running on this thread (null outside).
ActivityContext* Current() noexcept;
void SetCurrent(ActivityContext* context) noexcept;

}  // namespace temporalio::activity::internal

#endif  // TEMPORALIO_SDK_ACTIVITY_CONTEXT_INTERNAL_H_
