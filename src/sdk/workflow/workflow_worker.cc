#include "sdk/workflow/workflow_worker.h"

#include <google/protobuf/util/time_util.h>
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

#include "sdk/client/client_core.h"
#include "sdk/converter/payload_visitor.h"
#include "sdk/workflow/run.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace temporalio::workflow::internal {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace ev = temporal::api::enums::v1;
using google::protobuf::util::TimeUtil;

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
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("WorkflowWorker::Start called twice");
    started_ = true;
    int n = std::max(1, options_.max_concurrent_workflow_tasks);
    max_polls_ = options_.workflow_pollers > 0 ? std::min(options_.workflow_pollers, n) : n;
    if (!sticky_queue_.empty()) max_polls_ = std::max<size_t>(max_polls_, std::min(n, 2));
    for (int i = 0; i < n; ++i) {
      auto slot = std::make_shared<ThreadSlot>();
      bool sticky = false;
      if (!sticky_queue_.empty()) {
        if (n == 1) {
          slot->alternate = true;  // one thread polls both queues in turn
        } else {
          sticky = i % 2 == 1;
        }
      }
      slot->thread = std::thread([this, sticky, slot] { PollLoop(sticky, slot); });
      threads_.push_back(slot);
    }
    watchdog_ = std::thread([this] { Watchdog(); });
  }

  void Shutdown() {
    {
      std::lock_guard lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
      for (auto* ctx : polls_) ctx->TryCancel();
    }
    cv_.notify_all();
    for (auto& slot : threads_) {
      // A thread stuck in a deadlocked workflow cannot be joined.
      if (slot->stuck.load()) {
        slot->thread.detach();
      } else {
        slot->thread.join();
      }
    }
    {
      std::lock_guard lock(mu_);
      watchdog_stop_ = true;
    }
    watchdog_cv_.notify_all();
    watchdog_.join();
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
  struct ThreadSlot {
    std::thread thread;
    std::atomic<bool> stuck{false};
    bool alternate = false;
  };
  // A cached run. `mu` serializes tasks of the run.
  struct RunEntry {
    std::mutex mu;
    std::unique_ptr<WorkflowRun> run;
  };
  // A workflow task being processed (watched by the deadlock detector).
  struct InFlight {
    std::string task_token;
    WorkflowRun* run = nullptr;
    std::string run_id;
    int attempt = 1;
    std::atomic<bool> responded{false};
    ThreadSlot* slot = nullptr;
  };

  void PollLoop(bool sticky, std::shared_ptr<ThreadSlot> slot) {
    bool use_sticky = sticky;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (slot->alternate) use_sticky = !use_sticky;
      wsv1::PollWorkflowTaskQueueRequest req;
      req.set_namespace_(namespace_);
      req.set_identity(options_.identity);
      auto* tq = req.mutable_task_queue();
      if (use_sticky) {
        tq->set_name(sticky_queue_);
        tq->set_kind(ev::TASK_QUEUE_KIND_STICKY);
        tq->set_normal_name(options_.task_queue);
      } else {
        tq->set_name(options_.task_queue);
        tq->set_kind(ev::TASK_QUEUE_KIND_NORMAL);
      }
      wsv1::PollWorkflowTaskQueueResponse resp;
      grpc::ClientContext ctx;
      core_->PrepareContext(&ctx, options_.poll_timeout);
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || polls_.size() < max_polls_; });
        if (stopping_) return;
        polls_.insert(&ctx);
      }
      grpc::Status status = core_->stub().PollWorkflowTaskQueue(&ctx, req, &resp);
      {
        std::lock_guard lock(mu_);
        polls_.erase(&ctx);
      }
      cv_.notify_all();
      if (!status.ok()) {
        if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) continue;
        std::unique_lock lock(mu_);
        if (stopping_) return;
        cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
        continue;
      }
      if (resp.task_token().empty()) continue;
      try {
        if (resp.has_query()) {
          HandleLegacyQuery(resp);
        } else {
          HandleWorkflowTask(resp, slot.get());
        }
      } catch (const std::exception& e) {
        std::clog << "temporalio workflow worker: task handling error: " << e.what() << std::endl;
      }
    }
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

  // The poll's events (following next_page_token pages).
  std::vector<core::HistoryEvent> PollEvents(const wsv1::PollWorkflowTaskQueueResponse& resp) {
    std::vector<core::HistoryEvent> events(resp.history().events().begin(),
                                           resp.history().events().end());
    for (auto& e : events) converter::internal::DecodeAll(dc_, &e);
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

  std::shared_ptr<RunEntry> TakeCached(const std::string& run_id) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(run_id);
    if (it == cache_.end()) return nullptr;
    lru_.erase(it->second.second);
    lru_.push_front(run_id);
    it->second.second = lru_.begin();
    return it->second.first;
  }
  void PutCached(const std::string& run_id, std::shared_ptr<RunEntry> entry) {
    std::lock_guard lock(mu_);
    if (options_.max_cached_workflows == 0) return;
    auto it = cache_.find(run_id);
    if (it != cache_.end()) {
      lru_.erase(it->second.second);
      cache_.erase(it);
    }
    lru_.push_front(run_id);
    cache_[run_id] = {std::move(entry), lru_.begin()};
    while (cache_.size() > options_.max_cached_workflows) {
      cache_.erase(lru_.back());
      lru_.pop_back();
    }
  }
  bool IsCached(const std::string& run_id, const std::shared_ptr<RunEntry>& entry) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(run_id);
    return it != cache_.end() && it->second.first == entry;
  }
  void Evict(const std::string& run_id) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(run_id);
    if (it == cache_.end()) return;
    lru_.erase(it->second.second);
    cache_.erase(it);
  }

  void HandleWorkflowTask(const wsv1::PollWorkflowTaskQueueResponse& resp, ThreadSlot* slot) {
    const std::string run_id = resp.workflow_execution().run_id();
    auto inflight = std::make_shared<InFlight>();
    inflight->task_token = resp.task_token();
    inflight->run_id = run_id;
    inflight->attempt = resp.attempt();
    inflight->slot = slot;
    std::vector<core::HistoryEvent> events = PollEvents(resp);
    std::shared_ptr<RunEntry> entry = TakeCached(run_id);
    std::unique_lock<std::mutex> run_lock;
    if (entry) {
      run_lock = std::unique_lock(entry->mu);
      // The task that held it may have evicted it meanwhile (run closed, task failed).
      if (!IsCached(run_id, entry) || events.empty() ||
          events.front().event_id() != entry->run->last_event_id() + 1) {
        Evict(run_id);
        entry = nullptr;
        run_lock = {};
      }
    }
    try {
      if (!entry) {
        entry = std::make_shared<RunEntry>();
        run_lock = std::unique_lock(entry->mu);
        entry->run = NewRun(resp);
        events = FullEvents(resp, std::move(events));
        // Cached (and locked) before its completion is sent: the server may
        // hand out the run's next task, or a query, before this thread is
        // done, and that must wait for this entry rather than replay the
        // run beside it (and be overwritten by it afterwards).
        PutCached(run_id, entry);
      }
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
      for (auto& c : run->Commands()) *req.add_commands() = std::move(c);
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
      wsv1::RespondWorkflowTaskCompletedResponse out;
      grpc::ClientContext ctx;
      core_->PrepareContext(&ctx, std::chrono::seconds(30));
      grpc::Status s = core_->stub().RespondWorkflowTaskCompleted(&ctx, req, &out);
      StartEagerActivities(s.ok() ? &out : nullptr, eager_reserved);
      if (!s.ok() || run->closed()) {
        Evict(run_id);
      } else {
        run_lock.unlock();
        PutCached(run_id, entry);
      }
    } catch (const NondeterminismError& e) {
      Untrack(inflight);
      Evict(run_id);
      FailTask(*inflight, ev::WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR, e.what(),
               "NondeterminismError");
    } catch (const std::exception& e) {
      Untrack(inflight);
      Evict(run_id);
      FailTask(*inflight, ev::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
               e.what(), "WorkflowTaskError");
    }
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

  void FailTask(InFlight& task, ev::WorkflowTaskFailedCause cause, const std::string& message,
                const std::string& type) {
    if (task.responded.exchange(true)) return;
    if (task.attempt > 1) return;  // as sdk-core: let the task time out and retry
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
  }

  void HandleLegacyQuery(const wsv1::PollWorkflowTaskQueueResponse& resp) {
    const std::string run_id = resp.workflow_execution().run_id();
    wsv1::RespondQueryTaskCompletedRequest req;
    req.set_task_token(resp.task_token());
    req.set_namespace_(namespace_);
    try {
      converter::Payload answer;
      converter::Payloads args = resp.query().query_args();
      dc_.Decode(&args);
      std::shared_ptr<RunEntry> entry = TakeCached(run_id);
      if (entry) {
        std::lock_guard lock(entry->mu);
        answer = entry->run->Query(resp.query().query_type(), args);
      } else {
        auto run = NewRun(resp);
        run->Feed(FullEvents(resp, PollEvents(resp)));
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
        t->slot->stuck.store(true);
        auto it = cache_.find(t->run_id);
        if (it != cache_.end()) {
          lru_.erase(it->second.second);
          cache_.erase(it);
        }
      }
      lock.unlock();
      for (const auto& t : deadlocked) {
        FailTask(*t, ev::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
                 "Potential deadlock detected: workflow didn't yield within " +
                     std::to_string(options_.deadlock_timeout.count()) + "ms",
                 "DeadlockError");
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
  std::condition_variable cv_;
  // The watchdog's own: cv_ is notified on every poll, which must not wake it.
  std::condition_variable watchdog_cv_;
  bool started_ = false;                          // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  bool watchdog_stop_ = false;                    // guarded by mu_
  std::set<grpc::ClientContext*> polls_;          // guarded by mu_
  size_t max_polls_ = 1;                          // guarded by mu_
  std::set<std::shared_ptr<InFlight>> inflight_;  // guarded by mu_
  std::list<std::string> lru_;                    // guarded by mu_
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<RunEntry>, std::list<std::string>::iterator>>
      cache_;  // guarded by mu_
  std::vector<std::shared_ptr<ThreadSlot>> threads_;
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
