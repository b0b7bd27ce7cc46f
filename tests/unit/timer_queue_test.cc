#include "server/timer/timer_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

namespace temporalio::server::timer {
namespace {

using std::chrono::milliseconds;

// Records the order callbacks ran in; Wait blocks until `n` have run.
class Recorder {
 public:
  TimerQueue::Callback Add(int value) {
    return [this, value] {
      std::lock_guard lock(mu_);
      ran_.push_back(value);
      cv_.notify_all();
    };
  }
  std::vector<int> Wait(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ran_.size() >= n; });
    return ran_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> ran_;
};

// Holds the queue's thread in a callback due now, so that nothing scheduled
// after it can run before Open(), however slow the test runs (sanitizers).
class Gate {
 public:
  explicit Gate(TimerQueue& queue, const common::Clock& clock) {
    queue.Schedule(clock.Now(), [this] {
      running_.set_value();
      opened_.get_future().wait();
    });
    running_.get_future().wait();  // taken off the queue: not in size()
  }
  void Open() { opened_.set_value(); }

 private:
  std::promise<void> running_;
  std::promise<void> opened_;
};

class TimerQueueTest : public ::testing::Test {
 protected:
  common::SystemClock clock;
  Recorder recorder;  // outlives the queue, whose thread may still call it
  TimerQueue queue{&clock};
};

TEST_F(TimerQueueTest, RunsInDueOrderAndEqualTimesInScheduleOrder) {
  Gate gate(queue, clock);
  const auto base = clock.Now() + milliseconds(30);
  queue.Schedule(base + milliseconds(20), recorder.Add(4));
  queue.Schedule(base, recorder.Add(1));
  queue.Schedule(base + milliseconds(10), recorder.Add(2));
  queue.Schedule(base + milliseconds(10), recorder.Add(3));
  queue.Schedule(base - milliseconds(1000), recorder.Add(0));  // already due
  gate.Open();
  EXPECT_EQ(recorder.Wait(5), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST_F(TimerQueueTest, CancelledCallbacksNeverRunAndTheRestKeepTheirOrder) {
  Gate gate(queue, clock);
  const auto base = clock.Now() + milliseconds(50);
  // Enough cancelled entries that the heap is compacted several times.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5000; ++i) {
    ids.push_back(queue.Schedule(base + milliseconds(i % 97), recorder.Add(i)));
  }
  std::vector<int> expected;
  for (int i = 0; i < 5000; ++i) {
    if (i % 250 == 0) continue;
    queue.Cancel(ids[i]);
    queue.Cancel(ids[i]);  // a second cancel is a no-op
  }
  for (int t = 0; t < 97; ++t) {
    for (int i = 0; i < 5000; i += 250) {
      if (i % 97 == t) expected.push_back(i);
    }
  }
  EXPECT_EQ(queue.size(), expected.size());
  gate.Open();
  EXPECT_EQ(recorder.Wait(expected.size()), expected);
  queue.Cancel(ids[0]);  // already ran: no effect
  EXPECT_EQ(queue.size(), 0u);
}

TEST_F(TimerQueueTest, AnEarlierTimerWakesTheQueueBeforeALaterOne) {
  queue.Schedule(clock.Now() + std::chrono::hours(1), recorder.Add(2));
  const uint64_t cancelled =
      queue.Schedule(clock.Now() + std::chrono::minutes(30), recorder.Add(9));
  queue.Cancel(cancelled);
  queue.Schedule(clock.Now() + milliseconds(20), recorder.Add(1));
  EXPECT_EQ(recorder.Wait(1), (std::vector<int>{1}));
  EXPECT_EQ(queue.size(), 1u);
  queue.Stop();  // discards the hour-long timer
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace temporalio::server::timer
