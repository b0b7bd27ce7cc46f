#include "sdk/client/proto_util.h"

#include <google/protobuf/util/time_util.h>

namespace temporalio::client::internal {

using google::protobuf::util::TimeUtil;

google::protobuf::Duration ToDuration(std::chrono::milliseconds value) {
  return TimeUtil::MillisecondsToDuration(value.count());
}

std::chrono::milliseconds FromDuration(const google::protobuf::Duration& value) {
  return std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(value));
}

std::chrono::system_clock::time_point FromTimestamp(const google::protobuf::Timestamp& value) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(TimeUtil::TimestampToMicroseconds(value))));
}

void ToProto(const RetryPolicy& policy, temporal::api::common::v1::RetryPolicy* out) {
  if (policy.initial_interval)
    *out->mutable_initial_interval() = ToDuration(*policy.initial_interval);
  if (policy.backoff_coefficient > 0) out->set_backoff_coefficient(policy.backoff_coefficient);
  if (policy.maximum_interval)
    *out->mutable_maximum_interval() = ToDuration(*policy.maximum_interval);
  out->set_maximum_attempts(policy.maximum_attempts);
  for (const auto& type : policy.non_retryable_error_types)
    out->add_non_retryable_error_types(type);
}

WorkflowExecution FromProto(const temporal::api::workflow::v1::WorkflowExecutionInfo& info) {
  WorkflowExecution out;
  out.workflow_id = info.execution().workflow_id();
  out.run_id = info.execution().run_id();
  out.workflow_type = info.type().name();
  out.task_queue = info.task_queue();
  out.status = static_cast<WorkflowExecutionStatus>(info.status());
  if (info.has_start_time()) out.start_time = FromTimestamp(info.start_time());
  if (info.has_execution_time()) out.execution_time = FromTimestamp(info.execution_time());
  if (info.has_close_time()) out.close_time = FromTimestamp(info.close_time());
  out.history_length = info.history_length();
  for (const auto& [key, value] : info.memo().fields()) out.memo[key] = value;
  return out;
}

}  // namespace temporalio::client::internal
