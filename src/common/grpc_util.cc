#include "common/grpc_util.h"

#include <fmt/format.h>

namespace temporalio::common {

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos && !host.starts_with('[')) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

}  // namespace temporalio::common
