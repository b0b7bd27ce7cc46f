#include "server/errors.h"

#include "absl/strings/cord.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace temporalio::server {
namespace {

namespace ed = temporal::api::errordetails::v1;
constexpr std::string_view kTypePrefix = "type.googleapis.com/";

absl::Status WithDetail(absl::StatusCode code, std::string_view message,
                        const google::protobuf::Message& detail) {
  absl::Status status(code, absl::string_view(message.data(), message.size()));
  status.SetPayload(std::string(kTypePrefix) + detail.GetDescriptor()->full_name(),
                    absl::Cord(detail.SerializeAsString()));
  return status;
}

}  // namespace

absl::Status NamespaceNotFoundError(std::string_view name) {
  ed::NamespaceNotFoundFailure detail;
  detail.set_namespace_(std::string(name));
  return WithDetail(absl::StatusCode::kNotFound,
                    "Namespace " + std::string(name) + " is not found.", detail);
}

absl::Status NamespaceAlreadyExistsError(std::string_view name) {
  ed::NamespaceAlreadyExistsFailure detail;
  (void)name;
  return WithDetail(absl::StatusCode::kAlreadyExists, "Namespace already exists.", detail);
}

absl::Status WorkflowNotFoundError(std::string_view message) {
  ed::NotFoundFailure detail;
  detail.set_current_cluster("active");
  detail.set_active_cluster("active");
  return WithDetail(absl::StatusCode::kNotFound, message, detail);
}

absl::Status WorkflowAlreadyStartedError(std::string_view message, std::string_view request_id,
                                         std::string_view run_id) {
  ed::WorkflowExecutionAlreadyStartedFailure detail;
  detail.set_start_request_id(std::string(request_id));
  detail.set_run_id(std::string(run_id));
  return WithDetail(absl::StatusCode::kAlreadyExists, message, detail);
}

absl::Status QueryFailedError(const temporal::api::failure::v1::Failure& failure) {
  ed::QueryFailedFailure detail;
  *detail.mutable_failure() = failure;
  return WithDetail(absl::StatusCode::kInvalidArgument, failure.message(), detail);
}

absl::Status InvalidArgumentError(std::string_view message) {
  return absl::InvalidArgumentError(absl::string_view(message.data(), message.size()));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  google::rpc::Status rpc_status;
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
    if (!std::string_view(type_url.data(), type_url.size()).starts_with(kTypePrefix)) return;
    google::protobuf::Any* any = rpc_status.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(value));
  });
  if (rpc_status.details_size() == 0) return grpc::Status(code, message);
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(message);
  return grpc::Status(code, message, rpc_status.SerializeAsString());
}

}  // namespace temporalio::server
