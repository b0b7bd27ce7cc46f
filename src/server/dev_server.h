// The dev server as a library: started by `temporal server start-dev`, or
// in-process by tests and the SDK's test environment.
#ifndef TEMPORALIO_SERVER_DEV_SERVER_H_
#define TEMPORALIO_SERVER_DEV_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace temporalio::server {

namespace persistence {
class Store;
}  // namespace persistence

struct DevServerOptions {
  std::string ip = "127.0.0.1";
  // 0 picks a free port (read it back with DevServer::port()).
  int port = 7233;
  // SQLite file; empty keeps everything in memory (lost at exit).
  std::string db_filename;
  // Registered at start besides "default".
  std::vector<std::string> namespaces;
  std::vector<std::pair<std::string, std::string>> sqlite_pragmas;
  // Custom search attributes (name, type name: Text, Keyword, Int, Double,
  // Bool, Datetime, KeywordList; case-insensitive) registered at start in
  // "default" and `namespaces`. A bad one fails Start with INVALID_ARGUMENT.
  std::vector<std::pair<std::string, std::string>> search_attributes;
  // Prometheus endpoint http://ip:metrics_port/metrics; 0 picks a free port,
  // -1 (the default) serves none. Metrics are counted either way.
  int metrics_port = -1;
  // Idle runs untouched for `idle_sweep_ticks` sweeps (one per interval) are
  // kept as serialized state, their history only in the store, until next
  // used (tests shorten this).
  std::chrono::milliseconds idle_sweep_interval = std::chrono::seconds(1);
  uint32_t idle_sweep_ticks = 3;
  // Test hook: called with the store once it is open, before serving (tests
  // reach the SQLite store's pause hooks through it).
  std::function<void(persistence::Store&)> store_opened_for_testing;
};

// Counters for benchmarks (monotonic since start). See persistence::Store::Stats.
struct DevServerStats {
  uint64_t batches = 0;            // write batches handed to the store
  uint64_t transactions = 0;       // group transactions committed
  uint64_t synced_commits = 0;     // WAL fsyncs that made commits durable (FULL/EXTRA)
  uint64_t sync_micros = 0;        // time spent in those fsyncs
  uint64_t slow_syncs = 0;         // those that took >= 10 ms
  uint64_t slow_sync_micros = 0;   // time spent in the slow ones
  uint64_t events = 0;             // history events committed (state transitions)
  uint64_t max_group_batches = 0;  // most batches in one transaction
  uint64_t failed_batches = 0;
  uint64_t frozen_runs = 0;       // runs currently kept serialized (a gauge)
  uint64_t thawed_runs = 0;       // frozen runs read back from the store
  uint64_t eager_activities = 0;  // activities started in a workflow task completion reply
};

class DevServerImpl;

// Thread-safe. Shutdown (also by the destructor) stops serving, fails parked
// polls with UNAVAILABLE and flushes the store.
class DevServer {
 public:
  static absl::StatusOr<std::unique_ptr<DevServer>> Start(const DevServerOptions& options);
  ~DevServer();

  int port() const;
  // "ip:port" to dial.
  std::string address() const;
  // The metrics endpoint's port; 0 when not serving metrics.
  int metrics_port() const;
  // The current metrics in the Prometheus text format.
  std::string MetricsText() const;
  void Shutdown();
  // Thread-safe; all zeros after Shutdown.
  DevServerStats GetStats() const;
  // Blocks until Shutdown() is called from another thread.
  void Wait();

 private:
  explicit DevServer(std::unique_ptr<DevServerImpl> impl);
  std::unique_ptr<DevServerImpl> impl_;
};

}  // namespace temporalio::server

#endif  // TEMPORALIO_SERVER_DEV_SERVER_H_
