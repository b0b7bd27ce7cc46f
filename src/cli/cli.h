// The `temporal` command line as a library, so tests can run it in-process.
#ifndef TEMPORALIO_CLI_CLI_H_
#define TEMPORALIO_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace temporalio::cli {

// Parses `args` (without the program name) and runs the command, writing
// results to `out` and diagnostics to `err`. Returns the process exit code:
// 0 on success; 1 for any error (bad flags, server errors, a workflow that did
// not complete for `execute`/`result`), reported as one "Error: ..." line on
// `err`. `out_is_tty` enables colours under --color auto. Reads TEMPORAL_*
// environment variables for defaults. Not reentrant across threads only in
// that `server start-dev` blocks and handles signals; client commands are
// safe to run concurrently.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           bool out_is_tty);

}  // namespace temporalio::cli

#endif  // TEMPORALIO_CLI_CLI_H_
