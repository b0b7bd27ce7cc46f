// Durable storage for the dev server. The history engine keeps the working set
// in memory and writes every change through a Store before it acknowledges it.
#ifndef TEMPORALIO_SERVER_PERSISTENCE_STORE_H_
#define TEMPORALIO_SERVER_PERSISTENCE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace temporalio::server::persistence {

// A namespace row. `info` is opaque to the store (a serialized proto).
struct NamespaceRecord {
  std::string id;
  std::string name;
  std::string info;
};

// One workflow run. `state` is the opaque serialized mutable state; the other
// columns exist for visibility queries and start-up recovery.
struct ExecutionRecord {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;
  std::string workflow_type;
  std::string task_queue;
  int32_t status = 0;              // temporal.api.enums.v1.WorkflowExecutionStatus
  int64_t start_time_unix_ns = 0;
  int64_t close_time_unix_ns = 0;  // 0 while open
  int64_t history_length = 0;
  std::string state;
};

// Events appended to one run's history: events[i] has id first_event_id + i.
// Each element is a serialized temporal.api.history.v1.HistoryEvent.
struct HistoryAppend {
  std::string namespace_id;
  std::string run_id;
  int64_t first_event_id = 0;
  std::vector<std::string> events;
};

// Which run is "current" for a workflow id (the one start/signal address when
// no run id is given).
struct CurrentExecution {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;
};

// One atomic unit: all of it is durable, or none of it.
struct WriteBatch {
  std::vector<NamespaceRecord> namespaces;      // upsert by id
  std::vector<ExecutionRecord> executions;      // upsert by (namespace_id, run_id)
  std::vector<HistoryAppend> history;           // insert; an existing event id is an error
  std::vector<CurrentExecution> current;        // upsert by (namespace_id, workflow_id)

  bool empty() const {
    return namespaces.empty() && executions.empty() && history.empty() && current.empty();
  }
};

// Thread-safe. Commit may be called from any thread; `done` runs on the
// store's writer thread once the batch is durable (fsync'd per the configured
// synchronous mode) or failed. Batches from many callers are grouped into one
// transaction (group commit); each caller still learns its own outcome, and a
// batch is never reported durable before it is. Batches commit in call order.
class Store {
 public:
  virtual ~Store() = default;

  virtual void Commit(WriteBatch batch, std::function<void(absl::Status)> done) = 0;
  // Commit and wait.
  absl::Status CommitSync(WriteBatch batch);

  virtual absl::StatusOr<std::vector<NamespaceRecord>> LoadNamespaces() = 0;
  // All runs, open and closed, in start order.
  virtual absl::StatusOr<std::vector<ExecutionRecord>> LoadExecutions() = 0;
  // Serialized events of one run with id >= from_event_id, ascending, at most max_events.
  virtual absl::StatusOr<std::vector<std::string>> ReadHistory(const std::string& namespace_id,
                                                               const std::string& run_id,
                                                               int64_t from_event_id,
                                                               int64_t max_events) = 0;
  virtual absl::StatusOr<std::vector<CurrentExecution>> LoadCurrentExecutions() = 0;

  // Counters for benchmarks: batches accepted, transactions committed.
  struct Stats {
    uint64_t batches = 0;
    uint64_t transactions = 0;
  };
  virtual Stats GetStats() const = 0;
};

struct SqliteOptions {
  // File path; empty or ":memory:" for an in-memory database (lost at exit).
  std::string path;
  // "FULL" (default: fsync on every commit), "NORMAL" or "OFF".
  std::string synchronous = "FULL";
  // Extra PRAGMA key=value pairs applied at open (`--sqlite-pragma`).
  std::vector<std::pair<std::string, std::string>> pragmas;
};

// Opens (creating and migrating as needed) a SQLite store in WAL mode.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace temporalio::server::persistence

#endif  // TEMPORALIO_SERVER_PERSISTENCE_STORE_H_
