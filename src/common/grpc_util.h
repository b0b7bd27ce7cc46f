// Small helpers shared by the SDK, the server and the CLI.
#ifndef TEMPORALIO_COMMON_GRPC_UTIL_H_
#define TEMPORALIO_COMMON_GRPC_UTIL_H_

#include <string>

namespace temporalio::common {

// "host:port" for a loopback listener, bracketing IPv6 literals.
std::string JoinHostPort(const std::string& host, int port);

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_GRPC_UTIL_H_
