#include "server/frontend/health_service.h"

#include <algorithm>

namespace temporalio::server::frontend {

using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(std::vector<std::string> service_names)
    : service_names_(std::move(service_names)) {}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const grpc::health::v1::HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  auto* reactor = context->DefaultReactor();
  const std::string& name = request->service();
  const bool known = name.empty() || std::find(service_names_.begin(), service_names_.end(),
                                               name) != service_names_.end();
  if (!known) {
    // Same answer as gRPC's own health service for an unknown name.
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + name));
    return reactor;
  }
  response->set_status(serving_.load() ? HealthCheckResponse::SERVING
                                       : HealthCheckResponse::NOT_SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace temporalio::server::frontend
