// The generated Temporal API code links and round-trips a realistic request.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "temporal/api/namespace/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace {

using temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;

StartWorkflowExecutionRequest MakeRequest() {
  StartWorkflowExecutionRequest req;
  req.set_namespace_("default");
  req.set_workflow_id("order-o-1");
  req.mutable_workflow_type()->set_name("OrderWorkflow");
  req.mutable_task_queue()->set_name("orders");
  req.set_request_id("6f1c2a3e-0000-4000-8000-000000000001");
  req.mutable_workflow_execution_timeout()->set_seconds(3600);
  req.mutable_workflow_task_timeout()->set_seconds(10);
  auto* payload = req.mutable_input()->add_payloads();
  (*payload->mutable_metadata())["encoding"] = "json/plain";
  payload->set_data(R"({"id":"o-1","qty":2})");
  auto* bin = req.mutable_input()->add_payloads();
  (*bin->mutable_metadata())["encoding"] = "binary/plain";
  bin->set_data(std::string("\x00\x01\xff", 3));
  (*req.mutable_memo()->mutable_fields())["owner"].set_data("\"team-a\"");
  req.mutable_retry_policy()->set_maximum_attempts(3);
  req.mutable_retry_policy()->set_backoff_coefficient(2.0);
  return req;
}

TEST(ProtoRoundTrip, StartWorkflowExecutionRequestSurvivesSerialization) {
  const StartWorkflowExecutionRequest original = MakeRequest();
  std::string wire;
  ASSERT_TRUE(original.SerializeToString(&wire));
  StartWorkflowExecutionRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(original, parsed))
      << parsed.DebugString();
  EXPECT_EQ(parsed.input().payloads(1).data(), std::string("\x00\x01\xff", 3));
  EXPECT_EQ(parsed.input().payloads(0).metadata().at("encoding"), "json/plain");
  EXPECT_EQ(parsed.workflow_execution_timeout().seconds(), 3600);
}

TEST(ProtoRoundTrip, ChangedFieldIsDetected) {
  StartWorkflowExecutionRequest a = MakeRequest();
  StartWorkflowExecutionRequest b;
  ASSERT_TRUE(b.ParseFromString(a.SerializeAsString()));
  b.mutable_input()->mutable_payloads(0)->set_data("{}");
  EXPECT_FALSE(google::protobuf::util::MessageDifferencer::Equals(a, b));
}

TEST(ProtoRoundTrip, RenamedNamespacePackageKeepsWireFormat) {
  // temporal.api.namespace.v1 is compiled as namespace_ (C++ keyword); the
  // wire format is by field number, so only the full name differs.
  temporal::api::namespace_::v1::NamespaceInfo info;
  info.set_name("default");
  info.set_id("ns-id");
  temporal::api::namespace_::v1::NamespaceInfo parsed;
  ASSERT_TRUE(parsed.ParseFromString(info.SerializeAsString()));
  EXPECT_EQ(parsed.name(), "default");
  EXPECT_EQ(info.GetDescriptor()->full_name(), "temporal.api.namespace_.v1.NamespaceInfo");
}

}  // namespace
