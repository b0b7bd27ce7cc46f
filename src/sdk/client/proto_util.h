// Internal: conversions between SDK value types and Temporal protos.
#ifndef TEMPORALIO_SDK_CLIENT_PROTO_UTIL_H_
#define TEMPORALIO_SDK_CLIENT_PROTO_UTIL_H_

#include <chrono>
#include <optional>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/workflow/v1/message.pb.h"
#include "temporalio/client/workflow_handle.h"
#include "temporalio/retry_policy.h"

namespace temporalio::client::internal {

google::protobuf::Duration ToDuration(std::chrono::milliseconds value);
std::chrono::milliseconds FromDuration(const google::protobuf::Duration& value);
std::chrono::system_clock::time_point FromTimestamp(const google::protobuf::Timestamp& value);
void ToProto(const RetryPolicy& policy, temporal::api::common::v1::RetryPolicy* out);
WorkflowExecution FromProto(const temporal::api::workflow::v1::WorkflowExecutionInfo& info);

}  // namespace temporalio::client::internal

#endif  // TEMPORALIO_SDK_CLIENT_PROTO_UTIL_H_
