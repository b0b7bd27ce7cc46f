// Time source. The dev server and the SDK read time only through a Clock so
// tests can substitute a virtual clock (time skipping).
#ifndef TEMPORALIO_COMMON_CLOCK_H_
#define TEMPORALIO_COMMON_CLOCK_H_

#include <chrono>

namespace temporalio::common {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_CLOCK_H_
