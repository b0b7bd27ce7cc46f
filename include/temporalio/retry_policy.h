// RetryPolicy: how the server retries a failed activity (or workflow).
// Zero/empty fields mean "server default" (initial 1 s, coefficient 2.0,
// maximum 100 x initial, unlimited attempts).
#ifndef TEMPORALIO_RETRY_POLICY_H_
#define TEMPORALIO_RETRY_POLICY_H_

#include <chrono>
#include <string>
#include <vector>

namespace temporalio {

struct RetryPolicy {
  std::chrono::milliseconds initial_interval{0};
  double backoff_coefficient = 0;
  std::chrono::milliseconds maximum_interval{0};
  int maximum_attempts = 0;  // 0 = unlimited; 1 = no retries
  std::vector<std::string> non_retryable_error_types;
};

}  // namespace temporalio

#endif  // TEMPORALIO_RETRY_POLICY_H_
