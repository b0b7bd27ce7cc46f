// The free functions of the workflow API (temporalio/workflow/workflow.h).
#include <cstdio>
#include <iostream>

#include "temporalio/workflow/workflow.h"

namespace temporalio::workflow {

bool IsReplaying() { return detail::Current().IsReplaying(); }
const WorkflowInfo& Info() { return detail::Current().Info(); }
std::chrono::system_clock::time_point Now() { return detail::Current().Now(); }
const converter::PayloadConverter& PayloadConverter() {
  return detail::Current().Converter().payload_converter;
}

double Random() {
  // 53 random bits -> [0, 1), identical on every platform.
  return static_cast<double>(detail::Current().Random()() >> 11) * 0x1.0p-53;
}

std::string Uuid4() {
  auto& rng = detail::Current().Random();
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

namespace {
void Log(const char* level, std::string_view message) {
  auto& runtime = detail::Current();
  if (runtime.IsReplaying()) return;
  std::clog << "[workflow " << runtime.Info().workflow_id << "] " << level << ": " << message
            << std::endl;
}
}  // namespace

void WorkflowLogger::Info(std::string_view message) const { Log("INFO", message); }
void WorkflowLogger::Warn(std::string_view message) const { Log("WARN", message); }
void WorkflowLogger::Error(std::string_view message) const { Log("ERROR", message); }
WorkflowLogger Logger() { return WorkflowLogger(); }

Task<void> Sleep(std::chrono::milliseconds duration) {
  int64_t seq = 0;
  auto state = detail::Current().StartTimer(duration, &seq);
  co_await detail::PendingAwaitable(std::move(state));
}

Timer::Timer(std::chrono::milliseconds duration) {
  state_ = detail::Current().StartTimer(duration, &seq_);
}

void Timer::Cancel() {
  if (!state_->done && seq_ != 0) detail::Current().CancelTimer(seq_);
}

Task<void> Timer::Wait() {
  auto state = state_;
  co_await detail::PendingAwaitable(std::move(state));
}

Task<void> WaitCondition(std::function<bool()> condition) {
  auto state = detail::Current().WaitCondition(std::move(condition), std::nullopt);
  co_await detail::PendingAwaitable(std::move(state));
}

Task<bool> WaitCondition(std::function<bool()> condition, std::chrono::milliseconds timeout) {
  auto state = detail::Current().WaitCondition(std::move(condition), timeout);
  auto done = co_await detail::PendingAwaitable(state);
  co_return done->flag;
}

bool IsCancellation(std::exception_ptr error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const CanceledError&) {
    return true;
  } catch (const ActivityError& e) {
    return IsCancellation(e.cause());
  } catch (const ChildWorkflowError& e) {
    return IsCancellation(e.cause());
  } catch (...) {
    return false;
  }
}

}  // namespace temporalio::workflow
