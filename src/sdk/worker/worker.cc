#include "temporalio/worker/worker.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/thread_name.h"
#include "sdk/activity/context_internal.h"
#include "sdk/client/client_core.h"
#include "sdk/client/proto_util.h"
#include "sdk/workflow/workflow_worker.h"

namespace temporalio::worker {

namespace internal {

namespace wsv1 = client::internal::wsv1;
using activity::internal::ActivityContext;
using activity::internal::CancelReason;
using client::internal::AsyncStub;
using client::internal::Stub;

class WorkerImpl : public std::enable_shared_from_this<WorkerImpl> {
 public:
  WorkerImpl(client::Client client, WorkerOptions options)
      : client_(std::move(client)), core_(client_.core()), options_(std::move(options)) {
    if (options_.task_queue.empty())
      throw std::invalid_argument("WorkerOptions.task_queue is required");
    if (options_.identity.empty()) options_.identity = core_->identity();
    options_.max_concurrent_activities = std::max(1, options_.max_concurrent_activities);
    options_.activity_pollers =
        std::clamp(options_.activity_pollers, 1, options_.max_concurrent_activities);
  }

  void Register(std::string name, detail::ActivityFn fn) {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("RegisterActivity after Worker::Start");
    if (!activities_.emplace(name, std::move(fn)).second) {
      throw std::invalid_argument("activity registered twice: " + name);
    }
  }

  workflow::WorkflowRegistry& MutableRegistry() {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("RegisterWorkflow after Worker::Start");
    return registry_;
  }

  void Start() {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("Worker::Start called twice");
    bool has_workflows = !registry_.empty();
    if (activities_.empty() && !has_workflows) {
      throw std::logic_error("Worker::Start: no workflows or activities registered");
    }
    started_ = true;
    scheduler_ = std::make_unique<activity::internal::HeartbeatScheduler>();
    if (has_workflows) {
      workflow::internal::WorkflowWorkerOptions o;
      o.task_queue = options_.task_queue;
      o.identity = options_.identity;
      o.registry = std::make_shared<const workflow::WorkflowRegistry>(std::move(registry_));
      o.max_cached_workflows = options_.max_cached_workflows;
      o.max_concurrent_workflow_tasks = options_.max_concurrent_workflow_tasks;
      o.workflow_pollers = options_.workflow_pollers;
      o.deadlock_timeout = options_.deadlock_timeout;
      o.sticky_schedule_to_start_timeout = options_.sticky_schedule_to_start_timeout;
      if (!activities_.empty() && !options_.disable_eager_activity_execution) {
        // The workflow worker never outlives this (Shutdown stops it first).
        o.eager_activities = workflow::internal::EagerActivitySlots{
            .try_reserve = [this] { return TryReserveSlot(); },
            .release = [this] { ReleaseSlot(); },
            .start =
                [this](std::unique_ptr<wsv1::PollActivityTaskQueueResponse> task) {
                  StartActivity(std::move(task));
                },
        };
      }
      workflows_ = std::make_unique<workflow::internal::WorkflowWorker>(core_, std::move(o));
      workflows_->Start();
    }
    if (!activities_.empty()) {
      for (int i = 0; i < options_.activity_pollers; ++i) {
        pollers_.emplace_back([self = shared_from_this()] { self->PollLoop(); });
      }
    }
  }

  void Shutdown() {
    std::unique_lock lock(mu_);
    if (!started_ || shutdown_started_) {
      cv_.wait(lock, [&] { return !started_ || shutdown_done_; });
      return;
    }
    shutdown_started_ = true;
    shutting_down_ = true;
    for (grpc::ClientContext* context : poll_contexts_) context->TryCancel();
    cv_.notify_all();
    lock.unlock();

    // Workflow tasks in progress finish (they may schedule activities this
    // worker no longer polls for; the server hands them to another worker).
    if (workflows_) workflows_->Shutdown();
    // Tell the server (best effort; completes parked polls on servers that support it).
    if (!pollers_.empty()) {
      wsv1::ShutdownWorkerRequest request;
      request.set_namespace_(core_->namespace_());
      request.set_identity(options_.identity);
      request.set_reason("graceful shutdown");
      wsv1::ShutdownWorkerResponse response;
      client::internal::CallOptions call;
      call.retry = false;
      call.timeout = std::chrono::milliseconds(5000);
      core_->Call(&Stub::ShutdownWorker, request, &response, call);
    }
    for (std::thread& poller : pollers_) poller.join();

    lock.lock();
    auto grace_end = std::chrono::steady_clock::now() + options_.graceful_shutdown_timeout;
    cv_.wait_until(lock, grace_end, [&] { return running_.empty(); });
    for (const auto& context : running_) context->RequestCancel(CancelReason::kWorkerShutdown);
    cv_.wait(lock, [&] { return running_.empty(); });
    lock.unlock();
    {
      std::unique_lock work_lock(work_mu_);
      pool_stop_ = true;
      work_cv_.notify_all();
      work_cv_.wait(work_lock, [&] { return threads_ == 0; });
    }
    scheduler_->Stop();
    lock.lock();
    shutdown_done_ = true;
    cv_.notify_all();
  }

  void WaitShutdown() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return shutdown_done_; });
  }

 private:
  void PollLoop() {
    std::chrono::milliseconds backoff{100};
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] {
          return shutting_down_ || slots_used_ < options_.max_concurrent_activities;
        });
        if (shutting_down_) return;
        ++slots_used_;
      }
      grpc::ClientContext context;
      core_->PrepareContext(&context, client::internal::kLongPollTimeout);
      {
        std::lock_guard lock(mu_);
        if (shutting_down_) {
          --slots_used_;
          return;
        }
        poll_contexts_.insert(&context);
      }
      wsv1::PollActivityTaskQueueRequest request;
      request.set_namespace_(core_->namespace_());
      request.mutable_task_queue()->set_name(options_.task_queue);
      request.mutable_task_queue()->set_kind(temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
      request.set_identity(options_.identity);
      auto response = std::make_unique<wsv1::PollActivityTaskQueueResponse>();
      grpc::Status status = core_->stub().PollActivityTaskQueue(&context, request, response.get());
      bool shutting_down;
      {
        std::lock_guard lock(mu_);
        poll_contexts_.erase(&context);
        shutting_down = shutting_down_;
      }
      if (status.ok() && !response->task_token().empty()) {
        backoff = std::chrono::milliseconds(100);
        StartActivity(std::move(response));  // keeps the slot
        continue;
      }
      ReleaseSlot();
      if (status.ok() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) continue;
      if (shutting_down) return;
      std::cerr << "temporalio: PollActivityTaskQueue on " << options_.task_queue
                << " failed: " << status.error_message() << "\n";
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [&] { return shutting_down_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    }
  }

  bool TryReserveSlot() {
    std::lock_guard lock(mu_);
    if (shutting_down_ || slots_used_ >= options_.max_concurrent_activities) return false;
    ++slots_used_;
    return true;
  }

  void ReleaseSlot() {
    std::lock_guard lock(mu_);
    --slots_used_;
    cv_.notify_all();
  }

  void StartActivity(std::unique_ptr<wsv1::PollActivityTaskQueueResponse> task) {
    activity::ActivityInfo info;
    info.activity_id = task->activity_id();
    info.activity_type = task->activity_type().name();
    info.task_token = task->task_token();
    info.workflow_namespace = task->workflow_namespace();
    info.workflow_id = task->workflow_execution().workflow_id();
    info.workflow_run_id = task->workflow_execution().run_id();
    info.workflow_type = task->workflow_type().name();
    info.task_queue = options_.task_queue;
    info.attempt = std::max(1, task->attempt());
    info.heartbeat_timeout = client::internal::FromDuration(task->heartbeat_timeout());
    info.start_to_close_timeout = client::internal::FromDuration(task->start_to_close_timeout());
    info.schedule_to_close_timeout =
        client::internal::FromDuration(task->schedule_to_close_timeout());
    info.scheduled_time = client::internal::FromTimestamp(task->scheduled_time());
    info.current_attempt_scheduled_time =
        client::internal::FromTimestamp(task->current_attempt_scheduled_time());
    info.started_time = client::internal::FromTimestamp(task->started_time());
    info.heartbeat_details = task->heartbeat_details();
    try {
      core_->data_converter().Decode(&info.heartbeat_details);
    } catch (const std::exception&) {
      // Left encoded; LastHeartbeatDetail will fail to decode them.
    }
    std::chrono::milliseconds throttle =
        info.heartbeat_timeout.count() > 0
            ? std::min(std::chrono::milliseconds(info.heartbeat_timeout.count() * 4 / 5),
                       options_.max_heartbeat_throttle_interval)
            : options_.default_heartbeat_throttle_interval;
    auto context =
        std::make_shared<ActivityContext>(core_, std::move(info), throttle, scheduler_.get());
    {
      std::lock_guard lock(mu_);
      running_.insert(context);
    }
    {
      std::unique_lock lock(work_mu_);
      work_.push_back({context, std::move(task)});
      // Idle threads not yet woken for earlier jobs take this one. Woken
      // after the unlock, so that the thread does not block on the mutex
      // still held here (a second wake-up per activity).
      if (idle_threads_ >= static_cast<int>(work_.size())) {
        lock.unlock();
        work_cv_.notify_one();
        return;
      }
      ++threads_;
    }
    std::thread([self = shared_from_this()] { self->ActivityThread(); }).detach();
  }

  // Runs activity jobs; stays for more (a thread per activity costs more
  // than the activity itself for short ones) until idle for a while or the
  // worker stops.
  void ActivityThread() {
    common::SetCurrentThreadName("activity");
    std::unique_lock lock(work_mu_);
    for (;;) {
      if (work_.empty()) {
        if (pool_stop_) break;
        ++idle_threads_;
        bool woken = work_cv_.wait_for(lock, kActivityThreadIdle,
                                       [&] { return !work_.empty() || pool_stop_; });
        --idle_threads_;
        if (!woken) break;
        continue;
      }
      ActivityJob job = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      // Frees the slot once the server has the outcome (FinishActivity).
      RunActivity(job.context, *job.task);
      job = {};
      lock.lock();
    }
    --threads_;
    work_cv_.notify_all();  // Shutdown waits for threads_ == 0
  }

  void RunActivity(const std::shared_ptr<ActivityContext>& context,
                   const wsv1::PollActivityTaskQueueResponse& task) {
    const converter::DataConverter& dc = core_->data_converter();
    activity::internal::SetCurrent(context.get());
    enum class Outcome { kCompleted, kFailed, kCanceled, kAsync } outcome = Outcome::kFailed;
    converter::Payloads result;
    std::exception_ptr error;
    try {
      auto it = activities_.find(task.activity_type().name());
      if (it == activities_.end()) {
        std::string names;
        for (const auto& [name, fn] : activities_) names += (names.empty() ? "" : ", ") + name;
        throw ApplicationError("Activity function " + task.activity_type().name() +
                                   " is not registered on this worker, available activities: [" +
                                   names + "]",
                               {.type = "NotFoundError"});
      }
      converter::Payloads input = task.input();
      dc.Decode(&input);
      result = it->second(dc, input);
      dc.Encode(&result);
      outcome = Outcome::kCompleted;
    } catch (const activity::detail::CompleteAsyncSignal&) {
      outcome = Outcome::kAsync;
    } catch (const CanceledError&) {
      error = std::current_exception();
      outcome =
          context->cancel_reason() == CancelReason::kServer ? Outcome::kCanceled : Outcome::kFailed;
    } catch (...) {
      error = std::current_exception();
      outcome = Outcome::kFailed;
    }
    activity::internal::SetCurrent(nullptr);
    converter::Payloads last_details = context->Finish();
    bool responding = false;
    try {
      responding = Respond(context, task,
                           outcome == Outcome::kCompleted  ? 0
                           : outcome == Outcome::kFailed   ? 1
                           : outcome == Outcome::kCanceled ? 2
                                                           : 3,
                           std::move(result), error, std::move(last_details));
    } catch (const std::exception& e) {
      std::cerr << "temporalio: responding to activity " << task.activity_id()
                << " failed: " << e.what() << "\n";
    }
    if (!responding) FinishActivity(context);
  }

  // The activity's slot is free again: its outcome reached the server (or
  // could not be sent, or it completes asynchronously).
  void FinishActivity(const std::shared_ptr<ActivityContext>& context) {
    // Last use of `this`: Shutdown waits for running_ to empty.
    std::lock_guard lock(mu_);
    running_.erase(context);
    --slots_used_;
    cv_.notify_all();
  }

  // Sends the outcome without waiting for the reply: the activity thread is
  // free for the next activity at once, and the reply (on a gRPC callback
  // thread) frees the slot. Returns whether a response was issued (then
  // FinishActivity runs when it completes). kind: 0 completed, 1 failed,
  // 2 canceled, 3 async (no response).
  bool Respond(const std::shared_ptr<ActivityContext>& context,
               const wsv1::PollActivityTaskQueueResponse& task, int kind,
               converter::Payloads result, std::exception_ptr error,
               converter::Payloads last_details) {
    const converter::DataConverter& dc = core_->data_converter();
    // `this` outlives the call: Shutdown waits until FinishActivity ran.
    auto done = [this, context, activity_id = task.activity_id()](const grpc::Status& status,
                                                                  auto& /*response*/) {
      if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
        std::cerr << "temporalio: responding to activity " << activity_id
                  << " failed: " << status.error_message() << "\n";
      }
      FinishActivity(context);
    };
    if (kind == 0) {
      wsv1::RespondActivityTaskCompletedRequest request;
      request.set_namespace_(core_->namespace_());
      request.set_task_token(task.task_token());
      if (result.payloads_size() > 0) *request.mutable_result() = std::move(result);
      request.set_identity(options_.identity);
      core_->CallAsync<wsv1::RespondActivityTaskCompletedRequest,
                       wsv1::RespondActivityTaskCompletedResponse>(
          &AsyncStub::RespondActivityTaskCompleted, std::move(request), std::move(done));
    } else if (kind == 1) {
      wsv1::RespondActivityTaskFailedRequest request;
      request.set_namespace_(core_->namespace_());
      request.set_task_token(task.task_token());
      converter::Failure failure = dc.ToFailure(error);
      dc.EncodeFailure(&failure);
      *request.mutable_failure() = std::move(failure);
      request.set_identity(options_.identity);
      dc.Encode(&last_details);
      if (last_details.payloads_size() > 0) {
        *request.mutable_last_heartbeat_details() = std::move(last_details);
      }
      core_->CallAsync<wsv1::RespondActivityTaskFailedRequest,
                       wsv1::RespondActivityTaskFailedResponse>(
          &AsyncStub::RespondActivityTaskFailed, std::move(request), std::move(done));
    } else if (kind == 2) {
      wsv1::RespondActivityTaskCanceledRequest request;
      request.set_namespace_(core_->namespace_());
      request.set_task_token(task.task_token());
      try {
        std::rethrow_exception(error);
      } catch (const CanceledError& e) {
        converter::Payloads details = e.details();
        dc.Encode(&details);
        if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
      } catch (...) {
      }
      request.set_identity(options_.identity);
      core_->CallAsync<wsv1::RespondActivityTaskCanceledRequest,
                       wsv1::RespondActivityTaskCanceledResponse>(
          &AsyncStub::RespondActivityTaskCanceled, std::move(request), std::move(done));
    } else {
      return false;
    }
    return true;
  }

  client::Client client_;
  std::shared_ptr<client::internal::ClientCore> core_;
  WorkerOptions options_;
  std::map<std::string, detail::ActivityFn> activities_;  // immutable after Start
  workflow::WorkflowRegistry registry_;                   // moved out at Start
  std::unique_ptr<workflow::internal::WorkflowWorker> workflows_;
  std::unique_ptr<activity::internal::HeartbeatScheduler> scheduler_;
  std::vector<std::thread> pollers_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;           // mu_
  bool shutting_down_ = false;     // mu_
  bool shutdown_started_ = false;  // mu_
  bool shutdown_done_ = false;     // mu_
  int slots_used_ = 0;             // mu_: polls + running activities
  // The activity threads' queue has its own mutex: handing a task to a
  // thread then does not contend with slot bookkeeping (pollers, replies).
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  int threads_ = 0;         // work_mu_: activity threads alive
  int idle_threads_ = 0;    // work_mu_: of those, waiting for work
  bool pool_stop_ = false;  // work_mu_: idle threads exit
  struct ActivityJob {
    std::shared_ptr<ActivityContext> context;
    std::unique_ptr<wsv1::PollActivityTaskQueueResponse> task;
  };
  std::deque<ActivityJob> work_;  // work_mu_: polled tasks not yet on a thread
  static constexpr std::chrono::seconds kActivityThreadIdle{30};
  std::set<grpc::ClientContext*> poll_contexts_;        // mu_
  std::set<std::shared_ptr<ActivityContext>> running_;  // mu_
};

}  // namespace internal

Worker::Worker(client::Client client, WorkerOptions options)
    : impl_(std::make_shared<internal::WorkerImpl>(std::move(client), std::move(options))) {}

Worker::~Worker() { impl_->Shutdown(); }

void Worker::RegisterActivityFn(std::string name, detail::ActivityFn fn) {
  impl_->Register(std::move(name), std::move(fn));
}

workflow::WorkflowRegistry& Worker::MutableRegistry() { return impl_->MutableRegistry(); }

void Worker::Start() { impl_->Start(); }

void Worker::Shutdown() { impl_->Shutdown(); }

void Worker::Run() {
  impl_->Start();
  impl_->WaitShutdown();
}

}  // namespace temporalio::worker
