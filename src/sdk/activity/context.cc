#include <iostream>

#include "sdk/activity/context_internal.h"

namespace temporalio::activity {

namespace internal {

namespace {
thread_local ActivityContext* current_context = nullptr;
}  // namespace

ActivityContext* Current() noexcept { return current_context; }
void SetCurrent(ActivityContext* context) noexcept { current_context = context; }

// --- HeartbeatScheduler ---

HeartbeatScheduler::HeartbeatScheduler() : thread_([this] { Loop(); }) {}

HeartbeatScheduler::~HeartbeatScheduler() { Stop(); }

void HeartbeatScheduler::Schedule(std::weak_ptr<ActivityContext> context,
                                  std::chrono::steady_clock::time_point at) {
  {
    std::lock_guard lock(mu_);
    due_.emplace(at, std::move(context));
  }
  cv_.notify_all();
}

void HeartbeatScheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HeartbeatScheduler::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    if (first->first > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    std::weak_ptr<ActivityContext> weak = std::move(first->second);
    due_.erase(first);
    lock.unlock();
    if (auto context = weak.lock()) context->FlushPending();
    lock.lock();
  }
}

// --- ActivityContext ---

ActivityContext::ActivityContext(std::shared_ptr<client::internal::ClientCore> core,
                                 ActivityInfo info, std::chrono::milliseconds throttle,
                                 HeartbeatScheduler* scheduler)
    : core_(std::move(core)),
      info_(std::move(info)),
      throttle_(throttle),
      scheduler_(scheduler),
      next_allowed_(std::chrono::steady_clock::now()) {}

void ActivityContext::Heartbeat(converter::Payloads details) {
  std::unique_lock lock(mu_);
  if (done_) return;
  latest_details_ = std::move(details);
  has_pending_ = true;
  auto now = std::chrono::steady_clock::now();
  if (!in_flight_ && now >= next_allowed_) {
    SendLocked(lock);
  } else if (!flush_scheduled_) {
    flush_scheduled_ = true;
    scheduler_->Schedule(weak_from_this(), std::max(next_allowed_, now + throttle_ / 10));
  }
}

void ActivityContext::FlushPending() {
  std::unique_lock lock(mu_);
  flush_scheduled_ = false;
  if (done_ || !has_pending_) return;
  auto now = std::chrono::steady_clock::now();
  if (in_flight_ || now < next_allowed_) {
    flush_scheduled_ = true;
    scheduler_->Schedule(weak_from_this(), std::max(next_allowed_, now + throttle_ / 10));
    return;
  }
  SendLocked(lock);
}

void ActivityContext::SendLocked(std::unique_lock<std::mutex>& lock) {
  converter::Payloads details = latest_details_;
  has_pending_ = false;
  in_flight_ = true;
  lock.unlock();
  CancelReason cancel = CancelReason::kNone;
  try {
    data_converter().Encode(&details);
    client::internal::wsv1::RecordActivityTaskHeartbeatRequest request;
    request.set_namespace_(core_->namespace_());
    request.set_task_token(info_.task_token);
    if (details.payloads_size() > 0) *request.mutable_details() = std::move(details);
    request.set_identity(core_->identity());
    client::internal::wsv1::RecordActivityTaskHeartbeatResponse response;
    grpc::Status status =
        core_->Call(&client::internal::Stub::RecordActivityTaskHeartbeat, request, &response);
    if (status.ok()) {
      if (response.cancel_requested()) cancel = CancelReason::kServer;
    } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      cancel = CancelReason::kNotFound;
    } else {
      std::cerr << "temporalio: heartbeat of activity " << info_.activity_id
                << " failed: " << status.error_message() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "temporalio: heartbeat of activity " << info_.activity_id
              << " failed: " << e.what() << "\n";
  }
  if (cancel != CancelReason::kNone) RequestCancel(cancel);
  lock.lock();
  in_flight_ = false;
  next_allowed_ = std::chrono::steady_clock::now() + throttle_;
  if (has_pending_ && !done_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    scheduler_->Schedule(weak_from_this(), next_allowed_);
  }
}

converter::Payloads ActivityContext::Finish() {
  std::lock_guard lock(mu_);
  done_ = true;
  return latest_details_;
}

void ActivityContext::RequestCancel(CancelReason reason) {
  CancelReason expected = CancelReason::kNone;
  if (cancel_reason_.compare_exchange_strong(expected, reason)) stop_source_.request_stop();
}

}  // namespace internal

namespace detail {

const converter::DataConverter& CurrentDataConverter() {
  internal::ActivityContext* context = internal::Current();
  if (context == nullptr) throw NotInActivityError();
  return context->data_converter();
}

void HeartbeatPayloads(converter::Payloads details) {
  internal::ActivityContext* context = internal::Current();
  if (context == nullptr) throw NotInActivityError();
  context->Heartbeat(std::move(details));
}

}  // namespace detail

bool InActivity() noexcept { return internal::Current() != nullptr; }

const ActivityInfo& Info() {
  internal::ActivityContext* context = internal::Current();
  if (context == nullptr) throw NotInActivityError();
  return context->info();
}

bool IsCancelled() { return CancellationToken().stop_requested(); }

std::stop_token CancellationToken() {
  internal::ActivityContext* context = internal::Current();
  if (context == nullptr) throw NotInActivityError();
  return context->token();
}

void ThrowIfCancelled() {
  if (IsCancelled()) throw CanceledError("Activity cancelled");
}

void CompleteAsync() {
  if (internal::Current() == nullptr) throw NotInActivityError();
  throw detail::CompleteAsyncSignal{};
}

}  // namespace temporalio::activity
