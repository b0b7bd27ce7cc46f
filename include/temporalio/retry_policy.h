// RetryPolicy: how the server retries a failed workflow or activity
// (temporal.api.common.v1.RetryPolicy). A plain value type.
#ifndef TEMPORALIO_RETRY_POLICY_H_
#define TEMPORALIO_RETRY_POLICY_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace temporalio {

struct RetryPolicy {
  // Unset fields take the server's defaults (1 s, 2.0, 100 x initial, unlimited).
  std::optional<std::chrono::milliseconds> initial_interval;
  double backoff_coefficient = 0;  // 0 = server default
  std::optional<std::chrono::milliseconds> maximum_interval;
  int maximum_attempts = 0;  // 0 = unlimited
  std::vector<std::string> non_retryable_error_types;
};

}  // namespace temporalio

#endif  // TEMPORALIO_RETRY_POLICY_H_
