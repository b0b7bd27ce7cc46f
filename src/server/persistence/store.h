// Durable storage for the dev server. The history engine keeps the working set
// in memory and writes every change through a Store before it acknowledges it.
#ifndef TEMPORALIO_SERVER_PERSISTENCE_STORE_H_
#define TEMPORALIO_SERVER_PERSISTENCE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace temporalio::server::persistence {

// A namespace row. `info` is opaque to the store (a serialized proto).
struct NamespaceRecord {
  std::string id;
  std::string name;
  std::string info;

  bool operator==(const NamespaceRecord&) const = default;
};

// One workflow run. `state` is the opaque serialized mutable state; the other
// columns exist for visibility queries and start-up recovery.
struct ExecutionRecord {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;
  std::string workflow_type;
  std::string task_queue;
  int32_t status = 0;  // temporal.api.enums.v1.WorkflowExecutionStatus
  int64_t start_time_unix_ns = 0;
  int64_t close_time_unix_ns = 0;  // 0 while open
  int64_t history_length = 0;
  std::string state;
  // What the writer expects of this write, so that the store tries the
  // statement that fits first. Only a hint: a wrong one costs a failed
  // lookup, never a wrong row.
  enum class Change : uint8_t {
    kUnknown,
    kNewRun,  // the run's first write
    kState,   // an open run's state (status and close time unchanged)
    kClosed,  // a closed run (its close, or a later change)
  };
  Change change = Change::kUnknown;

  bool operator==(const ExecutionRecord&) const = default;
};

// Events appended to one run's history: events[i] has id first_event_id + i.
// Each element is a serialized temporal.api.history.v1.HistoryEvent.
struct HistoryAppend {
  std::string namespace_id;
  std::string run_id;
  int64_t first_event_id = 0;
  std::vector<std::string> events;

  bool operator==(const HistoryAppend&) const = default;
};

// Which run is "current" for a workflow id (the one start/signal address when
// no run id is given).
struct CurrentExecution {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;

  bool operator==(const CurrentExecution&) const = default;
};

// A custom search attribute registered in a namespace. `type` is a
// temporal.api.enums.v1.IndexedValueType.
struct SearchAttributeRecord {
  std::string namespace_id;
  std::string name;
  int32_t type = 0;

  bool operator==(const SearchAttributeRecord&) const = default;
};

// A run to delete: its execution row and history events go, and the
// current-run pointer of its workflow id when it points at this run.
struct DeletedExecution {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;

  bool operator==(const DeletedExecution&) const = default;
};

// One atomic unit: all of it is durable, or none of it. Deletions are applied
// after the upserts and inserts of the same batch.
struct WriteBatch {
  std::vector<NamespaceRecord> namespaces;               // upsert by id
  std::vector<ExecutionRecord> executions;               // upsert by (namespace_id, run_id)
  std::vector<HistoryAppend> history;                    // insert; an existing event id is an error
  std::vector<CurrentExecution> current;                 // upsert by (namespace_id, workflow_id)
  std::vector<SearchAttributeRecord> search_attributes;  // upsert by (namespace_id, name)
  std::vector<SearchAttributeRecord> removed_search_attributes;  // by (namespace_id, name)
  std::vector<DeletedExecution> deleted_executions;

  bool empty() const {
    return namespaces.empty() && executions.empty() && history.empty() && current.empty() &&
           search_attributes.empty() && removed_search_attributes.empty() &&
           deleted_executions.empty();
  }
};

// Thread-safe. Commit may be called from any thread; `done` runs on the
// store's writer thread (or a thread in Drive) once the batch is durable (fsync'd per the
// configured synchronous mode) or failed. Batches from many callers are grouped into one
// transaction (group commit); each caller still learns its own outcome, and a
// batch is never reported durable before it is. Batches commit in call order.
//
// Callbacks: `done` runs on the writer thread, so it must be quick and must not
// throw; every other batch waits for it. It may call Commit (the new batch
// goes into a later group) but must never block waiting for another commit:
// CommitSync from a callback would wait for the thread it runs on, so it
// returns FailedPreconditionError instead of deadlocking.
//
// Destruction commits everything already queued, runs its callbacks, then
// stops the writer. A Commit made once destruction has begun (e.g. from a
// callback of a drained batch) is not written: its `done` runs at once, on
// the calling thread, with CancelledError. Commit must not otherwise race with
// the destructor (the caller must not use a store it is destroying).
class Store {
 public:
  virtual ~Store() = default;

  virtual void Commit(WriteBatch batch, std::function<void(absl::Status)> done) = 0;
  // Queues the batch like Commit without waking the writer thread: the caller
  // promises to call Drive() soon, from a point where it holds no lock that a
  // `done` callback takes. Batches still commit in call order.
  virtual void Enqueue(WriteBatch batch, std::function<void(absl::Status)> done) {
    Commit(std::move(batch), std::move(done));
  }
  // Writes what is queued. When nothing else is being written or synced, the
  // group transaction, its fsync and the callbacks run on the calling thread
  // (at low load this saves the hand-offs to the writer and syncer threads,
  // each a wake-up on a commit's critical path); otherwise wakes the writer.
  virtual void Drive() {}
  // Commit and wait. Errors: as Commit's; FailedPreconditionError when called
  // on this store's writer thread (from a `done` callback), where waiting would
  // deadlock.
  absl::Status CommitSync(WriteBatch batch);

  virtual absl::StatusOr<std::vector<NamespaceRecord>> LoadNamespaces() = 0;
  // All runs, open and closed, in start order.
  virtual absl::StatusOr<std::vector<ExecutionRecord>> LoadExecutions() = 0;
  // Serialized events of one run with id >= from_event_id, ascending, at most
  // max_events (max_events <= 0: no limit). An unknown run yields no events.
  virtual absl::StatusOr<std::vector<std::string>> ReadHistory(const std::string& namespace_id,
                                                               const std::string& run_id,
                                                               int64_t from_event_id,
                                                               int64_t max_events) = 0;
  virtual absl::StatusOr<std::vector<CurrentExecution>> LoadCurrentExecutions() = 0;
  // Custom search attributes of all namespaces, by (namespace_id, name).
  virtual absl::StatusOr<std::vector<SearchAttributeRecord>> LoadSearchAttributes() = 0;

  // Counters for benchmarks: batches accepted, transactions committed.
  // batches / transactions is the group-commit factor.
  struct Stats {
    uint64_t batches = 0;
    uint64_t transactions = 0;
    uint64_t failed_batches = 0;       // batches whose `done` got an error
    uint64_t failed_transactions = 0;  // group transactions that did not commit
    uint64_t max_group_batches = 0;    // most batches in one transaction
    // WAL fsyncs that made commits durable (synchronous=FULL/EXTRA; one may
    // cover several transactions); NORMAL/OFF and in-memory: 0.
    uint64_t synced_commits = 0;
    // Time spent in those fsyncs; the ones that took at least
    // SqliteStore::kSlowSyncThreshold (10 ms), and their time. Every commit
    // acknowledged after a slow fsync waited for it, so these explain a
    // latency tail that the server's own work does not.
    uint64_t sync_micros = 0;
    uint64_t slow_syncs = 0;
    uint64_t slow_sync_micros = 0;
    // History events written by committed transactions (state transitions).
    uint64_t events = 0;
    // WAL checkpoints run by the background checkpointer, and by the writer
    // itself when the background ones fell behind.
    uint64_t background_checkpoints = 0;
    uint64_t writer_checkpoints = 0;
  };
  virtual Stats GetStats() const = 0;

 protected:
  // An implementation calls this on its writer thread (the thread that runs
  // `done` callbacks) so that CommitSync there fails instead of deadlocking.
  void MarkCurrentThreadAsWriter() const;
  // For a thread that runs callbacks for a while (Drive): marks it as this
  // store's writer until destroyed, then restores what it was.
  class WriterScope {
   public:
    explicit WriterScope(const Store* store);
    ~WriterScope();
    WriterScope(const WriterScope&) = delete;
    WriterScope& operator=(const WriterScope&) = delete;

   private:
    const Store* previous_;
  };
};

struct SqliteOptions {
  // File path; empty or ":memory:" for an in-memory database (lost at exit).
  std::string path;
  // "FULL" (default: fsync on every commit), "NORMAL" or "OFF" ("EXTRA" too;
  // case-insensitive). Anything else fails the open with InvalidArgumentError.
  std::string synchronous = "FULL";
  // Extra PRAGMA key=value pairs applied at open (`--sqlite-pragma`) to every
  // connection, after journal_mode=WAL and synchronous. Keys must be
  // identifiers and values plain words or numbers ([A-Za-z0-9_.+-]); anything
  // else, or a pragma statement that fails, fails the open with
  // InvalidArgumentError (SQLite itself silently ignores unknown pragmas).
  std::vector<std::pair<std::string, std::string>> pragmas;
};

// Opens (creating and migrating as needed) a SQLite store in WAL mode.
// Errors: InvalidArgumentError for bad options; FailedPreconditionError when
// the database's schema is newer than this binary knows; InternalError when
// SQLite fails (unreadable file, not a database, ...).
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace temporalio::server::persistence

#endif  // TEMPORALIO_SERVER_PERSISTENCE_STORE_H_
