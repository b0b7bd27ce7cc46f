// The activity context: what an activity function running on a
// worker::Worker can learn about itself and do (heartbeat, observe
// cancellation, complete asynchronously).
//
// The context is thread-local: these functions work on the thread the worker
// runs the activity on (not on threads the activity starts itself; copy
// Info() or CancellationToken() to those). Outside an activity they throw
// NotInActivityError (except InActivity()).
#ifndef TEMPORALIO_ACTIVITY_CONTEXT_H_
#define TEMPORALIO_ACTIVITY_CONTEXT_H_

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>

#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"

namespace temporalio::activity {

struct ActivityInfo {
  std::string activity_id;
  std::string activity_type;
  // Identifies the task for client::AsyncActivityHandle (bytes).
  std::string task_token;
  std::string workflow_namespace;
  std::string workflow_id;
  std::string workflow_run_id;
  std::string workflow_type;
  std::string task_queue;
  // 1 for the first attempt.
  int attempt = 1;
  std::chrono::milliseconds heartbeat_timeout{0};  // 0 = none
  std::chrono::milliseconds start_to_close_timeout{0};
  std::chrono::milliseconds schedule_to_close_timeout{0};
  std::chrono::system_clock::time_point scheduled_time;
  std::chrono::system_clock::time_point current_attempt_scheduled_time;
  std::chrono::system_clock::time_point started_time;
  // Details of the last heartbeat of a previous attempt (decoded by the codecs).
  converter::Payloads heartbeat_details;
};

class NotInActivityError : public TemporalError {
 public:
  NotInActivityError() : TemporalError("not running in an activity") {}
};

namespace detail {
// Thrown by CompleteAsync(); deliberately not a std::exception so that
// `catch (const std::exception&)` in user code does not swallow it.
struct CompleteAsyncSignal {};
const converter::DataConverter& CurrentDataConverter();
void HeartbeatPayloads(converter::Payloads details);
}  // namespace detail

// True when called on an activity's thread.
bool InActivity() noexcept;

const ActivityInfo& Info();

// Records progress. Throttled like the other SDKs: at most one RPC per
// 0.8 x heartbeat_timeout (30 s when no heartbeat timeout, capped at 60 s);
// the latest details win and throttled details are sent when the interval
// ends. A heartbeat is how cancellation requests reach the activity.
template <class... Ts>
void Heartbeat(const Ts&... details) {
  detail::HeartbeatPayloads(detail::CurrentDataConverter().ToPayloads(details...));
}

// Decodes detail `index` of the previous attempt's last heartbeat, or
// nullopt when there is none.
template <class T>
std::optional<T> LastHeartbeatDetail(int index = 0) {
  const ActivityInfo& info = Info();
  if (index >= info.heartbeat_details.payloads_size()) return std::nullopt;
  return detail::CurrentDataConverter().FromPayload<T>(info.heartbeat_details.payloads(index));
}

// True once cancellation was requested: by the server (delivered in a
// heartbeat response; throw CanceledError to report the activity canceled),
// because the activity no longer exists on the server, or because the worker
// is shutting down and the grace period ended.
bool IsCancelled();
std::stop_token CancellationToken();

// Throws CanceledError if IsCancelled().
void ThrowIfCancelled();

// Ends the activity function without completing the activity: the worker
// does not respond, and a client completes it later with
// client::AsyncActivityHandle (by Info().task_token or by ids).
[[noreturn]] void CompleteAsync();

}  // namespace temporalio::activity

#endif  // TEMPORALIO_ACTIVITY_CONTEXT_H_
