#include "sdk/workflow/workflow_worker.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/thread_name.h"
#include "sdk/client/client_core.h"
#include "sdk/converter/payload_visitor.h"
#include "sdk/workflow/run.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace temporalio::workflow::internal {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace ev = temporal::api::enums::v1;
using google::protobuf::util::TimeUtil;

// A tag handed to the completion queue reaches the executor that receives it
// after everything its issuer did; the queue orders that, but inside Debian's
// gRPC, which is not built with ThreadSanitizer, so TSan cannot see it (not
// even for the issuing thread's writes inside gRPC's header templates while
// handing the tag over). In TSan builds a mutex models the ordering: held
// while a tag is handed over, taken by the receiver before it touches the
// tag. Elsewhere both are no-ops.
class QueueHandOff {
 public:
#if defined(__SANITIZE_THREAD__)
  [[nodiscard]] std::unique_lock<std::mutex> Publish() { return std::unique_lock(mu_); }
  void Received() { std::lock_guard lock(mu_); }

 private:
  std::mutex mu_;
#else
  [[nodiscard]] int Publish() { return 0; }
  void Received() {}
#endif
};

namespace {
std::string RandomHex() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}
}  // namespace

class WorkflowWorkerImpl {
 public:
  WorkflowWorkerImpl(std::shared_ptr<client::internal::ClientCore> core,
                     WorkflowWorkerOptions options)
      : core_(std::move(core)),
        options_(std::move(options)),
        namespace_(core_->namespace_()),
        dc_(core_->data_converter()) {
    if (options_.identity.empty()) options_.identity = core_->identity();
    registry_ = options_.registry ? options_.registry : std::make_shared<const WorkflowRegistry>();
    if (options_.max_cached_workflows > 0) {
      sticky_queue_ = options_.identity + "-" + options_.task_queue + "-sticky-" + RandomHex();
    }
  }
  ~WorkflowWorkerImpl() { Shutdown(); }

  void Start() {
    std::vector<std::unique_ptr<PollCall>> polls;
    {
      std::lock_guard lock(mu_);
      if (started_) throw std::logic_error("WorkflowWorker::Start called twice");
      started_ = true;
      slots_ = std::max(1, options_.max_concurrent_workflow_tasks);
      max_polls_ =
          options_.workflow_pollers > 0 ? std::min(options_.workflow_pollers, slots_) : slots_;
      if (!sticky_queue_.empty()) max_polls_ = std::max(max_polls_, std::min(slots_, 2));
      int executors = options_.workflow_task_executors > 0
                          ? options_.workflow_task_executors
                          : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
      executors = std::min(executors, slots_);
      for (int i = 0; i < executors; ++i) StartExecutorLocked();
      polls = PollsToIssueLocked();
    }
    watchdog_ = std::thread([this] { Watchdog(); });
    IssuePolls(std::move(polls));
  }

  void Shutdown() {
    {
      std::unique_lock lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
      for (auto* poll : polls_) poll->context.TryCancel();
      // Polls end (cancelled), tasks in progress finish and are answered.
      cv_.wait(lock,
               [this] { return polls_in_flight_ == 0 && poll_backoffs_ == 0 && tasks_ == 0; });
      watchdog_stop_ = true;
    }
    watchdog_cv_.notify_all();
    watchdog_.join();
    // Executors drain the queue (nothing is pending on it) and return.
    cq_.Shutdown();
    for (auto& executor : executors_) {
      // A thread stuck in a deadlocked workflow cannot be joined.
      if (executor->stuck.load()) {
        executor->thread.detach();
      } else {
        executor->thread.join();
      }
    }
    wsv1::ShutdownWorkerRequest req;
    req.set_namespace_(namespace_);
    req.set_sticky_task_queue(sticky_queue_);
    req.set_identity(options_.identity);
    req.set_reason("graceful shutdown");
    wsv1::ShutdownWorkerResponse resp;
    grpc::ClientContext ctx;
    core_->PrepareContext(&ctx, std::chrono::seconds(5));
    (void)core_->stub().ShutdownWorker(&ctx, req, &resp);  // best effort
  }

  const std::string& sticky_queue() const { return sticky_queue_; }

 private:
  // A thread that runs workflow tasks (workflow code, then the completion's
  // encoding); the completion itself is sent without blocking it.
  struct Executor {
    std::thread thread;
    std::atomic<bool> stuck{false};
  };
  // An event on the worker's completion queue: the end of an RPC issued on
  // it, or an alarm. Runs on an executor thread, which deletes it after Done.
  struct CqTag {
    virtual ~CqTag() = default;
    virtual void Done(bool ok) = 0;
  };
  // One outstanding PollWorkflowTaskQueue.
  struct PollCall final : CqTag {
    explicit PollCall(WorkflowWorkerImpl* w) : worker(w) {}
    void Done(bool /*ok*/) override { worker->OnPollDone(this); }
    WorkflowWorkerImpl* worker;
    bool sticky = false;
    grpc::ClientContext context;
    wsv1::PollWorkflowTaskQueueRequest request;
    std::unique_ptr<wsv1::PollWorkflowTaskQueueResponse> response =
        std::make_unique<wsv1::PollWorkflowTaskQueueResponse>();
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<wsv1::PollWorkflowTaskQueueResponse>> reader;
  };
  using Task = std::unique_ptr<wsv1::PollWorkflowTaskQueueResponse>;
  // A cached run. `busy` (under mu_) serializes the tasks of the run: a task
  // of a busy run waits in `waiting` until the one in progress has been
  // answered (the server may hand out the run's next task, or a query,
  // before the completion's reply reaches this worker).
  struct RunEntry {
    std::unique_ptr<WorkflowRun> run;
    bool busy = false;          // mu_
    std::vector<Task> waiting;  // mu_
  };
  // A workflow task being processed (watched by the deadlock detector).
  struct InFlight {
    std::string task_token;
    WorkflowRun* run = nullptr;
    std::string run_id;
    int attempt = 1;
    std::atomic<bool> responded{false};
    Executor* executor = nullptr;
    std::shared_ptr<RunEntry> entry;
  };

  void StartExecutorLocked() {
    auto executor = std::make_shared<Executor>();
    // The thread co-owns its Executor: a stuck one that returns after its
    // replacement was made, or after shutdown detached it, still reads it.
    executor->thread = std::thread([this, e = executor] { ExecutorLoop(e.get()); });
    executors_.push_back(std::move(executor));
  }

  // The polls to issue now: up to max_polls_ outstanding, and no more than
  // the slots not taken by tasks in progress. With a sticky queue, polls
  // alternate between the queues so both always have one when possible.
  std::vector<std::unique_ptr<PollCall>> PollsToIssueLocked() {
    std::vector<std::unique_ptr<PollCall>> out;
    if (stopping_) return out;
    while (polls_in_flight_ + poll_backoffs_ < max_polls_ &&
           polls_in_flight_ + poll_backoffs_ + tasks_ < slots_) {
      auto poll = std::make_unique<PollCall>(this);
      if (!sticky_queue_.empty()) {
        if (sticky_polls_ * 2 < polls_in_flight_ ||
            (sticky_polls_ * 2 == polls_in_flight_ && next_poll_sticky_)) {
          poll->sticky = true;
        }
        next_poll_sticky_ = !poll->sticky;
      }
      if (poll->sticky) ++sticky_polls_;
      ++polls_in_flight_;
      polls_.insert(poll.get());
      out.push_back(std::move(poll));
    }
    return out;
  }

  void IssuePolls(std::vector<std::unique_ptr<PollCall>> polls) {
    for (auto& owned : polls) {
      PollCall* poll = owned.release();  // owned by the queue from here
      auto& req = poll->request;
      req.set_namespace_(namespace_);
      req.set_identity(options_.identity);
      auto* tq = req.mutable_task_queue();
      if (poll->sticky) {
        tq->set_name(sticky_queue_);
        tq->set_kind(ev::TASK_QUEUE_KIND_STICKY);
        tq->set_normal_name(options_.task_queue);
      } else {
        tq->set_name(options_.task_queue);
        tq->set_kind(ev::TASK_QUEUE_KIND_NORMAL);
      }
      core_->PrepareContext(&poll->context, options_.poll_timeout);
      poll->reader =
          core_->stub().PrepareAsyncPollWorkflowTaskQueue(&poll->context, poll->request, &cq_);
      [[maybe_unused]] auto handoff = queue_handoff_.Publish();
      poll->reader->StartCall();
      poll->reader->Finish(poll->response.get(), &poll->status, poll);
    }
  }

  // On an executor: runs the polled task (if any) right here, after
  // issuing the next polls.
  void OnPollDone(PollCall* done) {
    std::unique_ptr<PollCall> poll(done);
    {
      std::lock_guard lock(mu_);
      polls_.erase(poll.get());  // no longer cancellable by Shutdown
    }
    const bool sticky = poll->sticky;
    const grpc::Status status = poll->status;
    Task task;
    if (status.ok() && !poll->response->task_token().empty()) task = std::move(poll->response);
    poll.reset();
    std::vector<std::unique_ptr<PollCall>> next;
    {
      std::lock_guard lock(mu_);
      --polls_in_flight_;
      if (sticky) --sticky_polls_;
      if (task) {
        ++tasks_;
      } else if (!status.ok() && status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED &&
                 !stopping_) {
        // The server is unreachable or refused: retry this poll a bit later.
        ++poll_backoffs_;
        auto* retry = new AlarmTag([this] {
          std::vector<std::unique_ptr<PollCall>> polls;
          {
            std::lock_guard lock(mu_);
            --poll_backoffs_;
            polls = PollsToIssueLocked();
            cv_.notify_all();
          }
          IssuePolls(std::move(polls));
        });
        [[maybe_unused]] auto handoff = queue_handoff_.Publish();
        retry->alarm.Set(&cq_, std::chrono::system_clock::now() + std::chrono::milliseconds(200),
                         retry);
      }
      next = PollsToIssueLocked();
      cv_.notify_all();
    }
    IssuePolls(std::move(next));
    if (task) RunTask(std::move(task), CurrentExecutor());
  }

  // Runs `fn` on an executor when its alarm fires.
  struct AlarmTag final : CqTag {
    explicit AlarmTag(std::function<void()> f) : fn(std::move(f)) {}
    void Done(bool /*ok*/) override {
      std::unique_ptr<AlarmTag> self(this);
      fn();
    }
    std::function<void()> fn;
    grpc::Alarm alarm;
  };

  // The end of a RespondWorkflowTaskCompleted.
  struct RespondCall final : CqTag {
    void Done(bool /*ok*/) override {
      std::unique_ptr<RespondCall> self(this);
      reader.reset();
      auto fn = std::move(on_done);
      fn(status, response);
    }
    grpc::ClientContext context;
    wsv1::RespondWorkflowTaskCompletedRequest request;
    wsv1::RespondWorkflowTaskCompletedResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<wsv1::RespondWorkflowTaskCompletedResponse>>
        reader;
    std::function<void(const grpc::Status&, wsv1::RespondWorkflowTaskCompletedResponse&)> on_done;
  };

  static Executor*& CurrentExecutorSlot() {
    static thread_local Executor* current = nullptr;
    return current;
  }
  static Executor* CurrentExecutor() { return CurrentExecutorSlot(); }

  // Executors wait on the completion queue: the thread that receives a
  // polled task runs it and sends its completion, with no hand-off.
  void ExecutorLoop(Executor* self) {
    common::SetCurrentThreadName("wf-executor");
    CurrentExecutorSlot() = self;
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
      // Done takes ownership of the event (and frees it early when it can).
      queue_handoff_.Received();
      try {
        static_cast<CqTag*>(tag)->Done(ok);
      } catch (const std::exception& e) {
        std::clog << "temporalio workflow worker: task handling error: " << e.what() << std::endl;
      }
      // Replaced while deadlocked: the new executor serves the queue.
      if (self->stuck.load()) return;
    }
  }

  // A task has been answered (or dropped): frees its slot.
  void FinishTask() {
    std::vector<std::unique_ptr<PollCall>> polls;
    {
      std::lock_guard lock(mu_);
      --tasks_;
      polls = PollsToIssueLocked();
      cv_.notify_all();
    }
    IssuePolls(std::move(polls));
  }

  // Marks a run's entry idle and requeues the tasks that waited for it.
  void ReleaseEntry(const std::shared_ptr<RunEntry>& entry) {
    std::lock_guard lock(mu_);
    entry->busy = false;
    for (auto& t : entry->waiting) {
      auto* run = new AlarmTag([this, task = std::shared_ptr<wsv1::PollWorkflowTaskQueueResponse>(
                                          std::move(t))]() mutable {
        RunTask(std::make_unique<wsv1::PollWorkflowTaskQueueResponse>(std::move(*task)),
                CurrentExecutor());
      });
      [[maybe_unused]] auto handoff = queue_handoff_.Publish();
      run->alarm.Set(&cq_, std::chrono::system_clock::now(), run);
    }
    entry->waiting.clear();
  }

  // Takes the cached entry of the run for this task: nullptr when there is
  // none (or it cannot continue from this task's events: evicted); sets
  // *parked when the run is busy and the task now waits on its entry.
  std::shared_ptr<RunEntry> AcquireCached(const std::string& run_id, Task* task, bool* parked) {
    std::lock_guard lock(mu_);
    *parked = false;
    auto it = cache_.find(run_id);
    if (it == cache_.end()) return nullptr;
    std::shared_ptr<RunEntry> entry = it->second.first;
    if (entry->busy) {
      entry->waiting.push_back(std::move(*task));
      *parked = true;
      return nullptr;
    }
    entry->busy = true;
    lru_.splice(lru_.begin(), lru_, it->second.second);  // most recently used
    return entry;
  }

  void RunTask(Task task, Executor* self) {
    const std::string run_id = task->workflow_execution().run_id();
    bool parked = false;
    std::shared_ptr<RunEntry> entry = AcquireCached(run_id, &task, &parked);
    if (parked) return;  // runs once the task in progress on this run is answered
    if (task->has_query()) {
      HandleLegacyQuery(task.get(), entry);
      if (entry) ReleaseEntry(entry);
      FinishTask();
      return;
    }
    HandleWorkflowTask(std::move(task), std::move(entry), self);
  }

  // All events of the run (paged), from event 1.
  std::vector<core::HistoryEvent> FetchHistory(
      const temporal::api::common::v1::WorkflowExecution& ex) {
    std::vector<core::HistoryEvent> events;
    std::string token;
    do {
      wsv1::GetWorkflowExecutionHistoryRequest req;
      req.set_namespace_(namespace_);
      *req.mutable_execution() = ex;
      req.set_next_page_token(token);
      wsv1::GetWorkflowExecutionHistoryResponse resp;
      grpc::ClientContext ctx;
      core_->PrepareContext(&ctx, std::chrono::seconds(30));
      grpc::Status s = core_->stub().GetWorkflowExecutionHistory(&ctx, req, &resp);
      if (!s.ok()) throw WorkflowTaskError("GetWorkflowExecutionHistory: " + s.error_message());
      for (auto& e : *resp.mutable_history()->mutable_events()) {
        converter::internal::DecodeAll(dc_, &e);
        events.push_back(std::move(e));
      }
      token = resp.next_page_token();
    } while (!token.empty());
    return events;
  }

  // The poll's events (following next_page_token pages), moved out of
  // `resp` (its history is empty afterwards): moving a heap-allocated event
  // swaps pointers where a copy would duplicate every payload.
  std::vector<core::HistoryEvent> PollEvents(wsv1::PollWorkflowTaskQueueResponse* task) {
    const wsv1::PollWorkflowTaskQueueResponse& resp = *task;
    std::vector<core::HistoryEvent> events;
    events.reserve(static_cast<size_t>(resp.history().events_size()));
    for (auto& e : *task->mutable_history()->mutable_events()) {
      converter::internal::DecodeAll(dc_, &e);
      events.push_back(std::move(e));
    }
    std::string token = resp.next_page_token();
    while (!token.empty()) {
      wsv1::GetWorkflowExecutionHistoryRequest req;
      req.set_namespace_(namespace_);
      *req.mutable_execution() = resp.workflow_execution();
      req.set_next_page_token(token);
      wsv1::GetWorkflowExecutionHistoryResponse page;
      grpc::ClientContext ctx;
      core_->PrepareContext(&ctx, std::chrono::seconds(30));
      grpc::Status s = core_->stub().GetWorkflowExecutionHistory(&ctx, req, &page);
      if (!s.ok()) throw WorkflowTaskError("GetWorkflowExecutionHistory: " + s.error_message());
      for (auto& e : *page.mutable_history()->mutable_events()) {
        converter::internal::DecodeAll(dc_, &e);
        events.push_back(std::move(e));
      }
      token = page.next_page_token();
    }
    return events;
  }

  std::unique_ptr<WorkflowRun> NewRun(const wsv1::PollWorkflowTaskQueueResponse& resp) {
    RunParams p;
    p.namespace_ = namespace_;
    p.workflow_id = resp.workflow_execution().workflow_id();
    p.run_id = resp.workflow_execution().run_id();
    p.registry = registry_;
    p.data_converter = &dc_;
    return std::make_unique<WorkflowRun>(std::move(p));
  }

  // Events to feed a fresh run: the full history when the poll's is partial.
  std::vector<core::HistoryEvent> FullEvents(const wsv1::PollWorkflowTaskQueueResponse& resp,
                                             std::vector<core::HistoryEvent> polled) {
    if (!polled.empty() && polled.front().event_id() == 1) return polled;
    std::vector<core::HistoryEvent> full = FetchHistory(resp.workflow_execution());
    int64_t last = full.empty() ? 0 : full.back().event_id();
    for (auto& e : polled) {
      if (e.event_id() > last) full.push_back(std::move(e));  // transient task suffix
    }
    return full;
  }

  // Caches `entry` (most recently used); drops the least recently used
  // entries beyond max_cached_workflows.
  void PutCached(const std::string& run_id, std::shared_ptr<RunEntry> entry) {
    std::lock_guard lock(mu_);
    PutCachedLocked(run_id, std::move(entry));
  }
  void PutCachedLocked(const std::string& run_id, std::shared_ptr<RunEntry> entry) {
    if (options_.max_cached_workflows == 0) return;
    auto it = cache_.find(run_id);
    if (it != cache_.end()) {
      lru_.erase(it->second.second);
      cache_.erase(it);
    }
    auto [inserted, unused] = cache_.try_emplace(run_id, std::move(entry), lru_.end());
    (void)unused;
    lru_.push_front(&inserted->first);
    inserted->second.second = lru_.begin();
    while (cache_.size() > options_.max_cached_workflows) {
      auto victim = cache_.find(*lru_.back());
      lru_.pop_back();
      cache_.erase(victim);
    }
  }
  // Drops the run's entry if it is `entry` (null: whatever is cached).
  void EvictLocked(const std::string& run_id, const RunEntry* entry = nullptr) {
    auto it = cache_.find(run_id);
    if (it == cache_.end()) return;
    if (entry != nullptr && it->second.first.get() != entry) return;
    lru_.erase(it->second.second);
    cache_.erase(it);
  }
  void Evict(const std::string& run_id, const RunEntry* entry = nullptr) {
    std::lock_guard lock(mu_);
    EvictLocked(run_id, entry);
  }

  void HandleWorkflowTask(Task task, std::shared_ptr<RunEntry> entry, Executor* self) {
    const wsv1::PollWorkflowTaskQueueResponse& resp = *task;
    const std::string run_id = resp.workflow_execution().run_id();
    auto inflight = std::make_shared<InFlight>();
    inflight->task_token = resp.task_token();
    inflight->run_id = run_id;
    inflight->attempt = resp.attempt();
    inflight->executor = self;
    // Set once the completion has been handed to gRPC: its callback then
    // releases the entry and the slot.
    bool sent = false;
    try {
      std::vector<core::HistoryEvent> events = PollEvents(task.get());
      if (entry &&
          (events.empty() || events.front().event_id() != entry->run->last_event_id() + 1)) {
        // The cached run cannot continue from this task: replay it afresh.
        Evict(run_id, entry.get());
        ReleaseEntry(entry);
        entry = nullptr;
      }
      if (!entry) {
        entry = std::make_shared<RunEntry>();
        entry->busy = true;
        entry->run = NewRun(resp);
        // Cached (and busy) before the history is fetched and fed: the
        // server may hand out the run's next task, or a query, before this
        // one is answered, and that must wait for this entry rather than
        // replay the run beside it (and be overwritten by it afterwards).
        PutCached(run_id, entry);
        events = FullEvents(resp, std::move(events));
      }
      inflight->entry = entry;
      WorkflowRun* run = entry->run.get();
      inflight->run = run;
      Track(inflight);
      run->Feed(events);
      Untrack(inflight);
      if (inflight->responded.exchange(true)) return;  // deadlock already reported

      wsv1::RespondWorkflowTaskCompletedRequest req;
      req.set_task_token(resp.task_token());
      req.set_identity(options_.identity);
      req.set_namespace_(namespace_);
      for (auto& c : run->TakeCommands()) *req.add_commands() = std::move(c);
      for (const auto& [id, q] : resp.queries()) {
        auto& result = (*req.mutable_query_results())[id];
        try {
          converter::Payloads args = q.query_args();
          dc_.Decode(&args);
          auto payload = run->Query(q.query_type(), args);
          result.set_result_type(ev::QUERY_RESULT_TYPE_ANSWERED);
          *result.mutable_answer()->add_payloads() = std::move(payload);
        } catch (const std::exception& e) {
          result.set_result_type(ev::QUERY_RESULT_TYPE_FAILED);
          result.set_error_message(e.what());
          *result.mutable_failure() = dc_.ToFailure(std::current_exception());
        }
      }
      if (!sticky_queue_.empty()) {
        auto* sa = req.mutable_sticky_attributes();
        sa->mutable_worker_task_queue()->set_name(sticky_queue_);
        sa->mutable_worker_task_queue()->set_kind(ev::TASK_QUEUE_KIND_STICKY);
        sa->mutable_worker_task_queue()->set_normal_name(options_.task_queue);
        *sa->mutable_schedule_to_start_timeout() =
            TimeUtil::MillisecondsToDuration(options_.sticky_schedule_to_start_timeout.count());
      }
      // Encoding happens before the run is released: a codec error fails the task.
      converter::internal::EncodeAll(dc_, &req);
      const int eager_reserved = ReserveEagerActivities(&req);
      const bool closed = run->closed();
      auto respond = std::make_unique<RespondCall>();
      respond->request = std::move(req);
      // Runs on whichever executor receives the reply; it must not block:
      // starting eager activities and releasing the entry do not.
      respond->on_done = [this, entry, run_id, eager_reserved, closed](
                             const grpc::Status& s,
                             wsv1::RespondWorkflowTaskCompletedResponse& out) mutable {
        StartEagerActivities(s.ok() ? &out : nullptr, eager_reserved);
        if (!s.ok() || closed) {
          Evict(run_id, entry.get());
        } else {
          PutCached(run_id, entry);
        }
        ReleaseEntry(entry);
        entry.reset();
        FinishTask();
      };
      core_->PrepareContext(&respond->context, std::chrono::seconds(30));
      respond->reader = core_->stub().PrepareAsyncRespondWorkflowTaskCompleted(
          &respond->context, respond->request, &cq_);
      sent = true;
      RespondCall* tag = respond.release();  // owned by the queue from here
      [[maybe_unused]] auto handoff = queue_handoff_.Publish();
      tag->reader->StartCall();
      tag->reader->Finish(&tag->response, &tag->status, tag);
    } catch (const NondeterminismError& e) {
      Untrack(inflight);
      if (sent) return;
      if (entry) Evict(run_id, entry.get());
      // Not claimed: the watchdog reported a deadlock and freed the task.
      if (!FailTask(*inflight, ev::WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR, e.what(),
                    "NondeterminismError")) {
        return;
      }
      Abandon(run_id, entry);
    } catch (const std::exception& e) {
      Untrack(inflight);
      if (sent) return;
      if (entry) Evict(run_id, entry.get());
      if (!FailTask(*inflight, ev::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
                    e.what(), "WorkflowTaskError")) {
        return;
      }
      Abandon(run_id, entry);
    }
  }

  // After a failed task: the run leaves the cache, tasks waiting for it
  // replay it afresh, and the task's slot is freed.
  void Abandon(const std::string& run_id, const std::shared_ptr<RunEntry>& entry) {
    if (entry) {
      Evict(run_id, entry.get());
      ReleaseEntry(entry);
    }
    FinishTask();
  }

  // Keeps request_eager_execution on the activity commands this worker can
  // run itself (its own task queue, a free activity slot, at most
  // kMaxEagerActivities per task) and clears it on the others. Returns the
  // slots reserved.
  int ReserveEagerActivities(wsv1::RespondWorkflowTaskCompletedRequest* req) {
    int reserved = 0;
    for (auto& c : *req->mutable_commands()) {
      if (c.command_type() != ev::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK) continue;
      auto* a = c.mutable_schedule_activity_task_command_attributes();
      if (!a->request_eager_execution()) continue;
      bool eager = options_.eager_activities && reserved < kMaxEagerActivities &&
                   a->task_queue().name() == options_.task_queue &&
                   options_.eager_activities->try_reserve();
      if (eager) {
        ++reserved;
      } else {
        a->set_request_eager_execution(false);
      }
    }
    return reserved;
  }

  // Runs the activities the server started for this worker (`reply` null when
  // the completion failed) and gives back the slots it did not use.
  void StartEagerActivities(wsv1::RespondWorkflowTaskCompletedResponse* reply, int reserved) {
    if (reserved == 0) return;
    if (reply != nullptr) {
      for (auto& task : *reply->mutable_activity_tasks()) {
        if (reserved == 0) break;  // more than asked for: not ours to run
        --reserved;
        options_.eager_activities->start(
            std::make_unique<wsv1::PollActivityTaskQueueResponse>(std::move(task)));
      }
    }
    for (; reserved > 0; --reserved) options_.eager_activities->release();
  }

  // Answers the task with RespondWorkflowTaskFailed unless it has been
  // answered already; returns false in that case.
  bool FailTask(InFlight& task, ev::WorkflowTaskFailedCause cause, const std::string& message,
                const std::string& type) {
    if (task.responded.exchange(true)) return false;
    if (task.attempt > 1) return true;  // as sdk-core: let the task time out and retry
    wsv1::RespondWorkflowTaskFailedRequest req;
    req.set_task_token(task.task_token);
    req.set_cause(cause);
    req.set_identity(options_.identity);
    req.set_namespace_(namespace_);
    auto* f = req.mutable_failure();
    f->set_message(message);
    f->set_source(converter::kFailureSource);
    f->mutable_application_failure_info()->set_type(type);
    wsv1::RespondWorkflowTaskFailedResponse out;
    grpc::ClientContext ctx;
    core_->PrepareContext(&ctx, std::chrono::seconds(30));
    (void)core_->stub().RespondWorkflowTaskFailed(&ctx, req, &out);
    return true;
  }

  // `entry`: the run's cached entry, held busy by this task (null: replay
  // the run for this query only).
  void HandleLegacyQuery(wsv1::PollWorkflowTaskQueueResponse* task,
                         const std::shared_ptr<RunEntry>& entry) {
    const wsv1::PollWorkflowTaskQueueResponse& resp = *task;
    const std::string run_id = resp.workflow_execution().run_id();
    wsv1::RespondQueryTaskCompletedRequest req;
    req.set_task_token(resp.task_token());
    req.set_namespace_(namespace_);
    try {
      converter::Payload answer;
      converter::Payloads args = resp.query().query_args();
      dc_.Decode(&args);
      if (entry) {
        answer = entry->run->Query(resp.query().query_type(), args);
      } else {
        auto run = NewRun(resp);
        run->Feed(FullEvents(resp, PollEvents(task)));
        answer = run->Query(resp.query().query_type(), args);
      }
      dc_.Encode(&answer);
      req.set_completed_type(ev::QUERY_RESULT_TYPE_ANSWERED);
      *req.mutable_query_result()->add_payloads() = std::move(answer);
    } catch (const std::exception& e) {
      req.set_completed_type(ev::QUERY_RESULT_TYPE_FAILED);
      req.set_error_message(e.what());
      *req.mutable_failure() = dc_.ToFailure(std::current_exception());
      dc_.EncodeFailure(req.mutable_failure());
    }
    wsv1::RespondQueryTaskCompletedResponse out;
    grpc::ClientContext ctx;
    core_->PrepareContext(&ctx, std::chrono::seconds(30));
    (void)core_->stub().RespondQueryTaskCompleted(&ctx, req, &out);
  }

  void Track(const std::shared_ptr<InFlight>& task) {
    std::lock_guard lock(mu_);
    inflight_.insert(task);
  }
  void Untrack(const std::shared_ptr<InFlight>& task) {
    std::lock_guard lock(mu_);
    inflight_.erase(task);
  }

  void Watchdog() {
    std::unique_lock lock(mu_);
    while (!watchdog_stop_) {
      watchdog_cv_.wait_for(lock, std::chrono::milliseconds(100));
      const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
      std::vector<std::shared_ptr<InFlight>> deadlocked;
      for (const auto& t : inflight_) {
        int64_t started = t->run->activation_started_ns();
        if (started != 0 && now - started > std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                options_.deadlock_timeout)
                                                .count()) {
          deadlocked.push_back(t);
        }
      }
      for (const auto& t : deadlocked) {
        inflight_.erase(t);
        // Its executor cannot be interrupted: another takes its place.
        t->executor->stuck.store(true);
        StartExecutorLocked();
        EvictLocked(t->run_id, t->entry.get());
      }
      lock.unlock();
      for (const auto& t : deadlocked) {
        if (!FailTask(*t, ev::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
                      "Potential deadlock detected: workflow didn't yield within " +
                          std::to_string(options_.deadlock_timeout.count()) + "ms",
                      "DeadlockError")) {
          continue;  // its activation finished first and answered the task
        }
        // Tasks waiting for the run replay it afresh; the stuck executor
        // drops its task if it ever returns (`responded`).
        ReleaseEntry(t->entry);
        FinishTask();
      }
      lock.lock();
    }
  }

  static constexpr int kMaxEagerActivities = 3;  // per workflow task, as sdk-core

  std::shared_ptr<client::internal::ClientCore> core_;
  WorkflowWorkerOptions options_;
  const std::string namespace_;
  const converter::DataConverter& dc_;  // owned by core_
  std::shared_ptr<const WorkflowRegistry> registry_;
  std::string sticky_queue_;

  std::mutex mu_;
  // Notified when a poll or a task ends (Shutdown waits for none left).
  std::condition_variable cv_;
  // Every poll and completion of this worker ends here; executors wait on it.
  grpc::CompletionQueue cq_;
  // The watchdog's own: cv_ is notified on every poll, which must not wake it.
  std::condition_variable watchdog_cv_;
  bool started_ = false;        // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  bool watchdog_stop_ = false;  // guarded by mu_
  int slots_ = 1;               // guarded by mu_: polls + tasks at most
  int max_polls_ = 1;           // guarded by mu_
  int polls_in_flight_ = 0;     // guarded by mu_: issued, callback not done
  std::set<PollCall*> polls_;   // guarded by mu_: of those, still cancellable
  int sticky_polls_ = 0;        // guarded by mu_: of polls_
  QueueHandOff queue_handoff_;
  bool next_poll_sticky_ = false;  // guarded by mu_
  int poll_backoffs_ = 0;          // guarded by mu_: failed polls waiting to be retried
  int tasks_ = 0;                  // guarded by mu_: polled, not yet answered
  std::set<std::shared_ptr<InFlight>> inflight_;  // guarded by mu_
  // Most recently used first; points at the keys of cache_ (node-based,
  // so they stay put) rather than holding a second copy of each run id.
  std::list<const std::string*> lru_;  // guarded by mu_
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<RunEntry>, std::list<const std::string*>::iterator>>
      cache_;  // guarded by mu_
  // Guarded by mu_ (the watchdog adds replacements); read without it once
  // the watchdog has stopped.
  std::vector<std::shared_ptr<Executor>> executors_;
  std::thread watchdog_;
};

WorkflowWorker::WorkflowWorker(std::shared_ptr<client::internal::ClientCore> core,
                               WorkflowWorkerOptions options)
    : impl_(std::make_unique<WorkflowWorkerImpl>(std::move(core), std::move(options))) {}
WorkflowWorker::~WorkflowWorker() = default;
void WorkflowWorker::Start() { impl_->Start(); }
void WorkflowWorker::Shutdown() { impl_->Shutdown(); }
const std::string& WorkflowWorker::sticky_task_queue() const { return impl_->sticky_queue(); }

}  // namespace temporalio::workflow::internal
