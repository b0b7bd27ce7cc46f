#include "common/grpc_util.h"

#include <fmt/format.h>

#include "absl/synchronization/mutex.h"

namespace temporalio::common {

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos && !host.starts_with('[')) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace temporalio::common
