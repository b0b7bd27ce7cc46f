// AsyncActivityHandle: completes an activity from outside the worker, after
// the activity called activity::CompleteAsync(). Obtained from
// Client::GetAsyncActivityHandle by task token (activity::Info().task_token)
// or by (workflow id, run id, activity id).
//
// Cheap value type; thread-safe. Every method throws RpcError
// (WorkflowNotFoundError for NOT_FOUND: the activity is gone, timed out or
// already completed).
#ifndef TEMPORALIO_CLIENT_ASYNC_ACTIVITY_HANDLE_H_
#define TEMPORALIO_CLIENT_ASYNC_ACTIVITY_HANDLE_H_

#include <exception>
#include <memory>
#include <string>

#include "temporalio/converter/data_converter.h"

namespace temporalio::client {

namespace internal {
class ClientCore;
}  // namespace internal

class AsyncActivityHandle {
 public:
  struct ActivityRef {
    std::string task_token;  // if set, the ids below are unused
    std::string workflow_id;
    std::string run_id;
    std::string activity_id;
  };
  AsyncActivityHandle(std::shared_ptr<internal::ClientCore> core, ActivityRef ref);

  // Completes with one result payload (or none for Complete()).
  template <class T>
  void Complete(const T& result) const {
    CompletePayloads(data_converter().ToPayloads(result));
  }
  void Complete() const { CompletePayloads({}); }
  // Fails with the error converted by the failure converter (e.g. an ApplicationError).
  void Fail(std::exception_ptr error) const;
  template <class E>
  void Fail(const E& error) const {
    Fail(std::make_exception_ptr(error));
  }
  // Records a heartbeat; returns true when cancellation of the activity was requested.
  template <class... Ts>
  bool Heartbeat(const Ts&... details) const {
    return HeartbeatPayloads(data_converter().ToPayloads(details...));
  }
  // Reports the activity as canceled (only valid after cancellation was requested).
  template <class... Ts>
  void ReportCancellation(const Ts&... details) const {
    ReportCancellationPayloads(data_converter().ToPayloads(details...));
  }

  void CompletePayloads(converter::Payloads result) const;
  bool HeartbeatPayloads(converter::Payloads details) const;
  void ReportCancellationPayloads(converter::Payloads details) const;

 private:
  const converter::DataConverter& data_converter() const;
  std::shared_ptr<internal::ClientCore> core_;
  ActivityRef ref_;
};

}  // namespace temporalio::client

#endif  // TEMPORALIO_CLIENT_ASYNC_ACTIVITY_HANDLE_H_
