#include "server/frontend/operator_service.h"

#include "server/errors.h"

namespace temporalio::server::frontend {

#define TEMPORALIO_FORWARD(Name)                                                           \
  grpc::ServerUnaryReactor* OperatorService::Name(grpc::CallbackServerContext* context,    \
                                                  const osv1::Name##Request* request,      \
                                                  osv1::Name##Response* response) {        \
    auto* reactor = context->DefaultReactor();                                             \
    engine_->Name(*request, response, [reactor, metrics = metrics_](absl::Status status) { \
      if (metrics) metrics->RecordRequest("operator", #Name, status);                      \
      reactor->Finish(ToGrpcStatus(status));                                               \
    });                                                                                    \
    return reactor;                                                                        \
  }

TEMPORALIO_FORWARD(AddSearchAttributes)
TEMPORALIO_FORWARD(RemoveSearchAttributes)
TEMPORALIO_FORWARD(ListSearchAttributes)

}  // namespace temporalio::server::frontend
