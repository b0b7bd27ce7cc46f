// temporal.api.operatorservice.v1.OperatorService: the search attribute
// RPCs (Add/Remove/ListSearchAttributes), forwarded to the history engine.
// The other operator RPCs are UNIMPLEMENTED, as the base class answers.
#ifndef TEMPORALIO_SERVER_FRONTEND_OPERATOR_SERVICE_H_
#define TEMPORALIO_SERVER_FRONTEND_OPERATOR_SERVICE_H_

#include "server/history/engine.h"
#include "server/metrics.h"
#include "temporal/api/operatorservice/v1/service.grpc.pb.h"

namespace temporalio::server::frontend {

namespace osv1 = temporal::api::operatorservice::v1;

// Thread-safe; `engine` (and `metrics`, which may be null) must outlive it.
class OperatorService final : public osv1::OperatorService::CallbackService {
 public:
  explicit OperatorService(history::Engine* engine, Metrics* metrics = nullptr)
      : engine_(engine), metrics_(metrics) {}

#define TEMPORALIO_RPC(Name)                                           \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* context, \
                                 const osv1::Name##Request* request,   \
                                 osv1::Name##Response* response) override;
  TEMPORALIO_RPC(AddSearchAttributes)
  TEMPORALIO_RPC(RemoveSearchAttributes)
  TEMPORALIO_RPC(ListSearchAttributes)
#undef TEMPORALIO_RPC

 private:
  history::Engine* engine_;
  Metrics* metrics_;
};

}  // namespace temporalio::server::frontend

#endif  // TEMPORALIO_SERVER_FRONTEND_OPERATOR_SERVICE_H_
