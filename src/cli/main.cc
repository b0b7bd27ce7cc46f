// The `temporal` command. Command and flag names follow the official Temporal CLI.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(true);
  std::vector<std::string> args(argv + 1, argv + argc);
  return temporalio::cli::RunCli(args, std::cout, std::cerr, isatty(STDOUT_FILENO) != 0);
}
