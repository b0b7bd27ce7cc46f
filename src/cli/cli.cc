#include "cli/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.h"
#include "cli/server_command.h"
#include "temporalio/version.h"

namespace temporalio::cli {

Runtime::Runtime(const GlobalFlags& flags, std::ostream& out, std::ostream& err, bool out_is_tty)
    : flags_(flags), out_(out), err_(err) {
  OutputFormat format;
  if (flags_.output == "text") {
    format = OutputFormat::kText;
  } else if (flags_.output == "json") {
    format = OutputFormat::kJson;
  } else if (flags_.output == "jsonl") {
    format = OutputFormat::kJsonl;
  } else if (flags_.output == "none") {
    format = OutputFormat::kNone;
  } else {
    throw CliError(fmt::format("invalid --output {:?} (text, json, jsonl, none)", flags_.output));
  }
  TimeFormat time_format;
  if (flags_.time_format == "relative") {
    time_format = TimeFormat::kRelative;
  } else if (flags_.time_format == "iso") {
    time_format = TimeFormat::kIso;
  } else if (flags_.time_format == "raw") {
    time_format = TimeFormat::kRaw;
  } else {
    throw CliError(
        fmt::format("invalid time format {:?} (relative, iso, raw)", flags_.time_format));
  }
  bool color;
  if (flags_.color == "auto") {
    color = out_is_tty;
  } else if (flags_.color == "always" || flags_.color == "never") {
    color = flags_.color == "always";
  } else {
    throw CliError(fmt::format("invalid --color {:?} (always, never, auto)", flags_.color));
  }
  if (!flags_.command_timeout.empty()) {
    flags_.connection.command_timeout = ParseDuration(flags_.command_timeout, "--command-timeout");
  }
  printer_ = std::make_unique<Printer>(out_, format, time_format, color);
}

Connection& Runtime::connection() {
  if (!connection_) connection_ = std::make_unique<Connection>(flags_.connection);
  return *connection_;
}

namespace {

void AddGlobalFlags(CLI::App& app, GlobalFlags& g) {
  auto& c = g.connection;
  app.add_option("--address", c.address, "Temporal Service gRPC endpoint")
      ->envname("TEMPORAL_ADDRESS")
      ->capture_default_str();
  app.add_option("-n,--namespace", c.namespace_, "Temporal Service Namespace")
      ->envname("TEMPORAL_NAMESPACE")
      ->capture_default_str();
  app.add_option("--api-key", c.api_key, "API key for requests")->envname("TEMPORAL_API_KEY");
  app.add_option("--grpc-meta", c.grpc_meta, "HTTP headers for requests KEY=VALUE (repeatable)");
  app.add_flag("--tls", c.tls, "Enable TLS (implied by --api-key and the TLS options)")
      ->envname("TEMPORAL_TLS");
  app.add_option("--tls-cert-path", c.tls_cert_path, "Path to x509 client certificate")
      ->envname("TEMPORAL_TLS_CLIENT_CERT_PATH");
  app.add_option("--tls-key-path", c.tls_key_path, "Path to x509 client private key")
      ->envname("TEMPORAL_TLS_CLIENT_KEY_PATH");
  app.add_option("--tls-ca-path", c.tls_ca_path, "Path to server CA certificate")
      ->envname("TEMPORAL_TLS_SERVER_CA_CERT_PATH");
  app.add_option("--tls-server-name", c.tls_server_name, "Override target TLS server name")
      ->envname("TEMPORAL_TLS_SERVER_NAME");
  app.add_option("--identity", c.identity, "Identity of the client submitting requests");
  app.add_option("-o,--output", g.output, "Output format: text, json, jsonl, none")
      ->capture_default_str();
  app.add_option("--time-format", g.time_format, "Time format: relative, iso, raw")
      ->capture_default_str();
  app.add_option("--color", g.color, "Output coloring: always, never, auto")->capture_default_str();
  app.add_option("--command-timeout", g.command_timeout, "Command execution timeout (e.g. 10s)");
  app.add_flag("--no-json-shorthand-payloads", g.no_json_shorthand_payloads,
               "Raw payload output, even if the JSON option was used");
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           bool out_is_tty) {
  CLI::App app{"Temporal command-line interface and development server", "temporal"};
  app.set_version_flag("-v,--version",
                       fmt::format("temporal version {} (Server {})", Version(), Version()));
  app.require_subcommand(0, 1);
  app.fallthrough();
  GlobalFlags globals;
  AddGlobalFlags(app, globals);
  int server_exit_code = 0;
  AddServerCommand(app, &server_exit_code);
  Action action;
  AddWorkflowCommands(app, &action);
  AddOperatorCommands(app, &action);
  AddTaskQueueCommands(app, &action);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "Error: " << e.what() << '\n';
    return 1;
  } catch (const CliError& e) {
    err << "Error: " << e.what() << '\n';
    return 1;
  }
  if (!action) {
    if (app.get_subcommands().empty()) out << app.help();
    return server_exit_code;
  }
  try {
    Runtime runtime(globals, out, err, out_is_tty);
    int code = action(runtime);
    out.flush();
    return code;
  } catch (const CliError& e) {
    out.flush();
    err << "Error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    out.flush();
    err << "Error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace temporalio::cli
