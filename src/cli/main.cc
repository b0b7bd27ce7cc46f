// The `temporal` command. Command and flag names follow the official Temporal CLI.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/server_command.h"
#include "temporalio/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Temporal command-line interface and development server", "temporal"};
  app.set_version_flag("-v,--version", fmt::format("temporal version {} (Server {})",
                                                   temporalio::Version(), temporalio::Version()));
  app.require_subcommand(0, 1);
  int exit_code = 0;
  temporalio::cli::AddServerCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) std::fputs(app.help().c_str(), stdout);
  return exit_code;
}
