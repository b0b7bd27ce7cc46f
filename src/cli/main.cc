// The `temporal` command. Command and flag names follow the official Temporal CLI.
#include <absl/synchronization/mutex.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detection on (a global lock and a graph update per lock); gRPC's mutexes
  // are absl::Mutex. Measured ~3% of hello throughput.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::ios::sync_with_stdio(true);
  std::vector<std::string> args(argv + 1, argv + argc);
  return temporalio::cli::RunCli(args, std::cout, std::cerr, isatty(STDOUT_FILENO) != 0);
}
