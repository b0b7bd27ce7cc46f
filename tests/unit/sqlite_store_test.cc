#include "server/persistence/sqlite_store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/persistence/store.h"

namespace temporalio::server::persistence {
namespace {

constexpr auto kDeadline = std::chrono::seconds(60);

// Counts callbacks and records their statuses; waits with a deadline.
class Outcomes {
 public:
  explicit Outcomes(size_t n) : statuses_(n, absl::UnknownError("callback not run")) {}

  std::function<void(absl::Status)> Callback(size_t i) {
    return [this, i](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      statuses_[i] = std::move(status);
      order_.push_back(i);
      cv_.notify_all();
    };
  }
  // True when all callbacks ran before the deadline.
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [this] { return order_.size() == statuses_.size(); });
  }
  absl::Status status(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return statuses_[i];
  }
  std::vector<size_t> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<absl::Status> statuses_;
  std::vector<size_t> order_;
};

ExecutionRecord MakeExecution(const std::string& ns, int i) {
  ExecutionRecord ex;
  ex.namespace_id = ns;
  ex.workflow_id = "wf-" + std::to_string(i);
  ex.run_id = "run-" + std::to_string(i);
  ex.workflow_type = "Type" + std::to_string(i % 3);
  ex.task_queue = "queue";
  ex.status = 1;
  ex.start_time_unix_ns = 1'700'000'000'000'000'000 + i;
  ex.history_length = 3;
  ex.state = std::string("state\0with nul ", 15) + std::to_string(i);
  return ex;
}

std::vector<std::string> MakeEvents(const std::string& run_id, int64_t first, int n) {
  std::vector<std::string> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(run_id + std::string("\0\xff event ", 9) + std::to_string(first + i));
  }
  return events;
}

// A batch creating run i: its execution, three events, and the current pointer.
WriteBatch RunBatch(const std::string& ns, int i) {
  WriteBatch batch;
  ExecutionRecord ex = MakeExecution(ns, i);
  batch.history.push_back({ns, ex.run_id, 1, MakeEvents(ex.run_id, 1, 3)});
  batch.current.push_back({ns, ex.workflow_id, ex.run_id});
  batch.executions.push_back(std::move(ex));
  return batch;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    if (base.empty() || base.back() != '/') base += '/';
    std::string tmpl = base + "sqlite_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp " << tmpl;
    dir_ = tmpl;
    path_ = dir_ + "/temporal.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> Open(const std::string& path) {
    SqliteOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::unique_ptr<SqliteStore> OpenFile() { return Open(path_); }

  // Runs SQL on the file with a separate raw connection.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  int64_t RawQueryInt(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }

  std::string dir_;
  std::string path_;
};

// Writes one of each record type and checks Load*/ReadHistory return them.
void CheckRoundTrip(Store& store) {
  WriteBatch batch;
  batch.namespaces.push_back({"ns-1", "default", std::string("info\0one", 8)});
  batch.namespaces.push_back({"ns-2", "other", ""});
  // Committed out of start order: LoadExecutions sorts by start time.
  ExecutionRecord late = MakeExecution("ns-1", 2);
  late.status = 2;
  late.close_time_unix_ns = late.start_time_unix_ns + 5;
  ExecutionRecord early = MakeExecution("ns-1", 1);
  ExecutionRecord other = MakeExecution("ns-2", 3);
  other.state = "";
  batch.executions = {late, early, other};
  batch.history.push_back({"ns-1", "run-1", 1, MakeEvents("run-1", 1, 3)});
  batch.history.push_back({"ns-1", "run-1", 4, {""}});  // an empty event is kept as empty
  batch.history.push_back({"ns-2", "run-1", 1, MakeEvents("other", 1, 1)});
  batch.current.push_back({"ns-1", "wf-1", "run-1"});
  batch.current.push_back({"ns-2", "wf-3", "run-3"});
  ASSERT_TRUE(store.CommitSync(batch).ok());

  absl::StatusOr<std::vector<NamespaceRecord>> namespaces = store.LoadNamespaces();
  ASSERT_TRUE(namespaces.ok()) << namespaces.status();
  EXPECT_EQ(*namespaces, batch.namespaces);

  absl::StatusOr<std::vector<ExecutionRecord>> executions = store.LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  EXPECT_EQ(*executions, (std::vector<ExecutionRecord>{early, late, other}));

  std::vector<std::string> expected = MakeEvents("run-1", 1, 3);
  expected.push_back("");
  absl::StatusOr<std::vector<std::string>> history = store.ReadHistory("ns-1", "run-1", 1, 100);
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(*history, expected);
  history = store.ReadHistory("ns-2", "run-1", 1, 100);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, MakeEvents("other", 1, 1));
  history = store.ReadHistory("ns-1", "no-such-run", 1, 100);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());

  absl::StatusOr<std::vector<CurrentExecution>> current = store.LoadCurrentExecutions();
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(*current, batch.current);
}

TEST_F(SqliteStoreTest, RoundTripsEveryRecordTypeThroughAFile) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  CheckRoundTrip(*store);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(SqliteStoreTest, InMemoryStoreWorks) {
  for (const std::string path : {"", ":memory:"}) {
    SCOPED_TRACE("path '" + path + "'");
    std::unique_ptr<SqliteStore> store = Open(path);
    ASSERT_NE(store, nullptr);
    CheckRoundTrip(*store);
    // Grouping and per-batch failure work the same on the shared connection.
    store->PauseWriterForTesting();
    Outcomes outcomes(3);
    store->Commit(RunBatch("ns-1", 10), outcomes.Callback(0));
    WriteBatch duplicate;
    duplicate.history.push_back({"ns-1", "run-10", 3, MakeEvents("run-10", 3, 1)});
    store->Commit(duplicate, outcomes.Callback(1));
    store->Commit(RunBatch("ns-1", 11), outcomes.Callback(2));
    store->ResumeWriterForTesting();
    ASSERT_TRUE(outcomes.Wait());
    EXPECT_TRUE(outcomes.status(0).ok()) << outcomes.status(0);
    EXPECT_EQ(outcomes.status(1).code(), absl::StatusCode::kAlreadyExists);
    EXPECT_TRUE(outcomes.status(2).ok()) << outcomes.status(2);
    absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
    ASSERT_TRUE(executions.ok());
    EXPECT_EQ(executions->size(), 5u);
  }
  // Nothing was written to the working directory's ":memory:" file.
  EXPECT_FALSE(std::filesystem::exists(":memory:"));
}

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  {
    std::unique_ptr<SqliteStore> store = OpenFile();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->CommitSync(RunBatch("ns", i)).ok());
  }
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  ASSERT_EQ(executions->size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ((*executions)[i], MakeExecution("ns", i));
    absl::StatusOr<std::vector<std::string>> history =
        store->ReadHistory("ns", "run-" + std::to_string(i), 1, 0);
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(*history, MakeEvents("run-" + std::to_string(i), 1, 3));
  }
  absl::StatusOr<std::vector<CurrentExecution>> current = store->LoadCurrentExecutions();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->size(), 10u);
}

TEST_F(SqliteStoreTest, UpsertsReplaceRows) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  WriteBatch first;
  first.namespaces.push_back({"ns-1", "default", "v1"});
  first.executions.push_back(MakeExecution("ns-1", 1));
  first.executions.push_back(MakeExecution("ns-1", 2));
  first.executions.push_back(MakeExecution("ns-1", 3));
  first.current.push_back({"ns-1", "wf-1", "run-1"});
  ASSERT_TRUE(store->CommitSync(first).ok());

  WriteBatch second;
  second.namespaces.push_back({"ns-1", "renamed", "v2"});
  ExecutionRecord closed = MakeExecution("ns-1", 1);
  closed.status = 2;
  closed.close_time_unix_ns = 42;
  closed.history_length = 10;
  closed.state = "new state";
  second.executions.push_back(closed);
  second.current.push_back({"ns-1", "wf-1", "run-9"});
  // Only state and history length change (the store's in-place update path).
  ExecutionRecord running = MakeExecution("ns-1", 2);
  running.history_length = 7;
  running.state = "state after 7 events";
  second.executions.push_back(running);
  // A column fixed at start differs too (the full upsert path).
  ExecutionRecord moved = MakeExecution("ns-1", 3);
  moved.task_queue = "another-queue";
  moved.status = 3;
  moved.state = "moved";
  second.executions.push_back(moved);
  ASSERT_TRUE(store->CommitSync(second).ok());

  absl::StatusOr<std::vector<NamespaceRecord>> namespaces = store->LoadNamespaces();
  ASSERT_TRUE(namespaces.ok());
  EXPECT_EQ(*namespaces, (std::vector<NamespaceRecord>{{"ns-1", "renamed", "v2"}}));
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(*executions, (std::vector<ExecutionRecord>{closed, running, moved}));
  absl::StatusOr<std::vector<CurrentExecution>> current = store->LoadCurrentExecutions();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, (std::vector<CurrentExecution>{{"ns-1", "wf-1", "run-9"}}));
}

TEST_F(SqliteStoreTest, ReadHistoryPages) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  // 25 events in three appends, plus a neighbouring run that must not leak in.
  for (auto [first, n] : {std::pair{1, 10}, std::pair{11, 5}, std::pair{16, 10}}) {
    WriteBatch batch;
    batch.history.push_back({"ns", "run", first, MakeEvents("run", first, n)});
    batch.history.push_back({"ns", "run-2", first, MakeEvents("run-2", first, n)});
    ASSERT_TRUE(store->CommitSync(batch).ok());
  }
  const std::vector<std::string> all = MakeEvents("run", 1, 25);
  auto read = [&](int64_t from, int64_t max) {
    absl::StatusOr<std::vector<std::string>> events = store->ReadHistory("ns", "run", from, max);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<std::string>{};
  };
  auto slice = [&](int64_t from, int64_t to) {  // ids [from, to]
    return std::vector<std::string>(all.begin() + (from - 1), all.begin() + to);
  };
  EXPECT_EQ(read(1, 10), slice(1, 10));
  EXPECT_EQ(read(11, 10), slice(11, 20));
  EXPECT_EQ(read(21, 10), slice(21, 25));
  EXPECT_TRUE(read(26, 10).empty());
  EXPECT_EQ(read(7, 1), slice(7, 7));
  EXPECT_EQ(read(1, 0), all);   // no limit
  EXPECT_EQ(read(0, -1), all);  // no limit, from before the first id
  EXPECT_EQ(read(13, 1000), slice(13, 25));
}

TEST_F(SqliteStoreTest, DuplicateEventFailsOnlyItsBatch) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CommitSync(RunBatch("ns", 1)).ok());
  const uint64_t transactions_before = store->GetStats().transactions;
  const uint64_t events_before = store->GetStats().events;

  // Three batches in one group: the middle one collides with the first.
  store->PauseWriterForTesting();
  Outcomes outcomes(3);
  WriteBatch a;
  a.history.push_back({"ns", "run-1", 4, MakeEvents("run-1", 4, 2)});  // events 4, 5
  store->Commit(a, outcomes.Callback(0));
  WriteBatch b;  // valid rows first, then event 5 again: all of b must be rolled back
  b.namespaces.push_back({"ns-b", "from-b", ""});
  b.executions.push_back(MakeExecution("ns", 50));
  b.history.push_back({"ns", "run-1", 6, {"b6"}});
  b.history.push_back({"ns", "run-1", 5, {"b5"}});
  store->Commit(b, outcomes.Callback(1));
  store->Commit(RunBatch("ns", 2), outcomes.Callback(2));
  store->ResumeWriterForTesting();
  ASSERT_TRUE(outcomes.Wait());

  EXPECT_TRUE(outcomes.status(0).ok()) << outcomes.status(0);
  EXPECT_EQ(outcomes.status(1).code(), absl::StatusCode::kAlreadyExists) << outcomes.status(1);
  EXPECT_TRUE(outcomes.status(2).ok()) << outcomes.status(2);
  EXPECT_EQ(store->GetStats().transactions, transactions_before + 1);
  // Events count only batches that committed: a's 2 and the new run's 3.
  EXPECT_EQ(store->GetStats().events, events_before + 5);

  absl::StatusOr<std::vector<std::string>> history = store->ReadHistory("ns", "run-1", 1, 0);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, MakeEvents("run-1", 1, 5));
  absl::StatusOr<std::vector<NamespaceRecord>> namespaces = store->LoadNamespaces();
  ASSERT_TRUE(namespaces.ok());
  EXPECT_TRUE(namespaces->empty());
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(*executions,
            (std::vector<ExecutionRecord>{MakeExecution("ns", 1), MakeExecution("ns", 2)}));

  // Colliding with an already committed event fails the same way.
  WriteBatch again;
  again.history.push_back({"ns", "run-2", 1, {"x"}});
  EXPECT_EQ(store->CommitSync(again).code(), absl::StatusCode::kAlreadyExists);
  // And two appends of one batch that overlap.
  WriteBatch overlapping;
  overlapping.history.push_back({"ns", "run-3", 1, {"a", "b"}});
  overlapping.history.push_back({"ns", "run-3", 2, {"c"}});
  EXPECT_EQ(store->CommitSync(overlapping).code(), absl::StatusCode::kAlreadyExists);
  history = store->ReadHistory("ns", "run-3", 1, 0);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());
  Store::Stats stats = store->GetStats();
  EXPECT_EQ(stats.failed_batches, 3u);
  EXPECT_EQ(stats.failed_transactions, 0u);
}

// The writer remembers the history key of runs it appended to; a rolled-back
// batch must not leave a key behind that the database no longer has (the
// next run would get the same key, and the first run's events would land in
// its history).
TEST_F(SqliteStoreTest, RolledBackRunKeyIsNotReused) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  WriteBatch failing;
  failing.history.push_back({"ns", "run-new", 1, MakeEvents("run-new", 1, 2)});
  failing.history.push_back({"ns", "run-new", 2, {"duplicate"}});
  EXPECT_EQ(store->CommitSync(failing).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->CommitSync(RunBatch("ns", 7)).ok());  // takes the key rolled back
  WriteBatch retry;
  retry.history.push_back({"ns", "run-new", 1, MakeEvents("run-new", 1, 2)});
  ASSERT_TRUE(store->CommitSync(retry).ok());

  absl::StatusOr<std::vector<std::string>> history = store->ReadHistory("ns", "run-new", 1, 0);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, MakeEvents("run-new", 1, 2));
  history = store->ReadHistory("ns", "run-7", 1, 0);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, MakeEvents("run-7", 1, 3));
  // And after a restart (nothing remembered).
  store.reset();
  store = OpenFile();
  ASSERT_NE(store, nullptr);
  history = store->ReadHistory("ns", "run-new", 1, 0);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, MakeEvents("run-new", 1, 2));
}

// ExecutionRecord::change only picks which statement is tried first: a wrong
// hint still leaves the right row.
TEST_F(SqliteStoreTest, WrongExecutionChangeHintsStillWriteTheRow) {
  using Change = ExecutionRecord::Change;
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  auto write = [&](ExecutionRecord ex, Change hint) {
    ex.change = hint;
    WriteBatch batch;
    batch.executions.push_back(std::move(ex));
    return store->CommitSync(batch);
  };
  auto load = [&] {
    absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
    EXPECT_TRUE(executions.ok()) << executions.status();
    return executions.ok() ? *executions : std::vector<ExecutionRecord>{};
  };
  ExecutionRecord ex = MakeExecution("ns", 1);
  ASSERT_TRUE(write(ex, Change::kState).ok());  // a new run hinted as an update
  EXPECT_EQ(load(), std::vector<ExecutionRecord>{ex});
  ex.state = "second";
  ex.history_length = 5;
  ASSERT_TRUE(write(ex, Change::kNewRun).ok());  // an update hinted as a new run
  EXPECT_EQ(load(), std::vector<ExecutionRecord>{ex});
  ex.status = 2;
  ex.close_time_unix_ns = ex.start_time_unix_ns + 9;
  ex.state = "closed";
  ASSERT_TRUE(write(ex, Change::kState).ok());  // a close hinted as a state update
  EXPECT_EQ(load(), std::vector<ExecutionRecord>{ex});
  ex.task_queue = "moved";
  ASSERT_TRUE(write(ex, Change::kClosed).ok());  // a fixed column changed too
  EXPECT_EQ(load(), std::vector<ExecutionRecord>{ex});
  ExecutionRecord other = MakeExecution("ns", 2);
  ASSERT_TRUE(write(other, Change::kClosed).ok());  // a new run hinted as a close
  EXPECT_EQ(load(), (std::vector<ExecutionRecord>{ex, other}));
  ex.state = "right hint";
  ASSERT_TRUE(write(ex, Change::kClosed).ok());
  EXPECT_EQ(load(), (std::vector<ExecutionRecord>{ex, other}));
}

TEST_F(SqliteStoreTest, BadFirstEventIdFailsTheBatch) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.history.push_back({"ns", "run", 0, {"e0"}});
  EXPECT_EQ(store->CommitSync(batch).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->CommitSync(WriteBatch{}).ok());  // an empty batch is fine
}

TEST_F(SqliteStoreTest, GroupCommitGroupsConcurrentBatches) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr int kTotal = kThreads * kPerThread;
  // Paused, so every batch is queued when the writer next looks: grouping is
  // deterministic.
  store->PauseWriterForTesting();
  Outcomes outcomes(kTotal);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        store->Commit(RunBatch("ns", n), outcomes.Callback(n));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store->QueuedBatchesForTesting(), static_cast<size_t>(kTotal));
  store->ResumeWriterForTesting();
  ASSERT_TRUE(outcomes.Wait());
  for (int i = 0; i < kTotal; ++i) EXPECT_TRUE(outcomes.status(i).ok()) << outcomes.status(i);

  Store::Stats stats = store->GetStats();
  EXPECT_EQ(stats.batches, static_cast<uint64_t>(kTotal));
  EXPECT_LT(stats.transactions, stats.batches);
  EXPECT_EQ(stats.transactions, 1u);  // kTotal < kMaxGroupBatches
  EXPECT_EQ(stats.max_group_batches, static_cast<uint64_t>(kTotal));
  EXPECT_EQ(stats.synced_commits, stats.transactions);  // synchronous=FULL
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), static_cast<size_t>(kTotal));
}

// Slow WAL fsyncs are counted with their time, so a latency tail can be told
// apart from the server's own work. No disk syncs slowly on demand: a zero
// threshold makes every fsync slow, and the default one counts only syncs
// that took 10 ms or more.
TEST_F(SqliteStoreTest, SlowWalSyncsAreCountedWithTheirTime) {
  std::unique_ptr<SqliteStore> store = OpenFile();  // default synchronous=FULL
  ASSERT_NE(store, nullptr);
  auto commit = [&](int i) {
    Outcomes outcomes(1);
    store->Commit(RunBatch("ns", i), outcomes.Callback(0));
    EXPECT_TRUE(outcomes.Wait());
    EXPECT_TRUE(outcomes.status(0).ok()) << outcomes.status(0);
  };
  commit(0);
  Store::Stats before = store->GetStats();
  ASSERT_GE(before.synced_commits, 1u);
  EXPECT_LE(before.slow_syncs, before.synced_commits);
  EXPECT_LE(before.slow_sync_micros, before.sync_micros);
  EXPECT_GE(before.slow_sync_micros,
            before.slow_syncs * static_cast<uint64_t>(SqliteStore::kSlowSyncThreshold.count()));

  store->SetSlowSyncThresholdForTesting(std::chrono::microseconds(0));
  constexpr int kCommits = 3;
  for (int i = 1; i <= kCommits; ++i) commit(i);
  Store::Stats after = store->GetStats();
  const uint64_t syncs = after.synced_commits - before.synced_commits;
  EXPECT_EQ(syncs, static_cast<uint64_t>(kCommits));  // one commit at a time: one fsync each
  EXPECT_EQ(after.slow_syncs - before.slow_syncs, syncs);
  EXPECT_EQ(after.slow_sync_micros - before.slow_sync_micros,
            after.sync_micros - before.sync_micros);
}

// synchronous=FULL: the fsync runs on its own thread after COMMIT, so the
// writer applies the next group meanwhile, and no callback runs before the
// fsync that covers its transaction.
TEST_F(SqliteStoreTest, WalSyncIsPipelinedAndPrecedesEveryCallback) {
  std::unique_ptr<SqliteStore> store = OpenFile();  // default synchronous=FULL
  ASSERT_NE(store, nullptr);
  auto wait_for = [&](auto predicate) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!predicate() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return predicate();
  };
  store->PauseSyncForTesting();
  constexpr int kBatches = 3;
  Outcomes outcomes(kBatches);
  std::atomic<uint64_t> syncs_seen_by_first_callback{0};
  for (int i = 0; i < kBatches; ++i) {
    std::function<void(absl::Status)> callback = outcomes.Callback(i);
    if (i == 0) {
      callback = [&, inner = std::move(callback)](absl::Status status) {
        syncs_seen_by_first_callback = store->GetStats().synced_commits;
        inner(std::move(status));
      };
    }
    store->Commit(RunBatch("ns", i), std::move(callback));
    // Each batch is committed in its own transaction while no sync can run.
    ASSERT_TRUE(wait_for([&] { return store->GetStats().transactions == uint64_t(i) + 1; }));
  }
  EXPECT_EQ(store->GetStats().synced_commits, 0u);
  EXPECT_TRUE(outcomes.order().empty()) << "a callback ran before its commit was synced";
  store->ResumeSyncForTesting();
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_EQ(outcomes.order(), (std::vector<size_t>{0, 1, 2}));
  for (int i = 0; i < kBatches; ++i) EXPECT_TRUE(outcomes.status(i).ok()) << outcomes.status(i);
  EXPECT_EQ(syncs_seen_by_first_callback, 1u);  // one fsync covered all three
  EXPECT_EQ(store->GetStats().synced_commits, 1u);
  EXPECT_EQ(store->GetStats().transactions, static_cast<uint64_t>(kBatches));

  // A paused syncer does not hold up destruction: queued groups are synced
  // and their callbacks run.
  store->PauseSyncForTesting();
  Outcomes last(1);
  store->Commit(RunBatch("ns", 10), last.Callback(0));
  store.reset();
  ASSERT_TRUE(last.Wait());
  EXPECT_TRUE(last.status(0).ok()) << last.status(0);
  store = OpenFile();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), static_cast<size_t>(kBatches + 1));
}

// Enqueue + Drive: with nothing else being written or synced, the caller
// writes its batch itself (transaction, fsync, callback on its own thread);
// while an earlier group still waits for its fsync, Drive hands the batch to
// the writer instead, so callbacks keep commit order.
TEST_F(SqliteStoreTest, DriveWritesOnTheCallingThreadOnlyWhenTheStoreIsIdle) {
  std::unique_ptr<SqliteStore> store = OpenFile();  // synchronous=FULL
  ASSERT_NE(store, nullptr);
  std::thread::id callback_thread;
  uint64_t syncs_seen = 0;
  absl::Status first = absl::UnknownError("callback not run");
  store->Enqueue(RunBatch("ns", 1), [&](absl::Status status) {
    callback_thread = std::this_thread::get_id();
    syncs_seen = store->GetStats().synced_commits;
    first = std::move(status);
  });
  store->Drive();
  EXPECT_TRUE(first.ok()) << first;  // ran before Drive returned
  EXPECT_EQ(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(syncs_seen, 1u);  // the fsync came before the callback

  // A callback on a driving thread must not wait for a commit either.
  Outcomes nested(1);
  store->Enqueue(RunBatch("ns", 2), [&](absl::Status status) {
    ASSERT_TRUE(status.ok());
    nested.Callback(0)(store->CommitSync(RunBatch("ns", 3)));
  });
  store->Drive();
  ASSERT_TRUE(nested.Wait());
  EXPECT_EQ(nested.status(0).code(), absl::StatusCode::kFailedPrecondition);

  // Busy: batch 0 is committed and waits for its fsync (paused); batch 1 is
  // driven meanwhile and must go through the writer and syncer after it.
  store->PauseSyncForTesting();
  Outcomes outcomes(2);
  const uint64_t transactions = store->GetStats().transactions;
  store->Commit(RunBatch("ns", 4), outcomes.Callback(0));
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (store->GetStats().transactions == transactions &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  store->Enqueue(RunBatch("ns", 5), outcomes.Callback(1));
  store->Drive();
  EXPECT_TRUE(outcomes.order().empty()) << "a callback ran before its commit was synced";
  store->ResumeSyncForTesting();
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_EQ(outcomes.order(), (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(outcomes.status(1).ok()) << outcomes.status(1);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), 4u);  // runs 1, 2, 4, 5
}

TEST_F(SqliteStoreTest, ConcurrentCommitSyncAndReads) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> writers_left{kThreads};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store->CommitSync(RunBatch("ns", t * kPerThread + i)).ok()) ++errors;
      }
      --writers_left;
    });
  }
  // Reads run while the writer writes (WAL), and only ever see whole batches.
  size_t last_seen = 0;
  while (writers_left.load() > 0) {
    absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
    ASSERT_TRUE(executions.ok()) << executions.status();
    EXPECT_GE(executions->size(), last_seen);
    last_seen = executions->size();
    absl::StatusOr<std::vector<CurrentExecution>> current = store->LoadCurrentExecutions();
    ASSERT_TRUE(current.ok()) << current.status();
    EXPECT_GE(current->size(), last_seen);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  Store::Stats stats = store->GetStats();
  EXPECT_EQ(stats.batches, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(stats.transactions, stats.batches);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(SqliteStoreTest, BatchesCommitAndCallBackInCallOrder) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  store->PauseWriterForTesting();
  constexpr int kBatches = 10;
  Outcomes outcomes(kBatches);
  for (int i = 0; i < kBatches; ++i) {
    WriteBatch batch;
    ExecutionRecord ex = MakeExecution("ns", 1);
    ex.history_length = i;
    batch.executions.push_back(ex);
    store->Commit(batch, outcomes.Callback(i));
  }
  store->ResumeWriterForTesting();
  ASSERT_TRUE(outcomes.Wait());
  std::vector<size_t> expected_order(kBatches);
  for (int i = 0; i < kBatches; ++i) expected_order[i] = i;
  EXPECT_EQ(outcomes.order(), expected_order);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  ASSERT_EQ(executions->size(), 1u);
  EXPECT_EQ((*executions)[0].history_length, kBatches - 1);
}

TEST_F(SqliteStoreTest, MigrationsAreIdempotent) {
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<SqliteStore> store = OpenFile();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CommitSync(RunBatch("ns", round)).ok());
  }
  EXPECT_EQ(RawQueryInt("SELECT COUNT(*) FROM schema_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(RawQueryInt("SELECT MAX(version) FROM schema_version"), SqliteStore::kSchemaVersion);
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), 3u);
}

// Migration 3 moves a version-2 database's history (keyed by namespace and
// run id text) to integer run keys: every run's events survive in order, and
// appends, duplicate checks and deletions work on the moved rows.
TEST_F(SqliteStoreTest, HistoryOfAVersion2DatabaseSurvivesMigration3) {
  {
    std::unique_ptr<SqliteStore> store = OpenFile();
    ASSERT_NE(store, nullptr);
  }
  // Back to the version-2 history table, filled out of run order.
  RawExec(
      "DROP TABLE history; DROP TABLE history_runs; DELETE FROM schema_version WHERE version >= 3;"
      "CREATE TABLE history_events (namespace_id TEXT NOT NULL, run_id TEXT NOT NULL, "
      "event_id INTEGER NOT NULL, data BLOB NOT NULL, "
      "PRIMARY KEY (namespace_id, run_id, event_id));"
      "INSERT INTO history_events VALUES ('ns', 'run-2', 1, 'b1'), ('ns', 'run-1', 2, 'a2'), "
      "('ns', 'run-1', 1, 'a1'), ('ns', 'run-2', 2, 'b2'), ('other', 'run-1', 1, 'o1');");
  ASSERT_EQ(RawQueryInt("SELECT MAX(version) FROM schema_version"), 2);

  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQueryInt("SELECT MAX(version) FROM schema_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(RawQueryInt("SELECT COUNT(*) FROM sqlite_master WHERE name = 'history_events'"), 0);
  auto read = [&](const std::string& ns, const std::string& run) {
    absl::StatusOr<std::vector<std::string>> events = store->ReadHistory(ns, run, 1, 0);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<std::string>{};
  };
  EXPECT_EQ(read("ns", "run-1"), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(read("ns", "run-2"), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(read("other", "run-1"), (std::vector<std::string>{"o1"}));

  WriteBatch append;
  append.history.push_back({"ns", "run-1", 3, {"a3"}});
  ASSERT_TRUE(store->CommitSync(append).ok());
  WriteBatch duplicate;
  duplicate.history.push_back({"ns", "run-1", 2, {"again"}});
  EXPECT_EQ(store->CommitSync(duplicate).code(), absl::StatusCode::kAlreadyExists);
  WriteBatch remove;
  remove.deleted_executions.push_back({"ns", "wf-2", "run-2"});
  ASSERT_TRUE(store->CommitSync(remove).ok());
  EXPECT_EQ(read("ns", "run-1"), (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_TRUE(read("ns", "run-2").empty());
  EXPECT_EQ(read("other", "run-1"), (std::vector<std::string>{"o1"}));
  // A deleted run's id used again starts a history of its own.
  WriteBatch reused;
  reused.history.push_back({"ns", "run-2", 1, {"c1"}});
  ASSERT_TRUE(store->CommitSync(reused).ok());
  EXPECT_EQ(read("ns", "run-2"), (std::vector<std::string>{"c1"}));
}

// Migration 4 drops the executions indexes nothing reads; a version-3
// database keeps its runs, and a run's close still updates its row in place.
TEST_F(SqliteStoreTest, Version3DatabaseLosesUnreadExecutionIndexes) {
  {
    std::unique_ptr<SqliteStore> store = OpenFile();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CommitSync(RunBatch("ns", 1)).ok());
  }
  RawExec(
      "DELETE FROM schema_version WHERE version = 4;"
      "CREATE INDEX executions_by_workflow_id ON executions (namespace_id, workflow_id);"
      "CREATE INDEX executions_by_status ON executions (namespace_id, status, "
      "start_time_unix_ns);"
      "CREATE INDEX executions_by_start_time ON executions (namespace_id, start_time_unix_ns);");
  const std::string count_indexes =
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN "
      "('executions_by_workflow_id', 'executions_by_status', 'executions_by_start_time')";
  ASSERT_EQ(RawQueryInt(count_indexes), 3);

  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQueryInt("SELECT MAX(version) FROM schema_version"), SqliteStore::kSchemaVersion);
  EXPECT_EQ(RawQueryInt(count_indexes), 0);
  EXPECT_EQ(RawQueryInt("SELECT COUNT(*) FROM sqlite_master WHERE name = "
                        "'executions_start_order'"),
            1);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  ASSERT_EQ(executions->size(), 1u);
  ExecutionRecord closed = (*executions)[0];
  closed.status = 2;
  closed.close_time_unix_ns = closed.start_time_unix_ns + 1;
  WriteBatch close;
  close.executions.push_back(closed);
  ASSERT_TRUE(store->CommitSync(close).ok());
  executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  ASSERT_EQ(executions->size(), 1u);
  EXPECT_EQ((*executions)[0].status, 2);
  EXPECT_EQ((*executions)[0].close_time_unix_ns, closed.close_time_unix_ns);
}

TEST_F(SqliteStoreTest, NewerSchemaVersionIsRejected) {
  { ASSERT_NE(OpenFile(), nullptr); }
  RawExec("INSERT INTO schema_version (version, applied_unix_ms) VALUES (" +
          std::to_string(SqliteStore::kSchemaVersion + 1) + ", 0)");
  SqliteOptions options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status();
  // The refused open changed nothing.
  EXPECT_EQ(RawQueryInt("SELECT MAX(version) FROM schema_version"),
            SqliteStore::kSchemaVersion + 1);
}

TEST_F(SqliteStoreTest, BadOptionsAndFilesAreErrors) {
  SqliteOptions options;
  options.path = path_;
  options.synchronous = "SOMETIMES";
  EXPECT_EQ(OpenSqliteStore(options).status().code(), absl::StatusCode::kInvalidArgument);

  options.synchronous = "FULL";
  options.pragmas = {{"cache_size", "1; DROP TABLE executions"}};
  EXPECT_EQ(OpenSqliteStore(options).status().code(), absl::StatusCode::kInvalidArgument);

  // A valid extra pragma and a lower-case synchronous mode are accepted.
  options.synchronous = "normal";
  options.pragmas = {{"cache_size", "-4000"}, {"wal_autocheckpoint", "500"}};
  {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", 1)).ok());
    EXPECT_EQ((*store)->GetStats().synced_commits, 0u);  // NORMAL does not sync at commit
  }
  // A synchronous pragma overrides the option, and the counters follow it.
  options.synchronous = "FULL";
  options.pragmas = {{"synchronous", "NORMAL"}};
  {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", 2)).ok());
    EXPECT_EQ((*store)->GetStats().synced_commits, 0u);
  }
  options.synchronous = "NORMAL";
  options.pragmas = {{"synchronous", "FULL"}};
  {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", 3)).ok());
    EXPECT_EQ((*store)->GetStats().synced_commits, 1u);
  }

  const std::string garbage = dir_ + "/garbage.db";
  std::ofstream(garbage) << std::string(8192, 'x');
  options.path = garbage;
  options.pragmas.clear();
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
  EXPECT_FALSE(store.ok());

  options.path = dir_ + "/no/such/dir/x.db";
  EXPECT_FALSE(OpenSqliteStore(options).ok());
}

TEST_F(SqliteStoreTest, PageSizePragmaAppliesToANewDatabase) {
  SqliteOptions options;
  options.path = path_;
  options.pragmas = {{"page_size", "8192"}};
  {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", 1)).ok());
  }
  EXPECT_EQ(RawQueryInt("PRAGMA page_size"), 8192);
  // An existing WAL database keeps its page size, and its data.
  options.pragmas = {{"PAGE_SIZE", "1024"}};
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<ExecutionRecord>> executions = (*store)->LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  EXPECT_EQ(*executions, (std::vector<ExecutionRecord>{MakeExecution("ns", 1)}));
  store->reset();
  EXPECT_EQ(RawQueryInt("PRAGMA page_size"), 8192);
}

TEST_F(SqliteStoreTest, CommitDuringDestructionIsCancelledNotHung) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  SqliteStore* raw = store.get();
  store->PauseWriterForTesting();  // destruction drains regardless
  absl::Status first = absl::UnknownError("not run");
  absl::Status chained = absl::UnknownError("not run");
  absl::Status chained_sync = absl::UnknownError("not run");
  store->Commit(RunBatch("ns", 1), [&](absl::Status status) {
    first = status;
    // Runs during the destructor's drain: the store no longer accepts work.
    raw->Commit(RunBatch("ns", 2), [&](absl::Status s) { chained = s; });
    chained_sync = raw->CommitSync(RunBatch("ns", 3));
  });
  store.reset();  // returns: nothing waits forever
  EXPECT_TRUE(first.ok()) << first;
  EXPECT_EQ(chained.code(), absl::StatusCode::kCancelled) << chained;
  EXPECT_NE(chained_sync.code(), absl::StatusCode::kOk);

  // The drained batch is durable; the cancelled ones are not there.
  store = OpenFile();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(*executions, (std::vector<ExecutionRecord>{MakeExecution("ns", 1)}));
}

TEST_F(SqliteStoreTest, CommitSyncFromACallbackFailsInsteadOfDeadlocking) {
  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  Outcomes outcomes(2);
  auto inner = outcomes.Callback(1);
  store->Commit(RunBatch("ns", 1), [&, inner](absl::Status status) {
    ASSERT_TRUE(status.ok());
    inner(store->CommitSync(RunBatch("ns", 2)));
  });
  store->Commit(WriteBatch{}, outcomes.Callback(0));
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_EQ(outcomes.status(1).code(), absl::StatusCode::kFailedPrecondition);
}

// WAL checkpoints run on a background connection (not in the writer's
// commit): the WAL stays bounded by wal_autocheckpoint (here 8 pages) and
// everything committed is there after reopening. wal_autocheckpoint=0
// leaves checkpointing to the user, as in SQLite.
TEST_F(SqliteStoreTest, WalIsCheckpointedInTheBackgroundAndStaysBounded) {
  constexpr int kRuns = 600;
  {
    SqliteOptions options;
    options.path = path_;
    options.pragmas = {{"wal_autocheckpoint", "8"}};
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < kRuns; ++i) ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", i)).ok());
    Store::Stats stats = (*store)->GetStats();
    EXPECT_GT(stats.background_checkpoints + stats.writer_checkpoints, 0u);
    EXPECT_GT(stats.background_checkpoints, 0u);
    // Unchecked, 600 commits of several pages each would leave ~3,600 frames;
    // bounded, the high-water mark stays near a few times 8 pages whatever
    // the number of commits (~200 frames measured at 300 and at 1,500).
    const auto wal_bytes = std::filesystem::file_size(path_ + "-wal");
    EXPECT_LT(wal_bytes, 400u * (4096 + 24)) << wal_bytes;
  }
  std::unique_ptr<SqliteStore> reopened = OpenFile();
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = reopened->LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  EXPECT_EQ(executions->size(), static_cast<size_t>(kRuns));
  absl::StatusOr<std::vector<std::string>> events =
      reopened->ReadHistory("ns", (*executions)[kRuns - 1].run_id, 1, 0);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 3u);
  reopened.reset();

  SqliteOptions manual;
  manual.path = dir_ + "/manual.db";
  manual.pragmas = {{"wal_autocheckpoint", "0"}};
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(manual);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*store)->CommitSync(RunBatch("ns", i)).ok());
  EXPECT_EQ((*store)->GetStats().background_checkpoints, 0u);
  EXPECT_EQ((*store)->GetStats().writer_checkpoints, 0u);
  EXPECT_GT(std::filesystem::file_size(manual.path + "-wal"), 100u * (4096 + 24));
}

// Without a wal_autocheckpoint pragma the background checkpoint starts at
// kDefaultCheckpointPages, not at SQLite's 1,000 pages: ~3,600 frames of
// commits stay in the WAL, and all of it is read back after reopening.
TEST_F(SqliteStoreTest, DefaultCheckpointThresholdIsLongerThanSqlites) {
  constexpr int kRuns = 600;
  {
    std::unique_ptr<SqliteStore> store = OpenFile();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(store->CommitSync(RunBatch("ns", i)).ok());
    const auto wal_frames = std::filesystem::file_size(path_ + "-wal") / (4096 + 24);
    EXPECT_GT(wal_frames, 1000u);
    EXPECT_LT(wal_frames, static_cast<uintmax_t>(SqliteStore::kDefaultCheckpointPages));
    EXPECT_EQ(store->GetStats().background_checkpoints, 0u);
    EXPECT_EQ(store->GetStats().writer_checkpoints, 0u);
  }
  std::unique_ptr<SqliteStore> reopened = OpenFile();
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = reopened->LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  EXPECT_EQ(executions->size(), static_cast<size_t>(kRuns));
}

// A child process commits batches and reports each acknowledgement; the
// parent SIGKILLs it mid-stream and checks every acknowledged batch survived.
TEST_F(SqliteStoreTest, AcknowledgedBatchesSurviveKill9) {
  constexpr int64_t kKillAfter = 50;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    SqliteOptions options;
    options.path = path_;
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    if (!store.ok()) _exit(2);
    for (int64_t i = 1; i < 1'000'000; ++i) {
      if (!(*store)->CommitSync(RunBatch("ns", static_cast<int>(i))).ok()) _exit(3);
      if (write(fds[1], &i, sizeof(i)) != static_cast<ssize_t>(sizeof(i))) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  bool killed = false;
  auto kill_child = [&] {
    if (!killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
  };

  // Read acknowledgements until the child is killed and the pipe drains.
  int64_t acknowledged = 0;
  std::string buffer;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill_child();
      FAIL() << "timed out waiting for the child; acknowledged " << acknowledged;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[512];
    const ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n < 0) continue;  // EINTR
    if (n == 0) break;    // the child is gone and everything it wrote is read
    buffer.append(chunk, static_cast<size_t>(n));
    while (buffer.size() >= sizeof(int64_t)) {
      int64_t value;
      std::memcpy(&value, buffer.data(), sizeof(value));
      buffer.erase(0, sizeof(value));
      ASSERT_EQ(value, acknowledged + 1);
      acknowledged = value;
    }
    if (acknowledged >= kKillAfter) kill_child();
  }
  close(fds[0]);
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  ASSERT_TRUE(killed) << "child exited by itself, status " << wait_status;
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "child status " << wait_status;
  ASSERT_GE(acknowledged, kKillAfter);

  std::unique_ptr<SqliteStore> store = OpenFile();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<ExecutionRecord>> executions = store->LoadExecutions();
  ASSERT_TRUE(executions.ok()) << executions.status();
  // Everything acknowledged is there (perhaps more: committed, not yet acked).
  ASSERT_GE(executions->size(), static_cast<size_t>(acknowledged));
  for (int64_t i = 1; i <= acknowledged; ++i) {
    const int n = static_cast<int>(i);
    EXPECT_EQ((*executions)[i - 1], MakeExecution("ns", n));
    absl::StatusOr<std::vector<std::string>> history =
        store->ReadHistory("ns", "run-" + std::to_string(n), 1, 0);
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(*history, MakeEvents("run-" + std::to_string(n), 1, 3));
  }
  absl::StatusOr<std::vector<CurrentExecution>> current = store->LoadCurrentExecutions();
  ASSERT_TRUE(current.ok());
  EXPECT_GE(current->size(), static_cast<size_t>(acknowledged));
}

}  // namespace
}  // namespace temporalio::server::persistence
