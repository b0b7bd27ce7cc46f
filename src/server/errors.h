// absl::Status values carrying Temporal's error details
// (temporal.api.errordetails.v1.*) as payloads keyed by their Any type URL.
// The frontend turns them into grpc::Status + google.rpc.Status in one place.
#ifndef TEMPORALIO_SERVER_ERRORS_H_
#define TEMPORALIO_SERVER_ERRORS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace temporalio::server {

absl::Status NamespaceNotFoundError(std::string_view name);
absl::Status NamespaceAlreadyExistsError(std::string_view name);
absl::Status WorkflowNotFoundError(std::string_view message);
absl::Status WorkflowAlreadyStartedError(std::string_view message, std::string_view request_id,
                                         std::string_view run_id);
absl::Status QueryFailedError(const temporal::api::failure::v1::Failure& failure);
absl::Status InvalidArgumentError(std::string_view message);

// Converts, packing payloads as google.rpc.Status details.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace temporalio::server

#endif  // TEMPORALIO_SERVER_ERRORS_H_
