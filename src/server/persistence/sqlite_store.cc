#include "server/persistence/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/thread_name.h"

namespace temporalio::server::persistence {
namespace {

// Ordered schema migrations. Each runs once, inside the transaction that
// records it in schema_version. Append new ones; never edit a released one.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE namespaces (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  info BLOB NOT NULL
);
CREATE TABLE executions (
  namespace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  workflow_type TEXT NOT NULL,
  task_queue TEXT NOT NULL,
  status INTEGER NOT NULL,
  start_time_unix_ns INTEGER NOT NULL,
  close_time_unix_ns INTEGER NOT NULL,
  history_length INTEGER NOT NULL,
  state BLOB NOT NULL,
  PRIMARY KEY (namespace_id, run_id)
);
CREATE INDEX executions_by_workflow_id ON executions (namespace_id, workflow_id);
CREATE INDEX executions_by_status ON executions (namespace_id, status, start_time_unix_ns);
CREATE INDEX executions_by_start_time ON executions (namespace_id, start_time_unix_ns);
CREATE INDEX executions_start_order ON executions (start_time_unix_ns);
CREATE TABLE history_events (
  namespace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (namespace_id, run_id, event_id)
);
CREATE TABLE current_executions (
  namespace_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (namespace_id, workflow_id)
) WITHOUT ROWID;
)sql"},
    {2, R"sql(
CREATE TABLE search_attributes (
  namespace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  type INTEGER NOT NULL,
  PRIMARY KEY (namespace_id, name)
) WITHOUT ROWID;
)sql"},
    // History keyed by a per-run integer handed out in creation order instead
    // of by (namespace id, run id) text: the appends of the runs in flight
    // land on the last few pages of one small index instead of on a random
    // leaf of a large one each (fewer pages written per commit, and no more of
    // them as the database grows).
    {3, R"sql(
CREATE TABLE history_runs (
  seq INTEGER PRIMARY KEY,
  namespace_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  UNIQUE (namespace_id, run_id)
);
INSERT INTO history_runs (namespace_id, run_id)
  SELECT namespace_id, run_id FROM history_events
  GROUP BY namespace_id, run_id ORDER BY MIN(rowid);
CREATE TABLE history (
  run_seq INTEGER NOT NULL,
  event_id INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (run_seq, event_id)
);
INSERT INTO history (run_seq, event_id, data)
  SELECT r.seq, h.event_id, h.data FROM history_events h
  JOIN history_runs r ON r.namespace_id = h.namespace_id AND r.run_id = h.run_id
  ORDER BY r.seq, h.event_id;
DROP TABLE history_events;
)sql"},
    // Nothing reads executions by these (the engine keeps every run in memory
    // and evaluates list filters there); keeping them cost index writes on
    // every start and close, one of them on a random page.
    {4, R"sql(
DROP INDEX IF EXISTS executions_by_workflow_id;
DROP INDEX IF EXISTS executions_by_status;
DROP INDEX IF EXISTS executions_by_start_time;
)sql"},
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion,
              "kSchemaVersion must be the last migration's version");

constexpr char kUpsertNamespace[] =
    "INSERT INTO namespaces (id, name, info) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, info = excluded.info";
constexpr char kUpsertExecution[] =
    "INSERT INTO executions (namespace_id, run_id, workflow_id, workflow_type, task_queue, "
    "status, start_time_unix_ns, close_time_unix_ns, history_length, state) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (namespace_id, run_id) DO UPDATE SET workflow_id = excluded.workflow_id, "
    "workflow_type = excluded.workflow_type, task_queue = excluded.task_queue, "
    "status = excluded.status, start_time_unix_ns = excluded.start_time_unix_ns, "
    "close_time_unix_ns = excluded.close_time_unix_ns, "
    "history_length = excluded.history_length, state = excluded.state";
// The common case of an execution write: only the state and history length
// of an existing row change. These columns are in no index, so unlike the
// upsert (which rewrites every index entry of the row) this touches only the
// row's own page. No row changed: fall back to the upsert.
constexpr char kUpdateExecutionState[] =
    "UPDATE executions SET history_length = ?9, state = ?10 "
    "WHERE namespace_id = ?1 AND run_id = ?2 AND workflow_id = ?3 AND workflow_type = ?4 "
    "AND task_queue = ?5 AND status = ?6 AND start_time_unix_ns = ?7 "
    "AND close_time_unix_ns = ?8";
// A run's status change (its close): the columns fixed at its start match, so
// the row is changed in place (no indexed column changes); the upsert would
// rewrite the row's index entries.
constexpr char kUpdateExecutionStatus[] =
    "UPDATE executions SET status = ?6, close_time_unix_ns = ?8, history_length = ?9, "
    "state = ?10 "
    "WHERE namespace_id = ?1 AND run_id = ?2 AND workflow_id = ?3 AND workflow_type = ?4 "
    "AND task_queue = ?5 AND start_time_unix_ns = ?7";
constexpr char kSelectHistoryRun[] =
    "SELECT seq FROM history_runs WHERE namespace_id = ?1 AND run_id = ?2";
constexpr char kInsertHistoryRun[] =
    "INSERT INTO history_runs (namespace_id, run_id) VALUES (?1, ?2)";
constexpr char kInsertEvent[] = "INSERT INTO history (run_seq, event_id, data) VALUES (?1, ?2, ?3)";
constexpr char kUpsertCurrent[] =
    "INSERT INTO current_executions (namespace_id, workflow_id, run_id) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (namespace_id, workflow_id) DO UPDATE SET run_id = excluded.run_id";
constexpr char kUpsertSearchAttribute[] =
    "INSERT INTO search_attributes (namespace_id, name, type) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (namespace_id, name) DO UPDATE SET type = excluded.type";
constexpr char kDeleteSearchAttribute[] =
    "DELETE FROM search_attributes WHERE namespace_id = ?1 AND name = ?2";
constexpr char kDeleteExecution[] =
    "DELETE FROM executions WHERE namespace_id = ?1 AND run_id = ?2";
constexpr char kDeleteHistory[] =
    "DELETE FROM history WHERE run_seq = "
    "(SELECT seq FROM history_runs WHERE namespace_id = ?1 AND run_id = ?2)";
constexpr char kDeleteHistoryRun[] =
    "DELETE FROM history_runs WHERE namespace_id = ?1 AND run_id = ?2";
constexpr char kDeleteCurrent[] =
    "DELETE FROM current_executions WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3";
constexpr char kSelectSearchAttributes[] =
    "SELECT namespace_id, name, type FROM search_attributes ORDER BY namespace_id, name";
constexpr char kSelectNamespaces[] = "SELECT id, name, info FROM namespaces ORDER BY id";
constexpr char kSelectExecutions[] =
    "SELECT namespace_id, run_id, workflow_id, workflow_type, task_queue, status, "
    "start_time_unix_ns, close_time_unix_ns, history_length, state FROM executions "
    "ORDER BY start_time_unix_ns, rowid";
constexpr char kSelectHistory[] =
    "SELECT data FROM history WHERE run_seq = "
    "(SELECT seq FROM history_runs WHERE namespace_id = ?1 AND run_id = ?2) "
    "AND event_id >= ?3 ORDER BY event_id LIMIT ?4";
constexpr char kSelectCurrent[] =
    "SELECT namespace_id, workflow_id, run_id FROM current_executions "
    "ORDER BY namespace_id, workflow_id";

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db), " (code ",
                                          sqlite3_extended_errcode(db), ")"));
}

// Runs SQL that returns no rows we need (may hold several statements).
absl::Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, sql);
  }
  return absl::OkStatus();
}

// Resets a cached statement and drops its bindings (which may point into a
// caller's buffers) when the scope ends.
class StatementScope {
 public:
  explicit StatementScope(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementScope() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Binding never fails for valid indexes and sizes below SQLite's limits; a
// failure (e.g. SQLITE_TOOBIG) surfaces from the following sqlite3_step.
void BindText(sqlite3_stmt* stmt, int index, const std::string& value) {
  sqlite3_bind_text64(stmt, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
}
// `value.data()` is never null, so an empty string binds a zero-length blob, not NULL.
void BindBlob(sqlite3_stmt* stmt, int index, const std::string& value) {
  sqlite3_bind_blob64(stmt, index, value.data(), value.size(), SQLITE_STATIC);
}
std::string ColumnString(sqlite3_stmt* stmt, int column) {
  const void* data = sqlite3_column_blob(stmt, column);
  const int size = sqlite3_column_bytes(stmt, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

// Steps a statement that returns no rows.
absl::Status StepDone(sqlite3* db, sqlite3_stmt* stmt, absl::string_view what) {
  if (sqlite3_step(stmt) != SQLITE_DONE) return SqliteError(db, what);
  return absl::OkStatus();
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}
bool IsPlainValue(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' ||
           c == '-';
  });
}

// Runs `PRAGMA key=value` and returns the first column of its first row, if any.
absl::StatusOr<std::string> RunPragma(sqlite3* db, absl::string_view key, absl::string_view value) {
  // An empty value reads the pragma instead of setting it.
  const std::string sql =
      value.empty() ? absl::StrCat("PRAGMA ", key) : absl::StrCat("PRAGMA ", key, "=", value);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite: ", sql, " failed: ", sqlite3_errmsg(db)));
  }
  std::string first;
  bool have_first = false;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (!have_first && sqlite3_column_count(stmt) > 0) {
      first = ColumnString(stmt, 0);
      have_first = true;
    }
  }
  absl::Status status;
  if (rc != SQLITE_DONE) {
    status =
        absl::InvalidArgumentError(absl::StrCat("sqlite: ", sql, " failed: ", sqlite3_errmsg(db)));
  }
  sqlite3_finalize(stmt);
  if (!status.ok()) return status;
  return first;
}

absl::Status ApplyPragmas(sqlite3* db, const SqliteOptions& options) {
  // Each batch runs in a savepoint, whose statement journal would otherwise
  // be a temporary file: created, written page by page and deleted in every
  // group transaction. Users may still override it.
  if (absl::StatusOr<std::string> s = RunPragma(db, "temp_store", "MEMORY"); !s.ok()) {
    return s.status();
  }
  for (const auto& [key, value] : options.pragmas) {
    absl::StatusOr<std::string> result = RunPragma(db, key, value);
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

// The `synchronous` option, then the user's pragmas (which may override it):
// for every connection that writes or checkpoints.
absl::Status ApplySynchronousAndPragmas(sqlite3* db, const std::string& synchronous,
                                        const SqliteOptions& options) {
  if (absl::StatusOr<std::string> s = RunPragma(db, "synchronous", synchronous); !s.ok()) {
    return s.status();
  }
  return ApplyPragmas(db, options);
}

absl::StatusOr<sqlite3*> OpenDatabase(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used under our own mutex.
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::InternalError(absl::StrCat(
        "sqlite: cannot open '", path, "': ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  // Another process holding the write lock (or a checkpoint) makes us wait,
  // not fail at once.
  sqlite3_busy_timeout(db, 10000);
  return db;
}

size_t BatchBytes(const WriteBatch& batch) {
  size_t bytes = 0;
  for (const auto& ns : batch.namespaces) bytes += ns.id.size() + ns.name.size() + ns.info.size();
  for (const auto& ex : batch.executions) {
    bytes += ex.namespace_id.size() + ex.workflow_id.size() + ex.run_id.size() +
             ex.workflow_type.size() + ex.task_queue.size() + ex.state.size() + 32;
  }
  for (const auto& h : batch.history) {
    bytes += h.namespace_id.size() + h.run_id.size();
    for (const auto& event : h.events) bytes += event.size() + 8;
  }
  for (const auto& cur : batch.current) {
    bytes += cur.namespace_id.size() + cur.workflow_id.size() + cur.run_id.size();
  }
  for (const auto* list : {&batch.search_attributes, &batch.removed_search_attributes}) {
    for (const auto& sa : *list) bytes += sa.namespace_id.size() + sa.name.size() + 8;
  }
  for (const auto& d : batch.deleted_executions) {
    bytes += d.namespace_id.size() + d.workflow_id.size() + d.run_id.size();
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(*store));
}

SqliteStore::Connection::~Connection() {
  for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
  sqlite3_close(db);
}

absl::StatusOr<sqlite3_stmt*> SqliteStore::Connection::Prepare(std::string_view sql) {
  auto it = statements.find(sql);
  if (it != statements.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db, absl::StrCat("prepare ", absl::string_view(sql.data(), sql.size())));
  }
  statements.emplace(sql, stmt);
  return stmt;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  const std::string path = options.path.empty() ? ":memory:" : options.path;
  const bool in_memory = path == ":memory:";
  const std::string synchronous = absl::AsciiStrToUpper(options.synchronous);
  if (synchronous != "OFF" && synchronous != "NORMAL" && synchronous != "FULL" &&
      synchronous != "EXTRA") {
    return absl::InvalidArgumentError(absl::StrCat(
        "sqlite: synchronous must be OFF, NORMAL, FULL or EXTRA, not '", options.synchronous, "'"));
  }
  for (const auto& [key, value] : options.pragmas) {
    if (!IsIdentifier(key) || !IsPlainValue(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sqlite: bad pragma '", key, "=", value,
                       "': the key must be an identifier and the value a word or number"));
    }
  }

  absl::StatusOr<sqlite3*> writer_db = OpenDatabase(path);
  if (!writer_db.ok()) return writer_db.status();
  auto writer = std::make_unique<Connection>(*writer_db);

  // A new database takes its page size when its first page is written, and
  // switching to WAL writes it: a user's page_size must come first.
  for (const auto& [key, value] : options.pragmas) {
    if (absl::AsciiStrToLower(key) != "page_size") continue;
    if (absl::StatusOr<std::string> s = RunPragma(writer->db, key, value); !s.ok()) {
      return s.status();
    }
  }
  absl::StatusOr<std::string> journal_mode = RunPragma(writer->db, "journal_mode", "WAL");
  if (!journal_mode.ok()) return journal_mode.status();
  if (!in_memory && absl::AsciiStrToLower(*journal_mode) != "wal") {
    return absl::InternalError(
        absl::StrCat("sqlite: cannot enable WAL on '", path, "': journal_mode is ", *journal_mode));
  }
  // Our checkpoint threshold and writer cache unless the user's pragmas set
  // them (they come next).
  if (!in_memory) {
    for (const auto& [key, value] :
         {std::pair<const char*, std::string>{"wal_autocheckpoint",
                                              absl::StrCat(kDefaultCheckpointPages)},
          {"cache_size", absl::StrCat(-kDefaultWriterCacheKib)}}) {
      if (absl::StatusOr<std::string> s = RunPragma(writer->db, key, value); !s.ok()) {
        return s.status();
      }
    }
  }
  if (absl::Status s = ApplySynchronousAndPragmas(writer->db, synchronous, options); !s.ok()) {
    return s;
  }
  // The effective mode: a `synchronous` pragma among `pragmas` overrides the
  // option. 2 = FULL, 3 = EXTRA; an in-memory database never syncs.
  absl::StatusOr<std::string> sync_level = RunPragma(writer->db, "synchronous", "");
  if (!sync_level.ok()) return sync_level.status();
  const bool synced_commits = !in_memory && (*sync_level == "2" || *sync_level == "3");
  if (absl::Status s = Migrate(*writer); !s.ok()) return s;
  std::string wal_path;
  if (synced_commits) {
    // FULL/EXTRA durability with the fsync taken out of COMMIT: the writer
    // commits at NORMAL (a WAL commit then writes its frames without syncing;
    // checkpoints still sync the WAL first) and the syncer thread fsyncs the
    // WAL before any callback of those commits runs. The next group
    // transaction is applied while the previous one is being synced.
    if (absl::StatusOr<std::string> s = RunPragma(writer->db, "synchronous", "NORMAL"); !s.ok()) {
      return s.status();
    }
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(writer->db, "main"));
    if (wal == nullptr || *wal == '\0') {
      return absl::InternalError(absl::StrCat("sqlite: no WAL file name for '", path, "'"));
    }
    wal_path = wal;
  }

  std::unique_ptr<Connection> reader;
  std::unique_ptr<Connection> checkpointer;
  int checkpoint_pages = 0;
  if (!in_memory) {
    absl::StatusOr<sqlite3*> reader_db = OpenDatabase(path);
    if (!reader_db.ok()) return reader_db.status();
    reader = std::make_unique<Connection>(*reader_db);
    if (absl::Status s = ApplyPragmas(reader->db, options); !s.ok()) return s;
    if (absl::StatusOr<std::string> s = RunPragma(reader->db, "query_only", "1"); !s.ok()) {
      return s.status();
    }
    // kDefaultCheckpointPages or the user's wal_autocheckpoint pragma.
    absl::StatusOr<std::string> autocheckpoint = RunPragma(writer->db, "wal_autocheckpoint", "");
    if (!autocheckpoint.ok()) return autocheckpoint.status();
    if (!absl::SimpleAtoi(*autocheckpoint, &checkpoint_pages)) checkpoint_pages = 0;
    if (checkpoint_pages > 0) {
      absl::StatusOr<sqlite3*> checkpointer_db = OpenDatabase(path);
      if (!checkpointer_db.ok()) return checkpointer_db.status();
      checkpointer = std::make_unique<Connection>(*checkpointer_db);
      // The checkpoint's own fsyncs follow the same synchronous setting.
      if (absl::Status s = ApplySynchronousAndPragmas(checkpointer->db, synchronous, options);
          !s.ok()) {
        return s;
      }
    }
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(writer), std::move(reader),
                                                      std::move(checkpointer), checkpoint_pages,
                                                      std::move(wal_path)));
}

absl::Status SqliteStore::Migrate(Connection& conn) {
  sqlite3* db = conn.db;
  if (absl::Status s = Exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s;
  auto migrate = [db]() -> absl::Status {
    if (absl::Status s = Exec(db,
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "version INTEGER NOT NULL PRIMARY KEY, "
                              "applied_unix_ms INTEGER NOT NULL)");
        !s.ok()) {
      return s;
    }
    int64_t current = 0;
    {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &stmt,
                             nullptr) != SQLITE_OK) {
        return SqliteError(db, "read schema_version");
      }
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) current = sqlite3_column_int64(stmt, 0);
      sqlite3_finalize(stmt);
      if (rc != SQLITE_ROW) return SqliteError(db, "read schema_version");
    }
    if (current > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sqlite: database schema version ", current, " is newer than this binary supports (",
          kSchemaVersion, "); use a newer build or another database file"));
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (const Migration& migration : kMigrations) {
      if (migration.version <= current) continue;
      if (absl::Status s = Exec(db, migration.sql); !s.ok()) {
        return absl::InternalError(
            absl::StrCat("schema migration ", migration.version, " failed: ", s.message()));
      }
      const std::string record =
          absl::StrCat("INSERT INTO schema_version (version, applied_unix_ms) VALUES (",
                       migration.version, ", ", now_ms, ")");
      if (absl::Status s = Exec(db, record.c_str()); !s.ok()) return s;
    }
    return Exec(db, "COMMIT");
  };
  absl::Status status = migrate();
  if (!status.ok() && !sqlite3_get_autocommit(db)) Exec(db, "ROLLBACK").IgnoreError();
  return status;
}

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader,
                         std::unique_ptr<Connection> checkpointer, int checkpoint_pages,
                         std::string wal_path)
    : writer_(std::move(writer)),
      reader_(std::move(reader)),
      checkpointer_(std::move(checkpointer)),
      checkpoint_pages_(checkpoint_pages),
      wal_path_(std::move(wal_path)) {
  if (checkpointer_) {
    // Replaces SQLite's auto-checkpoint hook on the writer connection.
    sqlite3_wal_hook(writer_->db, &SqliteStore::WalHook, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
  if (!wal_path_.empty()) sync_thread_ = std::thread([this] { SyncLoop(); });
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_thread_.join();
  if (sync_thread_.joinable()) {
    // Every group is in the sync queue now: sync it and run its callbacks.
    {
      std::lock_guard lock(sync_mu_);
      sync_stop_ = true;
    }
    sync_wake_.notify_all();
    sync_thread_.join();
  }
  if (wal_fd_ >= 0) ::close(wal_fd_);
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_wake_.notify_all();
    checkpoint_thread_.join();
  }
  checkpointer_.reset();
  reader_.reset();
  writer_.reset();  // the last connection: SQLite checkpoints and removes the WAL
}

int SqliteStore::WalHook(void* self, sqlite3* db, const char* name, int frames) {
  auto* store = static_cast<SqliteStore*>(self);
  if (frames >= store->checkpoint_pages_ * kCheckpointCatchUp) {
    // The background checkpoints fell behind (or a reader pinned old frames):
    // catch up here, as SQLite's own hook would. Busy if one is running.
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
        SQLITE_OK) {
      store->writer_checkpoints_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (frames >= store->checkpoint_pages_) {
    {
      std::lock_guard lock(store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_wake_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  common::SetCurrentThreadName("store-checkpt");
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_wake_.wait(lock, [this] { return checkpoint_wanted_ || checkpoint_stop_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    int rc;
    {
      std::lock_guard connection(checkpointer_->mu);
      // PASSIVE: copies what no reader still needs; never blocks the writer.
      // The writer restarts the WAL from its start once all of it is copied.
      rc = sqlite3_wal_checkpoint_v2(checkpointer_->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                     nullptr);
    }
    if (rc == SQLITE_OK) background_checkpoints_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
}

void SqliteStore::Commit(WriteBatch batch, std::function<void(absl::Status)> done) {
  Push(std::move(batch), std::move(done), /*wake_writer=*/true);
}

void SqliteStore::Enqueue(WriteBatch batch, std::function<void(absl::Status)> done) {
  Push(std::move(batch), std::move(done), /*wake_writer=*/false);
}

void SqliteStore::Push(WriteBatch batch, std::function<void(absl::Status)> done, bool wake_writer) {
  const size_t bytes = BatchBytes(batch);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(Pending{std::move(batch), std::move(done), bytes});
      batches_.fetch_add(1, std::memory_order_relaxed);
      if (wake_writer) wake_.notify_one();
      return;
    }
  }
  failed_batches_.fetch_add(1, std::memory_order_relaxed);
  if (done) done(absl::CancelledError("persistence store is shutting down; batch not written"));
}

void SqliteStore::Drive() {
  std::vector<Pending> group;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return;  // the writer took it
    bool idle = !stopping_ && !paused_ && !writer_busy_ && !driving_;
    if (idle && sync_thread_.joinable()) {
      // Earlier groups' callbacks must all have run (commit order).
      std::lock_guard sync_lock(sync_mu_);
      idle = sync_queue_.empty() && !sync_busy_ && !sync_paused_;
    }
    if (!idle) {
      wake_.notify_one();
      return;
    }
    driving_ = true;
    TakeGroup(group);
  }
  std::vector<absl::Status> results;
  ApplyGroup(group, results);
  {
    WriterScope writer_scope(this);  // CommitSync from a callback would wait for this thread
    if (sync_thread_.joinable()) {
      std::deque<SyncedGroup> groups;
      groups.push_back(SyncedGroup{std::move(group), std::move(results)});
      SyncAndFinish(groups);
    } else {
      Finish(group, results);
    }
  }
  {
    std::lock_guard lock(mu_);
    driving_ = false;
    if (!queue_.empty() || stopping_) wake_.notify_all();
  }
}

bool SqliteStore::WriterShouldWake() const {
  return !driving_ && (stopping_ || (!paused_ && !queue_.empty()));
}

void SqliteStore::TakeGroup(std::vector<Pending>& group) {
  size_t bytes = 0;
  while (!queue_.empty() && group.size() < kMaxGroupBatches &&
         (group.empty() || bytes < kMaxGroupBytes)) {
    bytes += queue_.front().bytes;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void SqliteStore::WriterLoop() {
  common::SetCurrentThreadName("store-writer");
  MarkCurrentThreadAsWriter();
  std::vector<Pending> group;
  std::vector<absl::Status> results;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(mu_);
      writer_busy_ = false;
      wake_.wait(lock, [this] { return WriterShouldWake(); });
      if (queue_.empty()) return;  // stopping and drained
      TakeGroup(group);
      writer_busy_ = true;
    }
    ApplyGroup(group, results);
    if (sync_thread_.joinable()) {
      // Durable only once the syncer has fsynced the WAL; callbacks run there,
      // in commit order (failed groups too, so that order holds).
      {
        std::lock_guard lock(sync_mu_);
        sync_queue_.push_back(SyncedGroup{std::move(group), std::move(results)});
      }
      sync_wake_.notify_one();
      group = {};
      results = {};
      // One transaction per fsync: while the syncer is still busy with an
      // earlier group, new batches stay queued and join the next group
      // instead of each forming a small transaction of their own. A group's
      // tail pages (history, indexes, the rows of runs in flight) are then
      // written to the WAL once for more batches.
      std::unique_lock lock(sync_mu_);
      sync_taken_.wait(lock, [this] { return sync_queue_.empty() || sync_paused_ || sync_stop_; });
      continue;
    }
    Finish(group, results);
  }
}

void SqliteStore::Finish(std::vector<Pending>& group, std::vector<absl::Status>& results) {
  for (size_t i = 0; i < group.size(); ++i) {
    if (!results[i].ok()) failed_batches_.fetch_add(1, std::memory_order_relaxed);
    if (group[i].done) group[i].done(std::move(results[i]));
  }
}

void SqliteStore::SyncLoop() {
  common::SetCurrentThreadName("store-syncer");
  MarkCurrentThreadAsWriter();  // callbacks run here
  std::deque<SyncedGroup> groups;
  for (;;) {
    {
      std::unique_lock lock(sync_mu_);
      // Destruction ignores the test pause.
      sync_busy_ = false;
      sync_wake_.wait(lock, [this] {
        return sync_queue_.empty() ? sync_stop_ : (!sync_paused_ || sync_stop_);
      });
      if (sync_queue_.empty()) return;  // stopping and drained
      groups.swap(sync_queue_);
      sync_busy_ = true;
    }
    sync_taken_.notify_one();
    SyncAndFinish(groups);
    groups.clear();
  }
}

void SqliteStore::SyncAndFinish(std::deque<SyncedGroup>& groups) {
  bool committed = false;
  for (const SyncedGroup& g : groups) {
    for (const absl::Status& r : g.results) committed = committed || r.ok();
  }
  // One fsync covers every transaction committed before it started.
  absl::Status synced = committed ? SyncWal() : absl::OkStatus();
  for (SyncedGroup& g : groups) {
    if (!synced.ok()) {
      for (absl::Status& r : g.results) {
        if (r.ok()) r = synced;
      }
    }
    Finish(g.group, g.results);
  }
}

absl::Status SqliteStore::SyncWal() {
  if (wal_fd_ < 0) {
    // The WAL exists once the first transaction committed (this runs after one).
    wal_fd_ = ::open(wal_path_.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("sqlite: open ", wal_path_, " to sync it: ", std::strerror(errno)));
    }
  }
  const auto started = std::chrono::steady_clock::now();
  if (::fdatasync(wal_fd_) != 0) {
    return absl::InternalError(
        absl::StrCat("sqlite: fdatasync ", wal_path_, ": ", std::strerror(errno)));
  }
  const int64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
  wal_syncs_.fetch_add(1, std::memory_order_relaxed);
  wal_sync_micros_.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
  if (micros >= slow_sync_threshold_micros_.load(std::memory_order_relaxed)) {
    slow_wal_syncs_.fetch_add(1, std::memory_order_relaxed);
    slow_wal_sync_micros_.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

// Savepoints are taken per batch: prepared once rather than parsed each time.
absl::Status SqliteStore::RunPrepared(const char* sql) {
  absl::StatusOr<sqlite3_stmt*> stmt = writer_->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  return StepDone(writer_->db, *stmt, sql);
}

bool SqliteStore::ApplyGroupAtOnce(std::vector<Pending>& group) {
  sqlite3* db = writer_->db;
  bool applied = Exec(db, "BEGIN IMMEDIATE").ok();
  for (size_t i = 0; applied && i < group.size(); ++i) applied = ApplyBatch(group[i].batch).ok();
  if (applied) applied = Exec(db, "COMMIT").ok();
  if (!applied) {
    run_seqs_.clear();  // history_runs inserts are rolled back
    if (!sqlite3_get_autocommit(db)) Exec(db, "ROLLBACK").IgnoreError();
  }
  return applied;
}

void SqliteStore::ApplyGroup(std::vector<Pending>& group, std::vector<absl::Status>& results) {
  results.assign(group.size(), absl::OkStatus());
  std::lock_guard lock(writer_->mu);
  sqlite3* db = writer_->db;
  // Batches almost never fail (a failure is a constraint the engine should
  // not break, or an I/O error), so the group is first applied without a
  // savepoint per batch (two statements each). If any batch fails, all is
  // rolled back and the group applied again below, each batch under its own
  // savepoint, so that only the failing batch fails.
  if (ApplyGroupAtOnce(group)) {
    RecordCommittedGroup(group, results);
    return;
  }
  absl::Status group_status = Exec(db, "BEGIN IMMEDIATE");
  for (size_t i = 0; group_status.ok() && i < group.size(); ++i) {
    group_status = RunPrepared("SAVEPOINT batch");
    if (!group_status.ok()) break;
    absl::Status batch_status = ApplyBatch(group[i].batch);
    if (batch_status.ok()) {
      group_status = RunPrepared("RELEASE batch");
      continue;
    }
    results[i] = batch_status;
    run_seqs_.clear();  // the batch's history_runs inserts are rolled back
    if (sqlite3_get_autocommit(db)) {
      // Some errors (I/O, out of memory, disk full) make SQLite roll back the
      // whole transaction, taking the batches before this one with it.
      group_status = absl::InternalError(
          absl::StrCat("sqlite: transaction rolled back: ", batch_status.message()));
      break;
    }
    group_status = Exec(db, "ROLLBACK TO batch");
    if (group_status.ok()) group_status = Exec(db, "RELEASE batch");
  }
  if (group_status.ok()) group_status = Exec(db, "COMMIT");
  if (!group_status.ok()) {
    run_seqs_.clear();
    if (!sqlite3_get_autocommit(db)) Exec(db, "ROLLBACK").IgnoreError();
    failed_transactions_.fetch_add(1, std::memory_order_relaxed);
    for (absl::Status& result : results) {
      if (result.ok()) result = group_status;
    }
    return;
  }
  RecordCommittedGroup(group, results);
}

void SqliteStore::RecordCommittedGroup(const std::vector<Pending>& group,
                                       const std::vector<absl::Status>& results) {
  transactions_.fetch_add(1, std::memory_order_relaxed);
  uint64_t events = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!results[i].ok()) continue;
    for (const HistoryAppend& append : group[i].batch.history) events += append.events.size();
  }
  events_.fetch_add(events, std::memory_order_relaxed);
  if (group.size() > max_group_batches_.load(std::memory_order_relaxed)) {
    max_group_batches_.store(group.size(), std::memory_order_relaxed);  // one group at a time
  }
}

absl::StatusOr<int64_t> SqliteStore::HistoryRunSeq(const std::string& namespace_id,
                                                   const std::string& run_id) {
  thread_local std::string key;
  key.assign(namespace_id).append("/").append(run_id);
  if (auto it = run_seqs_.find(key); it != run_seqs_.end()) return it->second;
  if (run_seqs_.size() >= kMaxCachedRunSeqs) run_seqs_.clear();
  absl::StatusOr<int64_t> seq = LookUpHistoryRunSeq(namespace_id, run_id);
  if (seq.ok()) run_seqs_.emplace(key, *seq);
  return seq;
}

absl::StatusOr<int64_t> SqliteStore::LookUpHistoryRunSeq(const std::string& namespace_id,
                                                         const std::string& run_id) {
  Connection& conn = *writer_;
  absl::StatusOr<sqlite3_stmt*> select = conn.Prepare(kSelectHistoryRun);
  if (!select.ok()) return select.status();
  {
    StatementScope scope(*select);
    BindText(*select, 1, namespace_id);
    BindText(*select, 2, run_id);
    const int rc = sqlite3_step(*select);
    if (rc == SQLITE_ROW) return sqlite3_column_int64(*select, 0);
    if (rc != SQLITE_DONE) return SqliteError(conn.db, "read history run");
  }
  absl::StatusOr<sqlite3_stmt*> insert = conn.Prepare(kInsertHistoryRun);
  if (!insert.ok()) return insert.status();
  StatementScope scope(*insert);
  BindText(*insert, 1, namespace_id);
  BindText(*insert, 2, run_id);
  if (absl::Status s = StepDone(conn.db, *insert, "insert history run"); !s.ok()) return s;
  return sqlite3_last_insert_rowid(conn.db);
}

absl::Status SqliteStore::ApplyBatch(const WriteBatch& batch) {
  Connection& conn = *writer_;
  sqlite3* db = conn.db;
  if (!batch.namespaces.empty()) {
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kUpsertNamespace);
    if (!stmt.ok()) return stmt.status();
    for (const NamespaceRecord& ns : batch.namespaces) {
      StatementScope scope(*stmt);
      BindText(*stmt, 1, ns.id);
      BindText(*stmt, 2, ns.name);
      BindBlob(*stmt, 3, ns.info);
      if (absl::Status s = StepDone(db, *stmt, "upsert namespace"); !s.ok()) return s;
    }
  }
  if (!batch.executions.empty()) {
    absl::StatusOr<sqlite3_stmt*> update = conn.Prepare(kUpdateExecutionState);
    if (!update.ok()) return update.status();
    absl::StatusOr<sqlite3_stmt*> update_status = conn.Prepare(kUpdateExecutionStatus);
    if (!update_status.ok()) return update_status.status();
    absl::StatusOr<sqlite3_stmt*> upsert = conn.Prepare(kUpsertExecution);
    if (!upsert.ok()) return upsert.status();
    auto bind = [](sqlite3_stmt* stmt, const ExecutionRecord& ex) {
      BindText(stmt, 1, ex.namespace_id);
      BindText(stmt, 2, ex.run_id);
      BindText(stmt, 3, ex.workflow_id);
      BindText(stmt, 4, ex.workflow_type);
      BindText(stmt, 5, ex.task_queue);
      sqlite3_bind_int64(stmt, 6, ex.status);
      sqlite3_bind_int64(stmt, 7, ex.start_time_unix_ns);
      sqlite3_bind_int64(stmt, 8, ex.close_time_unix_ns);
      sqlite3_bind_int64(stmt, 9, ex.history_length);
      BindBlob(stmt, 10, ex.state);
    };
    // The first statement that changes a row wins: state only, then status,
    // then the upsert (a new run). The writer's hint skips the ones that
    // cannot match (each a lookup of the row).
    for (const ExecutionRecord& ex : batch.executions) {
      sqlite3_stmt* const all[] = {*update, *update_status, *upsert};
      const size_t first = ex.change == ExecutionRecord::Change::kNewRun   ? 2
                           : ex.change == ExecutionRecord::Change::kClosed ? 1
                                                                           : 0;
      for (size_t k = first; k < std::size(all); ++k) {
        sqlite3_stmt* stmt = all[k];
        StatementScope scope(stmt);
        bind(stmt, ex);
        if (absl::Status s = StepDone(db, stmt, "write execution"); !s.ok()) return s;
        if (sqlite3_changes(db) > 0) break;
      }
    }
  }
  if (!batch.history.empty()) {
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kInsertEvent);
    if (!stmt.ok()) return stmt.status();
    for (const HistoryAppend& append : batch.history) {
      if (append.first_event_id < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("history append for run ", append.run_id, " starts at event id ",
                         append.first_event_id, "; event ids start at 1"));
      }
      absl::StatusOr<int64_t> run_seq = HistoryRunSeq(append.namespace_id, append.run_id);
      if (!run_seq.ok()) return run_seq.status();
      for (size_t i = 0; i < append.events.size(); ++i) {
        const int64_t event_id = append.first_event_id + static_cast<int64_t>(i);
        StatementScope scope(*stmt);
        sqlite3_bind_int64(*stmt, 1, *run_seq);
        sqlite3_bind_int64(*stmt, 2, event_id);
        BindBlob(*stmt, 3, append.events[i]);
        if (sqlite3_step(*stmt) != SQLITE_DONE) {
          const int code = sqlite3_extended_errcode(db);
          if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE) {
            return absl::AlreadyExistsError(absl::StrCat("history event ", event_id, " of run ",
                                                         append.namespace_id, "/", append.run_id,
                                                         " already exists"));
          }
          return SqliteError(db, "insert history event");
        }
      }
    }
  }
  if (!batch.current.empty()) {
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kUpsertCurrent);
    if (!stmt.ok()) return stmt.status();
    for (const CurrentExecution& cur : batch.current) {
      StatementScope scope(*stmt);
      BindText(*stmt, 1, cur.namespace_id);
      BindText(*stmt, 2, cur.workflow_id);
      BindText(*stmt, 3, cur.run_id);
      if (absl::Status s = StepDone(db, *stmt, "upsert current execution"); !s.ok()) return s;
    }
  }
  return ApplyMetadataAndDeletes(batch);
}

absl::Status SqliteStore::ApplyMetadataAndDeletes(const WriteBatch& batch) {
  Connection& conn = *writer_;
  sqlite3* db = conn.db;
  if (!batch.search_attributes.empty()) {
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kUpsertSearchAttribute);
    if (!stmt.ok()) return stmt.status();
    for (const SearchAttributeRecord& sa : batch.search_attributes) {
      StatementScope scope(*stmt);
      BindText(*stmt, 1, sa.namespace_id);
      BindText(*stmt, 2, sa.name);
      sqlite3_bind_int64(*stmt, 3, sa.type);
      if (absl::Status s = StepDone(db, *stmt, "upsert search attribute"); !s.ok()) return s;
    }
  }
  if (!batch.removed_search_attributes.empty()) {
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kDeleteSearchAttribute);
    if (!stmt.ok()) return stmt.status();
    for (const SearchAttributeRecord& sa : batch.removed_search_attributes) {
      StatementScope scope(*stmt);
      BindText(*stmt, 1, sa.namespace_id);
      BindText(*stmt, 2, sa.name);
      if (absl::Status s = StepDone(db, *stmt, "delete search attribute"); !s.ok()) return s;
    }
  }
  if (!batch.deleted_executions.empty()) run_seqs_.clear();
  for (const DeletedExecution& d : batch.deleted_executions) {
    for (const char* sql : {kDeleteExecution, kDeleteHistory, kDeleteHistoryRun}) {
      absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(sql);
      if (!stmt.ok()) return stmt.status();
      StatementScope scope(*stmt);
      BindText(*stmt, 1, d.namespace_id);
      BindText(*stmt, 2, d.run_id);
      if (absl::Status s = StepDone(db, *stmt, "delete execution"); !s.ok()) return s;
    }
    absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kDeleteCurrent);
    if (!stmt.ok()) return stmt.status();
    StatementScope scope(*stmt);
    BindText(*stmt, 1, d.namespace_id);
    BindText(*stmt, 2, d.workflow_id);
    BindText(*stmt, 3, d.run_id);
    if (absl::Status s = StepDone(db, *stmt, "delete current execution"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NamespaceRecord>> SqliteStore::LoadNamespaces() {
  Connection& conn = ReadConnection();
  std::lock_guard lock(conn.mu);
  absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kSelectNamespaces);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  std::vector<NamespaceRecord> out;
  int rc;
  while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    NamespaceRecord& ns = out.emplace_back();
    ns.id = ColumnString(*stmt, 0);
    ns.name = ColumnString(*stmt, 1);
    ns.info = ColumnString(*stmt, 2);
  }
  if (rc != SQLITE_DONE) return SqliteError(conn.db, "load namespaces");
  return out;
}

absl::StatusOr<std::vector<ExecutionRecord>> SqliteStore::LoadExecutions() {
  Connection& conn = ReadConnection();
  std::lock_guard lock(conn.mu);
  absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kSelectExecutions);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  std::vector<ExecutionRecord> out;
  int rc;
  while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    ExecutionRecord& ex = out.emplace_back();
    ex.namespace_id = ColumnString(*stmt, 0);
    ex.run_id = ColumnString(*stmt, 1);
    ex.workflow_id = ColumnString(*stmt, 2);
    ex.workflow_type = ColumnString(*stmt, 3);
    ex.task_queue = ColumnString(*stmt, 4);
    ex.status = static_cast<int32_t>(sqlite3_column_int64(*stmt, 5));
    ex.start_time_unix_ns = sqlite3_column_int64(*stmt, 6);
    ex.close_time_unix_ns = sqlite3_column_int64(*stmt, 7);
    ex.history_length = sqlite3_column_int64(*stmt, 8);
    ex.state = ColumnString(*stmt, 9);
  }
  if (rc != SQLITE_DONE) return SqliteError(conn.db, "load executions");
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ReadHistory(const std::string& namespace_id,
                                                                  const std::string& run_id,
                                                                  int64_t from_event_id,
                                                                  int64_t max_events) {
  Connection& conn = ReadConnection();
  std::lock_guard lock(conn.mu);
  absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kSelectHistory);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  BindText(*stmt, 1, namespace_id);
  BindText(*stmt, 2, run_id);
  sqlite3_bind_int64(*stmt, 3, from_event_id);
  sqlite3_bind_int64(*stmt, 4, max_events > 0 ? max_events : -1);  // LIMIT -1: no limit
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) out.push_back(ColumnString(*stmt, 0));
  if (rc != SQLITE_DONE) return SqliteError(conn.db, "read history");
  return out;
}

absl::StatusOr<std::vector<CurrentExecution>> SqliteStore::LoadCurrentExecutions() {
  Connection& conn = ReadConnection();
  std::lock_guard lock(conn.mu);
  absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kSelectCurrent);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  std::vector<CurrentExecution> out;
  int rc;
  while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    CurrentExecution& cur = out.emplace_back();
    cur.namespace_id = ColumnString(*stmt, 0);
    cur.workflow_id = ColumnString(*stmt, 1);
    cur.run_id = ColumnString(*stmt, 2);
  }
  if (rc != SQLITE_DONE) return SqliteError(conn.db, "load current executions");
  return out;
}

absl::StatusOr<std::vector<SearchAttributeRecord>> SqliteStore::LoadSearchAttributes() {
  Connection& conn = ReadConnection();
  std::lock_guard lock(conn.mu);
  absl::StatusOr<sqlite3_stmt*> stmt = conn.Prepare(kSelectSearchAttributes);
  if (!stmt.ok()) return stmt.status();
  StatementScope scope(*stmt);
  std::vector<SearchAttributeRecord> out;
  int rc;
  while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    SearchAttributeRecord& sa = out.emplace_back();
    sa.namespace_id = ColumnString(*stmt, 0);
    sa.name = ColumnString(*stmt, 1);
    sa.type = static_cast<int32_t>(sqlite3_column_int64(*stmt, 2));
  }
  if (rc != SQLITE_DONE) return SqliteError(conn.db, "load search attributes");
  return out;
}

Store::Stats SqliteStore::GetStats() const {
  Stats stats;
  stats.batches = batches_.load(std::memory_order_relaxed);
  stats.transactions = transactions_.load(std::memory_order_relaxed);
  stats.failed_batches = failed_batches_.load(std::memory_order_relaxed);
  stats.failed_transactions = failed_transactions_.load(std::memory_order_relaxed);
  stats.max_group_batches = max_group_batches_.load(std::memory_order_relaxed);
  stats.synced_commits = wal_syncs_.load(std::memory_order_relaxed);
  stats.sync_micros = wal_sync_micros_.load(std::memory_order_relaxed);
  stats.slow_syncs = slow_wal_syncs_.load(std::memory_order_relaxed);
  stats.slow_sync_micros = slow_wal_sync_micros_.load(std::memory_order_relaxed);
  stats.events = events_.load(std::memory_order_relaxed);
  stats.background_checkpoints = background_checkpoints_.load(std::memory_order_relaxed);
  stats.writer_checkpoints = writer_checkpoints_.load(std::memory_order_relaxed);
  return stats;
}

void SqliteStore::SetSlowSyncThresholdForTesting(std::chrono::microseconds threshold) {
  slow_sync_threshold_micros_.store(threshold.count(), std::memory_order_relaxed);
}

void SqliteStore::PauseWriterForTesting() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

void SqliteStore::ResumeWriterForTesting() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
  }
  wake_.notify_all();
}

void SqliteStore::PauseSyncForTesting() {
  std::lock_guard lock(sync_mu_);
  sync_paused_ = true;
  sync_taken_.notify_all();
}

void SqliteStore::ResumeSyncForTesting() {
  {
    std::lock_guard lock(sync_mu_);
    sync_paused_ = false;
  }
  sync_wake_.notify_all();
}

size_t SqliteStore::QueuedBatchesForTesting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace temporalio::server::persistence
