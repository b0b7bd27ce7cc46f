#include "server/history/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/malloc_control.h"
#include "common/uuid.h"
#include "server/errors.h"
#include "server/history/engine_internal.h"
#include "server/proto/state.pb.h"
#include "server/timer/timer_queue.h"
#include "server/visibility/list_filter.h"
#include "server/visibility/search_attributes.h"
#include "temporal/api/enums/v1/event_type.pb.h"
#include "temporal/api/enums/v1/failed_cause.pb.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/protocol/v1/message.pb.h"
#include "temporal/api/update/v1/message.pb.h"

// Deprecated API fields (binary_checksum, worker_version_stamp, ...) are still
// recorded: older SDKs send them and the real server keeps them in history.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace temporalio::server::history {

namespace st = temporalio::server::state::v1;
namespace hv1 = temporal::api::history::v1;
namespace ev1 = temporal::api::enums::v1;
namespace cv1 = temporal::api::common::v1;
namespace fv1 = temporal::api::failure::v1;
namespace cmdv1 = temporal::api::command::v1;
namespace pv1 = temporal::api::protocol::v1;
namespace upv1 = temporal::api::update::v1;
namespace osv1 = temporal::api::operatorservice::v1;
using common::NewUuid;
using common::TimePoint;

namespace {

constexpr int64_t kPendingStartedId = -1;  // patched when buffered events are flushed
constexpr auto kDefaultWorkflowTaskTimeout = std::chrono::seconds(10);
constexpr auto kMaxWorkflowTaskTimeout = std::chrono::seconds(120);
// The real server's LongPollExpirationInterval: an update call without a
// (shorter) deadline returns the stage reached after this long.
constexpr auto kUpdateLongPoll = std::chrono::seconds(20);
// A speculative task that shipped more events than this is written, not
// discarded (DiscardSpeculativeWorkflowTaskMaximumEventsCount).
constexpr int64_t kMaxDiscardedSpeculativeEvents = 10;
constexpr int kMaxIdLength = 1000;

std::string RunKey(const std::string& ns_id, const std::string& run_id) {
  return absl::StrCat(ns_id, "/", run_id);
}

bool IsClosedStatus(ev1::WorkflowExecutionStatus s) {
  return s != ev1::WORKFLOW_EXECUTION_STATUS_RUNNING &&
         s != ev1::WORKFLOW_EXECUTION_STATUS_UNSPECIFIED;
}

int64_t PayloadsSize(const cv1::Payloads& p) {
  int64_t n = 0;
  for (const auto& x : p.payloads()) n += static_cast<int64_t>(x.data().size());
  return n;
}

}  // namespace

struct Namespace {
  std::string id;
  wsv1::DescribeNamespaceResponse info;
  visibility::SearchAttributeTypes custom_search_attributes;
  const std::string& name() const { return info.namespace_info().name(); }
};

// A workflow update the server knows about but that has not completed.
// Only accepted/completed updates reach history (as the real server: a
// rejected update leaves no trace), so admitted ones live in memory only.
enum class UpdateState { kAdmitted, kSent, kAccepted };
struct UpdateEntry {
  upv1::Request request;
  UpdateState state = UpdateState::kAdmitted;
  uint64_t seq = 0;          // admission order: requests go out in it
  int64_t sent_version = 0;  // start_version of the workflow task it went out on
  int64_t accepted_event_id = 0;
};

using ExecutionChange = persistence::ExecutionRecord::Change;

// Sweep ticks (once a second); Execution::Touch() stamps the current one so
// the sweep freezes only runs untouched for a while.
std::atomic<uint32_t> g_sweep_tick{0};

// One run. `ms()` and `history()` are its mutable state and history. An idle
// run is kept "frozen": its state serialized into one string (~1/3 of its
// parsed size) and its history dropped, since all of it is durable in the
// store; both come back on first access. Accessors return references that
// stay valid until the run is frozen again, which happens only in the sweep
// (under the engine lock, with no other engine code on the stack).
// What every run of one engine shares: the store frozen runs are read back
// from, and how often that happened.
struct ExecutionContext {
  persistence::Store* store = nullptr;
  std::atomic<uint64_t> thaws{0};
};

struct Execution {
  explicit Execution(ExecutionContext* context) : context_(context) {}

  st::MutableState& ms() const {
    Touch();
    return *ms_;
  }
  std::vector<hv1::HistoryEvent>& history() const {
    Touch();
    return history_;
  }
  // Read-only state that does not thaw a frozen run (for scans over every
  // run): valid until the next ms_view() call on this thread.
  const st::MutableState& ms_view() const {
    if (!frozen_) return *ms_;
    st::MutableState& scratch = ScratchState();
    ParseFrozen(&scratch);
    return scratch;
  }
  bool frozen() const { return frozen_; }
  uint32_t last_touch() const { return last_touch_; }
  // Nothing in flight: all history durable, no workflow task running, no
  // queries or updates waiting. (Reads members directly: not a touch.)
  bool Idle() const {
    return !frozen_ && !deleting && persisted == history_.size() &&
           durable_next_event_id == ms_->next_event_id() &&
           ms_->workflow_task().started_event_id() == 0 && waiting_queries.empty() &&
           attached_queries.empty() && updates.empty();
  }
  // Serializes the state and drops it and the (durable) history. Idle() first.
  void Freeze() {
    frozen_bytes_ = ms_->SerializeAsString();
    std::vector<hv1::HistoryEvent>().swap(history_);
    ms_.reset();
    frozen_ = true;
  }

  // Names the run to its timers (runs_by_serial_): cheaper to keep in each of
  // the timers a parked run holds than its ids, and never reused.
  uint64_t serial = 0;
  // The timer guarding the current workflow task (its sticky schedule-to-start
  // or its start-to-close timeout), cancelled once the task moves on, so a
  // parked run keeps no timer of its last task; 0: none.
  uint64_t wft_timer_id = 0;
  int64_t durable_next_event_id = 1;  // events below this are durable
  // Queries waiting for the next workflow task (they ride along in its
  // `queries` map), and those attached to the running one.
  std::vector<std::string> waiting_queries;
  std::vector<std::string> attached_queries;
  std::map<std::string, UpdateEntry> updates;  // by update id
  uint64_t next_update_seq = 1;
  // The WorkflowTaskStarted event last handed out that way (0: none).
  int64_t handed_out_started_event_id = 0;
  // (The small members come last, so they share one word with the private ones.)
  uint32_t persisted = 0;  // history[0, persisted) handed to the store
  // Its deletion is being committed: it stays thawed (its rows may be gone
  // from the store before the commit callback detaches it).
  bool deleting = false;
  // Changed since its last commit: a task was handed to a worker
  // (RecordTaskStarted). The next commit, or the engine's shutdown, writes it.
  bool unrecorded = false;
  // History readers get the events below this: the durable ones and, when
  // everything before it is durable, the started event of the task a worker
  // holds, which is what a worker that lost its cache fetches (the real
  // server has written it by then). Should the server crash first, the
  // restart dispatches the task again and writes a started event anew (at
  // the same id unless a signal or the like got there first).
  int64_t readable_next_event_id() const {
    return handed_out_started_event_id == durable_next_event_id ? durable_next_event_id + 1
                                                                : durable_next_event_id;
  }
  // Does not thaw a frozen run: timers of closed runs ask this long after they froze.
  bool closed() const { return IsClosedStatus(ms_view().status()); }
  // Forgets the sticky queue. A frozen run is edited in its serialized form:
  // a departing worker may have thousands of parked runs, and thawing each
  // would read its whole history back from the store. Invalidates ms_view().
  void ClearStickyTaskQueue() {
    if (!frozen_) {
      ms_->clear_sticky_task_queue();
      return;
    }
    st::MutableState& m = ScratchState();
    ParseFrozen(&m);
    m.clear_sticky_task_queue();
    frozen_bytes_ = m.SerializeAsString();
  }
  const std::string& ns_id() const { return ms().namespace_id(); }

 private:
  void Touch() const {
    last_touch_ = g_sweep_tick.load(std::memory_order_relaxed);
    if (!frozen_) return;
    auto ms = std::make_unique<st::MutableState>();
    ParseFrozen(ms.get());
    // A frozen run's history is all durable (Idle()): read it back. A failed
    // read means the server's own database is unreadable; nothing can be
    // served for this run, so stop rather than hand out a wrong history.
    absl::StatusOr<std::vector<std::string>> events =
        context_->store->ReadHistory(ms->namespace_id(), ms->run_id(), 1, 0);
    if (!events.ok() || static_cast<int64_t>(events->size()) != ms->next_event_id() - 1) {
      spdlog::critical("cannot read back the history of run {}: {}", ms->run_id(),
                       events.ok() ? absl::StrCat(events->size(), " events, state expects ",
                                                  ms->next_event_id() - 1)
                                   : events.status().ToString());
      std::abort();
    }
    history_.resize(events->size());
    for (size_t i = 0; i < events->size(); ++i) {
      if (!history_[i].ParseFromString((*events)[i])) {
        spdlog::critical("history event {} of run {} does not parse", i + 1, ms->run_id());
        std::abort();
      }
    }
    ms_ = std::move(ms);
    std::string().swap(frozen_bytes_);
    frozen_ = false;
    context_->thaws.fetch_add(1, std::memory_order_relaxed);
  }
  static st::MutableState& ScratchState() {
    thread_local st::MutableState scratch;
    return scratch;
  }
  void ParseFrozen(st::MutableState* out) const {
    // Bytes this process wrote itself: a parse failure is memory corruption.
    if (!out->ParseFromString(frozen_bytes_)) std::abort();
  }

  mutable bool frozen_ = false;
  mutable uint32_t last_touch_ = 0;
  ExecutionContext* context_;
  mutable std::unique_ptr<st::MutableState> ms_ = std::make_unique<st::MutableState>();
  mutable std::vector<hv1::HistoryEvent> history_;
  mutable std::string frozen_bytes_;  // serialized st::MutableState while frozen
};
// Every open run has one, parked or not: keep it in the allocator's 224-byte class.
static_assert(sizeof(Execution) <= 224);

struct QueuedTask {
  std::string ns_id;
  std::string run_id;
  int64_t version = 0;  // workflow task / activity start_version when queued
  int64_t scheduled_event_id = 0;
  std::string query_id;  // query-only workflow task
};

struct TaskQueue {
  std::deque<QueuedTask> tasks;
  std::deque<uint64_t> pollers;
  std::map<std::string, TimePoint> poller_seen;  // identity -> last poll
};

struct Poller {
  bool activity = false;
  std::string ns_id;
  std::string queue;
  std::string identity;
  bool sticky = false;
  void* resp = nullptr;
  Done done;
  uint64_t timer_id = 0;
  // True once the client gave up on the poll (cancelled it, e.g. a worker
  // shutting down). Unset: never.
  std::function<bool()> client_gone;
};

struct PendingQuery {
  std::string ns_id;
  std::string run_id;
  temporal::api::query::v1::WorkflowQuery query;
  wsv1::QueryWorkflowResponse* resp = nullptr;
  Done done;
  uint64_t timer_id = 0;
};

using UpdateStage = ev1::UpdateWorkflowExecutionLifecycleStage;

struct UpdateWaiter {
  std::string run_key;
  std::string update_id;
  UpdateStage want = ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED;
  // Writes the reached stage (and outcome once completed) into the response.
  std::function<void(UpdateStage, const upv1::Outcome*)> fill;
  Done done;
  uint64_t timer_id = 0;
};

struct HistoryWaiter {
  std::string run_key;
  wsv1::GetWorkflowExecutionHistoryRequest req;
  wsv1::GetWorkflowExecutionHistoryResponse* resp = nullptr;
  // The run's next event id when the read arrived: it waits until the events
  // below are durable (see TryAnswerHistory).
  int64_t wait_until = 0;
  Done done;
  uint64_t timer_id = 0;
};

// The engine lock. Work that must run after it is released (a long poll
// answered without waiting for a commit) is queued with RunAfterUnlock and
// runs in whichever thread unlocks next, so no path can strand it and no
// gRPC reply is sent while other threads wait for the lock.
class EngineMutex {
 public:
  void lock() { mu_.lock(); }
  void unlock() {
    if (after_unlock_.empty()) {
      mu_.unlock();
      return;
    }
    std::vector<std::function<void()>> ready;
    ready.swap(after_unlock_);
    mu_.unlock();
    for (auto& fn : ready) fn();
  }
  // Must hold the lock.
  void RunAfterUnlock(std::function<void()> fn) { after_unlock_.push_back(std::move(fn)); }

 private:
  std::mutex mu_;
  std::vector<std::function<void()>> after_unlock_;
};

// A unit of change: what to persist, and what to do once it is durable.
struct Txn {
  std::vector<Execution*> touched;
  std::vector<persistence::NamespaceRecord> namespaces;
  std::vector<persistence::CurrentExecution> current;
  std::vector<persistence::SearchAttributeRecord> search_attributes;
  std::vector<persistence::SearchAttributeRecord> removed_search_attributes;
  std::vector<persistence::DeletedExecution> deleted;
  std::vector<std::function<void()>> after;  // run under the engine lock once durable
  // Hand new tasks to task queues: run under the engine lock as soon as the
  // transaction is queued for the store, before it is durable (see Commit).
  std::vector<std::function<void()>> dispatch;
  // Activities scheduled with request_eager_execution in this workflow task
  // completion (scheduled event ids); started for the completing worker.
  std::vector<int64_t> eager_activities;
  void Touch(Execution* ex) {
    if (std::find(touched.begin(), touched.end(), ex) == touched.end()) touched.push_back(ex);
  }
};

class EngineImpl {
 public:
  EngineImpl(persistence::Store* store, const common::Clock* clock, EngineOptions options)
      : store_(store), clock_(clock), options_(std::move(options)), timers_(clock) {
    execution_context_.store = store;
  }

  persistence::Store* store_;
  ExecutionContext execution_context_;  // shared by every Execution of this engine
  const common::Clock* clock_;
  EngineOptions options_;
  timer::TimerQueue timers_;

  EngineMutex mu_;
  bool shutdown_ = false;
  size_t sweep_cursor_ = 0;                           // into start_order_
  uint64_t commits_ = 0;                              // Commit calls so far
  uint64_t commits_at_last_sweep_ = 0;                // commits_ when the last sweep ran
  size_t frozen_since_heap_release_ = 0;              // runs frozen since memory was last released
  std::map<std::string, Namespace> namespaces_;       // by id
  std::map<std::string, std::string> namespace_ids_;  // name -> id
  std::unordered_map<std::string, std::unique_ptr<Execution>> executions_;  // RunKey
  std::vector<Execution*> start_order_;
  absl::flat_hash_map<uint64_t, Execution*> runs_by_serial_;  // the runs in executions_
  uint64_t next_run_serial_ = 1;
  // The current-run index's entries come from a pool of their own. They live
  // as long as their runs but are allocated amid request traffic: from the
  // general allocator, each pinned a slab that short-lived objects of the
  // same size class left mostly empty (jemalloc's bin statistics: workflow
  // id keys of 32-47 bytes at 8% utilisation, ~600 B of RSS per parked run).
  std::pmr::unsynchronized_pool_resource run_index_memory_;  // guarded by mu_
  using RunsByWorkflowId = std::pmr::map<std::pmr::string, Execution*, std::less<>>;
  // ns id -> wf id -> its current run, which is in executions_ (removing a
  // run from there drops its entry here). Nested, so the namespace id is not
  // copied into every run's key.
  std::map<std::string, RunsByWorkflowId> current_;
  std::map<std::tuple<std::string, std::string, bool>, TaskQueue> queues_;
  std::unordered_map<uint64_t, Poller> pollers_;
  std::map<std::string, PendingQuery> queries_;
  std::multimap<std::string, uint64_t> history_waiters_by_run_;
  std::unordered_map<uint64_t, HistoryWaiter> history_waiters_;
  std::unordered_map<uint64_t, UpdateWaiter> update_waiters_;
  uint64_t next_id_ = 1;
  uint64_t eager_activities_ = 0;  // started eagerly, for stats
  int64_t next_task_id_ = 1;
  // Deleted runs no longer reachable through the maps above, kept alive until
  // the commit that deleted them has finished with them (BuryDeletedRuns).
  std::vector<std::unique_ptr<Execution>> graveyard_;

  TimePoint Now() const { return clock_->Now(); }

  // ---- lookup ----
  absl::StatusOr<Namespace*> FindNamespace(const std::string& name) {
    if (name.empty()) return InvalidArgumentError("Namespace not set on request.");
    auto it = namespace_ids_.find(name);
    if (it == namespace_ids_.end()) return NamespaceNotFoundError(name);
    return &namespaces_.at(it->second);
  }
  Execution* CurrentRun(const std::string& ns_id, const std::string& workflow_id) const {
    auto ns = current_.find(ns_id);
    if (ns == current_.end()) return nullptr;
    auto it = ns->second.find(std::string_view(workflow_id));
    return it == ns->second.end() ? nullptr : it->second;
  }
  void SetCurrentRun(const std::string& ns_id, const std::string& workflow_id, Execution* ex) {
    auto ns = current_.find(ns_id);
    if (ns == current_.end()) {
      ns = current_.emplace(ns_id, RunsByWorkflowId(&run_index_memory_)).first;
    }
    RunsByWorkflowId& runs = ns->second;
    if (auto it = runs.find(std::string_view(workflow_id)); it != runs.end()) {
      it->second = ex;
    } else {
      // The key is built in the pool (uses-allocator construction).
      runs.emplace(std::piecewise_construct, std::forward_as_tuple(std::string_view(workflow_id)),
                   std::forward_as_tuple(ex));
    }
  }
  Execution* FindRun(const std::string& ns_id, const std::string& run_id) {
    auto it = executions_.find(RunKey(ns_id, run_id));
    return it == executions_.end() ? nullptr : it->second.get();
  }
  absl::StatusOr<Execution*> FindExecution(const std::string& ns_id,
                                           const cv1::WorkflowExecution& we) {
    if (we.workflow_id().empty()) return InvalidArgumentError("WorkflowId is not set on request.");
    Execution* ex = nullptr;
    if (!we.run_id().empty()) {
      ex = FindRun(ns_id, we.run_id());
      if (ex && ex->ms().workflow_id() != we.workflow_id()) ex = nullptr;
    } else {
      ex = CurrentRun(ns_id, we.workflow_id());
    }
    if (!ex) {
      return WorkflowNotFoundError(absl::StrCat("workflow not found for ID: ", we.workflow_id()));
    }
    return ex;
  }
  absl::StatusOr<Execution*> FindOpenExecution(const std::string& ns_id,
                                               const cv1::WorkflowExecution& we) {
    auto ex = FindExecution(ns_id, we);
    if (!ex.ok()) return ex;
    if ((*ex)->closed()) return WorkflowNotFoundError("workflow execution already completed");
    return ex;
  }

  // ---- persistence ----
  persistence::ExecutionRecord Record(const Execution& ex) const {
    const st::MutableState& ms = ex.ms();
    persistence::ExecutionRecord r;
    r.namespace_id = ms.namespace_id();
    r.workflow_id = ms.workflow_id();
    r.run_id = ms.run_id();
    r.workflow_type = ms.workflow_type();
    r.task_queue = ms.task_queue();
    r.status = ms.status();
    r.start_time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               FromProto(ms.start_time()).time_since_epoch())
                               .count();
    if (IsSet(ms.close_time())) {
      r.close_time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 FromProto(ms.close_time()).time_since_epoch())
                                 .count();
    }
    r.history_length = ms.next_event_id() - 1;
    r.state = ms.SerializeAsString();
    return r;
  }

  // Writes the transaction; once durable runs its `after` actions under the
  // lock, wakes history long polls, then reports to `done` (outside the lock).
  // Must hold mu_.
  void Commit(Txn& txn, Done done) {
    ++commits_;
    persistence::WriteBatch batch;
    batch.namespaces = std::move(txn.namespaces);
    batch.current = std::move(txn.current);
    batch.search_attributes = std::move(txn.search_attributes);
    batch.removed_search_attributes = std::move(txn.removed_search_attributes);
    batch.deleted_executions = std::move(txn.deleted);
    std::vector<std::pair<Execution*, int64_t>> durable_marks;
    for (Execution* ex : txn.touched) {
      ex->unrecorded = false;
      st::MutableState& ms = ex->ms();
      const std::vector<hv1::HistoryEvent>& history = ex->history();
      ms.set_state_transition_count(ms.state_transition_count() + 1);
      const bool new_run = ex->persisted == 0;  // every run's first commit has its first event
      if (ex->persisted < history.size()) {
        persistence::HistoryAppend append;
        append.namespace_id = ms.namespace_id();
        append.run_id = ms.run_id();
        append.first_event_id = history[ex->persisted].event_id();
        for (size_t i = ex->persisted; i < history.size(); ++i) {
          append.events.push_back(history[i].SerializeAsString());
        }
        ex->persisted = history.size();
        batch.history.push_back(std::move(append));
      }
      batch.executions.push_back(Record(*ex));
      batch.executions.back().change = new_run                       ? ExecutionChange::kNewRun
                                       : IsClosedStatus(ms.status()) ? ExecutionChange::kClosed
                                                                     : ExecutionChange::kState;
      durable_marks.emplace_back(ex, static_cast<int64_t>(history.size()) + 1);
    }
    auto after = std::move(txn.after);
    store_->Enqueue(
        std::move(batch), [this, after = std::move(after), durable_marks = std::move(durable_marks),
                           done = std::move(done)](const absl::Status& status) mutable {
          if (!status.ok()) {
            spdlog::error("persistence failed: {}", status.ToString());
            if (done) done(absl::UnavailableError(absl::StrCat("persistence: ", status.message())));
            return;
          }
          {
            std::lock_guard lock(mu_);
            for (auto& [ex, next] : durable_marks) {
              ex->durable_next_event_id = std::max(ex->durable_next_event_id, next);
            }
            for (auto& fn : after) fn();
            for (auto& [ex, next] : durable_marks) WakeHistoryWaiters(*ex);
            if (!graveyard_.empty()) BuryDeletedRuns();
          }
          if (done) done(absl::OkStatus());
        });
    // New tasks go to their queues now, while the store writes and fsyncs:
    // a worker processes them during the fsync instead of after it. What a
    // task reveals is not durable yet, but nothing anyone does with it is
    // acknowledged before it is: every reply that depends on it (the
    // worker's completion, the client's start or result) is a later commit,
    // durable only once this one is, since the WAL is synced in order. If the
    // server dies first, the task never existed: the worker's answer finds
    // no such task (NotFound, as for any stale task token), and an activity
    // that ran meanwhile runs again once rescheduled (activities are
    // at-least-once anyway). Polls answered here are queued to run after
    // unlock before the store's Drive, which may fsync on this thread.
    for (auto& fn : txn.dispatch) fn();
    // Queued without waking the store's writer: once the engine lock is
    // released this thread writes the group itself if the store is idle.
    mu_.RunAfterUnlock([this] { store_->Drive(); });
  }

  // A task handed to a polling worker (its WorkflowTaskStarted event, an
  // activity's started state) is not committed on its own: the run's next
  // commit writes it, and every answer from that worker (completion,
  // failure, heartbeat) or a timeout makes one. Should the server stop
  // first, the task was never started as far as the store knows and is
  // dispatched again on restart (with the same event ids unless other events
  // arrive first); the real server ends the same way when a poll response
  // is lost. This saves a
  // transaction and an fsync wait per task; a graceful shutdown still
  // commits them. Must hold mu_; the poll is answered once the lock is
  // released.
  void RecordTaskStarted(Txn& txn, Done done) {
    for (Execution* ex : txn.touched) {
      ex->unrecorded = true;
      if (ex->readable_next_event_id() == ex->ms().next_event_id()) WakeHistoryWaiters(*ex);
    }
    for (auto& fn : txn.dispatch) fn();
    for (auto& fn : txn.after) fn();
    mu_.RunAfterUnlock([done = std::move(done)] { done(absl::OkStatus()); });
  }

  // ---- idle-run compaction ----
  // Every idle_sweep_interval, looks at up to kSweepBatch runs (round robin
  // over all) and freezes those idle and untouched for idle_sweep_ticks
  // sweeps. Caps the cost per tick; a run parked on a long timer is visited
  // within N / kSweepBatch ticks.
  static constexpr size_t kSweepBatch = 20000;
  // Freed memory goes back to the OS once this many runs were frozen and the
  // server had no commit for a whole sweep interval, or at the latest after
  // kReleaseAnywayAfterFrozen. Releasing on every big sweep of a busy server
  // cost ~12% of its CPU (madvise, TLB shootdowns, the allocator's pages
  // faulted straight back in); a busy server's allocator reuses those pages.
  static constexpr size_t kReleaseAfterFrozen = 1000;
  static constexpr size_t kReleaseAnywayAfterFrozen = 100000;

  void ScheduleSweep() {
    timers_.Schedule(
        Now() + std::chrono::duration_cast<TimePoint::duration>(options_.idle_sweep_interval),
        [this] { Sweep(); });
  }
  void Sweep() {
    bool release_heap = false;
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      const bool quiet = commits_ == commits_at_last_sweep_;
      commits_at_last_sweep_ = commits_;
      const uint32_t tick = g_sweep_tick.fetch_add(1, std::memory_order_relaxed) + 1;
      const size_t budget = std::min(start_order_.size(), kSweepBatch);
      for (size_t i = 0; i < budget; ++i) {
        if (sweep_cursor_ >= start_order_.size()) sweep_cursor_ = 0;
        Execution* ex = start_order_[sweep_cursor_++];
        if (tick - ex->last_touch() < options_.idle_sweep_ticks || !ex->Idle()) continue;
        ex->Freeze();
        signal_windows_.erase(ex->serial);
        ++frozen_since_heap_release_;
      }
      release_heap = frozen_since_heap_release_ >= kReleaseAnywayAfterFrozen ||
                     (quiet && frozen_since_heap_release_ >= kReleaseAfterFrozen);
      if (release_heap) frozen_since_heap_release_ = 0;
      ScheduleSweep();
    }
    // Give the freed parsed forms back to the OS (glibc keeps freed small
    // chunks otherwise, and RSS would never come down).
    if (release_heap) common::ReleaseFreeHeapMemory();
  }

  // ---- events ----
  bool Buffering(const Execution& ex) const {
    return ex.ms().workflow_task().started_event_id() != 0;
  }

  hv1::HistoryEvent& AppendEvent(Execution& ex, ev1::EventType type) {
    hv1::HistoryEvent& e = ex.history().emplace_back();
    e.set_event_id(ex.ms().next_event_id());
    ex.ms().set_next_event_id(ex.ms().next_event_id() + 1);
    ToProto(Now(), e.mutable_event_time());
    e.set_event_type(type);
    e.set_task_id(next_task_id_++);
    return e;
  }
  // Events that do not come from the running workflow task are buffered
  // while one is started, and written after its completion.
  hv1::HistoryEvent& NewEvent(Execution& ex, ev1::EventType type) {
    if (!Buffering(ex)) return AppendEvent(ex, type);
    hv1::HistoryEvent* e = ex.ms().add_buffered_events();
    ToProto(Now(), e->mutable_event_time());
    e->set_event_type(type);
    return *e;
  }
  void FlushBuffered(Execution& ex) {
    std::map<int64_t, int64_t> started_ids;  // scheduled event id -> started event id
    for (auto& b : *ex.ms().mutable_buffered_events()) {
      hv1::HistoryEvent& e = ex.history().emplace_back(std::move(b));
      e.set_event_id(ex.ms().next_event_id());
      ex.ms().set_next_event_id(ex.ms().next_event_id() + 1);
      e.set_task_id(next_task_id_++);
      switch (e.event_type()) {
        case ev1::EVENT_TYPE_ACTIVITY_TASK_STARTED:
          started_ids[e.activity_task_started_event_attributes().scheduled_event_id()] =
              e.event_id();
          break;
        case ev1::EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          auto* a = e.mutable_activity_task_completed_event_attributes();
          if (a->started_event_id() == kPendingStartedId)
            a->set_started_event_id(started_ids[a->scheduled_event_id()]);
          break;
        }
        case ev1::EVENT_TYPE_ACTIVITY_TASK_FAILED: {
          auto* a = e.mutable_activity_task_failed_event_attributes();
          if (a->started_event_id() == kPendingStartedId)
            a->set_started_event_id(started_ids[a->scheduled_event_id()]);
          break;
        }
        case ev1::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
          auto* a = e.mutable_activity_task_timed_out_event_attributes();
          if (a->started_event_id() == kPendingStartedId)
            a->set_started_event_id(started_ids[a->scheduled_event_id()]);
          break;
        }
        case ev1::EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
          auto* a = e.mutable_activity_task_canceled_event_attributes();
          if (a->started_event_id() == kPendingStartedId)
            a->set_started_event_id(started_ids[a->scheduled_event_id()]);
          break;
        }
        default:
          break;
      }
    }
    ex.ms().clear_buffered_events();
  }

  // ---- matching ----
  TaskQueue& Queue(const std::string& ns_id, const std::string& name, bool activity) {
    return queues_[{ns_id, name, activity}];
  }

  // Hands `task` to a parked poller, or queues it. Must hold mu_.
  void Dispatch(const std::string& queue, bool activity, QueuedTask task) {
    TaskQueue& q = Queue(task.ns_id, queue, activity);
    while (!q.pollers.empty()) {
      uint64_t poll_id = q.pollers.front();
      q.pollers.pop_front();
      auto it = pollers_.find(poll_id);
      if (it == pollers_.end()) continue;
      Poller poller = std::move(it->second);
      pollers_.erase(it);
      timers_.Cancel(poller.timer_id);
      if (poller.client_gone && poller.client_gone()) {
        // Checked here rather than removed when the cancellation arrives:
        // a task handed to it would be lost until its timeout. The call
        // still ends (as the real server's matching drops a gone poller).
        poll_deadlines_.erase(poll_id);
        mu_.RunAfterUnlock(
            [done = std::move(poller.done)] { done(absl::CancelledError("poll cancelled")); });
        continue;
      }
      if (TryStartTask(poller, task)) {
        poll_deadlines_.erase(poll_id);
        return;
      }
      // Stale task: give the poller back.
      it = pollers_.emplace(poll_id, std::move(poller)).first;
      q.pollers.push_front(poll_id);
      it->second.timer_id = ArmPollTimer(poll_id, it->second);
      return;
    }
    q.tasks.push_back(std::move(task));
  }

  uint64_t ArmPollTimer(uint64_t poll_id, const Poller& p) {
    (void)p;
    return timers_.Schedule(poll_deadlines_[poll_id], [this, poll_id] { ExpirePoll(poll_id); });
  }
  std::unordered_map<uint64_t, TimePoint> poll_deadlines_;

  void ExpirePoll(uint64_t poll_id) {
    Done done;
    {
      std::lock_guard lock(mu_);
      auto it = pollers_.find(poll_id);
      if (it == pollers_.end()) return;
      done = std::move(it->second.done);
      pollers_.erase(it);
      poll_deadlines_.erase(poll_id);
    }
    done(absl::OkStatus());  // empty response: no task before the deadline
  }

  // Validates a poll request and parks or serves it.
  template <class Request>
  void StartPoll(const Request& req, void* resp, bool activity, TimePoint deadline, Done done,
                 std::function<bool()> client_gone);

  uint64_t Poll(Poller poller, TimePoint deadline) {
    uint64_t poll_id = next_id_++;
    TaskQueue& q = Queue(poller.ns_id, poller.queue, poller.activity);
    q.poller_seen[poller.identity] = Now();
    while (!q.tasks.empty()) {
      QueuedTask task = std::move(q.tasks.front());
      q.tasks.pop_front();
      if (TryStartTask(poller, task)) return poll_id;
    }
    // Answer empty a little before the caller gives up.
    TimePoint wake =
        std::min(deadline - std::chrono::milliseconds(500), Now() + options_.max_poll_wait);
    poll_deadlines_[poll_id] = wake;
    q.pollers.push_back(poll_id);
    auto& p = pollers_.emplace(poll_id, std::move(poller)).first->second;
    p.timer_id = ArmPollTimer(poll_id, p);
    return poll_id;
  }

  // Starts `task` for `poller` if it is still valid; the poller's done runs
  // once the engine lock is released (RecordTaskStarted). Returns false for a
  // stale task.
  bool TryStartTask(Poller& poller, const QueuedTask& task) {
    Execution* ex = FindRun(task.ns_id, task.run_id);
    if (!ex) return false;
    if (!task.query_id.empty()) return StartQueryTask(poller, *ex, task);
    if (poller.activity) return StartActivityTask(poller, *ex, task);
    return StartWorkflowTask(poller, *ex, task);
  }

  // ---- workflow tasks ----
  std::chrono::nanoseconds WorkflowTaskTimeout(const Execution& ex) const {
    auto t = FromProto(ex.ms().workflow_task_timeout());
    return t.count() > 0 ? t : std::chrono::nanoseconds(kDefaultWorkflowTaskTimeout);
  }

  // Schedules a workflow task unless one is pending. attempt > 1 makes it
  // transient: not in history until completed.
  void ScheduleWorkflowTask(Txn& txn, Execution& ex, int32_t attempt = 1) {
    if (ex.closed()) return;
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    if (wft->scheduled_event_id() != 0) {
      // Something durable now needs a task: a speculative one that has not
      // started becomes a normal one (a started one sees buffered events).
      if (wft->speculative() && wft->started_event_id() == 0) {
        wft->set_speculative(false);
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
        FillWftScheduled(ex, *wft, e.mutable_workflow_task_scheduled_event_attributes());
        wft->set_scheduled_event_id(e.event_id());
        txn.Touch(&ex);
      }
      return;
    }
    InitWorkflowTask(ex, attempt);
    if (attempt > 1) {
      wft->set_transient(true);
      wft->set_scheduled_event_id(ex.ms().next_event_id());  // provisional
    } else {
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
      FillWftScheduled(ex, *wft, e.mutable_workflow_task_scheduled_event_attributes());
      wft->set_scheduled_event_id(e.event_id());
    }
    txn.Touch(&ex);
    txn.dispatch.push_back(
        [this, &ex, version = wft->start_version()] { DispatchWft(ex, version); });
  }

  // A task that only ships update requests: nothing is written until it
  // completes with more than rejections (the real server's speculative task).
  // With `txn`, it is dispatched once that transaction is durable.
  void ScheduleSpeculativeWorkflowTask(Execution& ex, Txn* txn) {
    if (ex.closed() || ex.ms().workflow_task().scheduled_event_id() != 0) return;
    st::WorkflowTaskInfo* wft = InitWorkflowTask(ex, 1);
    wft->set_speculative(true);
    wft->set_scheduled_event_id(ex.ms().next_event_id());  // provisional
    const int64_t version = wft->start_version();
    if (txn) {
      txn->after.push_back([this, &ex, version] { DispatchWft(ex, version); });
    } else {
      DispatchWft(ex, version);
    }
  }

  st::WorkflowTaskInfo* InitWorkflowTask(Execution& ex, int32_t attempt) {
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    wft->Clear();
    wft->set_attempt(attempt);
    bool sticky = !ex.ms().sticky_task_queue().empty();
    wft->set_sticky(sticky);
    wft->set_task_queue(sticky ? ex.ms().sticky_task_queue() : ex.ms().task_queue());
    ToProto(Now(), wft->mutable_scheduled_time());
    *wft->mutable_original_scheduled_time() = wft->scheduled_time();
    ToProto(WorkflowTaskTimeout(ex), wft->mutable_start_to_close_timeout());
    wft->set_start_version(NextVersion(ex));
    return wft;
  }

  int64_t NextVersion(Execution& ex) {
    int64_t v = ex.ms().next_start_version() + 1;
    ex.ms().set_next_start_version(v);
    return v;
  }

  void FillWftScheduled(const Execution& ex, const st::WorkflowTaskInfo& wft,
                        hv1::WorkflowTaskScheduledEventAttributes* a) {
    a->mutable_task_queue()->set_name(wft.task_queue());
    if (wft.sticky()) {
      a->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_STICKY);
      a->mutable_task_queue()->set_normal_name(ex.ms().task_queue());
    } else {
      a->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
    }
    *a->mutable_start_to_close_timeout() = wft.start_to_close_timeout();
    a->set_attempt(wft.attempt());
  }

  void DispatchWft(Execution& ex, int64_t version) {
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    if (ex.closed() || wft.start_version() != version || wft.started_event_id() != 0) return;
    QueuedTask task{ex.ns_id(), ex.ms().run_id(), version, wft.scheduled_event_id(), ""};
    if (wft.sticky()) {
      auto timeout = FromProto(ex.ms().sticky_schedule_to_start_timeout());
      if (timeout.count() <= 0) timeout = std::chrono::seconds(5);
      SetWftTimer(ex, timers_.Schedule(
                          Now() + std::chrono::duration_cast<TimePoint::duration>(timeout),
                          [this, serial = ex.serial, version] { StickyTimeout(serial, version); }));
    }
    Dispatch(wft.task_queue(), false, std::move(task));
  }

  // The sticky worker did not pick the task up in time: move it to the normal
  // queue, as the real server does.
  void StickyTimeout(uint64_t serial, int64_t version) {
    std::lock_guard lock(mu_);
    Execution* run = FindRunBySerial(serial);
    if (!run) return;
    Execution& ex = *run;
    if (StaleWftTimer(ex, version)) return;
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    if (ex.closed() || !wft->sticky() || wft->start_version() != version ||
        wft->started_event_id() != 0) {
      return;
    }
    MoveWftToNormalQueue(ex);
  }

  // Most workflow task timers fire after their task completed, often once the
  // run is frozen: answer "nothing to do" from the serialized state rather
  // than thawing the run (which reads its history back from the store).
  static bool StaleWftTimer(const Execution& ex, int64_t version) {
    if (!ex.frozen()) return false;
    const st::MutableState& m = ex.ms_view();
    return IsClosedStatus(m.status()) || m.workflow_task().start_version() != version;
  }

  void MoveWftToNormalQueue(Execution& ex) {
    ex.ms().clear_sticky_task_queue();
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    wft->set_sticky(false);
    wft->set_task_queue(ex.ms().task_queue());
    wft->set_start_version(NextVersion(ex));
    // The scheduled event (if written) still names the sticky queue; that is
    // what the real server's history shows too.
    Txn txn;
    txn.Touch(&ex);
    txn.dispatch.push_back(
        [this, &ex, version = wft->start_version()] { DispatchWft(ex, version); });
    Commit(txn, nullptr);
  }

  bool StartWorkflowTask(Poller& poller, Execution& ex, const QueuedTask& task) {
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    if (ex.closed() || wft->start_version() != task.version || wft->started_event_id() != 0 ||
        wft->scheduled_event_id() == 0) {
      return false;
    }
    auto* resp = static_cast<wsv1::PollWorkflowTaskQueueResponse*>(poller.resp);
    Txn txn;
    txn.Touch(&ex);
    wft->set_identity(poller.identity);
    wft->set_request_id(NewUuid());
    ToProto(Now(), wft->mutable_started_time());
    std::vector<hv1::HistoryEvent> transient;
    if (wft->transient() || wft->speculative()) {
      // Provisional ids: nothing else reaches history while it runs.
      wft->set_scheduled_event_id(ex.ms().next_event_id());
      wft->set_started_event_id(ex.ms().next_event_id() + 1);
      transient = TransientEvents(ex);
    } else {
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_STARTED);
      auto* a = e.mutable_workflow_task_started_event_attributes();
      a->set_scheduled_event_id(wft->scheduled_event_id());
      a->set_identity(poller.identity);
      a->set_request_id(wft->request_id());
      a->set_history_size_bytes(ex.ms().history_size_bytes());
      wft->set_started_event_id(e.event_id());
      ex.handed_out_started_event_id = e.event_id();
    }
    FillWorkflowTaskResponse(ex, poller.sticky, transient, resp);
    AttachUpdateRequests(ex, resp);
    for (const auto& id : ex.waiting_queries) {
      auto q = queries_.find(id);
      if (q == queries_.end()) continue;
      (*resp->mutable_queries())[id] = q->second.query;
      ex.attached_queries.push_back(id);
    }
    ex.waiting_queries.clear();
    const int64_t version = wft->start_version();
    auto timeout = FromProto(wft->start_to_close_timeout());
    txn.after.push_back([this, &ex, version, timeout] {
      SetWftTimer(
          ex, timers_.Schedule(
                  Now() + std::chrono::duration_cast<TimePoint::duration>(timeout),
                  [this, serial = ex.serial, version] { WorkflowTaskTimeout(serial, version); }));
    });
    RecordTaskStarted(txn, std::move(poller.done));
    return true;
  }

  std::vector<hv1::HistoryEvent> TransientEvents(const Execution& ex) {
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    std::vector<hv1::HistoryEvent> out(2);
    out[0].set_event_id(wft.scheduled_event_id());
    *out[0].mutable_event_time() = wft.scheduled_time();
    out[0].set_event_type(ev1::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    FillWftScheduled(ex, wft, out[0].mutable_workflow_task_scheduled_event_attributes());
    out[1].set_event_id(wft.started_event_id());
    *out[1].mutable_event_time() = wft.started_time();
    out[1].set_event_type(ev1::EVENT_TYPE_WORKFLOW_TASK_STARTED);
    auto* a = out[1].mutable_workflow_task_started_event_attributes();
    a->set_scheduled_event_id(wft.scheduled_event_id());
    a->set_identity(wft.identity());
    a->set_request_id(wft.request_id());
    a->set_history_size_bytes(ex.ms().history_size_bytes());
    return out;
  }

  std::string MakeToken(const Execution& ex, st::TaskToken::Kind kind, int64_t scheduled_event_id,
                        int32_t attempt, int64_t started_event_id, int64_t version,
                        const std::string& activity_id = "", const std::string& query_id = "") {
    st::TaskToken t;
    t.set_namespace_id(ex.ns_id());
    t.set_workflow_id(ex.ms().workflow_id());
    t.set_run_id(ex.ms().run_id());
    t.set_scheduled_event_id(scheduled_event_id);
    t.set_attempt(attempt);
    t.set_started_event_id(started_event_id);
    t.set_activity_id(activity_id);
    t.set_query_id(query_id);
    t.set_kind(kind);
    t.set_start_version(version);
    return t.SerializeAsString();
  }

  void FillWorkflowTaskResponse(const Execution& ex, bool sticky,
                                const std::vector<hv1::HistoryEvent>& transient,
                                wsv1::PollWorkflowTaskQueueResponse* resp) {
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    resp->set_task_token(MakeToken(ex, st::TaskToken::KIND_WORKFLOW, wft.scheduled_event_id(),
                                   wft.attempt(), wft.started_event_id(), wft.start_version()));
    FillExecutionHeader(ex, resp);
    resp->set_previous_started_event_id(ex.ms().last_completed_wft_started_event_id());
    resp->set_started_event_id(wft.started_event_id());
    resp->set_attempt(wft.attempt());
    // A sticky worker has the earlier events cached.
    int64_t first = sticky ? ex.ms().last_completed_wft_started_event_id() + 1 : 1;
    for (const auto& e : ex.history()) {
      if (e.event_id() >= first) *resp->mutable_history()->add_events() = e;
    }
    for (const auto& e : transient) *resp->mutable_history()->add_events() = e;
    *resp->mutable_scheduled_time() = wft.scheduled_time();
    *resp->mutable_started_time() = wft.started_time();
  }

  template <class Resp>
  void FillExecutionHeader(const Execution& ex, Resp* resp) {
    resp->mutable_workflow_execution()->set_workflow_id(ex.ms().workflow_id());
    resp->mutable_workflow_execution()->set_run_id(ex.ms().run_id());
    resp->mutable_workflow_type()->set_name(ex.ms().workflow_type());
    resp->mutable_workflow_execution_task_queue()->set_name(ex.ms().task_queue());
    resp->mutable_workflow_execution_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
  }

  void WorkflowTaskTimeout(uint64_t serial, int64_t version) {
    std::lock_guard lock(mu_);
    Execution* run = FindRunBySerial(serial);
    if (!run) return;
    Execution& ex = *run;
    if (StaleWftTimer(ex, version)) return;
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    if (ex.closed() || wft.start_version() != version || wft.started_event_id() == 0) return;
    Txn txn;
    FailWorkflowTask(txn, ex, /*timed_out=*/true, ev1::WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED,
                     nullptr, "");
    Commit(txn, nullptr);
  }

  // Ends the started workflow task as failed or timed out and schedules the
  // next attempt (transient), as the real server does.
  void FailWorkflowTask(Txn& txn, Execution& ex, bool timed_out, ev1::WorkflowTaskFailedCause cause,
                        const fv1::Failure* failure, const std::string& identity) {
    // A failed speculative task is recorded like a normal one; the updates it
    // carried go out again on the next attempt (the worker replays them).
    WriteTransientWftEvents(ex);
    for (auto& [id, u] : ex.updates) {
      if (u.state == UpdateState::kSent) u.state = UpdateState::kAdmitted;
    }
    st::WorkflowTaskInfo wft = ex.ms().workflow_task();
    txn.Touch(&ex);
    ex.ms().clear_workflow_task();
    if (!wft.transient()) {
      if (timed_out) {
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
        auto* a = e.mutable_workflow_task_timed_out_event_attributes();
        a->set_scheduled_event_id(wft.scheduled_event_id());
        a->set_started_event_id(wft.started_event_id());
        a->set_timeout_type(ev1::TIMEOUT_TYPE_START_TO_CLOSE);
      } else {
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_FAILED);
        auto* a = e.mutable_workflow_task_failed_event_attributes();
        a->set_scheduled_event_id(wft.scheduled_event_id());
        a->set_started_event_id(wft.started_event_id());
        a->set_cause(cause);
        if (failure) *a->mutable_failure() = *failure;
        a->set_identity(identity);
      }
    }
    // A failed task may have come from a broken cache: back to the normal queue.
    ex.ms().clear_sticky_task_queue();
    const bool had_buffered = ex.ms().buffered_events_size() > 0;
    FlushBuffered(ex);
    // A failure on the sticky queue (stale cache) starts over at attempt 1 on
    // the normal queue; only normal-queue failures count attempts.
    int32_t next_attempt =
        cause == ev1::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND || wft.sticky()
            ? 1
            : wft.attempt() + 1;
    if (had_buffered) next_attempt = 1;  // new events: a fresh, recorded task
    ScheduleWorkflowTask(txn, ex, next_attempt);
    txn.after.push_back([this, &ex] { DispatchWaitingQueries(ex); });
  }

  // ---- workflow updates ----
  // Mirrors the real server's update registry: admitted and accepted updates
  // in memory (accepted ones are rebuilt from history at start-up), requests
  // shipped as protocol messages on workflow tasks, only acceptance and
  // completion written to history.

  static fv1::Failure ServerApplicationFailure(const std::string& message,
                                               const std::string& type) {
    fv1::Failure f;
    f.set_message(message);
    f.set_source("Server");
    f.mutable_application_failure_info()->set_type(type);
    f.mutable_application_failure_info()->set_non_retryable(true);
    return f;
  }

  struct UpdateStatus {
    UpdateStage stage = ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED;
    std::optional<upv1::Outcome> outcome;
  };

  // Where update `id` of this run stands; nullopt if the server has no trace
  // of it (never sent, rejected, or lost with the in-memory registry).
  std::optional<UpdateStatus> LookupUpdate(const Execution& ex, const std::string& id) const {
    if (auto it = ex.updates.find(id); it != ex.updates.end()) {
      if (it->second.state == UpdateState::kAccepted) {
        return UpdateStatus{ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED, std::nullopt};
      }
      return UpdateStatus{ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED, std::nullopt};
    }
    bool accepted = false;
    for (auto it = ex.history().rbegin(); it != ex.history().rend(); ++it) {
      if (it->event_type() == ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED &&
          it->workflow_execution_update_completed_event_attributes().meta().update_id() == id) {
        return UpdateStatus{ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED,
                            it->workflow_execution_update_completed_event_attributes().outcome()};
      }
      if (it->event_type() == ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED &&
          it->workflow_execution_update_accepted_event_attributes().protocol_instance_id() == id) {
        accepted = true;
        break;
      }
    }
    if (accepted && ex.closed()) return ClosedBeforeCompletion();
    return std::nullopt;
  }

  static UpdateStatus ClosedBeforeCompletion() {
    upv1::Outcome outcome;
    *outcome.mutable_failure() = ServerApplicationFailure(
        "Workflow Update failed because the Workflow completed before the Update completed.",
        "AcceptedUpdateCompletedWorkflow");
    return UpdateStatus{ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED, outcome};
  }

  // Answers at once if `want` is reached, otherwise parks until it is, the
  // caller's deadline passes (DEADLINE_EXCEEDED) or the long-poll interval
  // ends (the stage reached so far, as the real server does).
  void WaitForUpdate(Execution& ex, const std::string& id, UpdateStage want, TimePoint deadline,
                     std::function<void(UpdateStage, const upv1::Outcome*)> fill, Done done) {
    std::optional<UpdateStatus> status = LookupUpdate(ex, id);
    if (!status) {
      done(WorkflowNotFoundError(absl::StrCat("update \"", id, "\" not found")));
      return;
    }
    if (status->stage >= want) {
      fill(status->stage, status->outcome ? &*status->outcome : nullptr);
      done(absl::OkStatus());
      return;
    }
    const uint64_t waiter_id = next_id_++;
    UpdateWaiter& w = update_waiters_[waiter_id];
    w.run_key = RunKey(ex.ns_id(), ex.ms().run_id());
    w.update_id = id;
    w.want = want;
    w.fill = std::move(fill);
    w.done = std::move(done);
    const TimePoint soft = Now() + kUpdateLongPoll;
    const bool hard = deadline <= soft;
    w.timer_id = timers_.Schedule(hard ? deadline - std::chrono::milliseconds(100) : soft,
                                  [this, waiter_id, hard] {
                                    std::lock_guard lock(mu_);
                                    UpdateWaitExpired(waiter_id, hard);
                                  });
  }

  void UpdateWaitExpired(uint64_t waiter_id, bool hard) {
    auto it = update_waiters_.find(waiter_id);
    if (it == update_waiters_.end()) return;
    UpdateWaiter w = std::move(it->second);
    update_waiters_.erase(it);
    if (hard) {
      w.done(absl::DeadlineExceededError("update timed out: the workflow did not reach the stage"));
      return;
    }
    UpdateStage stage = ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED;
    auto ex = executions_.find(w.run_key);
    if (ex != executions_.end()) {
      if (auto st = LookupUpdate(*ex->second, w.update_id)) stage = st->stage;
    }
    w.fill(stage, nullptr);
    w.done(absl::OkStatus());
  }

  // Wakes the waiters of update `id` that `stage` satisfies.
  void NotifyUpdate(const Execution& ex, const std::string& id, UpdateStage stage,
                    const upv1::Outcome* outcome) {
    const std::string key = RunKey(ex.ns_id(), ex.ms().run_id());
    for (auto it = update_waiters_.begin(); it != update_waiters_.end();) {
      UpdateWaiter& w = it->second;
      if (w.run_key != key || w.update_id != id || stage < w.want) {
        ++it;
        continue;
      }
      timers_.Cancel(w.timer_id);
      w.fill(stage, outcome);
      w.done(absl::OkStatus());
      it = update_waiters_.erase(it);
    }
  }

  // The run closed: accepted updates complete with a failure, the others
  // are aborted (NOT_FOUND), as the real server does.
  void AbortUpdates(Execution& ex) {
    const std::string key = RunKey(ex.ns_id(), ex.ms().run_id());
    const UpdateStatus closed = ClosedBeforeCompletion();
    for (auto it = update_waiters_.begin(); it != update_waiters_.end();) {
      UpdateWaiter& w = it->second;
      if (w.run_key != key) {
        ++it;
        continue;
      }
      timers_.Cancel(w.timer_id);
      auto u = ex.updates.find(w.update_id);
      if (u != ex.updates.end() && u->second.state == UpdateState::kAccepted) {
        w.fill(closed.stage, &*closed.outcome);
        w.done(absl::OkStatus());
      } else if (auto st = LookupUpdate(ex, w.update_id); st && u == ex.updates.end()) {
        w.fill(st->stage, st->outcome ? &*st->outcome : nullptr);
        w.done(absl::OkStatus());
      } else {
        w.done(WorkflowNotFoundError("workflow update was aborted by closing workflow"));
      }
      it = update_waiters_.erase(it);
    }
    ex.updates.clear();
  }

  // Ships every admitted update request on the task being started.
  void AttachUpdateRequests(Execution& ex, wsv1::PollWorkflowTaskQueueResponse* resp) {
    std::vector<std::pair<uint64_t, std::string>> order;
    for (const auto& [id, u] : ex.updates) {
      if (u.state != UpdateState::kAccepted) order.emplace_back(u.seq, id);
    }
    std::sort(order.begin(), order.end());
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    for (const auto& [seq, id] : order) {
      UpdateEntry& u = ex.updates.at(id);
      pv1::Message* m = resp->add_messages();
      m->set_id(absl::StrCat(id, "/request"));
      m->set_protocol_instance_id(id);
      // All messages follow all events (the real server does the same).
      m->set_event_id(wft.started_event_id() - 1);
      m->mutable_body()->PackFrom(u.request);
      u.state = UpdateState::kSent;
      u.sent_version = wft.start_version();
    }
  }

  bool HasAdmittedUpdates(const Execution& ex) const {
    for (const auto& [id, u] : ex.updates) {
      if (u.state == UpdateState::kAdmitted) return true;
    }
    return false;
  }

  // Checks the completion's update messages against the registry, in the
  // order the server will apply them (PROTOCOL_MESSAGE commands first).
  std::optional<std::pair<ev1::WorkflowTaskFailedCause, std::string>> ValidateUpdateMessages(
      const Execution& ex, const wsv1::RespondWorkflowTaskCompletedRequest& req) {
    using R = std::pair<ev1::WorkflowTaskFailedCause, std::string>;
    constexpr auto kCause = ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE;
    std::map<std::string, const pv1::Message*> by_id;
    for (const auto& m : req.messages()) {
      if (!by_id.emplace(m.id(), &m).second)
        return R{kCause, absl::StrCat("Duplicate protocol message ID ", m.id())};
    }
    enum class Sim { kNone, kPending, kAccepted, kDone };
    std::map<std::string, Sim> sim;
    auto check = [&](const pv1::Message& m) -> std::optional<R> {
      const std::string& id = m.protocol_instance_id();
      Sim state = Sim::kNone;
      if (auto s = sim.find(id); s != sim.end()) {
        state = s->second;
      } else if (auto u = ex.updates.find(id); u != ex.updates.end()) {
        state = u->second.state == UpdateState::kAccepted ? Sim::kAccepted : Sim::kPending;
      }
      const char* kind = nullptr;
      Sim next = Sim::kNone;
      Sim need = Sim::kPending;
      if (m.body().Is<upv1::Acceptance>()) {
        upv1::Acceptance a;
        m.body().UnpackTo(&a);
        // Resurrection: the request came back with the acceptance.
        if (state == Sim::kNone && a.has_accepted_request()) state = Sim::kPending;
        kind = "Acceptance";
        next = Sim::kAccepted;
      } else if (m.body().Is<upv1::Rejection>()) {
        upv1::Rejection r;
        m.body().UnpackTo(&r);
        if (state == Sim::kNone && r.has_rejected_request()) state = Sim::kPending;
        kind = "Rejection";
        next = Sim::kDone;
      } else if (m.body().Is<upv1::Response>()) {
        kind = "Response";
        next = Sim::kDone;
        need = Sim::kAccepted;
      } else {
        return R{kCause, absl::StrCat("unsupported protocol message body ", m.body().type_url())};
      }
      if (state == Sim::kNone) {
        return R{kCause, absl::StrCat("update ", id,
                                      " wasn't found on the server. This is most likely a "
                                      "transient error which will be resolved automatically by "
                                      "retries")};
      }
      if (state != need) {
        return R{kCause, absl::StrCat("invalid ", kind, " message for update ", id,
                                      " in its current state")};
      }
      sim[id] = next;
      return std::nullopt;
    };
    std::set<std::string> taken;
    for (const auto& c : req.commands()) {
      if (c.command_type() != ev1::COMMAND_TYPE_PROTOCOL_MESSAGE) continue;
      const std::string& id = c.protocol_message_command_attributes().message_id();
      auto m = by_id.find(id);
      if (m == by_id.end() || !taken.insert(id).second)
        return R{kCause, absl::StrCat("ProtocolMessageCommand referenced absent message ID ", id)};
      if (auto bad = check(*m->second)) return bad;
    }
    for (const auto& m : req.messages()) {
      if (taken.contains(m.id())) continue;
      if (auto bad = check(m)) return bad;
    }
    return std::nullopt;
  }

  // Applies one validated update message (acceptance, rejection, response).
  void ApplyUpdateMessage(Txn& txn, Execution& ex, const pv1::Message& m) {
    const std::string& id = m.protocol_instance_id();
    if (m.body().Is<upv1::Acceptance>()) {
      upv1::Acceptance a;
      m.body().UnpackTo(&a);
      auto it = ex.updates.find(id);
      if (it == ex.updates.end()) {
        UpdateEntry resurrected;
        resurrected.request = a.accepted_request();
        resurrected.seq = ex.next_update_seq++;
        it = ex.updates.emplace(id, std::move(resurrected)).first;
      }
      UpdateEntry& u = it->second;
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
      auto* at = e.mutable_workflow_execution_update_accepted_event_attributes();
      at->set_protocol_instance_id(id);
      at->set_accepted_request_message_id(a.accepted_request_message_id());
      at->set_accepted_request_sequencing_event_id(a.accepted_request_sequencing_event_id());
      *at->mutable_accepted_request() = a.has_accepted_request() ? a.accepted_request() : u.request;
      u.state = UpdateState::kAccepted;
      u.accepted_event_id = e.event_id();
      txn.after.push_back([this, &ex, id] {
        NotifyUpdate(ex, id, ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED, nullptr);
      });
    } else if (m.body().Is<upv1::Response>()) {
      upv1::Response r;
      m.body().UnpackTo(&r);
      UpdateEntry& u = ex.updates.at(id);
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
      auto* at = e.mutable_workflow_execution_update_completed_event_attributes();
      *at->mutable_meta() = r.meta();
      at->mutable_meta()->set_update_id(id);
      at->set_accepted_event_id(u.accepted_event_id);
      *at->mutable_outcome() = r.outcome();
      ex.updates.erase(id);
      txn.after.push_back([this, &ex, id, outcome = r.outcome()] {
        NotifyUpdate(ex, id, ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED, &outcome);
      });
    } else if (m.body().Is<upv1::Rejection>()) {
      upv1::Rejection r;
      m.body().UnpackTo(&r);
      RejectUpdate(txn, ex, id, r.failure());
    }
  }

  // A rejected update leaves no trace: its callers get the failure as the
  // outcome and a later poll for it finds nothing.
  void RejectUpdate(Txn& txn, Execution& ex, const std::string& id, const fv1::Failure& failure) {
    ex.updates.erase(id);
    upv1::Outcome outcome;
    *outcome.mutable_failure() = failure;
    txn.after.push_back([this, &ex, id, outcome = std::move(outcome)] {
      NotifyUpdate(ex, id, ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED, &outcome);
    });
  }

  // Updates the worker received but did not answer: it cannot handle them.
  void RejectUnprocessedUpdates(Txn& txn, Execution& ex) {
    std::vector<std::string> ids;
    for (const auto& [id, u] : ex.updates) {
      if (u.state == UpdateState::kSent) ids.push_back(id);
    }
    for (const auto& id : ids) {
      if (spdlog::should_log(spdlog::level::warn)) {
        spdlog::warn("workflow task of {} completed without processing update {}",
                     ex.ms().workflow_id(), id);
      }
      RejectUpdate(txn, ex, id,
                   ServerApplicationFailure(
                       "Workflow Update is rejected because it wasn't processed by worker. "
                       "Probably, Workflow Update is not supported by the worker.",
                       "UnprocessedUpdate"));
    }
  }

  // The real server's skipWorkflowTaskCompletedEvent: a speculative task
  // that only rejected updates disappears from history.
  bool DiscardsSpeculativeTask(const Execution& ex,
                               const wsv1::RespondWorkflowTaskCompletedRequest& req) const {
    if (!ex.ms().workflow_task().speculative() || req.commands_size() != 0 ||
        req.force_create_new_workflow_task()) {
      return false;
    }
    const int64_t interleaved =
        ex.ms().next_event_id() - (ex.ms().last_completed_wft_started_event_id() + 2);
    if (interleaved > 0 && !req.capabilities().discard_speculative_workflow_task_with_events())
      return false;
    if (interleaved > kMaxDiscardedSpeculativeEvents) return false;
    for (const auto& m : req.messages()) {
      if (!m.body().Is<upv1::Rejection>()) return false;
    }
    return true;
  }

  void UpdateWorkflowExecution(const wsv1::UpdateWorkflowExecutionRequest& req,
                               wsv1::UpdateWorkflowExecutionResponse* resp, TimePoint deadline,
                               Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    if (!req.request().has_meta())
      return Reply(lock, std::move(done),
                   InvalidArgumentError("Update meta is not set on request."));
    if (!req.request().has_input())
      return Reply(lock, std::move(done),
                   InvalidArgumentError("Update input is not set on request."));
    if (req.request().input().name().empty())
      return Reply(lock, std::move(done),
                   InvalidArgumentError("Update name is not set on request."));
    UpdateStage want = req.wait_policy().lifecycle_stage();
    if (want == ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED)
      want = ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
    if (want == ev1::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED) {
      return Reply(lock, std::move(done),
                   absl::PermissionDeniedError(
                       "UpdateWorkflowExecution issued asynchronously and waiting on update "
                       "admitted is not supported."));
    }
    if (PayloadsSize(req.request().input().args()) > options_.blob_size_limit)
      return Reply(lock, std::move(done), InvalidArgumentError("Update input exceeds size limit."));
    auto found = FindExecution((*ns)->id, req.workflow_execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    Execution& ex = **found;
    if (!req.first_execution_run_id().empty() &&
        ex.ms().first_execution_run_id() != req.first_execution_run_id()) {
      return Reply(lock, std::move(done), WorkflowNotFoundError("workflow execution not found"));
    }
    upv1::Request request = req.request();
    if (request.meta().update_id().empty()) request.mutable_meta()->set_update_id(NewUuid());
    const std::string id = request.meta().update_id();
    auto* ref = resp->mutable_update_ref();
    ref->mutable_workflow_execution()->set_workflow_id(ex.ms().workflow_id());
    ref->mutable_workflow_execution()->set_run_id(ex.ms().run_id());
    ref->set_update_id(id);
    auto fill = [resp](UpdateStage stage, const upv1::Outcome* outcome) {
      resp->set_stage(stage);
      if (outcome) *resp->mutable_outcome() = *outcome;
    };
    if (ex.closed()) {
      auto status = LookupUpdate(ex, id);
      if (!status) {
        return Reply(lock, std::move(done),
                     WorkflowNotFoundError("workflow execution already completed"));
      }
      fill(status->stage, status->outcome ? &*status->outcome : nullptr);
      return Reply(lock, std::move(done), absl::OkStatus());
    }
    if (!LookupUpdate(ex, id)) {
      UpdateEntry u;
      u.request = std::move(request);
      u.seq = ex.next_update_seq++;
      ex.updates.emplace(id, std::move(u));
      // A pending task carries it; a running one's completion schedules the next.
      if (ex.ms().workflow_task().scheduled_event_id() == 0) {
        ScheduleSpeculativeWorkflowTask(ex, nullptr);
      }
    }
    WaitForUpdate(ex, id, want, deadline, std::move(fill), std::move(done));
  }

  void PollWorkflowExecutionUpdate(const wsv1::PollWorkflowExecutionUpdateRequest& req,
                                   wsv1::PollWorkflowExecutionUpdateResponse* resp,
                                   TimePoint deadline, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    if (!req.has_update_ref())
      return Reply(lock, std::move(done), InvalidArgumentError("UpdateRef is not set on request."));
    auto found = FindExecution((*ns)->id, req.update_ref().workflow_execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    Execution& ex = **found;
    const std::string& id = req.update_ref().update_id();
    auto* ref = resp->mutable_update_ref();
    ref->mutable_workflow_execution()->set_workflow_id(ex.ms().workflow_id());
    ref->mutable_workflow_execution()->set_run_id(ex.ms().run_id());
    ref->set_update_id(id);
    WaitForUpdate(
        ex, id, req.wait_policy().lifecycle_stage(), deadline,
        [resp](UpdateStage stage, const upv1::Outcome* outcome) {
          resp->set_stage(stage);
          if (outcome) *resp->mutable_outcome() = *outcome;
        },
        std::move(done));
  }

  // At start-up: accepted, not yet completed updates of open runs come back
  // from history; a persisted speculative task is dropped (its updates were
  // only in memory).
  void RestoreUpdates(Execution& ex) {
    for (const auto& e : ex.history()) {
      if (e.event_type() == ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        const auto& a = e.workflow_execution_update_accepted_event_attributes();
        UpdateEntry u;
        u.request = a.accepted_request();
        u.state = UpdateState::kAccepted;
        u.seq = ex.next_update_seq++;
        u.accepted_event_id = e.event_id();
        ex.updates[a.protocol_instance_id()] = std::move(u);
      } else if (e.event_type() == ev1::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) {
        ex.updates.erase(
            e.workflow_execution_update_completed_event_attributes().meta().update_id());
      }
    }
  }

  // ---- workflow task completion ----
  absl::StatusOr<std::pair<Execution*, st::TaskToken>> ParseToken(const std::string& bytes,
                                                                  const std::string& ns_name) {
    st::TaskToken token;
    if (bytes.empty() || !token.ParseFromString(bytes) || token.run_id().empty()) {
      return InvalidArgumentError("Error deserializing task token.");
    }
    if (!ns_name.empty()) {
      auto ns = FindNamespace(ns_name);
      if (!ns.ok()) return ns.status();
      if ((*ns)->id != token.namespace_id()) {
        return InvalidArgumentError("Operation requested with a token from a different namespace.");
      }
    }
    Execution* ex = FindRun(token.namespace_id(), token.run_id());
    if (!ex) return WorkflowNotFoundError("Workflow execution not found.");
    return std::make_pair(ex, std::move(token));
  }

  absl::StatusOr<std::pair<Execution*, st::TaskToken>> FindStartedWft(const std::string& bytes,
                                                                      const std::string& ns) {
    auto parsed = ParseToken(bytes, ns);
    if (!parsed.ok()) return parsed.status();
    auto& [ex, token] = *parsed;
    const st::WorkflowTaskInfo& wft = ex->ms().workflow_task();
    if (token.kind() != st::TaskToken::KIND_WORKFLOW || ex->closed() ||
        wft.started_event_id() == 0 || wft.start_version() != token.start_version() ||
        wft.scheduled_event_id() != token.scheduled_event_id()) {
      return WorkflowNotFoundError("Workflow task not found.");
    }
    return parsed;
  }

  // Checks a command without changing anything; returns the failure cause.
  std::optional<std::pair<ev1::WorkflowTaskFailedCause, std::string>> ValidateCommand(
      const Execution& ex, const cmdv1::Command& c, std::set<std::string>& new_timer_ids,
      std::set<std::string>& new_activity_ids) {
    using R = std::pair<ev1::WorkflowTaskFailedCause, std::string>;
    switch (c.command_type()) {
      case ev1::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
        const auto& a = c.schedule_activity_task_command_attributes();
        if (a.activity_id().empty())
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                   "ActivityId is not set on command."};
        if (a.activity_type().name().empty())
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                   "ActivityType is not set on command."};
        if (!IsSet(a.schedule_to_close_timeout()) && !IsSet(a.start_to_close_timeout()))
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                   "A valid StartToClose or ScheduleToCloseTimeout is not set on command."};
        if (PayloadsSize(a.input()) > options_.blob_size_limit)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                   "ScheduleActivityTaskCommandAttributes.Input exceeds size limit."};
        for (const auto& [id, ai] : ex.ms().activities()) {
          if (ai.activity_id() == a.activity_id())
            return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                     absl::StrCat("Activity ID already in use: ", a.activity_id())};
        }
        if (!new_activity_ids.insert(a.activity_id()).second)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                   absl::StrCat("Activity ID already in use: ", a.activity_id())};
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: {
        int64_t id = c.request_cancel_activity_task_command_attributes().scheduled_event_id();
        if (!ex.ms().activities().contains(id))
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
                   absl::StrCat("Activity not found for scheduled event id ", id)};
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_START_TIMER: {
        const auto& a = c.start_timer_command_attributes();
        if (a.timer_id().empty())
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                   "TimerId is not set on command."};
        if (!IsSet(a.start_to_fire_timeout()))
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                   "A valid StartToFireTimeout is not set on command."};
        if (ex.ms().timers().contains(a.timer_id()) || !new_timer_ids.insert(a.timer_id()).second)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
                   absl::StrCat("Timer ID already in use: ", a.timer_id())};
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_CANCEL_TIMER: {
        const std::string& id = c.cancel_timer_command_attributes().timer_id();
        if (!ex.ms().timers().contains(id) && !new_timer_ids.contains(id))
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
                   absl::StrCat("Timer not found: ", id)};
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        if (PayloadsSize(c.complete_workflow_execution_command_attributes().result()) >
            options_.blob_size_limit)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES,
                   "CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit."};
        return std::nullopt;
      case ev1::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
        const auto& a = c.continue_as_new_workflow_execution_command_attributes();
        if (PayloadsSize(a.input()) > options_.blob_size_limit)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
                   "ContinueAsNewWorkflowExecutionCommandAttributes.Input exceeds size limit."};
        if (FromProto(a.workflow_run_timeout()).count() < 0 ||
            FromProto(a.workflow_task_timeout()).count() < 0 ||
            FromProto(a.backoff_start_interval()).count() < 0)
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
                   "A valid timeout or backoff is not set on ContinueAsNew command."};
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
      case ev1::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
      case ev1::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        absl::Status valid = ValidateSearchAttributes(
            ex.ns_id(),
            c.upsert_workflow_search_attributes_command_attributes().search_attributes());
        if (!valid.ok()) {
          return R{ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
                   std::string(valid.message())};
        }
        return std::nullopt;
      }
      case ev1::COMMAND_TYPE_RECORD_MARKER:
      case ev1::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
      case ev1::COMMAND_TYPE_PROTOCOL_MESSAGE:  // checked by ValidateUpdateMessages
        return std::nullopt;
      default: {
        // Not UNHANDLED_COMMAND: SDKs retry that one silently, and this is
        // an error the user must see (in the task failure in history).
        ev1::WorkflowTaskFailedCause cause = ev1::WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED;
        switch (c.command_type()) {
          case ev1::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
            cause = ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES;
            break;
          case ev1::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
            cause = ev1::WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES;
            break;
          case ev1::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
            cause = ev1::
                WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES;
            break;
          default:
            break;
        }
        return R{cause, absl::StrCat("Command type ", ev1::CommandType_Name(c.command_type()),
                                     " is not supported by this dev server yet.")};
      }
    }
  }

  static bool IsCloseCommand(ev1::CommandType t) {
    return t == ev1::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION ||
           t == ev1::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION ||
           t == ev1::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION ||
           t == ev1::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION;
  }

  void RespondWorkflowTaskCompleted(const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                    wsv1::RespondWorkflowTaskCompletedResponse* resp, Done done) {
    std::unique_lock lock(mu_);
    auto found = FindStartedWft(req.task_token(), req.namespace_());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    Execution& ex = *found->first;
    Txn txn;
    txn.Touch(&ex);

    // Validate every command first: a bad one rejects the whole completion.
    std::set<std::string> timer_ids, activity_ids;
    std::optional<std::pair<ev1::WorkflowTaskFailedCause, std::string>> bad;
    bool closes = false;
    for (const auto& c : req.commands()) {
      if (closes) {
        bad = {ev1::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
               "Commands follow a workflow-closing command."};
        break;
      }
      bad = ValidateCommand(ex, c, timer_ids, activity_ids);
      if (bad) break;
      closes = IsCloseCommand(c.command_type());
    }
    if (!bad && closes && ex.ms().buffered_events_size() > 0) {
      bad = {ev1::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
             "Workflow has unhandled events; the closing command is rejected."};
    }
    if (!bad) bad = ValidateUpdateMessages(ex, req);
    if (bad) {
      fv1::Failure failure;
      failure.set_message(bad->second);
      failure.set_source("Server");
      failure.mutable_server_failure_info()->set_non_retryable(false);
      WriteTransientWftEvents(ex);
      FailWorkflowTask(txn, ex, false, bad->first, &failure, req.identity());
      // sdk-core recognises exactly "UnhandledCommand" and retries quietly.
      std::string msg = bad->first == ev1::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
                            ? "UnhandledCommand"
                            : bad->second;
      Commit(txn,
             [done, msg](const absl::Status& s) { done(s.ok() ? InvalidArgumentError(msg) : s); });
      return;
    }

    // A speculative task that only rejected updates leaves no events; the
    // worker rolls back to the last completed task's started event.
    const bool discard = DiscardsSpeculativeTask(ex, req);
    if (discard) {
      resp->set_reset_history_event_id(ex.ms().last_completed_wft_started_event_id());
    } else {
      WriteTransientWftEvents(ex);
    }
    const st::WorkflowTaskInfo wft = ex.ms().workflow_task();
    ex.ms().clear_workflow_task();
    // Once that is durable, the task's start-to-close timer has nothing left
    // to guard (unless a newer task's timer replaced it already).
    txn.after.push_back([this, &ex, timer_id = ex.wft_timer_id] {
      timers_.Cancel(timer_id);
      if (ex.wft_timer_id == timer_id) ex.wft_timer_id = 0;
    });
    int64_t completed_id = 0;
    if (!discard) {
      hv1::HistoryEvent& ce = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      auto* a = ce.mutable_workflow_task_completed_event_attributes();
      a->set_scheduled_event_id(wft.scheduled_event_id());
      a->set_started_event_id(wft.started_event_id());
      a->set_identity(req.identity());
      a->set_binary_checksum(req.binary_checksum());
      if (req.has_worker_version_stamp()) *a->mutable_worker_version() = req.worker_version_stamp();
      if (req.has_sdk_metadata()) *a->mutable_sdk_metadata() = req.sdk_metadata();
      if (req.has_metering_metadata()) *a->mutable_metering_metadata() = req.metering_metadata();
      if (req.has_deployment_options()) {
        // Versioning is not implemented; the field is accepted and ignored.
      }
      completed_id = ce.event_id();
      RecordResetPoint(ex, req, completed_id);
      ex.ms().set_last_completed_wft_started_event_id(wft.started_event_id());
    }
    if (req.has_sticky_attributes() &&
        !req.sticky_attributes().worker_task_queue().name().empty()) {
      ex.ms().set_sticky_task_queue(req.sticky_attributes().worker_task_queue().name());
      *ex.ms().mutable_sticky_schedule_to_start_timeout() =
          req.sticky_attributes().schedule_to_start_timeout();
    } else {
      ex.ms().clear_sticky_task_queue();
    }

    bool need_wft = false;
    std::set<std::string> applied_messages;
    auto find_message = [&req](const std::string& id) -> const pv1::Message* {
      for (const auto& m : req.messages()) {
        if (m.id() == id) return &m;
      }
      return nullptr;
    };
    for (const auto& c : req.commands()) {
      if (c.command_type() == ev1::COMMAND_TYPE_PROTOCOL_MESSAGE) {
        const std::string& id = c.protocol_message_command_attributes().message_id();
        ApplyUpdateMessage(txn, ex, *find_message(id));
        applied_messages.insert(id);
        continue;
      }
      need_wft |= ApplyCommand(txn, ex, c, completed_id, req.identity());
    }
    if (!ex.closed()) {
      // Messages without a PROTOCOL_MESSAGE command (rejections) follow the commands.
      for (const auto& m : req.messages()) {
        if (!applied_messages.contains(m.id())) ApplyUpdateMessage(txn, ex, m);
      }
      if (!req.force_create_new_workflow_task()) RejectUnprocessedUpdates(txn, ex);
      if (ex.ms().buffered_events_size() > 0) need_wft = true;
      FlushBuffered(ex);
      if (need_wft || req.force_create_new_workflow_task()) {
        ScheduleWorkflowTask(txn, ex);
      } else if (HasAdmittedUpdates(ex)) {
        // Updates that arrived while this task ran.
        ScheduleSpeculativeWorkflowTask(ex, &txn);
      }
    }
    StartEagerActivities(txn, ex, req.identity(), resp);
    AnswerAttachedQueries(ex, req);
    // Queries left unanswered go out on their own once this is durable.
    txn.after.push_back([this, &ex] { DispatchWaitingQueries(ex); });

    const bool return_new = req.return_new_workflow_task() && !ex.closed() &&
                            ex.ms().workflow_task().scheduled_event_id() != 0;
    if (return_new) {
      // Start the new task right away for the same worker (its reply carries
      // it), before the commit would hand it to another poller; its started
      // event rides this commit, and the reply waits for it like any other.
      Poller poller;
      poller.ns_id = ex.ns_id();
      poller.identity = req.identity();
      poller.sticky = !ex.ms().sticky_task_queue().empty();
      poller.resp = resp->mutable_workflow_task();
      poller.done = [](const absl::Status&) {};
      QueuedTask task{ex.ns_id(), ex.ms().run_id(), ex.ms().workflow_task().start_version(), 0, ""};
      StartWorkflowTask(poller, ex, task);
    }
    Commit(txn, done);
  }

  void WriteTransientWftEvents(Execution& ex) {
    st::WorkflowTaskInfo* wft = ex.ms().mutable_workflow_task();
    if (!wft->transient() && !wft->speculative()) return;
    if (wft->started_event_id() == 0) {
      // Not started: only the scheduled event exists.
      wft->set_speculative(false);
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
      FillWftScheduled(ex, *wft, e.mutable_workflow_task_scheduled_event_attributes());
      wft->set_scheduled_event_id(e.event_id());
      return;
    }
    auto events = TransientEvents(ex);
    for (auto& e : events) {
      hv1::HistoryEvent& w = AppendEvent(ex, e.event_type());
      int64_t id = w.event_id();
      w = std::move(e);
      w.set_event_id(id);
      w.set_task_id(next_task_id_++);
    }
    wft->set_transient(false);
    wft->set_speculative(false);
  }

  // Applies a validated command; returns true if it needs a new workflow task.
  bool ApplyCommand(Txn& txn, Execution& ex, const cmdv1::Command& c, int64_t completed_id,
                    const std::string& identity) {
    switch (c.command_type()) {
      case ev1::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        ScheduleActivity(txn, ex, c.schedule_activity_task_command_attributes(), completed_id);
        return false;
      case ev1::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return RequestCancelActivity(
            txn, ex, c.request_cancel_activity_task_command_attributes().scheduled_event_id(),
            completed_id, identity);
      case ev1::COMMAND_TYPE_START_TIMER: {
        const auto& a = c.start_timer_command_attributes();
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_TIMER_STARTED);
        auto* ea = e.mutable_timer_started_event_attributes();
        ea->set_timer_id(a.timer_id());
        *ea->mutable_start_to_fire_timeout() = a.start_to_fire_timeout();
        ea->set_workflow_task_completed_event_id(completed_id);
        st::TimerInfo& ti = (*ex.ms().mutable_timers())[a.timer_id()];
        ti.set_timer_id(a.timer_id());
        ti.set_started_event_id(e.event_id());
        ToProto(Now() + std::chrono::duration_cast<TimePoint::duration>(
                            FromProto(a.start_to_fire_timeout())),
                ti.mutable_expiry());
        txn.after.push_back([this, &ex, ti] { ArmUserTimer(ex, ti); });
        return false;
      }
      case ev1::COMMAND_TYPE_CANCEL_TIMER: {
        const std::string& id = c.cancel_timer_command_attributes().timer_id();
        auto it = ex.ms().timers().find(id);
        if (it == ex.ms().timers().end()) return false;
        int64_t started = it->second.started_event_id();
        ex.ms().mutable_timers()->erase(id);
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_TIMER_CANCELED);
        auto* ea = e.mutable_timer_canceled_event_attributes();
        ea->set_timer_id(id);
        ea->set_started_event_id(started);
        ea->set_workflow_task_completed_event_id(completed_id);
        ea->set_identity(identity);
        return false;
      }
      case ev1::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
        auto* ea = e.mutable_workflow_execution_completed_event_attributes();
        *ea->mutable_result() = c.complete_workflow_execution_command_attributes().result();
        ea->set_workflow_task_completed_event_id(completed_id);
        Close(txn, ex, ev1::WORKFLOW_EXECUTION_STATUS_COMPLETED);
        return false;
      }
      case ev1::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
        auto* ea = e.mutable_workflow_execution_failed_event_attributes();
        *ea->mutable_failure() = c.fail_workflow_execution_command_attributes().failure();
        ea->set_workflow_task_completed_event_id(completed_id);
        const fv1::Failure& failure = c.fail_workflow_execution_command_attributes().failure();
        std::chrono::nanoseconds backoff{0};
        ev1::RetryState state = DecideWorkflowRetry(ex, failure, &backoff);
        ea->set_retry_state(state);
        Close(txn, ex, ev1::WORKFLOW_EXECUTION_STATUS_FAILED);
        if (state == ev1::RETRY_STATE_IN_PROGRESS) {
          // The ids go into the closing event, which must stay the last one.
          Execution& next = RetryRun(txn, ex, &failure, backoff);
          ex.history()
              .back()
              .mutable_workflow_execution_failed_event_attributes()
              ->set_new_execution_run_id(next.ms().run_id());
          ex.ms().set_new_execution_run_id(next.ms().run_id());
        }
        return false;
      }
      case ev1::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        ContinueAsNew(txn, ex, c.continue_as_new_workflow_execution_command_attributes(),
                      completed_id);
        return false;
      case ev1::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: {
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
        auto* ea = e.mutable_workflow_execution_canceled_event_attributes();
        *ea->mutable_details() = c.cancel_workflow_execution_command_attributes().details();
        ea->set_workflow_task_completed_event_id(completed_id);
        Close(txn, ex, ev1::WORKFLOW_EXECUTION_STATUS_CANCELED);
        return false;
      }
      case ev1::COMMAND_TYPE_RECORD_MARKER: {
        const auto& a = c.record_marker_command_attributes();
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_MARKER_RECORDED);
        auto* ea = e.mutable_marker_recorded_event_attributes();
        ea->set_marker_name(a.marker_name());
        *ea->mutable_details() = a.details();
        ea->set_workflow_task_completed_event_id(completed_id);
        if (a.has_header()) *ea->mutable_header() = a.header();
        if (a.has_failure()) *ea->mutable_failure() = a.failure();
        return false;
      }
      case ev1::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const auto& sa =
            c.upsert_workflow_search_attributes_command_attributes().search_attributes();
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
        auto* ea = e.mutable_upsert_workflow_search_attributes_event_attributes();
        ea->set_workflow_task_completed_event_id(completed_id);
        *ea->mutable_search_attributes() = sa;
        for (const auto& [k, v] : sa.indexed_fields()) {
          if (v.data().empty() || v.data() == "null")
            ex.ms().mutable_search_attributes()->mutable_indexed_fields()->erase(k);
          else
            (*ex.ms().mutable_search_attributes()->mutable_indexed_fields())[k] = v;
        }
        return false;
      }
      case ev1::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const auto& memo = c.modify_workflow_properties_command_attributes().upserted_memo();
        hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED);
        auto* ea = e.mutable_workflow_properties_modified_event_attributes();
        ea->set_workflow_task_completed_event_id(completed_id);
        *ea->mutable_upserted_memo() = memo;
        for (const auto& [k, v] : memo.fields()) {
          if (v.data().empty() || v.data() == "null")
            ex.ms().mutable_memo()->mutable_fields()->erase(k);
          else
            (*ex.ms().mutable_memo()->mutable_fields())[k] = v;
        }
        return false;
      }
      default:
        return false;
    }
  }

  // Marks the run closed; pending activities and timers become stale. Must
  // be called after the closing event is appended.
  void Close(Txn& txn, Execution& ex, ev1::WorkflowExecutionStatus status) {
    ex.ms().set_status(status);
    ToProto(Now(), ex.ms().mutable_close_time());
    ex.ms().clear_workflow_task();
    ex.ms().clear_activities();
    ex.ms().clear_timers();
    ex.ms().clear_sticky_task_queue();
    txn.Touch(&ex);
    txn.after.push_back([this, &ex] { AbortUpdates(ex); });
  }

  // Takes `done` by value: callers hand it over (it must run exactly once).
  void Reply(std::unique_lock<EngineMutex>& lock,
             Done done,  // NOLINT(performance-unnecessary-value-param)
             absl::Status status) {
    lock.unlock();
    done(std::move(status));
  }

  // ---- activities ----
  void ScheduleActivity(Txn& txn, Execution& ex,
                        const cmdv1::ScheduleActivityTaskCommandAttributes& a,
                        int64_t completed_id) {
    using std::chrono::nanoseconds;
    nanoseconds s2c = FromProto(a.schedule_to_close_timeout());
    nanoseconds s2s = FromProto(a.schedule_to_start_timeout());
    nanoseconds st2c = FromProto(a.start_to_close_timeout());
    nanoseconds hb = FromProto(a.heartbeat_timeout());
    nanoseconds run = FromProto(ex.ms().run_timeout());
    // The real server's normalization (validateActivityScheduleAttributes).
    if (run.count() > 0 && (s2c.count() <= 0 || s2c > run)) s2c = run;
    if (s2c.count() > 0) {
      if (s2s.count() <= 0 || s2s > s2c) s2s = s2c;
      if (st2c.count() <= 0 || st2c > s2c) st2c = s2c;
    } else if (st2c.count() > 0) {
      // No overall limit: schedule-to-start stays unlimited unless given.
    }
    if (hb > st2c && st2c.count() > 0) hb = st2c;

    hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    auto* ea = e.mutable_activity_task_scheduled_event_attributes();
    ea->set_activity_id(a.activity_id());
    *ea->mutable_activity_type() = a.activity_type();
    std::string queue =
        a.task_queue().name().empty() ? ex.ms().task_queue() : a.task_queue().name();
    ea->mutable_task_queue()->set_name(queue);
    ea->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
    if (a.has_header()) *ea->mutable_header() = a.header();
    if (a.has_input()) *ea->mutable_input() = a.input();
    ToProto(s2c, ea->mutable_schedule_to_close_timeout());
    ToProto(s2s, ea->mutable_schedule_to_start_timeout());
    ToProto(st2c, ea->mutable_start_to_close_timeout());
    ToProto(hb, ea->mutable_heartbeat_timeout());
    ea->set_workflow_task_completed_event_id(completed_id);
    cv1::RetryPolicy rp = a.retry_policy();
    if (!IsSet(rp.initial_interval())) rp.mutable_initial_interval()->set_seconds(1);
    if (rp.backoff_coefficient() == 0) rp.set_backoff_coefficient(2.0);
    if (!IsSet(rp.maximum_interval())) {
      ToProto(FromProto(rp.initial_interval()) * 100, rp.mutable_maximum_interval());
    }
    *ea->mutable_retry_policy() = rp;
    ea->set_use_workflow_build_id(a.use_workflow_build_id());
    if (a.has_priority()) *ea->mutable_priority() = a.priority();

    st::ActivityInfo& ai = (*ex.ms().mutable_activities())[e.event_id()];
    ai.set_scheduled_event_id(e.event_id());
    ai.set_activity_id(a.activity_id());
    ai.set_activity_type(a.activity_type().name());
    ai.set_task_queue(queue);
    ai.set_attempt(1);
    ToProto(Now(), ai.mutable_scheduled_time());
    *ai.mutable_current_attempt_scheduled_time() = ai.scheduled_time();
    *ai.mutable_schedule_to_close_timeout() = ea->schedule_to_close_timeout();
    *ai.mutable_schedule_to_start_timeout() = ea->schedule_to_start_timeout();
    *ai.mutable_start_to_close_timeout() = ea->start_to_close_timeout();
    *ai.mutable_heartbeat_timeout() = ea->heartbeat_timeout();
    *ai.mutable_retry_policy() = rp;
    ai.set_start_version(NextVersion(ex));
    txn.Touch(&ex);
    if (a.request_eager_execution()) txn.eager_activities.push_back(e.event_id());
    // DispatchActivity does nothing for an activity started eagerly meanwhile.
    txn.dispatch.push_back([this, &ex, id = e.event_id()] {
      DispatchActivity(ex, id);
      ArmScheduleToCloseTimer(ex, id);
    });
  }

  st::ActivityInfo* FindActivity(Execution& ex, int64_t scheduled_event_id) {
    auto it = ex.ms().mutable_activities()->find(scheduled_event_id);
    return it == ex.ms().mutable_activities()->end() ? nullptr : &it->second;
  }

  void DispatchActivity(Execution& ex, int64_t scheduled_event_id) {
    st::ActivityInfo* ai = FindActivity(ex, scheduled_event_id);
    if (!ai || ex.closed() || IsSet(ai->started_time())) return;
    int64_t version = ai->start_version();
    auto s2s = FromProto(ai->schedule_to_start_timeout());
    if (s2s.count() > 0) {
      ScheduleRunTimer(ex, Now() + std::chrono::duration_cast<TimePoint::duration>(s2s),
                       [this, id = scheduled_event_id, version](Execution& ex) {
                         ActivityTimeout(ex, id, version, ev1::TIMEOUT_TYPE_SCHEDULE_TO_START);
                       });
    }
    Dispatch(ai->task_queue(), true,
             QueuedTask{ex.ns_id(), ex.ms().run_id(), version, scheduled_event_id, ""});
  }

  void ArmScheduleToCloseTimer(Execution& ex, int64_t scheduled_event_id) {
    st::ActivityInfo* ai = FindActivity(ex, scheduled_event_id);
    if (!ai) return;
    auto s2c = FromProto(ai->schedule_to_close_timeout());
    if (s2c.count() <= 0) return;
    ScheduleRunTimer(
        ex, FromProto(ai->scheduled_time()) + std::chrono::duration_cast<TimePoint::duration>(s2c),
        [this, scheduled_event_id](Execution& ex) {
          ActivityTimeout(ex, scheduled_event_id, -1, ev1::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
        });
  }

  // Runs `fn` under the lock at `when` if the run still exists and is open.
  // (A parked run's timers are much of what it costs the server in memory:
  // they name it by serial, and hold `fn` directly; keep its captures small.)
  template <typename Fn>
  void ScheduleRunTimer(Execution& ex, TimePoint when, Fn fn) {
    timers_.Schedule(when, [this, serial = ex.serial, fn = std::move(fn)] {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      Execution* run = FindRunBySerial(serial);
      if (!run || run->closed()) return;
      fn(*run);
    });
  }
  // Gives a new or loaded run its serial and enters it in the run indexes
  // (DetachRun takes it out of them).
  void IndexRun(std::unique_ptr<Execution> owned, const std::string& ns_id,
                const std::string& run_id) {
    Execution* ex = owned.get();
    ex->serial = next_run_serial_++;
    start_order_.push_back(ex);
    runs_by_serial_.emplace(ex->serial, ex);
    executions_.emplace(RunKey(ns_id, run_id), std::move(owned));
  }
  // Makes `timer_id` the run's workflow-task timer, cancelling the one before.
  void SetWftTimer(Execution& ex, uint64_t timer_id) {
    if (ex.wft_timer_id != 0) timers_.Cancel(ex.wft_timer_id);
    ex.wft_timer_id = timer_id;
  }
  Execution* FindRunBySerial(uint64_t serial) const {
    auto it = runs_by_serial_.find(serial);
    return it == runs_by_serial_.end() ? nullptr : it->second;
  }

  bool StartActivityTask(Poller& poller, Execution& ex, const QueuedTask& task) {
    st::ActivityInfo* ai = FindActivity(ex, task.scheduled_event_id);
    if (ex.closed() || !ai || ai->start_version() != task.version || IsSet(ai->started_time()) ||
        IsSet(ai->retry_at())) {
      return false;
    }
    Txn txn;
    MarkActivityStarted(txn, ex, *ai, poller.identity,
                        static_cast<wsv1::PollActivityTaskQueueResponse*>(poller.resp));
    RecordTaskStarted(txn, std::move(poller.done));
    return true;
  }

  // Starts a scheduled activity for the worker `identity` (in `txn`) and
  // fills the task it gets: from a poll, or eagerly in the reply to the
  // workflow task completion that scheduled it.
  void MarkActivityStarted(Txn& txn, Execution& ex, st::ActivityInfo& ai,
                           const std::string& identity, wsv1::PollActivityTaskQueueResponse* resp) {
    ToProto(Now(), ai.mutable_started_time());
    ai.set_started_identity(identity);
    ai.set_last_worker_identity(identity);
    ai.set_started_request_id(NewUuid());
    ai.set_start_version(NextVersion(ex));
    ai.clear_last_heartbeat_time();
    const hv1::HistoryEvent& se = ex.history()[ai.scheduled_event_id() - 1];
    const auto& sa = se.activity_task_scheduled_event_attributes();
    resp->set_task_token(MakeToken(ex, st::TaskToken::KIND_ACTIVITY, ai.scheduled_event_id(),
                                   ai.attempt(), 0, ai.start_version(), ai.activity_id()));
    resp->set_workflow_namespace(namespaces_.at(ex.ns_id()).name());
    resp->mutable_workflow_type()->set_name(ex.ms().workflow_type());
    resp->mutable_workflow_execution()->set_workflow_id(ex.ms().workflow_id());
    resp->mutable_workflow_execution()->set_run_id(ex.ms().run_id());
    *resp->mutable_activity_type() = sa.activity_type();
    resp->set_activity_id(ai.activity_id());
    if (sa.has_header()) *resp->mutable_header() = sa.header();
    if (sa.has_input()) *resp->mutable_input() = sa.input();
    if (ai.has_heartbeat_details()) *resp->mutable_heartbeat_details() = ai.heartbeat_details();
    *resp->mutable_scheduled_time() = ai.scheduled_time();
    *resp->mutable_current_attempt_scheduled_time() = ai.current_attempt_scheduled_time();
    *resp->mutable_started_time() = ai.started_time();
    resp->set_attempt(ai.attempt());
    *resp->mutable_schedule_to_close_timeout() = ai.schedule_to_close_timeout();
    *resp->mutable_start_to_close_timeout() = ai.start_to_close_timeout();
    *resp->mutable_heartbeat_timeout() = ai.heartbeat_timeout();
    *resp->mutable_retry_policy() = ai.retry_policy();
    if (sa.has_priority()) *resp->mutable_priority() = sa.priority();
    txn.Touch(&ex);
    txn.after.push_back(
        [this, &ex, id = ai.scheduled_event_id()] { ArmStartedActivityTimers(ex, id); });
  }

  // Eager activity execution (the real server's default,
  // system.enableActivityEagerExecution): activities whose command asked for
  // it start at once for the worker completing the task, which gets them in
  // RespondWorkflowTaskCompletedResponse.activity_tasks instead of polling.
  // Not when the workflow closed in the same task or the activity was
  // cancelled in it.
  void StartEagerActivities(Txn& txn, Execution& ex, const std::string& identity,
                            wsv1::RespondWorkflowTaskCompletedResponse* resp) {
    if (ex.closed()) return;
    for (int64_t id : txn.eager_activities) {
      st::ActivityInfo* ai = FindActivity(ex, id);
      if (!ai || IsSet(ai->started_time())) continue;
      MarkActivityStarted(txn, ex, *ai, identity, resp->add_activity_tasks());
      ++eager_activities_;
    }
  }

  void ArmStartedActivityTimers(Execution& ex, int64_t id) {
    st::ActivityInfo* ai = FindActivity(ex, id);
    if (!ai || !IsSet(ai->started_time())) return;
    int64_t version = ai->start_version();
    auto st2c = FromProto(ai->start_to_close_timeout());
    if (st2c.count() > 0) {
      ScheduleRunTimer(
          ex, FromProto(ai->started_time()) + std::chrono::duration_cast<TimePoint::duration>(st2c),
          [this, id, version](Execution& ex) {
            ActivityTimeout(ex, id, version, ev1::TIMEOUT_TYPE_START_TO_CLOSE);
          });
    }
    ArmHeartbeatTimer(ex, *ai);
  }

  void ArmHeartbeatTimer(Execution& ex, const st::ActivityInfo& ai) {
    auto hb = FromProto(ai.heartbeat_timeout());
    if (hb.count() <= 0) return;
    TimePoint last = IsSet(ai.last_heartbeat_time()) ? FromProto(ai.last_heartbeat_time())
                                                     : FromProto(ai.started_time());
    ScheduleRunTimer(ex, last + std::chrono::duration_cast<TimePoint::duration>(hb),
                     [this, id = ai.scheduled_event_id(), version = ai.start_version()](
                         Execution& ex) { HeartbeatTimeout(ex, id, version); });
  }

  void HeartbeatTimeout(Execution& ex, int64_t id, int64_t version) {
    st::ActivityInfo* ai = FindActivity(ex, id);
    if (!ai || ai->start_version() != version || !IsSet(ai->started_time())) return;
    TimePoint last = IsSet(ai->last_heartbeat_time()) ? FromProto(ai->last_heartbeat_time())
                                                      : FromProto(ai->started_time());
    auto hb = std::chrono::duration_cast<TimePoint::duration>(FromProto(ai->heartbeat_timeout()));
    if (Now() < last + hb) {
      ArmHeartbeatTimer(ex, *ai);  // a heartbeat came in since this was armed
      return;
    }
    ActivityTimeout(ex, id, version, ev1::TIMEOUT_TYPE_HEARTBEAT);
  }

  static const char* TimeoutName(ev1::TimeoutType t) {
    switch (t) {
      case ev1::TIMEOUT_TYPE_START_TO_CLOSE:
        return "StartToClose";
      case ev1::TIMEOUT_TYPE_SCHEDULE_TO_START:
        return "ScheduleToStart";
      case ev1::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
        return "ScheduleToClose";
      case ev1::TIMEOUT_TYPE_HEARTBEAT:
        return "Heartbeat";
      default:
        return "Unspecified";
    }
  }

  // version -1: not tied to one attempt (schedule-to-close).
  void ActivityTimeout(Execution& ex, int64_t id, int64_t version, ev1::TimeoutType type) {
    st::ActivityInfo* ai = FindActivity(ex, id);
    if (!ai || (version >= 0 && ai->start_version() != version)) return;
    if (type == ev1::TIMEOUT_TYPE_SCHEDULE_TO_START && IsSet(ai->started_time())) return;
    if ((type == ev1::TIMEOUT_TYPE_START_TO_CLOSE || type == ev1::TIMEOUT_TYPE_HEARTBEAT) &&
        !IsSet(ai->started_time())) {
      return;
    }
    fv1::Failure failure;
    failure.set_message(absl::StrCat("activity ", TimeoutName(type), " timeout"));
    failure.set_source("Server");
    auto* ti = failure.mutable_timeout_failure_info();
    ti->set_timeout_type(type);
    if (ai->has_heartbeat_details())
      *ti->mutable_last_heartbeat_details() = ai->heartbeat_details();
    Txn txn;
    FailOrRetryActivity(txn, ex, *ai, failure, type, ai->last_worker_identity());
    Commit(txn, nullptr);
  }

  // Retries per the activity's policy, or records the final outcome.
  void FailOrRetryActivity(Txn& txn, Execution& ex, st::ActivityInfo& ai,
                           const fv1::Failure& failure, ev1::TimeoutType timeout,
                           const std::string& identity) {
    txn.Touch(&ex);
    std::chrono::nanoseconds delay{0};
    ev1::RetryState state = DecideRetry(ai, failure, timeout, &delay);
    if (state == ev1::RETRY_STATE_IN_PROGRESS) {
      ai.set_attempt(ai.attempt() + 1);
      *ai.mutable_last_failure() = failure;
      ai.clear_started_time();
      ai.clear_last_heartbeat_time();
      ai.set_start_version(NextVersion(ex));
      TimePoint at = Now() + std::chrono::duration_cast<TimePoint::duration>(delay);
      ToProto(at, ai.mutable_retry_at());
      ToProto(at, ai.mutable_current_attempt_scheduled_time());
      txn.after.push_back([this, &ex, id = ai.scheduled_event_id(), at] { ArmRetry(ex, id, at); });
      return;
    }
    const int64_t id = ai.scheduled_event_id();
    const bool started = IsSet(ai.started_time());
    int64_t started_id = started ? AddActivityStarted(ex, ai, &failure) : 0;
    if (timeout != ev1::TIMEOUT_TYPE_UNSPECIFIED) {
      hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      auto* a = e.mutable_activity_task_timed_out_event_attributes();
      *a->mutable_failure() = failure;
      a->set_scheduled_event_id(id);
      a->set_started_event_id(started_id);
      a->set_retry_state(state);
    } else {
      hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_FAILED);
      auto* a = e.mutable_activity_task_failed_event_attributes();
      *a->mutable_failure() = failure;
      a->set_scheduled_event_id(id);
      a->set_started_event_id(started_id);
      a->set_identity(identity);
      a->set_retry_state(state);
    }
    ex.ms().mutable_activities()->erase(id);
    ScheduleWorkflowTask(txn, ex);
  }

  void ArmRetry(Execution& ex, int64_t id, TimePoint at) {
    ScheduleRunTimer(ex, at, [this, id](Execution& ex) {
      st::ActivityInfo* ai = FindActivity(ex, id);
      if (!ai || !IsSet(ai->retry_at())) return;
      ai->clear_retry_at();
      Txn txn;
      txn.Touch(&ex);
      txn.dispatch.push_back([this, &ex, id] { DispatchActivity(ex, id); });
      Commit(txn, nullptr);
    });
  }

  // ActivityTaskStarted is written only when the activity ends (with the
  // final attempt), as the real server does. Returns its id, or
  // kPendingStartedId while buffered.
  int64_t AddActivityStarted(Execution& ex, const st::ActivityInfo& ai,
                             const fv1::Failure* failure) {
    hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_STARTED);
    auto* a = e.mutable_activity_task_started_event_attributes();
    a->set_scheduled_event_id(ai.scheduled_event_id());
    a->set_identity(ai.started_identity());
    a->set_request_id(ai.started_request_id());
    a->set_attempt(ai.attempt());
    if (ai.has_last_failure()) *a->mutable_last_failure() = ai.last_failure();
    (void)failure;
    return Buffering(ex) ? kPendingStartedId : e.event_id();
  }

  // A workflow's own retry policy (the start request's), applied to a failed run.
  ev1::RetryState DecideWorkflowRetry(const Execution& ex, const fv1::Failure& failure,
                                      std::chrono::nanoseconds* delay) {
    if (!ex.ms().has_retry_policy()) return ev1::RETRY_STATE_RETRY_POLICY_NOT_SET;
    cv1::RetryPolicy rp = ex.ms().retry_policy();
    if (!IsSet(rp.initial_interval())) rp.mutable_initial_interval()->set_seconds(1);
    if (rp.backoff_coefficient() == 0) rp.set_backoff_coefficient(2.0);
    if (!IsSet(rp.maximum_interval()))
      ToProto(FromProto(rp.initial_interval()) * 100, rp.mutable_maximum_interval());
    st::ActivityInfo pseudo;
    *pseudo.mutable_retry_policy() = rp;
    pseudo.set_attempt(ex.ms().attempt());
    *pseudo.mutable_scheduled_time() = ex.ms().start_time();
    if (IsSet(ex.ms().execution_expiration_time())) {
      ToProto(FromProto(ex.ms().execution_expiration_time()) - FromProto(ex.ms().start_time()),
              pseudo.mutable_schedule_to_close_timeout());
    }
    return DecideRetry(pseudo, failure, ev1::TIMEOUT_TYPE_UNSPECIFIED, delay);
  }

  Execution& RetryRun(Txn& txn, Execution& prev, const fv1::Failure* failure,
                      std::chrono::nanoseconds backoff) {
    const auto& started = prev.history().front().workflow_execution_started_event_attributes();
    wsv1::StartWorkflowExecutionRequest req;
    req.set_workflow_id(prev.ms().workflow_id());
    req.mutable_workflow_type()->set_name(prev.ms().workflow_type());
    req.mutable_task_queue()->set_name(prev.ms().task_queue());
    if (started.has_input()) *req.mutable_input() = started.input();
    if (started.has_header()) *req.mutable_header() = started.header();
    *req.mutable_workflow_execution_timeout() = prev.ms().execution_timeout();
    *req.mutable_workflow_run_timeout() = prev.ms().run_timeout();
    *req.mutable_workflow_task_timeout() = prev.ms().workflow_task_timeout();
    if (prev.ms().has_retry_policy()) *req.mutable_retry_policy() = prev.ms().retry_policy();
    if (prev.ms().has_memo()) *req.mutable_memo() = prev.ms().memo();
    if (prev.ms().has_search_attributes())
      *req.mutable_search_attributes() = prev.ms().search_attributes();
    req.set_identity(started.identity());
    Continuation cont;
    cont.previous = &prev;
    cont.initiator = ev1::CONTINUE_AS_NEW_INITIATOR_RETRY;
    cont.failure = failure;
    cont.backoff = backoff;
    Execution& next = CreateExecution(txn, namespaces_.at(prev.ns_id()), req, &cont);
    ScheduleFirstWorkflowTask(txn, next);
    return next;
  }

  // The workflow closes this run and starts the next one of its chain: same
  // workflow id, attempt 1, unset attributes taken from the current run (as
  // the real server fills them in).
  void ContinueAsNew(Txn& txn, Execution& prev,
                     const cmdv1::ContinueAsNewWorkflowExecutionCommandAttributes& a,
                     int64_t completed_id) {
    wsv1::StartWorkflowExecutionRequest req;
    req.set_workflow_id(prev.ms().workflow_id());
    req.mutable_workflow_type()->set_name(
        a.workflow_type().name().empty() ? prev.ms().workflow_type() : a.workflow_type().name());
    req.mutable_task_queue()->set_name(a.task_queue().name().empty() ? prev.ms().task_queue()
                                                                     : a.task_queue().name());
    if (a.has_input()) *req.mutable_input() = a.input();
    if (a.has_header()) *req.mutable_header() = a.header();
    *req.mutable_workflow_execution_timeout() = prev.ms().execution_timeout();
    *req.mutable_workflow_run_timeout() =
        IsSet(a.workflow_run_timeout()) ? a.workflow_run_timeout() : prev.ms().run_timeout();
    *req.mutable_workflow_task_timeout() = IsSet(a.workflow_task_timeout())
                                               ? a.workflow_task_timeout()
                                               : prev.ms().workflow_task_timeout();
    if (a.has_retry_policy()) {
      *req.mutable_retry_policy() = a.retry_policy();
    } else if (prev.ms().has_retry_policy()) {
      *req.mutable_retry_policy() = prev.ms().retry_policy();
    }
    if (a.has_memo()) {
      *req.mutable_memo() = a.memo();
    } else if (prev.ms().has_memo()) {
      *req.mutable_memo() = prev.ms().memo();
    }
    if (a.has_search_attributes()) {
      *req.mutable_search_attributes() = a.search_attributes();
    } else if (prev.ms().has_search_attributes()) {
      *req.mutable_search_attributes() = prev.ms().search_attributes();
    }
    req.set_identity(
        prev.history().front().workflow_execution_started_event_attributes().identity());

    hv1::HistoryEvent& e = AppendEvent(prev, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    const int64_t closing_index = static_cast<int64_t>(prev.history().size()) - 1;
    {
      auto* ea = e.mutable_workflow_execution_continued_as_new_event_attributes();
      *ea->mutable_workflow_type() = req.workflow_type();
      ea->mutable_task_queue()->set_name(req.task_queue().name());
      ea->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
      if (a.has_input()) *ea->mutable_input() = a.input();
      *ea->mutable_workflow_run_timeout() = req.workflow_run_timeout();
      *ea->mutable_workflow_task_timeout() = req.workflow_task_timeout();
      ea->set_workflow_task_completed_event_id(completed_id);
      *ea->mutable_backoff_start_interval() = a.backoff_start_interval();
      ea->set_initiator(ev1::CONTINUE_AS_NEW_INITIATOR_WORKFLOW);
      if (a.has_failure()) *ea->mutable_failure() = a.failure();
      if (a.has_last_completion_result())
        *ea->mutable_last_completion_result() = a.last_completion_result();
      if (a.has_header()) *ea->mutable_header() = a.header();
      if (req.has_memo()) *ea->mutable_memo() = req.memo();
      if (req.has_search_attributes()) *ea->mutable_search_attributes() = req.search_attributes();
    }
    Close(txn, prev, ev1::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);

    Continuation cont;
    cont.previous = &prev;
    cont.initiator = ev1::CONTINUE_AS_NEW_INITIATOR_WORKFLOW;
    cont.backoff = FromProto(a.backoff_start_interval());
    cont.restart_attempts = true;
    if (a.has_last_completion_result()) cont.last_completion_result = &a.last_completion_result();
    Execution& next = CreateExecution(txn, namespaces_.at(prev.ns_id()), req, &cont);
    ScheduleFirstWorkflowTask(txn, next);
    prev.history()[closing_index]
        .mutable_workflow_execution_continued_as_new_event_attributes()
        ->set_new_execution_run_id(next.ms().run_id());
    prev.ms().set_new_execution_run_id(next.ms().run_id());
  }

  ev1::RetryState DecideRetry(const st::ActivityInfo& ai, const fv1::Failure& failure,
                              ev1::TimeoutType timeout, std::chrono::nanoseconds* delay) {
    const cv1::RetryPolicy& rp = ai.retry_policy();
    if (timeout == ev1::TIMEOUT_TYPE_SCHEDULE_TO_START ||
        timeout == ev1::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE) {
      return ev1::RETRY_STATE_TIMEOUT;
    }
    if (failure.has_application_failure_info()) {
      const auto& info = failure.application_failure_info();
      if (info.non_retryable()) return ev1::RETRY_STATE_NON_RETRYABLE_FAILURE;
      for (const auto& t : rp.non_retryable_error_types()) {
        if (t == info.type()) return ev1::RETRY_STATE_NON_RETRYABLE_FAILURE;
      }
    }
    if (rp.maximum_attempts() > 0 && ai.attempt() >= rp.maximum_attempts()) {
      return ev1::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    }
    std::chrono::nanoseconds d;
    if (failure.has_application_failure_info() &&
        IsSet(failure.application_failure_info().next_retry_delay())) {
      d = FromProto(failure.application_failure_info().next_retry_delay());
    } else {
      double base = static_cast<double>(FromProto(rp.initial_interval()).count());
      double v = base * std::pow(rp.backoff_coefficient(), ai.attempt() - 1);
      double cap = static_cast<double>(FromProto(rp.maximum_interval()).count());
      if (cap > 0 && v > cap) v = cap;
      d = std::chrono::nanoseconds(static_cast<int64_t>(v));
    }
    auto s2c = FromProto(ai.schedule_to_close_timeout());
    if (s2c.count() > 0 &&
        Now() + std::chrono::duration_cast<TimePoint::duration>(d) >=
            FromProto(ai.scheduled_time()) + std::chrono::duration_cast<TimePoint::duration>(s2c)) {
      return ev1::RETRY_STATE_TIMEOUT;
    }
    *delay = d;
    return ev1::RETRY_STATE_IN_PROGRESS;
  }

  bool RequestCancelActivity(Txn& txn, Execution& ex, int64_t id, int64_t completed_id,
                             const std::string& identity) {
    st::ActivityInfo* ai = FindActivity(ex, id);
    if (!ai) return false;
    hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
    auto* a = e.mutable_activity_task_cancel_requested_event_attributes();
    a->set_scheduled_event_id(id);
    a->set_workflow_task_completed_event_id(completed_id);
    const int64_t requested_id = e.event_id();
    txn.Touch(&ex);
    if (!IsSet(ai->started_time())) {
      // Never started: cancelled on the spot, and the workflow hears of it.
      hv1::HistoryEvent& c = AppendEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
      auto* ca = c.mutable_activity_task_canceled_event_attributes();
      ca->set_scheduled_event_id(id);
      ca->set_latest_cancel_requested_event_id(requested_id);
      ca->set_identity(identity);
      ex.ms().mutable_activities()->erase(id);
      return true;
    }
    ai->set_cancel_requested(true);
    ai->set_cancel_requested_event_id(requested_id);
    return false;
  }

  absl::StatusOr<std::pair<Execution*, st::ActivityInfo*>> FindStartedActivity(
      const std::string& token_bytes, const std::string& ns) {
    auto parsed = ParseToken(token_bytes, ns);
    if (!parsed.ok()) return parsed.status();
    auto& [ex, token] = *parsed;
    if (token.kind() != st::TaskToken::KIND_ACTIVITY) {
      return InvalidArgumentError("Task token is not an activity task token.");
    }
    if (ex->closed()) return WorkflowNotFoundError("workflow execution already completed");
    st::ActivityInfo* ai = FindActivity(*ex, token.scheduled_event_id());
    if (!ai || ai->start_version() != token.start_version() || !IsSet(ai->started_time())) {
      return WorkflowNotFoundError("Activity task not found.");
    }
    return std::make_pair(ex, ai);
  }

  absl::StatusOr<std::pair<Execution*, st::ActivityInfo*>> FindActivityById(
      const std::string& ns_name, const std::string& workflow_id, const std::string& run_id,
      const std::string& activity_id) {
    auto ns = FindNamespace(ns_name);
    if (!ns.ok()) return ns.status();
    if (activity_id.empty()) return InvalidArgumentError("ActivityId is not set on request.");
    cv1::WorkflowExecution we;
    we.set_workflow_id(workflow_id);
    we.set_run_id(run_id);
    auto ex = FindOpenExecution((*ns)->id, we);
    if (!ex.ok()) return ex.status();
    for (auto& [id, ai] : *(*ex)->ms().mutable_activities()) {
      if (ai.activity_id() == activity_id) {
        if (!IsSet(ai.started_time())) return WorkflowNotFoundError("Activity task not started.");
        return std::make_pair(*ex, &ai);
      }
    }
    return WorkflowNotFoundError("Activity task not found.");
  }

  void CompleteActivity(Execution& ex, st::ActivityInfo& ai, const cv1::Payloads* result,
                        const std::string& identity, Done done) {
    Txn txn;
    txn.Touch(&ex);
    const int64_t id = ai.scheduled_event_id();
    int64_t started_id = AddActivityStarted(ex, ai, nullptr);
    hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    auto* a = e.mutable_activity_task_completed_event_attributes();
    if (result) *a->mutable_result() = *result;
    a->set_scheduled_event_id(id);
    a->set_started_event_id(started_id);
    a->set_identity(identity);
    ex.ms().mutable_activities()->erase(id);
    ScheduleWorkflowTask(txn, ex);
    Commit(txn, std::move(done));
  }

  void CancelActivity(Execution& ex, st::ActivityInfo& ai, const cv1::Payloads* details,
                      const std::string& identity, Done done) {
    Txn txn;
    txn.Touch(&ex);
    const int64_t id = ai.scheduled_event_id();
    const int64_t requested = ai.cancel_requested_event_id();
    int64_t started_id = AddActivityStarted(ex, ai, nullptr);
    hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    auto* a = e.mutable_activity_task_canceled_event_attributes();
    if (details) *a->mutable_details() = *details;
    a->set_latest_cancel_requested_event_id(requested);
    a->set_scheduled_event_id(id);
    a->set_started_event_id(started_id);
    a->set_identity(identity);
    ex.ms().mutable_activities()->erase(id);
    ScheduleWorkflowTask(txn, ex);
    Commit(txn, std::move(done));
  }

  void FailActivity(Execution& ex, st::ActivityInfo& ai, const fv1::Failure& failure,
                    const cv1::Payloads* last_details, const std::string& identity, Done done) {
    if (last_details) *ai.mutable_heartbeat_details() = *last_details;
    Txn txn;
    FailOrRetryActivity(txn, ex, ai, failure, ev1::TIMEOUT_TYPE_UNSPECIFIED, identity);
    Commit(txn, std::move(done));
  }

  void Heartbeat(Execution& ex, st::ActivityInfo& ai, const cv1::Payloads* details, Done done) {
    if (details) *ai.mutable_heartbeat_details() = *details;
    ToProto(Now(), ai.mutable_last_heartbeat_time());
    Txn txn;
    txn.Touch(&ex);
    Commit(txn, std::move(done));
  }

  // ---- user timers ----
  void ArmUserTimer(Execution& ex, const st::TimerInfo& ti) {
    // The closure names only the run (16 bytes: std::function keeps it
    // inline, so a parked run's timer costs no allocation of its own, which
    // would land among short-lived ones and pin their pages). When it runs, it
    // fires every user timer of the run that is due by then.
    timers_.Schedule(FromProto(ti.expiry()),
                     [this, serial = ex.serial] { FireDueUserTimers(serial); });
  }
  void FireDueUserTimers(uint64_t serial) {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    Execution* run = FindRunBySerial(serial);
    if (!run || run->closed()) return;
    const TimePoint now = Now();
    auto is_due = [now](const st::TimerInfo& t) { return FromProto(t.expiry()) <= now; };
    {
      // Cancelled and already fired timers leave their closure behind: look
      // without thawing a frozen run first.
      const auto& timers = run->ms_view().timers();
      if (std::none_of(timers.begin(), timers.end(),
                       [&](const auto& entry) { return is_due(entry.second); })) {
        return;
      }
    }
    Execution& ex = *run;
    std::vector<st::TimerInfo> due;
    for (const auto& [id, t] : ex.ms().timers()) {
      if (is_due(t)) due.push_back(t);
    }
    std::sort(due.begin(), due.end(), [](const st::TimerInfo& a, const st::TimerInfo& b) {
      return std::make_pair(FromProto(a.expiry()), a.started_event_id()) <
             std::make_pair(FromProto(b.expiry()), b.started_event_id());
    });
    Txn txn;
    txn.Touch(&ex);
    for (const st::TimerInfo& t : due) {
      ex.ms().mutable_timers()->erase(t.timer_id());
      hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_TIMER_FIRED);
      e.mutable_timer_fired_event_attributes()->set_timer_id(t.timer_id());
      e.mutable_timer_fired_event_attributes()->set_started_event_id(t.started_event_id());
    }
    ScheduleWorkflowTask(txn, ex);
    Commit(txn, nullptr);
  }

  // ---- start ----
  absl::Status ValidateStart(const wsv1::StartWorkflowExecutionRequest& req) {
    if (req.workflow_id().empty()) return InvalidArgumentError("WorkflowId is not set on request.");
    if (req.workflow_id().size() > kMaxIdLength)
      return InvalidArgumentError("WorkflowId exceeds length limit.");
    if (req.workflow_type().name().empty())
      return InvalidArgumentError("WorkflowType is not set on request.");
    if (req.task_queue().name().empty())
      return InvalidArgumentError("TaskQueue is not set on request.");
    if (req.workflow_execution_timeout().seconds() < 0 ||
        req.workflow_run_timeout().seconds() < 0 || req.workflow_task_timeout().seconds() < 0)
      return InvalidArgumentError("Invalid WorkflowExecutionTimeout/RunTimeout/TaskTimeout.");
    if (req.request_id().size() > kMaxIdLength)
      return InvalidArgumentError("RequestId exceeds length limit.");
    if (PayloadsSize(req.input()) > options_.blob_size_limit)
      return InvalidArgumentError("Blob data size exceeds limit.");
    return absl::OkStatus();
  }

  // Applies id reuse/conflict policy against the current run. Returns the
  // run to use instead (existing), nullptr to start a new one, or an error.
  absl::StatusOr<Execution*> CheckExisting(Txn& txn, const std::string& ns_id,
                                           const wsv1::StartWorkflowExecutionRequest& req) {
    Execution* cur = CurrentRun(ns_id, req.workflow_id());
    if (!cur) return nullptr;
    if (!req.request_id().empty() && cur->ms().start_request_id() == req.request_id()) return cur;
    if (!cur->closed()) {
      auto conflict = req.workflow_id_conflict_policy();
      if (req.workflow_id_reuse_policy() == ev1::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING)
        conflict = ev1::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING;
      switch (conflict) {
        case ev1::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING:
          return cur;
        case ev1::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING:
          Terminate(txn, *cur, "terminated by new start (WorkflowIdConflictPolicy)", nullptr,
                    req.identity());
          return nullptr;
        default:
          return WorkflowAlreadyStartedError(
              absl::StrCat("Workflow execution is already running. WorkflowId: ", req.workflow_id(),
                           ", RunId: ", cur->ms().run_id(), "."),
              cur->ms().start_request_id(), cur->ms().run_id());
      }
    }
    switch (req.workflow_id_reuse_policy()) {
      case ev1::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE:
        return WorkflowAlreadyStartedError(
            absl::StrCat("Workflow execution already finished and WorkflowIdReusePolicy is "
                         "REJECT_DUPLICATE. WorkflowId: ",
                         req.workflow_id(), ", RunId: ", cur->ms().run_id(), "."),
            cur->ms().start_request_id(), cur->ms().run_id());
      case ev1::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY:
        if (cur->ms().status() == ev1::WORKFLOW_EXECUTION_STATUS_COMPLETED) {
          return WorkflowAlreadyStartedError(
              absl::StrCat("Workflow execution already finished successfully. WorkflowId: ",
                           req.workflow_id(), ", RunId: ", cur->ms().run_id(),
                           ". Workflow Id reuse policy: allow duplicate workflow Id if last run "
                           "failed."),
              cur->ms().start_request_id(), cur->ms().run_id());
        }
        return nullptr;
      default:
        return nullptr;
    }
  }

  // A run that continues an earlier one (workflow retry).
  struct Continuation {
    const Execution* previous = nullptr;
    ev1::ContinueAsNewInitiator initiator = ev1::CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED;
    const fv1::Failure* failure = nullptr;
    const cv1::Payloads* last_completion_result = nullptr;
    std::chrono::nanoseconds backoff{0};
    bool restart_attempts = false;  // continue-as-new: the new run is attempt 1
  };

  Execution& CreateExecution(Txn& txn, const Namespace& ns,
                             const wsv1::StartWorkflowExecutionRequest& req,
                             const Continuation* continuation = nullptr) {
    static const Continuation kNone;
    const Continuation& cont = continuation ? *continuation : kNone;
    auto owned = std::make_unique<Execution>(&execution_context_);
    Execution& ex = *owned;
    const std::string run_id = common::NewTimeOrderedUuid();
    st::MutableState& ms = ex.ms();
    ms.set_namespace_id(ns.id);
    ms.set_workflow_id(req.workflow_id());
    ms.set_run_id(run_id);
    ms.set_first_execution_run_id(cont.previous ? cont.previous->ms().first_execution_run_id()
                                                : run_id);
    ms.set_workflow_type(req.workflow_type().name());
    ms.set_task_queue(req.task_queue().name());
    ms.set_status(ev1::WORKFLOW_EXECUTION_STATUS_RUNNING);
    ms.set_next_event_id(1);
    ms.set_attempt(cont.previous && !cont.restart_attempts ? cont.previous->ms().attempt() + 1 : 1);
    ms.set_start_request_id(req.request_id());
    TimePoint now = Now();
    ToProto(now, ms.mutable_start_time());
    auto task_timeout = FromProto(req.workflow_task_timeout());
    if (task_timeout.count() <= 0) task_timeout = kDefaultWorkflowTaskTimeout;
    if (task_timeout > kMaxWorkflowTaskTimeout) task_timeout = kMaxWorkflowTaskTimeout;
    ToProto(task_timeout, ms.mutable_workflow_task_timeout());
    auto exec_timeout = FromProto(req.workflow_execution_timeout());
    auto run_timeout = FromProto(req.workflow_run_timeout());
    if (run_timeout.count() <= 0 || (exec_timeout.count() > 0 && run_timeout > exec_timeout))
      run_timeout = exec_timeout;
    ToProto(exec_timeout, ms.mutable_execution_timeout());
    ToProto(run_timeout, ms.mutable_run_timeout());
    if (run_timeout.count() > 0) {
      ToProto(now + std::chrono::duration_cast<TimePoint::duration>(run_timeout),
              ms.mutable_run_expiration_time());
    }
    if (exec_timeout.count() > 0) {
      ToProto(now + std::chrono::duration_cast<TimePoint::duration>(exec_timeout),
              ms.mutable_execution_expiration_time());
    }
    if (req.has_retry_policy()) *ms.mutable_retry_policy() = req.retry_policy();
    if (req.has_memo()) *ms.mutable_memo() = req.memo();
    if (req.has_search_attributes()) *ms.mutable_search_attributes() = req.search_attributes();
    auto delay = cont.previous ? cont.backoff : FromProto(req.workflow_start_delay());
    ToProto(now + std::chrono::duration_cast<TimePoint::duration>(delay),
            ms.mutable_execution_time());

    hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    auto* a = e.mutable_workflow_execution_started_event_attributes();
    *a->mutable_workflow_type() = req.workflow_type();
    a->mutable_task_queue()->set_name(req.task_queue().name());
    a->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
    if (req.has_input()) *a->mutable_input() = req.input();
    *a->mutable_workflow_execution_timeout() = ms.execution_timeout();
    *a->mutable_workflow_run_timeout() = ms.run_timeout();
    *a->mutable_workflow_task_timeout() = ms.workflow_task_timeout();
    a->set_identity(req.identity());
    a->set_original_execution_run_id(run_id);
    a->set_first_execution_run_id(ms.first_execution_run_id());
    a->set_attempt(ms.attempt());
    if (cont.previous) {
      a->set_continued_execution_run_id(cont.previous->ms().run_id());
      a->set_initiator(cont.initiator);
      if (cont.failure) *a->mutable_continued_failure() = *cont.failure;
      if (cont.last_completion_result)
        *a->mutable_last_completion_result() = *cont.last_completion_result;
      // The execution timeout spans all runs of the chain.
      if (IsSet(cont.previous->ms().execution_expiration_time())) {
        *ms.mutable_execution_expiration_time() = cont.previous->ms().execution_expiration_time();
      }
    }
    if (ms.has_execution_expiration_time())
      *a->mutable_workflow_execution_expiration_time() = ms.execution_expiration_time();
    ToProto(delay, a->mutable_first_workflow_task_backoff());
    if (req.has_memo()) *a->mutable_memo() = req.memo();
    if (req.has_search_attributes()) *a->mutable_search_attributes() = req.search_attributes();
    if (req.has_header()) *a->mutable_header() = req.header();
    if (req.has_retry_policy()) *a->mutable_retry_policy() = req.retry_policy();
    a->set_workflow_id(req.workflow_id());
    if (req.has_user_metadata()) *e.mutable_user_metadata() = req.user_metadata();
    if (req.has_priority()) *a->mutable_priority() = req.priority();

    txn.Touch(&ex);
    txn.current.push_back({ns.id, req.workflow_id(), run_id});
    SetCurrentRun(ns.id, req.workflow_id(), &ex);
    IndexRun(std::move(owned), ns.id, run_id);
    txn.after.push_back([this, &ex] { ArmRunTimeout(ex); });
    return ex;
  }

  // The first workflow task, now or after the start delay.
  void ScheduleFirstWorkflowTask(Txn& txn, Execution& ex) {
    TimePoint at = FromProto(ex.ms().execution_time());
    if (at <= Now()) {
      ScheduleWorkflowTask(txn, ex);
      return;
    }
    *ex.ms().mutable_first_workflow_task_at() = ex.ms().execution_time();
    txn.after.push_back([this, &ex] { ArmFirstWorkflowTask(ex); });
  }

  void ArmFirstWorkflowTask(Execution& ex) {
    ScheduleRunTimer(ex, FromProto(ex.ms().first_workflow_task_at()), [this](Execution& ex) {
      if (!IsSet(ex.ms().first_workflow_task_at())) return;
      ex.ms().clear_first_workflow_task_at();
      Txn txn;
      txn.Touch(&ex);
      ScheduleWorkflowTask(txn, ex);
      Commit(txn, nullptr);
    });
  }

  void ArmRunTimeout(Execution& ex) {
    if (!IsSet(ex.ms().run_expiration_time())) return;
    ScheduleRunTimer(ex, FromProto(ex.ms().run_expiration_time()), [this](Execution& ex) {
      Txn txn;
      ForceCloseWorkflowTask(txn, ex);
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT);
      e.mutable_workflow_execution_timed_out_event_attributes()->set_retry_state(
          ev1::RETRY_STATE_TIMEOUT);
      Close(txn, ex, ev1::WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
      Commit(txn, nullptr);
    });
  }

  // Before a server-side close (terminate, timeout): a started workflow task
  // is failed and buffered events are written.
  void ForceCloseWorkflowTask(Txn& txn, Execution& ex) {
    txn.Touch(&ex);
    const st::WorkflowTaskInfo wft = ex.ms().workflow_task();
    if (wft.started_event_id() != 0 && !wft.transient() && !wft.speculative()) {
      hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_TASK_FAILED);
      auto* a = e.mutable_workflow_task_failed_event_attributes();
      a->set_scheduled_event_id(wft.scheduled_event_id());
      a->set_started_event_id(wft.started_event_id());
      a->set_cause(ev1::WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND);
    }
    ex.ms().clear_workflow_task();
    FlushBuffered(ex);
  }

  void Terminate(Txn& txn, Execution& ex, const std::string& reason, const cv1::Payloads* details,
                 const std::string& identity) {
    ForceCloseWorkflowTask(txn, ex);
    hv1::HistoryEvent& e = AppendEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
    auto* a = e.mutable_workflow_execution_terminated_event_attributes();
    a->set_reason(reason);
    if (details) *a->mutable_details() = *details;
    a->set_identity(identity);
    Close(txn, ex, ev1::WORKFLOW_EXECUTION_STATUS_TERMINATED);
  }

  void AddSignal(Execution& ex, const std::string& name, const cv1::Payloads& input,
                 const std::string& identity, const cv1::Header* header,
                 const std::string& request_id) {
    hv1::HistoryEvent& e = NewEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    auto* a = e.mutable_workflow_execution_signaled_event_attributes();
    a->set_signal_name(name);
    *a->mutable_input() = input;
    a->set_identity(identity);
    if (header) *a->mutable_header() = *header;
    a->set_request_id(request_id);
    if (auto it = signal_windows_.find(ex.serial); it != signal_windows_.end())
      it->second.Add(SignalIdHash(request_id));  // as the window's build counts it
  }

  // A signal request already applied (a client's retry): its request id is on
  // its WorkflowExecutionSignaled event, as on the real server, among the last
  // kSignalDedupWindow signals. (Not in the mutable state, which is written
  // whole on every commit: 1,000 ids there made each signal write ~25 KB.)
  static constexpr size_t kSignalDedupWindow = 1000;
  // Hashes of the request ids of a run's last kSignalDedupWindow signals, so
  // that a new signal (the common case) is told apart without walking the
  // history's events (~16% of the server's CPU under a signal load). Derived
  // from the history on first use; dropped when the run freezes or goes.
  struct SignalWindow {
    std::vector<uint64_t> hashes;  // a ring once full
    size_t oldest = 0;
    void Add(uint64_t hash) {
      if (hashes.size() < kSignalDedupWindow) {
        hashes.push_back(hash);
        return;
      }
      hashes[oldest] = hash;
      oldest = (oldest + 1) % kSignalDedupWindow;
    }
    bool MayContain(uint64_t hash) const {
      return std::find(hashes.begin(), hashes.end(), hash) != hashes.end();
    }
  };
  static uint64_t SignalIdHash(std::string_view request_id) {
    return absl::Hash<std::string_view>{}(request_id);
  }
  absl::flat_hash_map<uint64_t, SignalWindow> signal_windows_;  // by run serial
  // Calls fn(request_id) for the run's last kSignalDedupWindow signals,
  // newest first (buffered ones, then history), until it returns true.
  template <typename Fn>
  static bool AnyRecentSignal(Execution& ex, Fn&& fn) {
    size_t signals = 0;
    auto any_in = [&](auto begin, auto end) {
      for (auto it = begin; it != end && signals < kSignalDedupWindow; ++it) {
        if (it->event_type() != ev1::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) continue;
        ++signals;
        if (fn(it->workflow_execution_signaled_event_attributes().request_id())) return true;
      }
      return false;
    };
    const auto& buffered = ex.ms().buffered_events();
    const auto& history = ex.history();
    return any_in(buffered.rbegin(), buffered.rend()) || any_in(history.rbegin(), history.rend());
  }
  SignalWindow& SignalWindowOf(Execution& ex) {
    auto [it, added] = signal_windows_.try_emplace(ex.serial);
    if (added) {
      std::vector<uint64_t> newest_first;
      AnyRecentSignal(ex, [&](const std::string& id) {
        newest_first.push_back(SignalIdHash(id));
        return false;
      });
      it->second.hashes.assign(newest_first.rbegin(), newest_first.rend());
    }
    return it->second;
  }
  bool SeenSignalRequest(Execution& ex, const std::string& request_id) {
    if (request_id.empty()) return false;
    for (const auto& r : ex.ms().request_ids()) {  // kept there by earlier versions
      if (r == request_id) return true;
    }
    if (!SignalWindowOf(ex).MayContain(SignalIdHash(request_id))) return false;
    // A hash match: a retry, or (rarely) another id with the same hash.
    return AnyRecentSignal(ex, [&](const std::string& id) { return id == request_id; });
  }

  // ---- queries ----
  void DispatchQuery(Execution& ex, const std::string& query_id) {
    bool sticky = !ex.ms().sticky_task_queue().empty();
    Dispatch(sticky ? ex.ms().sticky_task_queue() : ex.ms().task_queue(), false,
             QueuedTask{ex.ns_id(), ex.ms().run_id(), 0, 0, query_id});
  }

  // After a workflow task ended: unanswered attached queries and those that
  // arrived meanwhile ride the next task if one is scheduled, else go out as
  // query-only tasks.
  void DispatchWaitingQueries(Execution& ex) {
    const auto& wft = ex.ms().workflow_task();
    if (wft.started_event_id() != 0) return;
    std::vector<std::string> pending = std::move(ex.attached_queries);
    ex.attached_queries.clear();
    pending.insert(pending.end(), ex.waiting_queries.begin(), ex.waiting_queries.end());
    ex.waiting_queries.clear();
    for (auto& id : pending) {
      if (!queries_.contains(id)) continue;
      if (!ex.closed() && wft.scheduled_event_id() != 0) {
        ex.waiting_queries.push_back(id);
      } else {
        DispatchQuery(ex, id);
      }
    }
  }

  void AnswerAttachedQueries(Execution& ex, const wsv1::RespondWorkflowTaskCompletedRequest& req) {
    std::vector<std::string> unanswered;
    for (const auto& id : ex.attached_queries) {
      auto r = req.query_results().find(id);
      auto q = queries_.find(id);
      if (q == queries_.end()) continue;
      if (r == req.query_results().end()) {
        unanswered.push_back(id);
        continue;
      }
      PendingQuery pq = std::move(q->second);
      queries_.erase(q);
      timers_.Cancel(pq.timer_id);
      absl::Status result = absl::OkStatus();
      if (r->second.result_type() == ev1::QUERY_RESULT_TYPE_ANSWERED) {
        *pq.resp->mutable_query_result() = r->second.answer();
      } else {
        fv1::Failure failure = r->second.has_failure() ? r->second.failure() : fv1::Failure();
        if (failure.message().empty()) failure.set_message(r->second.error_message());
        result = QueryFailedError(failure);
      }
      Done d = std::move(pq.done);
      timers_.Schedule(Now(), [d, result] { d(result); });
    }
    ex.attached_queries = std::move(unanswered);
  }

  bool StartQueryTask(Poller& poller, Execution& ex, const QueuedTask& task) {
    auto it = queries_.find(task.query_id);
    if (it == queries_.end()) return false;
    if (ex.ms().workflow_task().started_event_id() != 0) {
      // A workflow task is running: the query waits for it to finish.
      ex.waiting_queries.push_back(task.query_id);
      return false;
    }
    auto* resp = static_cast<wsv1::PollWorkflowTaskQueueResponse*>(poller.resp);
    resp->set_task_token(MakeToken(ex, st::TaskToken::KIND_QUERY, 0, 0, 0, 0, "", task.query_id));
    FillExecutionHeader(ex, resp);
    *resp->mutable_query() = it->second.query;
    resp->set_previous_started_event_id(ex.ms().last_completed_wft_started_event_id());
    resp->set_started_event_id(ex.ms().last_completed_wft_started_event_id());
    resp->set_attempt(1);
    resp->mutable_history();
    // A sticky worker answers from its cache; anyone else replays it all.
    if (!poller.sticky) {
      for (const auto& e : ex.history()) {
        if (e.event_id() >= ex.readable_next_event_id()) break;
        *resp->mutable_history()->add_events() = e;
      }
    }
    mu_.RunAfterUnlock([done = std::move(poller.done)] { done(absl::OkStatus()); });
    return true;
  }

  void QueryWorkflow(const wsv1::QueryWorkflowRequest& req, wsv1::QueryWorkflowResponse* resp,
                     TimePoint deadline, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    if (req.query().query_type().empty())
      return Reply(lock, std::move(done), InvalidArgumentError("QueryType is not set on request."));
    auto found = FindExecution((*ns)->id, req.execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    Execution& ex = **found;
    auto status = ex.ms().status();
    bool reject = false;
    if (req.query_reject_condition() == ev1::QUERY_REJECT_CONDITION_NOT_OPEN) {
      reject = ex.closed();
    } else if (req.query_reject_condition() == ev1::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY) {
      reject = ex.closed() && status != ev1::WORKFLOW_EXECUTION_STATUS_COMPLETED;
    }
    if (reject) {
      resp->mutable_query_rejected()->set_status(status);
      return Reply(lock, std::move(done), absl::OkStatus());
    }
    if (ex.closed() && ex.ms().last_completed_wft_started_event_id() == 0) {
      return Reply(lock, std::move(done),
                   absl::FailedPreconditionError(
                       "Workflow execution closed before WorkflowTaskStarted event"));
    }
    std::string id = NewUuid();
    PendingQuery& q = queries_[id];
    q.ns_id = ex.ns_id();
    q.run_id = ex.ms().run_id();
    q.query = req.query();
    q.resp = resp;
    q.done = std::move(done);
    q.timer_id = timers_.Schedule(deadline - std::chrono::milliseconds(200), [this, id] {
      Done d;
      {
        std::lock_guard lock(mu_);
        auto it = queries_.find(id);
        if (it == queries_.end()) return;
        d = std::move(it->second.done);
        queries_.erase(it);
      }
      d(absl::DeadlineExceededError("query timed out: no worker answered before the deadline"));
    });
    // With a workflow task pending, the query rides along with it; otherwise
    // it goes out as a query-only task.
    if (!ex.closed() && (ex.ms().workflow_task().scheduled_event_id() != 0 ||
                         ex.ms().last_completed_wft_started_event_id() == 0)) {
      ex.waiting_queries.push_back(id);
    } else {
      DispatchQuery(ex, id);
    }
  }

  void RespondQueryTaskCompleted(const wsv1::RespondQueryTaskCompletedRequest& req, Done done) {
    std::unique_lock lock(mu_);
    st::TaskToken token;
    if (req.task_token().empty() || !token.ParseFromString(req.task_token()) ||
        token.kind() != st::TaskToken::KIND_QUERY) {
      return Reply(lock, std::move(done), InvalidArgumentError("Error deserializing task token."));
    }
    auto it = queries_.find(token.query_id());
    if (it == queries_.end()) {
      return Reply(lock, std::move(done),
                   WorkflowNotFoundError("query task not found, or already expired"));
    }
    PendingQuery q = std::move(it->second);
    queries_.erase(it);
    timers_.Cancel(q.timer_id);
    lock.unlock();
    absl::Status result = absl::OkStatus();
    if (req.completed_type() == ev1::QUERY_RESULT_TYPE_ANSWERED) {
      *q.resp->mutable_query_result() = req.query_result();
    } else {
      fv1::Failure failure;
      if (req.has_failure()) {
        failure = req.failure();
      } else {
        failure.set_message(req.error_message());
      }
      if (failure.message().empty()) failure.set_message(req.error_message());
      result = QueryFailedError(failure);
    }
    q.done(std::move(result));
    done(absl::OkStatus());
  }

  // ---- history reads ----
  static std::string EncodeToken(int64_t next_event_id) { return std::to_string(next_event_id); }
  static int64_t DecodeToken(const std::string& token) {
    if (token.empty()) return 1;
    try {
      return std::stoll(token);
    } catch (...) {
      return -1;
    }
  }

  // Fills the response if it can be answered now; false means "wait".
  bool TryAnswerHistory(Execution& ex, const wsv1::GetWorkflowExecutionHistoryRequest& req,
                        wsv1::GetWorkflowExecutionHistoryResponse* resp, int64_t wait_until,
                        bool final_try) {
    const int64_t readable_next = ex.readable_next_event_id();
    const bool closed_durably = ex.closed() && ex.durable_next_event_id >= ex.ms().next_event_id();
    if (req.history_event_filter_type() == ev1::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT) {
      if (closed_durably) {
        *resp->mutable_history()->add_events() = ex.history().back();
        return true;
      }
      if (!req.wait_new_event() || final_try) {
        if (req.wait_new_event())
          resp->set_next_page_token(req.next_page_token().empty() ? "0" : req.next_page_token());
        return true;
      }
      return false;
    }
    // Events written before the read arrived may still be in a commit being
    // fsynced, while a task they led to is already with a worker (Commit
    // dispatches early): wait for them, so a worker that fetches the history
    // of a task it holds gets all of it, as from the real server.
    if (!final_try && readable_next < wait_until) return false;
    int64_t from = DecodeToken(req.next_page_token());
    if (from < readable_next) {
      int64_t page = req.maximum_page_size() > 0 ? req.maximum_page_size() : 1000;
      int64_t end = std::min(readable_next, from + page);
      for (int64_t id = from; id < end; ++id)
        *resp->mutable_history()->add_events() = ex.history()[id - 1];
      if (end < readable_next || (!closed_durably && req.wait_new_event())) {
        resp->set_next_page_token(EncodeToken(end));
      }
      return true;
    }
    if (closed_durably || !req.wait_new_event() || final_try) {
      if (!closed_durably && req.wait_new_event()) resp->set_next_page_token(EncodeToken(from));
      return true;
    }
    return false;
  }

  void WakeHistoryWaiters(Execution& ex) {
    const std::string key = RunKey(ex.ns_id(), ex.ms().run_id());
    auto range = history_waiters_by_run_.equal_range(key);
    std::vector<uint64_t> ids;
    for (auto it = range.first; it != range.second; ++it) ids.push_back(it->second);
    for (uint64_t id : ids) {
      auto wit = history_waiters_.find(id);
      if (wit == history_waiters_.end()) continue;
      HistoryWaiter& w = wit->second;
      if (!TryAnswerHistory(ex, w.req, w.resp, w.wait_until, false)) continue;
      timers_.Cancel(w.timer_id);
      Done d = std::move(w.done);
      history_waiters_.erase(wit);
      EraseWaiterIndex(key, id);
      mu_.RunAfterUnlock([d = std::move(d)] { d(absl::OkStatus()); });
    }
  }

  void EraseWaiterIndex(const std::string& key, uint64_t id) {
    auto range = history_waiters_by_run_.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == id) {
        history_waiters_by_run_.erase(it);
        return;
      }
    }
  }

  void GetHistory(const wsv1::GetWorkflowExecutionHistoryRequest& req,
                  wsv1::GetWorkflowExecutionHistoryResponse* resp, TimePoint deadline, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    auto found = FindExecution((*ns)->id, req.execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    if (DecodeToken(req.next_page_token()) < 0 ||
        (req.history_event_filter_type() != ev1::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT &&
         DecodeToken(req.next_page_token()) < 1)) {
      return Reply(lock, std::move(done), InvalidArgumentError("Invalid NextPageToken."));
    }
    Execution& ex = **found;
    const int64_t wait_until = ex.ms().next_event_id();
    if (TryAnswerHistory(ex, req, resp, wait_until, false))
      return Reply(lock, std::move(done), absl::OkStatus());
    uint64_t id = next_id_++;
    const std::string key = RunKey(ex.ns_id(), ex.ms().run_id());
    HistoryWaiter& w = history_waiters_[id];
    w.run_key = key;
    w.req = req;
    w.resp = resp;
    w.wait_until = wait_until;
    w.done = std::move(done);
    TimePoint wake =
        std::min(deadline - std::chrono::milliseconds(500), Now() + options_.history_long_poll);
    w.timer_id = timers_.Schedule(wake, [this, id, key] {
      Done d;
      absl::Status status = absl::OkStatus();
      {
        std::lock_guard lock(mu_);
        auto it = history_waiters_.find(id);
        if (it == history_waiters_.end()) return;
        auto ex_it = executions_.find(key);
        if (ex_it == executions_.end()) {
          status = WorkflowNotFoundError("workflow execution was deleted");
        } else {
          TryAnswerHistory(*ex_it->second, it->second.req, it->second.resp, 0, true);
        }
        d = std::move(it->second.done);
        history_waiters_.erase(it);
        EraseWaiterIndex(key, id);
      }
      d(status);
    });
    history_waiters_by_run_.emplace(key, id);
  }

  // ---- describe / list ----
  void FillExecutionInfo(const Execution& ex,
                         temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
    info->mutable_execution()->set_workflow_id(ex.ms().workflow_id());
    info->mutable_execution()->set_run_id(ex.ms().run_id());
    info->mutable_type()->set_name(ex.ms().workflow_type());
    *info->mutable_start_time() = ex.ms().start_time();
    if (IsSet(ex.ms().close_time())) *info->mutable_close_time() = ex.ms().close_time();
    info->set_status(ex.ms().status());
    info->set_history_length(ex.ms().next_event_id() - 1);
    *info->mutable_execution_time() = ex.ms().execution_time();
    if (ex.ms().has_memo()) *info->mutable_memo() = ex.ms().memo();
    if (ex.ms().has_search_attributes())
      *info->mutable_search_attributes() = ex.ms().search_attributes();
    info->set_task_queue(ex.ms().task_queue());
    info->set_state_transition_count(ex.ms().state_transition_count());
    info->set_history_size_bytes(ex.ms().history_size_bytes());
    info->set_first_run_id(ex.ms().first_execution_run_id());
    if (ex.ms().has_auto_reset_points())
      *info->mutable_auto_reset_points() = ex.ms().auto_reset_points();
    if (IsSet(ex.ms().close_time())) {
      ToProto(FromProto(ex.ms().close_time()) - FromProto(ex.ms().execution_time()),
              info->mutable_execution_duration());
    }
  }

  void Describe(const wsv1::DescribeWorkflowExecutionRequest& req,
                wsv1::DescribeWorkflowExecutionResponse* resp, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    auto found = FindExecution((*ns)->id, req.execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    const Execution& ex = **found;
    auto* cfg = resp->mutable_execution_config();
    cfg->mutable_task_queue()->set_name(ex.ms().task_queue());
    cfg->mutable_task_queue()->set_kind(ev1::TASK_QUEUE_KIND_NORMAL);
    *cfg->mutable_workflow_execution_timeout() = ex.ms().execution_timeout();
    *cfg->mutable_workflow_run_timeout() = ex.ms().run_timeout();
    *cfg->mutable_default_workflow_task_timeout() = ex.ms().workflow_task_timeout();
    FillExecutionInfo(ex, resp->mutable_workflow_execution_info());
    for (const auto& [id, ai] : ex.ms().activities()) {
      auto* pa = resp->add_pending_activities();
      pa->set_activity_id(ai.activity_id());
      pa->mutable_activity_type()->set_name(ai.activity_type());
      pa->set_state(ai.cancel_requested()      ? ev1::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
                    : IsSet(ai.started_time()) ? ev1::PENDING_ACTIVITY_STATE_STARTED
                                               : ev1::PENDING_ACTIVITY_STATE_SCHEDULED);
      if (ai.has_heartbeat_details()) *pa->mutable_heartbeat_details() = ai.heartbeat_details();
      if (IsSet(ai.last_heartbeat_time()))
        *pa->mutable_last_heartbeat_time() = ai.last_heartbeat_time();
      if (IsSet(ai.started_time())) *pa->mutable_last_started_time() = ai.started_time();
      pa->set_attempt(ai.attempt());
      pa->set_maximum_attempts(ai.retry_policy().maximum_attempts());
      *pa->mutable_scheduled_time() = ai.current_attempt_scheduled_time();
      if (ai.has_last_failure()) *pa->mutable_last_failure() = ai.last_failure();
      pa->set_last_worker_identity(ai.last_worker_identity());
      auto s2c = FromProto(ai.schedule_to_close_timeout());
      if (s2c.count() > 0) {
        ToProto(
            FromProto(ai.scheduled_time()) + std::chrono::duration_cast<TimePoint::duration>(s2c),
            pa->mutable_expiration_time());
      }
    }
    const st::WorkflowTaskInfo& wft = ex.ms().workflow_task();
    if (wft.scheduled_event_id() != 0) {
      auto* pw = resp->mutable_pending_workflow_task();
      pw->set_state(wft.started_event_id() != 0 ? ev1::PENDING_WORKFLOW_TASK_STATE_STARTED
                                                : ev1::PENDING_WORKFLOW_TASK_STATE_SCHEDULED);
      *pw->mutable_scheduled_time() = wft.scheduled_time();
      *pw->mutable_original_scheduled_time() = wft.original_scheduled_time();
      if (wft.started_event_id() != 0) *pw->mutable_started_time() = wft.started_time();
      pw->set_attempt(wft.attempt());
    }
    Reply(lock, std::move(done), absl::OkStatus());
  }

  static int64_t UnixNanos(const google::protobuf::Timestamp& ts) {
    return IsSet(ts) ? ts.seconds() * 1000000000 + ts.nanos() : 0;
  }

  absl::StatusOr<std::vector<const Execution*>> Filter(const Namespace& ns,
                                                       const std::string& query) {
    auto filter = visibility::ListFilter::Parse(query, ns.custom_search_attributes);
    if (!filter.ok()) return filter.status();
    std::vector<const Execution*> out;
    for (auto it = start_order_.rbegin(); it != start_order_.rend(); ++it) {
      const Execution* ex = *it;
      const st::MutableState& m = ex->ms_view();  // scans must not thaw frozen runs
      if (m.namespace_id() != ns.id) continue;
      visibility::ExecutionFields f{m.workflow_id(),
                                    m.run_id(),
                                    m.workflow_type(),
                                    m.status(),
                                    m.task_queue(),
                                    UnixNanos(m.start_time()),
                                    UnixNanos(m.close_time()),
                                    UnixNanos(m.execution_time()),
                                    m.next_event_id() - 1,
                                    &m.search_attributes()};
      if (filter->Matches(f)) out.push_back(ex);
    }
    return out;
  }

  // ---- namespaces ----
  void AddNamespace(Txn& txn, const std::string& name, const std::string& description,
                    const google::protobuf::Duration* retention) {
    Namespace ns;
    ns.id = NewUuid();
    auto* info = ns.info.mutable_namespace_info();
    info->set_name(name);
    info->set_id(ns.id);
    info->set_state(ev1::NAMESPACE_STATE_REGISTERED);
    info->set_description(description);
    info->mutable_capabilities()->set_eager_workflow_start(false);
    info->mutable_capabilities()->set_sync_update(false);
    info->mutable_capabilities()->set_async_update(false);
    auto* cfg = ns.info.mutable_config();
    if (retention && IsSet(*retention)) {
      *cfg->mutable_workflow_execution_retention_ttl() = *retention;
    } else {
      cfg->mutable_workflow_execution_retention_ttl()->set_seconds(int64_t{24} * 3600);
    }
    cfg->set_history_archival_state(ev1::ARCHIVAL_STATE_DISABLED);
    cfg->set_visibility_archival_state(ev1::ARCHIVAL_STATE_DISABLED);
    ns.info.mutable_replication_config()->set_active_cluster_name("active");
    ns.info.mutable_replication_config()->add_clusters()->set_cluster_name("active");
    ns.info.set_is_global_namespace(false);
    txn.namespaces.push_back({ns.id, name, ns.info.SerializeAsString()});
    namespace_ids_[name] = ns.id;
    namespaces_[ns.id] = std::move(ns);
  }

  // ---- auto-reset points ----
  // The first workflow task completed by each (binary checksum, build id)
  // becomes a reset point, as on the real server (at most 20, oldest dropped).
  void RecordResetPoint(Execution& ex, const wsv1::RespondWorkflowTaskCompletedRequest& req,
                        int64_t completed_id) {
    constexpr int kMaxResetPoints = 20;
    std::string build_id = req.deployment_options().build_id();
    if (build_id.empty()) build_id = req.worker_version_stamp().build_id();
    auto* points = ex.ms().mutable_auto_reset_points()->mutable_points();
    for (const auto& p : *points) {
      if (p.binary_checksum() == req.binary_checksum() && p.build_id() == build_id) return;
    }
    if (points->size() >= kMaxResetPoints) points->DeleteSubrange(0, 1);
    auto* point = points->Add();
    point->set_binary_checksum(req.binary_checksum());
    point->set_build_id(build_id);
    point->set_run_id(ex.ms().run_id());
    point->set_first_workflow_task_completed_id(completed_id);
    ToProto(Now(), point->mutable_create_time());
    point->set_resettable(true);
  }

  // ---- search attributes (OperatorService) ----
  absl::Status ValidateSearchAttributes(const std::string& ns_id, const cv1::SearchAttributes& sa) {
    if (sa.indexed_fields().empty()) return absl::OkStatus();
    return visibility::ValidateSearchAttributes(sa, namespaces_.at(ns_id).custom_search_attributes);
  }

  // Adds `attributes` to `ns` (in memory and in `txn`). An attribute already
  // registered with the same type is left alone, as the real server's SQL
  // visibility does; with another type it is ALREADY_EXISTS.
  absl::Status RegisterSearchAttributes(
      Txn& txn, Namespace& ns,
      const std::vector<std::pair<std::string, visibility::IndexedValueType>>& attributes) {
    std::map<visibility::IndexedValueType, int> counts;
    for (const auto& [name, type] : ns.custom_search_attributes) ++counts[type];
    std::vector<std::pair<std::string, visibility::IndexedValueType>> added;
    for (const auto& [name, type] : attributes) {
      if (absl::Status s = visibility::ValidateNewAttributeName(name); !s.ok()) return s;
      if (type <= ev1::INDEXED_VALUE_TYPE_UNSPECIFIED ||
          type > ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST) {
        return InvalidArgumentError(
            absl::StrCat("Unknown search attribute type: ", ev1::IndexedValueType_Name(type)));
      }
      auto it = ns.custom_search_attributes.find(name);
      if (it != ns.custom_search_attributes.end()) {
        if (it->second == type) continue;
        return absl::AlreadyExistsError(absl::StrCat("Search attribute ", name,
                                                     " already exists with type ",
                                                     visibility::TypeName(it->second), "."));
      }
      if (++counts[type] > visibility::MaxCustomAttributesOfType(type)) {
        return InvalidArgumentError(
            absl::StrCat("Unable to create search attributes: cannot have more than ",
                         visibility::MaxCustomAttributesOfType(type), " search attribute of type ",
                         visibility::TypeName(type), "."));
      }
      added.emplace_back(name, type);
    }
    for (const auto& [name, type] : added) {
      ns.custom_search_attributes[name] = type;
      txn.search_attributes.push_back({ns.id, name, static_cast<int32_t>(type)});
    }
    return absl::OkStatus();
  }

  void AddSearchAttributes(const osv1::AddSearchAttributesRequest& req, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    if (req.search_attributes().empty()) {
      return Reply(lock, std::move(done),
                   InvalidArgumentError("SearchAttributes are not set on request."));
    }
    // Sorted, so errors and counts do not depend on map order.
    std::map<std::string, visibility::IndexedValueType> sorted(req.search_attributes().begin(),
                                                               req.search_attributes().end());
    Namespace copy = **ns;  // all or nothing
    Txn txn;
    absl::Status s = RegisterSearchAttributes(txn, copy, {sorted.begin(), sorted.end()});
    if (!s.ok()) return Reply(lock, std::move(done), s);
    (*ns)->custom_search_attributes = std::move(copy.custom_search_attributes);
    if (txn.search_attributes.empty()) return Reply(lock, std::move(done), absl::OkStatus());
    Commit(txn, std::move(done));
  }

  void RemoveSearchAttributes(const osv1::RemoveSearchAttributesRequest& req, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    if (req.search_attributes().empty()) {
      return Reply(lock, std::move(done),
                   InvalidArgumentError("SearchAttributes are not set on request."));
    }
    auto& custom = (*ns)->custom_search_attributes;
    for (const auto& name : req.search_attributes()) {
      if (visibility::SystemSearchAttributes().contains(name)) {
        return Reply(lock, std::move(done),
                     InvalidArgumentError(absl::StrCat(
                         "Unable to remove non-custom search attributes: ", name, ".")));
      }
      if (!custom.contains(name)) {
        return Reply(
            lock, std::move(done),
            absl::NotFoundError(absl::StrCat("Search attribute ", name, " doesn't exist.")));
      }
    }
    Txn txn;
    for (const auto& name : req.search_attributes()) {
      if (custom.erase(name) > 0) txn.removed_search_attributes.push_back({(*ns)->id, name, 0});
    }
    Commit(txn, std::move(done));
  }

  void ListSearchAttributes(const osv1::ListSearchAttributesRequest& req,
                            osv1::ListSearchAttributesResponse* resp, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    for (const auto& [name, type] : visibility::SystemSearchAttributes()) {
      (*resp->mutable_system_attributes())[name] = type;
    }
    for (const auto& [name, type] : (*ns)->custom_search_attributes) {
      (*resp->mutable_custom_attributes())[name] = type;
    }
    Reply(lock, std::move(done), absl::OkStatus());
  }

  // System attributes plus the custom ones of every namespace (the request
  // names no namespace).
  void GetSearchAttributes(wsv1::GetSearchAttributesResponse* resp, Done done) {
    std::unique_lock lock(mu_);
    auto& keys = *resp->mutable_keys();
    for (const auto& [name, type] : visibility::SystemSearchAttributes()) keys[name] = type;
    for (const auto& [id, ns] : namespaces_) {
      for (const auto& [name, type] : ns.custom_search_attributes) keys[name] = type;
    }
    Reply(lock, std::move(done), absl::OkStatus());
  }

  // ---- deletion ----
  // Terminates the run if it is open (as the real server does), then deletes
  // its state, history and visibility record. Once durable the run leaves
  // the in-memory maps; the Commit callback then buries it (BuryDeletedRuns).
  void DeleteWorkflowExecution(const wsv1::DeleteWorkflowExecutionRequest& req, Done done) {
    std::unique_lock lock(mu_);
    auto ns = FindNamespace(req.namespace_());
    if (!ns.ok()) return Reply(lock, std::move(done), ns.status());
    auto found = FindExecution((*ns)->id, req.workflow_execution());
    if (!found.ok()) return Reply(lock, std::move(done), found.status());
    Execution& ex = **found;
    Txn txn;
    if (!ex.closed()) Terminate(txn, ex, "Delete workflow execution", nullptr, "");
    txn.deleted.push_back({ex.ns_id(), ex.ms().workflow_id(), ex.ms().run_id()});
    ex.deleting = true;
    txn.after.push_back([this, key = RunKey(ex.ns_id(), ex.ms().run_id())] { DetachRun(key); });
    Commit(txn, std::move(done));
  }

  // Removes a run from every index; it stays alive in graveyard_.
  void DetachRun(const std::string& key) {
    auto it = executions_.find(key);
    if (it == executions_.end()) return;
    Execution* ex = it->second.get();
    if (auto ns = current_.find(ex->ns_id()); ns != current_.end()) {
      auto cur = ns->second.find(std::string_view(ex->ms().workflow_id()));
      if (cur != ns->second.end() && cur->second == ex) ns->second.erase(cur);
    }
    start_order_.erase(std::remove(start_order_.begin(), start_order_.end(), ex),
                       start_order_.end());
    runs_by_serial_.erase(ex->serial);
    signal_windows_.erase(ex->serial);
    graveyard_.push_back(std::move(it->second));
    executions_.erase(it);
  }

  // Fails what still waits on deleted runs (history long polls, queries) with
  // NOT_FOUND, then frees them. Runs under the lock, at the end of a commit
  // callback, once nothing refers to the runs any more.
  void BuryDeletedRuns() {
    std::vector<Done> failed;
    for (const auto& ex : graveyard_) {
      const std::string key = RunKey(ex->ns_id(), ex->ms().run_id());
      auto range = history_waiters_by_run_.equal_range(key);
      for (auto it = range.first; it != range.second; ++it) {
        auto w = history_waiters_.find(it->second);
        if (w == history_waiters_.end()) continue;
        timers_.Cancel(w->second.timer_id);
        failed.push_back(std::move(w->second.done));
        history_waiters_.erase(w);
      }
      history_waiters_by_run_.erase(key);
      for (auto it = queries_.begin(); it != queries_.end();) {
        if (it->second.ns_id == ex->ns_id() && it->second.run_id == ex->ms().run_id()) {
          timers_.Cancel(it->second.timer_id);
          failed.push_back(std::move(it->second.done));
          it = queries_.erase(it);
        } else {
          ++it;
        }
      }
    }
    graveyard_.clear();
    for (auto& d : failed) {
      timers_.Schedule(Now(), [d = std::move(d)] {
        d(WorkflowNotFoundError("workflow execution was deleted"));
      });
    }
  }

  // ---- recovery ----
  absl::Status Load() {
    auto nss = store_->LoadNamespaces();
    if (!nss.ok()) return nss.status();
    for (auto& r : *nss) {
      Namespace ns;
      ns.id = r.id;
      if (!ns.info.ParseFromString(r.info)) return absl::DataLossError("bad namespace record");
      namespace_ids_[ns.name()] = ns.id;
      namespaces_[ns.id] = std::move(ns);
    }
    auto attributes = store_->LoadSearchAttributes();
    if (!attributes.ok()) return attributes.status();
    for (const auto& sa : *attributes) {
      auto it = namespaces_.find(sa.namespace_id);
      if (it == namespaces_.end()) continue;
      it->second.custom_search_attributes[sa.name] =
          static_cast<visibility::IndexedValueType>(sa.type);
    }
    auto execs = store_->LoadExecutions();
    if (!execs.ok()) return execs.status();
    for (auto& r : *execs) {
      auto ex = std::make_unique<Execution>(&execution_context_);
      if (!ex->ms().ParseFromString(r.state)) return absl::DataLossError("bad execution record");
      auto events = store_->ReadHistory(r.namespace_id, r.run_id, 1, INT64_MAX);
      if (!events.ok()) return events.status();
      for (auto& bytes : *events) {
        if (!ex->history().emplace_back().ParseFromString(bytes))
          return absl::DataLossError("bad history event");
      }
      if (static_cast<int64_t>(ex->history().size()) != ex->ms().next_event_id() - 1) {
        return absl::DataLossError(absl::StrCat("history of run ", r.run_id, " has ",
                                                ex->history().size(), " events, state expects ",
                                                ex->ms().next_event_id() - 1));
      }
      ex->persisted = ex->history().size();
      ex->durable_next_event_id = ex->ms().next_event_id();
      for (const auto& e : ex->history()) next_task_id_ = std::max(next_task_id_, e.task_id() + 1);
      IndexRun(std::move(ex), r.namespace_id, r.run_id);
    }
    auto cur = store_->LoadCurrentExecutions();
    if (!cur.ok()) return cur.status();
    for (auto& c : *cur) {
      if (Execution* ex = FindRun(c.namespace_id, c.run_id)) {
        SetCurrentRun(c.namespace_id, c.workflow_id, ex);
      }
    }
    // Rebuild queues and timers of open runs.
    for (Execution* ex : start_order_) {
      if (ex->closed()) continue;
      RestoreUpdates(*ex);
      if (ex->ms().workflow_task().speculative()) {
        ex->ms().clear_workflow_task();
        if (ex->ms().buffered_events_size() > 0) {
          Txn txn;
          FlushBuffered(*ex);
          ScheduleWorkflowTask(txn, *ex);
          Commit(txn, nullptr);
        }
      }
      ArmRunTimeout(*ex);
      if (IsSet(ex->ms().first_workflow_task_at())) ArmFirstWorkflowTask(*ex);
      st::WorkflowTaskInfo* wft = ex->ms().mutable_workflow_task();
      if (wft->scheduled_event_id() != 0) {
        if (wft->started_event_id() != 0) {
          // Its worker may still answer; otherwise it times out as usual.
          auto remaining =
              FromProto(wft->started_time()) + std::chrono::duration_cast<TimePoint::duration>(
                                                   FromProto(wft->start_to_close_timeout()));
          SetWftTimer(*ex, timers_.Schedule(remaining, [this, serial = ex->serial,
                                                        version = wft->start_version()] {
            WorkflowTaskTimeout(serial, version);
          }));
        } else {
          DispatchWft(*ex, wft->start_version());
        }
      }
      for (auto& [id, ai] : *ex->ms().mutable_activities()) {
        ArmScheduleToCloseTimer(*ex, id);
        if (IsSet(ai.retry_at())) {
          ArmRetry(*ex, id, FromProto(ai.retry_at()));
        } else if (IsSet(ai.started_time())) {
          ArmStartedActivityTimers(*ex, id);
        } else {
          DispatchActivity(*ex, id);
        }
      }
      for (const auto& [id, ti] : ex->ms().timers()) ArmUserTimer(*ex, ti);
    }
    return absl::OkStatus();
  }
};

// ======================= Engine (public surface) =======================

Engine::Engine(persistence::Store* store, const common::Clock* clock, EngineOptions options)
    : impl_(std::make_unique<EngineImpl>(store, clock, std::move(options))) {}

Engine::~Engine() { Shutdown(); }

absl::Status Engine::Start() {
  std::unique_lock lock(impl_->mu_);
  absl::Status loaded = impl_->Load();
  if (!loaded.ok()) return loaded;
  Txn txn;
  std::vector<std::string> wanted = {"default"};
  for (const auto& n : impl_->options_.namespaces) wanted.push_back(n);
  for (const auto& n : wanted) {
    if (!impl_->namespace_ids_.contains(n)) impl_->AddNamespace(txn, n, "", nullptr);
  }
  for (const auto& n : wanted) {
    Namespace& ns = impl_->namespaces_.at(impl_->namespace_ids_.at(n));
    absl::Status added =
        impl_->RegisterSearchAttributes(txn, ns, impl_->options_.search_attributes);
    if (!added.ok()) return added;
  }
  impl_->ScheduleSweep();
  if (txn.namespaces.empty() && txn.search_attributes.empty()) return absl::OkStatus();
  persistence::WriteBatch batch;
  batch.namespaces = std::move(txn.namespaces);
  batch.search_attributes = std::move(txn.search_attributes);
  lock.unlock();
  return impl_->store_->CommitSync(std::move(batch));
}

uint64_t Engine::EagerActivities() {
  std::lock_guard lock(impl_->mu_);
  return impl_->eager_activities_;
}

uint64_t Engine::ThawedRuns() {
  return impl_->execution_context_.thaws.load(std::memory_order_relaxed);
}

size_t Engine::FrozenRuns() {
  std::lock_guard lock(impl_->mu_);
  return static_cast<size_t>(std::count_if(impl_->start_order_.begin(), impl_->start_order_.end(),
                                           [](const Execution* ex) { return ex->frozen(); }));
}

void Engine::Shutdown() {
  std::vector<Done> pending;
  {
    std::lock_guard lock(impl_->mu_);
    if (impl_->shutdown_) return;
    // Tasks handed out since their run's last commit (RecordTaskStarted).
    Txn txn;
    for (auto& [key, ex] : impl_->executions_) {
      if (ex->unrecorded) txn.touched.push_back(ex.get());
    }
    if (!txn.touched.empty()) impl_->Commit(txn, nullptr);
    impl_->shutdown_ = true;
    for (auto& [id, p] : impl_->pollers_) pending.push_back(std::move(p.done));
    impl_->pollers_.clear();
    for (auto& [id, q] : impl_->queries_) pending.push_back(std::move(q.done));
    impl_->queries_.clear();
    for (auto& [id, w] : impl_->history_waiters_) pending.push_back(std::move(w.done));
    impl_->history_waiters_.clear();
  }
  impl_->timers_.Stop();
  for (auto& d : pending) {
    if (d) d(absl::UnavailableError("server is shutting down"));
  }
}

#define ENGINE_LOCK_NS(req)                                                    \
  std::unique_lock lock(impl_->mu_);                                           \
  auto ns_or = impl_->FindNamespace((req).namespace_());                       \
  if (!ns_or.ok()) return impl_->Reply(lock, std::move(done), ns_or.status()); \
  Namespace& ns = **ns_or;                                                     \
  (void)ns

void Engine::RegisterNamespace(const wsv1::RegisterNamespaceRequest& req,
                               wsv1::RegisterNamespaceResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  if (req.namespace_().empty())
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("Namespace not set on request."));
  if (impl_->namespace_ids_.contains(req.namespace_()))
    return impl_->Reply(lock, std::move(done), NamespaceAlreadyExistsError(req.namespace_()));
  Txn txn;
  impl_->AddNamespace(txn, req.namespace_(), req.description(),
                      req.has_workflow_execution_retention_period()
                          ? &req.workflow_execution_retention_period()
                          : nullptr);
  impl_->Commit(txn, std::move(done));
}

void Engine::DescribeNamespace(const wsv1::DescribeNamespaceRequest& req,
                               wsv1::DescribeNamespaceResponse* resp, Done done) {
  std::unique_lock lock(impl_->mu_);
  if (!req.id().empty()) {
    auto it = impl_->namespaces_.find(req.id());
    if (it == impl_->namespaces_.end())
      return impl_->Reply(lock, std::move(done), NamespaceNotFoundError(req.id()));
    *resp = it->second.info;
    return impl_->Reply(lock, std::move(done), absl::OkStatus());
  }
  auto ns = impl_->FindNamespace(req.namespace_());
  if (!ns.ok()) return impl_->Reply(lock, std::move(done), ns.status());
  *resp = (*ns)->info;
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::ListNamespaces(const wsv1::ListNamespacesRequest&, wsv1::ListNamespacesResponse* resp,
                            Done done) {
  std::unique_lock lock(impl_->mu_);
  for (const auto& [name, id] : impl_->namespace_ids_) {
    const auto& info = impl_->namespaces_.at(id).info;
    auto* n = resp->add_namespaces();
    *n->mutable_namespace_info() = info.namespace_info();
    *n->mutable_config() = info.config();
    *n->mutable_replication_config() = info.replication_config();
    n->set_is_global_namespace(info.is_global_namespace());
  }
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::UpdateNamespace(const wsv1::UpdateNamespaceRequest& req,
                             wsv1::UpdateNamespaceResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  auto* info = ns.info.mutable_namespace_info();
  if (req.has_update_info()) {
    const auto& u = req.update_info();
    if (!u.description().empty()) info->set_description(u.description());
    if (!u.owner_email().empty()) info->set_owner_email(u.owner_email());
    for (const auto& [k, v] : u.data()) (*info->mutable_data())[k] = v;
  }
  if (req.has_config() && req.config().has_workflow_execution_retention_ttl()) {
    *ns.info.mutable_config()->mutable_workflow_execution_retention_ttl() =
        req.config().workflow_execution_retention_ttl();
  }
  *resp->mutable_namespace_info() = ns.info.namespace_info();
  *resp->mutable_config() = ns.info.config();
  *resp->mutable_replication_config() = ns.info.replication_config();
  Txn txn;
  txn.namespaces.push_back({ns.id, ns.name(), ns.info.SerializeAsString()});
  impl_->Commit(txn, std::move(done));
}

void Engine::StartWorkflowExecution(const wsv1::StartWorkflowExecutionRequest& req,
                                    wsv1::StartWorkflowExecutionResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  absl::Status valid = impl_->ValidateStart(req);
  if (valid.ok()) valid = impl_->ValidateSearchAttributes(ns.id, req.search_attributes());
  if (!valid.ok()) return impl_->Reply(lock, std::move(done), valid);
  Txn txn;
  auto existing = impl_->CheckExisting(txn, ns.id, req);
  if (!existing.ok()) return impl_->Reply(lock, std::move(done), existing.status());
  if (*existing) {
    // Same request id: the same start, reported as started (as the real server).
    resp->set_run_id((*existing)->ms().run_id());
    resp->set_started(!req.request_id().empty() &&
                      (*existing)->ms().start_request_id() == req.request_id());
    return impl_->Reply(lock, std::move(done), absl::OkStatus());
  }
  Execution& ex = impl_->CreateExecution(txn, ns, req);
  impl_->ScheduleFirstWorkflowTask(txn, ex);
  resp->set_run_id(ex.ms().run_id());
  resp->set_started(true);
  impl_->Commit(txn, std::move(done));
}

void Engine::SignalWorkflowExecution(const wsv1::SignalWorkflowExecutionRequest& req,
                                     wsv1::SignalWorkflowExecutionResponse*, Done done) {
  ENGINE_LOCK_NS(req);
  if (req.signal_name().empty())
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("SignalName is not set on request."));
  if (PayloadsSize(req.input()) > impl_->options_.blob_size_limit)
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("Blob data size exceeds limit."));
  auto found = impl_->FindOpenExecution(ns.id, req.workflow_execution());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  Execution& ex = **found;
  if (impl_->SeenSignalRequest(ex, req.request_id()))
    return impl_->Reply(lock, std::move(done), absl::OkStatus());
  Txn txn;
  txn.Touch(&ex);
  impl_->AddSignal(ex, req.signal_name(), req.input(), req.identity(),
                   req.has_header() ? &req.header() : nullptr, req.request_id());
  impl_->ScheduleWorkflowTask(txn, ex);
  impl_->Commit(txn, std::move(done));
}

void Engine::SignalWithStartWorkflowExecution(
    const wsv1::SignalWithStartWorkflowExecutionRequest& req,
    wsv1::SignalWithStartWorkflowExecutionResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  if (req.signal_name().empty())
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("SignalName is not set on request."));
  if (PayloadsSize(req.signal_input()) > impl_->options_.blob_size_limit)
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("Blob data size exceeds limit."));
  wsv1::StartWorkflowExecutionRequest start;
  start.set_namespace_(req.namespace_());
  start.set_workflow_id(req.workflow_id());
  *start.mutable_workflow_type() = req.workflow_type();
  *start.mutable_task_queue() = req.task_queue();
  *start.mutable_input() = req.input();
  *start.mutable_workflow_execution_timeout() = req.workflow_execution_timeout();
  *start.mutable_workflow_run_timeout() = req.workflow_run_timeout();
  *start.mutable_workflow_task_timeout() = req.workflow_task_timeout();
  start.set_identity(req.identity());
  start.set_request_id(req.request_id());
  start.set_workflow_id_reuse_policy(req.workflow_id_reuse_policy());
  if (req.has_retry_policy()) *start.mutable_retry_policy() = req.retry_policy();
  if (req.has_memo()) *start.mutable_memo() = req.memo();
  if (req.has_search_attributes()) *start.mutable_search_attributes() = req.search_attributes();
  if (req.has_header()) *start.mutable_header() = req.header();
  if (req.has_workflow_start_delay())
    *start.mutable_workflow_start_delay() = req.workflow_start_delay();
  absl::Status valid = impl_->ValidateStart(start);
  if (valid.ok()) valid = impl_->ValidateSearchAttributes(ns.id, start.search_attributes());
  if (!valid.ok()) return impl_->Reply(lock, std::move(done), valid);
  Txn txn;
  // A running workflow gets the signal; otherwise a new run starts with it.
  Execution* cur = impl_->CurrentRun(ns.id, req.workflow_id());
  if (cur && !cur->closed() &&
      req.workflow_id_conflict_policy() != ev1::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING) {
    txn.Touch(cur);
    if (!impl_->SeenSignalRequest(*cur, req.request_id())) {  // else a retry: signalled already
      impl_->AddSignal(*cur, req.signal_name(), req.signal_input(), req.identity(),
                       req.has_header() ? &req.header() : nullptr, req.request_id());
      impl_->ScheduleWorkflowTask(txn, *cur);
    }
    resp->set_run_id(cur->ms().run_id());
    resp->set_started(false);
    return impl_->Commit(txn, std::move(done));
  }
  if (cur && !cur->closed()) {
    impl_->Terminate(txn, *cur, "terminated by SignalWithStart (WorkflowIdConflictPolicy)", nullptr,
                     req.identity());
  } else if (cur) {
    start.set_request_id("");  // dedup applies to running runs only
    auto existing = impl_->CheckExisting(txn, ns.id, start);
    if (!existing.ok()) return impl_->Reply(lock, std::move(done), existing.status());
  }
  start.set_request_id(req.request_id());
  Execution& ex = impl_->CreateExecution(txn, ns, start);
  impl_->AddSignal(ex, req.signal_name(), req.signal_input(), req.identity(),
                   req.has_header() ? &req.header() : nullptr, req.request_id());
  impl_->ScheduleFirstWorkflowTask(txn, ex);
  resp->set_run_id(ex.ms().run_id());
  resp->set_started(true);
  impl_->Commit(txn, std::move(done));
}

void Engine::RequestCancelWorkflowExecution(const wsv1::RequestCancelWorkflowExecutionRequest& req,
                                            wsv1::RequestCancelWorkflowExecutionResponse*,
                                            Done done) {
  ENGINE_LOCK_NS(req);
  auto found = impl_->FindExecution(ns.id, req.workflow_execution());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  Execution& ex = **found;
  // Cancelling a closed workflow succeeds, as on the real server.
  if (ex.closed() || ex.ms().cancel_requested())
    return impl_->Reply(lock, std::move(done), absl::OkStatus());
  Txn txn;
  txn.Touch(&ex);
  ex.ms().set_cancel_requested(true);
  hv1::HistoryEvent& e = impl_->NewEvent(ex, ev1::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
  auto* a = e.mutable_workflow_execution_cancel_requested_event_attributes();
  a->set_cause(req.reason());
  a->set_identity(req.identity());
  impl_->ScheduleWorkflowTask(txn, ex);
  impl_->Commit(txn, std::move(done));
}

void Engine::TerminateWorkflowExecution(const wsv1::TerminateWorkflowExecutionRequest& req,
                                        wsv1::TerminateWorkflowExecutionResponse*, Done done) {
  ENGINE_LOCK_NS(req);
  auto found = impl_->FindOpenExecution(ns.id, req.workflow_execution());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  Txn txn;
  impl_->Terminate(txn, **found, req.reason(), req.has_details() ? &req.details() : nullptr,
                   req.identity());
  impl_->Commit(txn, std::move(done));
}

void Engine::QueryWorkflow(const wsv1::QueryWorkflowRequest& req, wsv1::QueryWorkflowResponse* resp,
                           common::TimePoint deadline, Done done) {
  impl_->QueryWorkflow(req, resp, deadline, std::move(done));
}

void Engine::UpdateWorkflowExecution(const wsv1::UpdateWorkflowExecutionRequest& req,
                                     wsv1::UpdateWorkflowExecutionResponse* resp,
                                     common::TimePoint deadline, Done done) {
  impl_->UpdateWorkflowExecution(req, resp, deadline, std::move(done));
}

void Engine::PollWorkflowExecutionUpdate(const wsv1::PollWorkflowExecutionUpdateRequest& req,
                                         wsv1::PollWorkflowExecutionUpdateResponse* resp,
                                         common::TimePoint deadline, Done done) {
  impl_->PollWorkflowExecutionUpdate(req, resp, deadline, std::move(done));
}

void Engine::GetWorkflowExecutionHistory(const wsv1::GetWorkflowExecutionHistoryRequest& req,
                                         wsv1::GetWorkflowExecutionHistoryResponse* resp,
                                         common::TimePoint deadline, Done done) {
  impl_->GetHistory(req, resp, deadline, std::move(done));
}

void Engine::GetWorkflowExecutionHistoryReverse(
    const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
    wsv1::GetWorkflowExecutionHistoryReverseResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  auto found = impl_->FindExecution(ns.id, req.execution());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  const Execution& ex = **found;
  int64_t last = ex.readable_next_event_id() - 1;
  if (!req.next_page_token().empty()) {
    int64_t t = EngineImpl::DecodeToken(req.next_page_token());
    if (t < 0)
      return impl_->Reply(lock, std::move(done), InvalidArgumentError("Invalid NextPageToken."));
    last = std::min(last, t);
  }
  int64_t page = req.maximum_page_size() > 0 ? req.maximum_page_size() : 1000;
  int64_t end = std::max<int64_t>(0, last - page);
  for (int64_t id = last; id > end; --id)
    *resp->mutable_history()->add_events() = ex.history()[id - 1];
  if (end > 0) resp->set_next_page_token(EngineImpl::EncodeToken(end));
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::DescribeWorkflowExecution(const wsv1::DescribeWorkflowExecutionRequest& req,
                                       wsv1::DescribeWorkflowExecutionResponse* resp, Done done) {
  impl_->Describe(req, resp, std::move(done));
}

void Engine::ListWorkflowExecutions(const wsv1::ListWorkflowExecutionsRequest& req,
                                    wsv1::ListWorkflowExecutionsResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  auto matched = impl_->Filter(ns, req.query());
  if (!matched.ok()) return impl_->Reply(lock, std::move(done), matched.status());
  int64_t offset = 0;
  if (!req.next_page_token().empty()) {
    offset = EngineImpl::DecodeToken(req.next_page_token());
    if (offset < 0)
      return impl_->Reply(lock, std::move(done), InvalidArgumentError("Invalid NextPageToken."));
  }
  int64_t page = req.page_size() > 0 ? req.page_size() : 1000;
  int64_t n = static_cast<int64_t>(matched->size());
  for (int64_t i = offset; i < std::min(n, offset + page); ++i) {
    impl_->FillExecutionInfo(*(*matched)[i], resp->add_executions());
  }
  if (offset + page < n) resp->set_next_page_token(EngineImpl::EncodeToken(offset + page));
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::CountWorkflowExecutions(const wsv1::CountWorkflowExecutionsRequest& req,
                                     wsv1::CountWorkflowExecutionsResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  auto matched = impl_->Filter(ns, req.query());
  if (!matched.ok()) return impl_->Reply(lock, std::move(done), matched.status());
  resp->set_count(static_cast<int64_t>(matched->size()));
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::DescribeTaskQueue(const wsv1::DescribeTaskQueueRequest& req,
                               wsv1::DescribeTaskQueueResponse* resp, Done done) {
  ENGINE_LOCK_NS(req);
  if (req.task_queue().name().empty())
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("TaskQueue is not set on request."));
  bool activity = req.task_queue_type() == ev1::TASK_QUEUE_TYPE_ACTIVITY;
  auto it = impl_->queues_.find({ns.id, req.task_queue().name(), activity});
  if (it != impl_->queues_.end()) {
    for (const auto& [identity, seen] : it->second.poller_seen) {
      auto* p = resp->add_pollers();
      p->set_identity(identity);
      ToProto(seen, p->mutable_last_access_time());
      p->set_rate_per_second(100000);
    }
  }
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

template <class Request>
void EngineImpl::StartPoll(const Request& req, void* resp, bool activity, TimePoint deadline,
                           Done done, std::function<bool()> client_gone) {
  std::unique_lock lock(mu_);
  auto ns = FindNamespace(req.namespace_());
  absl::Status invalid = !ns.ok() ? ns.status()
                         : req.task_queue().name().empty()
                             ? InvalidArgumentError("TaskQueue is not set on request.")
                         : shutdown_ ? absl::UnavailableError("server is shutting down")
                                     : absl::OkStatus();
  if (!invalid.ok()) {
    Reply(lock, std::move(done), std::move(invalid));
    return;
  }
  Poller p;
  p.activity = activity;
  p.ns_id = (*ns)->id;
  p.queue = req.task_queue().name();
  p.identity = req.identity();
  p.sticky = req.task_queue().kind() == ev1::TASK_QUEUE_KIND_STICKY;
  p.resp = resp;
  p.done = std::move(done);
  p.client_gone = std::move(client_gone);
  Poll(std::move(p), deadline);
}

void Engine::PollWorkflowTaskQueue(const wsv1::PollWorkflowTaskQueueRequest& req,
                                   wsv1::PollWorkflowTaskQueueResponse* resp,
                                   common::TimePoint deadline, Done done,
                                   std::function<bool()> client_gone) {
  impl_->StartPoll(req, resp, /*activity=*/false, deadline, std::move(done),
                   std::move(client_gone));
}

void Engine::PollActivityTaskQueue(const wsv1::PollActivityTaskQueueRequest& req,
                                   wsv1::PollActivityTaskQueueResponse* resp,
                                   common::TimePoint deadline, Done done,
                                   std::function<bool()> client_gone) {
  impl_->StartPoll(req, resp, /*activity=*/true, deadline, std::move(done), std::move(client_gone));
}

void Engine::RespondWorkflowTaskCompleted(const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                          wsv1::RespondWorkflowTaskCompletedResponse* resp,
                                          Done done) {
  impl_->RespondWorkflowTaskCompleted(req, resp, std::move(done));
}

void Engine::RespondWorkflowTaskFailed(const wsv1::RespondWorkflowTaskFailedRequest& req,
                                       wsv1::RespondWorkflowTaskFailedResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found = impl_->FindStartedWft(req.task_token(), req.namespace_());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  Txn txn;
  impl_->FailWorkflowTask(txn, *found->first, false, req.cause(),
                          req.has_failure() ? &req.failure() : nullptr, req.identity());
  impl_->Commit(txn, std::move(done));
}

void Engine::RespondQueryTaskCompleted(const wsv1::RespondQueryTaskCompletedRequest& req,
                                       wsv1::RespondQueryTaskCompletedResponse*, Done done) {
  impl_->RespondQueryTaskCompleted(req, std::move(done));
}

void Engine::RecordActivityTaskHeartbeat(const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                         wsv1::RecordActivityTaskHeartbeatResponse* resp,
                                         Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found = impl_->FindStartedActivity(req.task_token(), req.namespace_());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  resp->set_cancel_requested(found->second->cancel_requested());
  impl_->Heartbeat(*found->first, *found->second, req.has_details() ? &req.details() : nullptr,
                   std::move(done));
}

void Engine::RecordActivityTaskHeartbeatById(
    const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
    wsv1::RecordActivityTaskHeartbeatByIdResponse* resp, Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found =
      impl_->FindActivityById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  resp->set_cancel_requested(found->second->cancel_requested());
  impl_->Heartbeat(*found->first, *found->second, req.has_details() ? &req.details() : nullptr,
                   std::move(done));
}

void Engine::RespondActivityTaskCompleted(const wsv1::RespondActivityTaskCompletedRequest& req,
                                          wsv1::RespondActivityTaskCompletedResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  if (PayloadsSize(req.result()) > impl_->options_.blob_size_limit)
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("Blob data size exceeds limit."));
  auto found = impl_->FindStartedActivity(req.task_token(), req.namespace_());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->CompleteActivity(*found->first, *found->second, req.has_result() ? &req.result() : nullptr,
                          req.identity(), std::move(done));
}

void Engine::RespondActivityTaskCompletedById(
    const wsv1::RespondActivityTaskCompletedByIdRequest& req,
    wsv1::RespondActivityTaskCompletedByIdResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  if (PayloadsSize(req.result()) > impl_->options_.blob_size_limit)
    return impl_->Reply(lock, std::move(done),
                        InvalidArgumentError("Blob data size exceeds limit."));
  auto found =
      impl_->FindActivityById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->CompleteActivity(*found->first, *found->second, req.has_result() ? &req.result() : nullptr,
                          req.identity(), std::move(done));
}

void Engine::RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& req,
                                       wsv1::RespondActivityTaskFailedResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found = impl_->FindStartedActivity(req.task_token(), req.namespace_());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->FailActivity(*found->first, *found->second, req.failure(),
                      req.has_last_heartbeat_details() ? &req.last_heartbeat_details() : nullptr,
                      req.identity(), std::move(done));
}

void Engine::RespondActivityTaskFailedById(const wsv1::RespondActivityTaskFailedByIdRequest& req,
                                           wsv1::RespondActivityTaskFailedByIdResponse*,
                                           Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found =
      impl_->FindActivityById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->FailActivity(*found->first, *found->second, req.failure(),
                      req.has_last_heartbeat_details() ? &req.last_heartbeat_details() : nullptr,
                      req.identity(), std::move(done));
}

void Engine::RespondActivityTaskCanceled(const wsv1::RespondActivityTaskCanceledRequest& req,
                                         wsv1::RespondActivityTaskCanceledResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found = impl_->FindStartedActivity(req.task_token(), req.namespace_());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->CancelActivity(*found->first, *found->second, req.has_details() ? &req.details() : nullptr,
                        req.identity(), std::move(done));
}

void Engine::RespondActivityTaskCanceledById(
    const wsv1::RespondActivityTaskCanceledByIdRequest& req,
    wsv1::RespondActivityTaskCanceledByIdResponse*, Done done) {
  std::unique_lock lock(impl_->mu_);
  auto found =
      impl_->FindActivityById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  impl_->CancelActivity(*found->first, *found->second, req.has_details() ? &req.details() : nullptr,
                        req.identity(), std::move(done));
}

void Engine::ResetStickyTaskQueue(const wsv1::ResetStickyTaskQueueRequest& req,
                                  wsv1::ResetStickyTaskQueueResponse*, Done done) {
  ENGINE_LOCK_NS(req);
  auto found = impl_->FindExecution(ns.id, req.execution());
  if (!found.ok()) return impl_->Reply(lock, std::move(done), found.status());
  Execution& ex = **found;
  if (ex.ms().workflow_task().sticky() && ex.ms().workflow_task().started_event_id() == 0 &&
      ex.ms().workflow_task().scheduled_event_id() != 0) {
    impl_->MoveWftToNormalQueue(ex);
  } else {
    ex.ms().clear_sticky_task_queue();
  }
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

void Engine::ShutdownWorker(const wsv1::ShutdownWorkerRequest& req, wsv1::ShutdownWorkerResponse*,
                            Done done) {
  ENGINE_LOCK_NS(req);
  const std::string& sticky = req.sticky_task_queue();
  if (!sticky.empty()) {
    // Work waiting on the departed worker's sticky queue goes to the normal queue.
    auto it = impl_->queues_.find({ns.id, sticky, false});
    std::vector<QueuedTask> moved;
    if (it != impl_->queues_.end()) {
      moved.assign(it->second.tasks.begin(), it->second.tasks.end());
      impl_->queues_.erase(it);
    }
    for (Execution* ex : impl_->start_order_) {
      bool task_waits_on_sticky = false;
      {
        const st::MutableState& m = ex->ms_view();  // scans must not thaw frozen runs
        if (m.namespace_id() != ns.id || IsClosedStatus(m.status()) ||
            m.sticky_task_queue() != sticky)
          continue;
        const auto& wft = m.workflow_task();
        task_waits_on_sticky =
            wft.sticky() && wft.scheduled_event_id() != 0 && wft.started_event_id() == 0;
      }
      if (task_waits_on_sticky) {
        impl_->MoveWftToNormalQueue(*ex);
      } else {
        ex->ClearStickyTaskQueue();
      }
    }
    for (auto& t : moved) {
      if (t.query_id.empty()) continue;
      Execution* ex = impl_->FindRun(t.ns_id, t.run_id);
      if (ex) impl_->Dispatch(ex->ms().task_queue(), false, t);
    }
  }
  impl_->Reply(lock, std::move(done), absl::OkStatus());
}

// ---- search attributes and deletion (kept apart from the workflow paths) ----

void Engine::AddSearchAttributes(const osv1::AddSearchAttributesRequest& req,
                                 osv1::AddSearchAttributesResponse*, Done done) {
  impl_->AddSearchAttributes(req, std::move(done));
}

void Engine::RemoveSearchAttributes(const osv1::RemoveSearchAttributesRequest& req,
                                    osv1::RemoveSearchAttributesResponse*, Done done) {
  impl_->RemoveSearchAttributes(req, std::move(done));
}

void Engine::ListSearchAttributes(const osv1::ListSearchAttributesRequest& req,
                                  osv1::ListSearchAttributesResponse* resp, Done done) {
  impl_->ListSearchAttributes(req, resp, std::move(done));
}

void Engine::GetSearchAttributes(const wsv1::GetSearchAttributesRequest&,
                                 wsv1::GetSearchAttributesResponse* resp, Done done) {
  impl_->GetSearchAttributes(resp, std::move(done));
}

void Engine::DeleteWorkflowExecution(const wsv1::DeleteWorkflowExecutionRequest& req,
                                     wsv1::DeleteWorkflowExecutionResponse*, Done done) {
  impl_->DeleteWorkflowExecution(req, std::move(done));
}

}  // namespace temporalio::server::history
