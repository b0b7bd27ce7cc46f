// `temporal server start-dev`.
#ifndef TEMPORALIO_CLI_SERVER_COMMAND_H_
#define TEMPORALIO_CLI_SERVER_COMMAND_H_

#include <CLI/CLI.hpp>

namespace temporalio::cli {

// Adds `server start-dev` under `app`; sets *exit_code when it ran.
void AddServerCommand(CLI::App& app, int* exit_code);

}  // namespace temporalio::cli

#endif  // TEMPORALIO_CLI_SERVER_COMMAND_H_
