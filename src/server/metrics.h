// The dev server's Prometheus metrics (prometheus-cpp): request and error
// counts per RPC, workflow/activity task counters, and the optional HTTP
// endpoint `/metrics` serving them in the Prometheus text format, as
// `temporal server start-dev --metrics-port` does.
#ifndef TEMPORALIO_SERVER_METRICS_H_
#define TEMPORALIO_SERVER_METRICS_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace prometheus {
class Counter;
class Exposer;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace temporalio::server {

// Thread-safe.
class Metrics {
 public:
  enum class Event {
    kWorkflowStarted,        // a start or signal-with-start created a run
    kWorkflowTaskStarted,    // a workflow task poll returned a task
    kWorkflowTaskCompleted,  // RespondWorkflowTaskCompleted accepted
    kWorkflowTaskFailed,     // RespondWorkflowTaskFailed accepted
    kActivityTaskStarted,    // an activity task poll returned a task
    kActivityTaskCompleted,  // RespondActivityTaskCompleted(ById) accepted
    kActivityTaskFailed,     // RespondActivityTaskFailed(ById) accepted
    kActivityTaskCanceled,   // RespondActivityTaskCanceled(ById) accepted
  };

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves GET /metrics on ip:port (0 picks a free port). Call at most once.
  // UNAVAILABLE when the port cannot be bound.
  absl::Status Serve(const std::string& ip, int port);
  // The bound port; 0 when not serving.
  int port() const { return port_; }

  // One finished RPC of `service` ("frontend" for WorkflowService,
  // "operator" for OperatorService) named `operation`.
  void RecordRequest(std::string_view service, std::string_view operation,
                     const absl::Status& status);
  void Record(Event event);

  // The current metrics in the Prometheus text format (what /metrics serves).
  std::string Text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Counter>* events_[8];
  prometheus::Counter* event_counters_[8];
  std::mutex request_counters_mu_;
  // "service/operation" -> its counter in requests_ (counters live as long as the family).
  std::unordered_map<std::string, prometheus::Counter*> request_counters_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace temporalio::server

#endif  // TEMPORALIO_SERVER_METRICS_H_
