// Small helpers shared by the SDK, the server and the CLI.
#ifndef TEMPORALIO_COMMON_GRPC_UTIL_H_
#define TEMPORALIO_COMMON_GRPC_UTIL_H_

#include <string>

namespace temporalio::common {

// "host:port" for a loopback listener, bracketing IPv6 literals.
std::string JoinHostPort(const std::string& host, int port);

// Turns off absl::Mutex deadlock-cycle detection for the process (idempotent).
// Debian's absl is built with it on, and gRPC takes absl mutexes on every
// call: the lock-graph bookkeeping cost 2-4% of the server's and the worker's
// CPU under load. It only ever reports; it never changes locking.
void DisableMutexDeadlockDetection();

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_GRPC_UTIL_H_
