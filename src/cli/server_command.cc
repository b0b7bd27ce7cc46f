#include "cli/server_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <memory>
#include <thread>

#include "common/malloc_control.h"
#include "server/dev_server.h"
#include "temporalio/version.h"

namespace temporalio::cli {
namespace {

struct StartDevFlags {
  std::string ip = "127.0.0.1";
  int port = 7233;
  std::string db_filename;
  std::vector<std::string> namespaces;
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> dynamic_config;
  std::vector<std::string> sqlite_pragmas;
  bool headless = false;
  int ui_port = 0;
  std::vector<std::string> search_attributes;
  int metrics_port = 0;
};

// "127.0.0.1" -> "localhost", as the official CLI prints addresses.
std::string FriendlyHost(const std::string& ip) {
  return ip == "127.0.0.1" || ip == "::1" ? "localhost" : ip;
}

int RunStartDev(const StartDevFlags& flags) {
  auto level = spdlog::level::from_str(flags.log_level);
  if (level == spdlog::level::off && flags.log_level != "off" && flags.log_level != "never") {
    fmt::print(stderr, "Error: invalid --log-level {:?} (debug, info, warn, error)\n",
               flags.log_level);
    return 1;
  }
  spdlog::set_level(level);
  server::DevServerOptions options;
  options.ip = flags.ip;
  options.port = flags.port;
  options.db_filename = flags.db_filename;
  options.namespaces = flags.namespaces;
  for (const auto& kv : flags.sqlite_pragmas) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fmt::print(stderr, "Error: --sqlite-pragma wants KEY=VALUE, got {:?}\n", kv);
      return 1;
    }
    options.sqlite_pragmas.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& kv : flags.search_attributes) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size()) {
      fmt::print(stderr, "Error: --search-attribute wants NAME=TYPE, got {:?}\n", kv);
      return 1;
    }
    options.search_attributes.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  options.metrics_port = flags.metrics_port;
  for (const auto& kv : flags.dynamic_config) {
    // Accepted for compatibility with the official dev server's launchers
    // (e.g. the TypeScript SDK's test environment); none changes behaviour yet.
    spdlog::debug("ignoring --dynamic-config-value {}", kv);
  }

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // SIGUSR1 prints one line of counters (for bench/): "stats {json}".
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = server::DevServer::Start(options);
  if (!server.ok()) {
    fmt::print(stderr, "Error: failed to start the dev server: {}\n", server.status().ToString());
    return 1;
  }
  // The official start-dev banner (CLI 0.x/1.0 layout): `Server:` first, so
  // launchers can wait for that line.
  fmt::print("CLI {} (Server {})\n\n", Version(), Version());
  fmt::print("{:<8} {}\n", "Server:", (*server)->address());
  if (!flags.headless) fmt::print("{:<8} {}\n", "UI:", "(not available in this build)");
  fmt::print("{:<8} http://{}:{}/metrics\n", "Metrics:", FriendlyHost(flags.ip),
             (*server)->metrics_port());
  fmt::print("{:<8} {}\n",
             "Database:", flags.db_filename.empty() ? "in-memory" : flags.db_filename);
  std::fflush(stdout);

  std::thread waiter([&] {
    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGUSR1) {
      server::DevServerStats st = (*server)->GetStats();
      fmt::print(
          "stats {{\"batches\":{},\"transactions\":{},\"synced_commits\":{},\"events\":{},"
          "\"max_group_batches\":{},\"failed_batches\":{},\"frozen_runs\":{},"
          "\"thawed_runs\":{},\"eager_activities\":{},\"heap_in_use_bytes\":{},"
          "\"sync_micros\":{},\"slow_syncs\":{},\"slow_sync_micros\":{}}}\n",
          st.batches, st.transactions, st.synced_commits, st.events, st.max_group_batches,
          st.failed_batches, st.frozen_runs, st.thawed_runs, st.eager_activities,
          common::HeapAllocatedBytes(), st.sync_micros, st.slow_syncs, st.slow_sync_micros);
      std::fflush(stdout);
    }
    spdlog::info("signal {} received, shutting down", sig);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app, int* exit_code) {
  auto* server = app.add_subcommand("server", "Run Temporal Server");
  server->require_subcommand(1);
  auto* start_dev = server->add_subcommand(
      "start-dev", "Start Temporal development server (SQLite persistence; in memory by default)");
  auto flags = std::make_shared<StartDevFlags>();
  start_dev->add_option("--ip", flags->ip, "IP address bound to the frontend service")
      ->capture_default_str();
  start_dev->add_option("-p,--port", flags->port, "Port for the frontend gRPC service")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  start_dev->add_option("-f,--db-filename", flags->db_filename,
                        "File in which to persist Temporal state (default: in-memory)");
  start_dev->add_option("-n,--namespace", flags->namespaces, "Namespaces to create at launch");
  start_dev->add_option("--log-level", flags->log_level, "Log level: debug, info, warn, error")
      ->capture_default_str();
  start_dev->add_option("--log-format", flags->log_format, "Log format: text, json, pretty");
  start_dev->add_option("--dynamic-config-value", flags->dynamic_config,
                        "Dynamic configuration value KEY=JSON_VALUE (accepted; not applied)");
  start_dev->add_option("--sqlite-pragma", flags->sqlite_pragmas,
                        "SQLite pragma KEY=VALUE applied at open (repeatable)");
  start_dev->add_option("--search-attribute", flags->search_attributes,
                        "Search attribute NAME=TYPE to register at start (repeatable); types: "
                        "Text, Keyword, Int, Double, Bool, Datetime, KeywordList");
  start_dev
      ->add_option("--metrics-port", flags->metrics_port,
                   "Port for /metrics (Prometheus text format; default: a free port)")
      ->check(CLI::Range(0, 65535));
  start_dev->add_flag("--headless", flags->headless, "Disable the web UI");
  start_dev->add_option("--ui-port", flags->ui_port, "Port for the web UI (no UI in this build)");
  start_dev->callback([flags, exit_code] { *exit_code = RunStartDev(*flags); });
}

}  // namespace temporalio::cli
