#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"

namespace temporalio::server {
namespace {

struct EventInfo {
  const char* name;
  const char* help;
};

// Indexed by Metrics::Event.
constexpr EventInfo kEvents[] = {
    {"workflow_started", "Workflow runs started"},
    {"workflow_task_started", "Workflow tasks handed to pollers"},
    {"workflow_task_completed", "Workflow tasks completed by workers"},
    {"workflow_task_failed", "Workflow tasks failed by workers"},
    {"activity_task_started", "Activity tasks handed to pollers"},
    {"activity_task_completed", "Activity tasks completed by workers"},
    {"activity_task_failed", "Activity tasks failed by workers"},
    {"activity_task_canceled", "Activity tasks reported canceled by workers"},
};

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(std::size(kEvents) == std::size(decltype(events_){}));
  requests_ = &prometheus::BuildCounter()
                   .Name("service_requests")
                   .Help("RPCs received, by service and operation")
                   .Register(*registry_);
  errors_ = &prometheus::BuildCounter()
                 .Name("service_errors")
                 .Help("RPCs that failed, by service, operation and status code")
                 .Register(*registry_);
  for (size_t i = 0; i < std::size(kEvents); ++i) {
    events_[i] = &prometheus::BuildCounter()
                      .Name(kEvents[i].name)
                      .Help(kEvents[i].help)
                      .Register(*registry_);
    event_counters_[i] = &events_[i]->Add({});  // exported (as 0) before the first event
  }
}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& ip, int port) {
  const std::string address = common::JoinHostPort(ip, port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("could not serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? port : ports.front();
  return absl::OkStatus();
}

void Metrics::RecordRequest(std::string_view service, std::string_view operation,
                            const absl::Status& status) {
  // The request counter of each (service, operation) is looked up once:
  // building and hashing a label set on every RPC was ~1% of the server's CPU.
  thread_local std::string key;  // reused: no allocation per RPC
  key.assign(service).append("/").append(operation);
  prometheus::Counter* requests = nullptr;
  {
    std::lock_guard lock(request_counters_mu_);
    auto it = request_counters_.find(key);
    if (it == request_counters_.end()) {
      it = request_counters_
               .emplace(key, &requests_->Add({{"service_name", std::string(service)},
                                              {"operation", std::string(operation)}}))
               .first;
    }
    requests = it->second;
  }
  requests->Increment();
  if (!status.ok()) {
    prometheus::Labels labels{{"service_name", std::string(service)},
                              {"operation", std::string(operation)}};
    labels["status_code"] = absl::StatusCodeToString(status.code());
    errors_->Add(labels).Increment();
  }
}

void Metrics::Record(Event event) { event_counters_[static_cast<size_t>(event)]->Increment(); }

std::string Metrics::Text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace temporalio::server
