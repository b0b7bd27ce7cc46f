// SQLite implementation of Store. Private to the server: other code uses
// OpenSqliteStore() from store.h; tests use this header for its test hooks.
//
// Layout: one writer connection owned by one writer thread that applies queued
// batches in group transactions (BEGIN IMMEDIATE ... COMMIT, one SAVEPOINT per
// batch so a failing batch is rolled back alone). File databases get a second,
// read-only connection for Load*/ReadHistory (WAL lets it read while the writer
// writes); an in-memory database has only the writer connection, which readers
// then share under its mutex between group transactions. With
// synchronous=FULL/EXTRA a syncer thread fsyncs each committed group and runs
// its callbacks. Drive() lets a caller write a group on its own thread
// instead, but only while the writer and the syncer are both idle.
#ifndef TEMPORALIO_SERVER_PERSISTENCE_SQLITE_STORE_H_
#define TEMPORALIO_SERVER_PERSISTENCE_SQLITE_STORE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <condition_variable>
#include <mutex>
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/persistence/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace temporalio::server::persistence {

class SqliteStore final : public Store {
 public:
  // The schema version this code creates and understands.
  static constexpr int kSchemaVersion = 4;
  // The WAL size (pages) that starts a background checkpoint unless the
  // wal_autocheckpoint pragma says otherwise. Each checkpoint copies every
  // page the WAL holds once, however often it was rewritten meanwhile, so a
  // longer WAL copies far less under writes that revisit the same pages (a
  // run's execution row, its history's last index page): 10x SQLite's 1,000
  // (~40 MB) made a signal load 1.14x faster (same-minute pairs, 2 cores).
  static constexpr int kDefaultCheckpointPages = 10000;
  // The writer connection's page cache (KiB) unless the cache_size pragma
  // says otherwise. SQLite's 2 MB held less than the pages a load over 1,000
  // runs keeps revisiting (their execution rows, their history's last index
  // pages), and every miss is a read syscall on the writer's critical path.
  // 8 MiB cut the server's CPU per signal by ~10% (same-minute triples;
  // 16 MiB did no better).
  static constexpr int kDefaultWriterCacheKib = 8192;
  // Group-commit caps: a group takes at most this many batches, and stops
  // adding batches once their payload bytes reach kMaxGroupBytes (a group
  // always takes at least one batch, however large).
  static constexpr size_t kMaxGroupBatches = 1000;
  static constexpr size_t kMaxGroupBytes = 8 << 20;
  // A WAL fsync at least this long counts as slow in Stats: a healthy disk
  // syncs in well under a millisecond, so one this slow is the device (or
  // the host under a VM) holding the write, and every commit waits for it.
  static constexpr std::chrono::microseconds kSlowSyncThreshold{10000};

  // See OpenSqliteStore.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);

  // Drains the queue (commits it and runs its callbacks), stops the writer
  // thread, closes the connections. See Store for Commit during destruction.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  void Commit(WriteBatch batch, std::function<void(absl::Status)> done) override;
  void Enqueue(WriteBatch batch, std::function<void(absl::Status)> done) override;
  void Drive() override;
  absl::StatusOr<std::vector<NamespaceRecord>> LoadNamespaces() override;
  absl::StatusOr<std::vector<ExecutionRecord>> LoadExecutions() override;
  absl::StatusOr<std::vector<std::string>> ReadHistory(const std::string& namespace_id,
                                                       const std::string& run_id,
                                                       int64_t from_event_id,
                                                       int64_t max_events) override;
  absl::StatusOr<std::vector<CurrentExecution>> LoadCurrentExecutions() override;
  absl::StatusOr<std::vector<SearchAttributeRecord>> LoadSearchAttributes() override;
  Stats GetStats() const override;

  // Test hooks. While paused the writer starts no new group transaction (one
  // already running finishes), so batches committed meanwhile queue up and
  // the next group takes them together. Destruction ignores the pause.
  void PauseWriterForTesting();
  void ResumeWriterForTesting();
  // Batches queued and not yet taken by the writer.
  size_t QueuedBatchesForTesting() const;
  // While paused (synchronous=FULL/EXTRA on a file only) the syncer neither
  // fsyncs nor runs callbacks; the writer keeps committing. Destruction
  // ignores the pause.
  void PauseSyncForTesting();
  void ResumeSyncForTesting();
  // Fsyncs at least this long count as slow (default kSlowSyncThreshold).
  void SetSlowSyncThresholdForTesting(std::chrono::microseconds threshold);

 private:
  // One SQLite connection, its cached prepared statements, and the mutex that
  // serializes its use.
  struct Connection {
    explicit Connection(sqlite3* db) : db(db) {}
    ~Connection();
    // Returns the cached statement for `sql` (which must have static storage
    // duration), preparing it on first use. Requires `mu` held.
    absl::StatusOr<sqlite3_stmt*> Prepare(std::string_view sql);

    sqlite3* const db;
    // std::mutex rather than absl::Mutex: Debian's Abseil is not TSan-instrumented.
    std::mutex mu;
    std::unordered_map<std::string_view, sqlite3_stmt*> statements;
  };

  struct Pending {
    WriteBatch batch;
    std::function<void(absl::Status)> done;
    size_t bytes = 0;
  };

  SqliteStore(std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader,
              std::unique_ptr<Connection> checkpointer, int checkpoint_pages, std::string wal_path);

  // WAL checkpoints run on their own thread and connection instead of inside
  // the writer's commit (SQLite's auto-checkpoint), so that copying pages
  // into the database file and its fsync do not hold up the next group
  // commit. Called by SQLite on the writer thread after each commit.
  static int WalHook(void* self, sqlite3* db, const char* name, int frames);
  void CheckpointLoop();

  static absl::Status Migrate(Connection& conn);

  void Push(WriteBatch batch, std::function<void(absl::Status)> done, bool wake_writer);
  bool WriterShouldWake() const;  // requires mu_
  // Moves the next group's batches out of queue_. Requires mu_.
  void TakeGroup(std::vector<Pending>& group);
  void WriterLoop();
  // Runs a finished group's callbacks (on the writer or the syncer thread).
  void Finish(std::vector<Pending>& group, std::vector<absl::Status>& results);
  // synchronous=FULL/EXTRA: fsyncs the WAL for committed groups, then runs
  // their callbacks.
  void SyncLoop();
  struct SyncedGroup;
  // fsyncs the WAL if any of the groups committed, then runs their callbacks
  // in order (an fsync failure fails every batch it was to cover).
  void SyncAndFinish(std::deque<SyncedGroup>& groups);
  absl::Status SyncWal();  // syncer thread, or a driving thread while the syncer is idle
  // Runs one group transaction; fills `results` (one per batch).
  void ApplyGroup(std::vector<Pending>& group, std::vector<absl::Status>& results);
  // One transaction for the whole group, no savepoints; rolls back and
  // returns false if any batch (or the commit) fails. Holds writer_->mu.
  bool ApplyGroupAtOnce(std::vector<Pending>& group);
  void RecordCommittedGroup(const std::vector<Pending>& group,
                            const std::vector<absl::Status>& results);
  absl::Status ApplyBatch(const WriteBatch& batch);
  // The integer that keys a run's history rows, created on its first append.
  // Writer connection, inside the group transaction.
  absl::StatusOr<int64_t> HistoryRunSeq(const std::string& namespace_id, const std::string& run_id);
  // HistoryRunSeq without the cache below: SELECT, or INSERT a new one.
  absl::StatusOr<int64_t> LookUpHistoryRunSeq(const std::string& namespace_id,
                                              const std::string& run_id);
  // Seqs of recently appended runs (writer thread, writer_->mu held): a run
  // in flight appends several times within a few seconds, and this spares a
  // SELECT per append. Bounded (cleared when full); cleared whenever a
  // batch or transaction is rolled back, since an insert it made is gone.
  std::unordered_map<std::string, int64_t> run_seqs_;
  static constexpr size_t kMaxCachedRunSeqs = 8192;
  absl::Status RunPrepared(const char* sql);  // writer thread, writer_->mu held
  // Search-attribute upserts/removals and run deletions of a batch.
  absl::Status ApplyMetadataAndDeletes(const WriteBatch& batch);
  Connection& ReadConnection() { return reader_ ? *reader_ : *writer_; }

  std::unique_ptr<Connection> writer_;  // used by the writer thread (and by readers if no reader_)
  std::unique_ptr<Connection> reader_;  // null for in-memory databases
  // Background checkpoints: null for in-memory databases and when the
  // wal_autocheckpoint pragma is 0 (the user checkpoints).
  std::unique_ptr<Connection> checkpointer_;
  // WAL size (pages) that starts a background checkpoint (wal_autocheckpoint);
  // at kCheckpointCatchUp times that, the writer checkpoints itself so that a
  // background checkpoint that cannot keep up never lets the WAL grow unbounded.
  const int checkpoint_pages_;
  static constexpr int kCheckpointCatchUp = 4;

  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stop_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::atomic<uint64_t> background_checkpoints_{0};
  std::atomic<uint64_t> writer_checkpoints_{0};
  std::thread checkpoint_thread_;

  // synchronous=FULL/EXTRA on a file: the WAL's path, and the syncer that
  // fsyncs it after each commit (see Open). Empty: commits need no sync.
  const std::string wal_path_;
  struct SyncedGroup {
    std::vector<Pending> group;
    std::vector<absl::Status> results;
  };
  std::mutex sync_mu_;
  std::condition_variable sync_wake_;
  std::condition_variable sync_taken_;  // writer: the syncer took the queued groups
  std::deque<SyncedGroup> sync_queue_ ABSL_GUARDED_BY(sync_mu_);
  bool sync_stop_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool sync_paused_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool sync_busy_ ABSL_GUARDED_BY(sync_mu_) = false;  // syncing or running callbacks
  int wal_fd_ = -1;                                   // syncer thread
  std::atomic<uint64_t> wal_syncs_{0};
  std::atomic<uint64_t> wal_sync_micros_{0};
  std::atomic<uint64_t> slow_wal_syncs_{0};
  std::atomic<uint64_t> slow_wal_sync_micros_{0};
  std::atomic<int64_t> slow_sync_threshold_micros_{kSlowSyncThreshold.count()};
  std::thread sync_thread_;

  mutable std::mutex mu_;
  std::condition_variable wake_;  // writer: queue non-empty, resumed or stopping
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  // The writer thread holds a group (applying it, handing it to the syncer or
  // running its callbacks); a Drive()ing thread is writing one. At most one
  // of the two at a time, so groups and their callbacks keep commit order.
  bool writer_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool driving_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> failed_batches_{0};
  std::atomic<uint64_t> failed_transactions_{0};
  std::atomic<uint64_t> max_group_batches_{0};
  std::atomic<uint64_t> events_{0};

  std::thread writer_thread_;  // started last, joined first
};

}  // namespace temporalio::server::persistence

#endif  // TEMPORALIO_SERVER_PERSISTENCE_SQLITE_STORE_H_
