// Internal wiring shared by the `temporal` client commands: global flags, the
// per-run Runtime (printer + lazily dialled connection) and registration of
// each command group on a CLI11 app.
#ifndef TEMPORALIO_CLI_COMMANDS_H_
#define TEMPORALIO_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "cli/connection.h"
#include "cli/output.h"

namespace temporalio::cli {

// Flags accepted by every client command (and their environment variables).
struct GlobalFlags {
  ConnectionOptions connection;
  std::string output = "text";
  std::string time_format = "relative";
  std::string color = "auto";
  std::string command_timeout;
  bool no_json_shorthand_payloads = false;
};

// Everything a command needs while it runs. Not thread-safe.
class Runtime {
 public:
  // Validates the global flags (throws CliError on a bad value).
  Runtime(const GlobalFlags& flags, std::ostream& out, std::ostream& err, bool out_is_tty);

  Printer& printer() { return *printer_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  // Dials on first use.
  Connection& connection();
  const std::string& namespace_() const { return flags_.connection.namespace_; }
  bool shorthand_payloads() const { return !flags_.no_json_shorthand_payloads; }

 private:
  GlobalFlags flags_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Printer> printer_;
  std::unique_ptr<Connection> connection_;
};

// What a parsed command does; returns the exit code or throws CliError.
using Action = std::function<int(Runtime&)>;

// Each adds a command group under `app`; the chosen leaf stores its action in
// *action (which must outlive parsing).
void AddWorkflowCommands(CLI::App& app, Action* action);
void AddOperatorCommands(CLI::App& app, Action* action);
void AddTaskQueueCommands(CLI::App& app, Action* action);

}  // namespace temporalio::cli

#endif  // TEMPORALIO_CLI_COMMANDS_H_
