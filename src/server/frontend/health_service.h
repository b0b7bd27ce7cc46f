// grpc.health.v1.Health for the dev server: reports SERVING for the overall
// server ("") and for the Temporal services it hosts, as the real frontend does.
#ifndef TEMPORALIO_SERVER_FRONTEND_HEALTH_SERVICE_H_
#define TEMPORALIO_SERVER_FRONTEND_HEALTH_SERVICE_H_

#include <atomic>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace temporalio::server::frontend {

// Thread-safe. Check never blocks; Watch is not offered (UNIMPLEMENTED), like
// the Temporal frontend.
class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit HealthService(std::vector<std::string> service_names);

  // Flips every service to NOT_SERVING (used on shutdown so load balancers drain).
  void SetServing(bool serving) { serving_.store(serving); }

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;

 private:
  const std::vector<std::string> service_names_;
  std::atomic<bool> serving_{true};
};

}  // namespace temporalio::server::frontend

#endif  // TEMPORALIO_SERVER_FRONTEND_HEALTH_SERVICE_H_
