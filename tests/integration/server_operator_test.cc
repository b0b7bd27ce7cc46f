// The dev server's OperatorService (search attributes), typed search
// attribute filters in List/CountWorkflowExecutions, DeleteWorkflowExecution,
// and the Prometheus metrics endpoint, through the real gRPC API.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/dev_server.h"
#include "server/visibility/list_filter.h"
#include "temporal/api/operatorservice/v1/service.grpc.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace {

namespace ws = temporal::api::workflowservice::v1;
namespace os = temporal::api::operatorservice::v1;
namespace ev = temporal::api::enums::v1;
namespace cmd = temporal::api::command::v1;
using temporalio::server::DevServer;
using temporalio::server::DevServerOptions;

temporal::api::common::v1::Payload Json(const std::string& json, const std::string& type = "") {
  temporal::api::common::v1::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  if (!type.empty()) (*p.mutable_metadata())["type"] = type;
  p.set_data(json);
  return p;
}

class ServerOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({.port = 0}); }

  void StartServer(DevServerOptions options) {
    stub_.reset();
    ops_.reset();
    server_.reset();
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = ws::WorkflowService::NewStub(channel);
    ops_ = os::OperatorService::NewStub(channel);
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  grpc::Status Add(std::map<std::string, ev::IndexedValueType> attributes,
                   const std::string& ns = "default") {
    os::AddSearchAttributesRequest req;
    req.set_namespace_(ns);
    for (const auto& [k, v] : attributes) (*req.mutable_search_attributes())[k] = v;
    os::AddSearchAttributesResponse resp;
    return ops_->AddSearchAttributes(Ctx().get(), req, &resp);
  }

  grpc::Status Remove(std::vector<std::string> names, const std::string& ns = "default") {
    os::RemoveSearchAttributesRequest req;
    req.set_namespace_(ns);
    for (const auto& n : names) req.add_search_attributes(n);
    os::RemoveSearchAttributesResponse resp;
    return ops_->RemoveSearchAttributes(Ctx().get(), req, &resp);
  }

  os::ListSearchAttributesResponse List(const std::string& ns = "default") {
    os::ListSearchAttributesRequest req;
    req.set_namespace_(ns);
    os::ListSearchAttributesResponse resp;
    grpc::Status s = ops_->ListSearchAttributes(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  ws::StartWorkflowExecutionRequest StartRequest(
      const std::string& id, std::map<std::string, temporal::api::common::v1::Payload> sa = {}) {
    ws::StartWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.set_workflow_id(id);
    req.mutable_workflow_type()->set_name("TestWorkflow");
    req.mutable_task_queue()->set_name("tq");
    req.set_request_id("req-" + id);
    for (auto& [k, v] : sa) (*req.mutable_search_attributes()->mutable_indexed_fields())[k] = v;
    return req;
  }

  grpc::Status Start(const std::string& id,
                     std::map<std::string, temporal::api::common::v1::Payload> sa = {},
                     std::string* run_id = nullptr) {
    ws::StartWorkflowExecutionResponse resp;
    grpc::Status s = stub_->StartWorkflowExecution(Ctx().get(), StartRequest(id, sa), &resp);
    if (run_id) *run_id = resp.run_id();
    return s;
  }

  // Count of runs matching `query`, or -1 with the error in *error.
  int64_t Count(const std::string& query, grpc::Status* error = nullptr) {
    ws::CountWorkflowExecutionsRequest req;
    req.set_namespace_("default");
    req.set_query(query);
    ws::CountWorkflowExecutionsResponse resp;
    grpc::Status s = stub_->CountWorkflowExecutions(Ctx().get(), req, &resp);
    if (error) *error = s;
    if (!s.ok()) return -1;
    return resp.count();
  }

  std::vector<std::string> ListIds(const std::string& query) {
    ws::ListWorkflowExecutionsRequest req;
    req.set_namespace_("default");
    req.set_query(query);
    ws::ListWorkflowExecutionsResponse resp;
    grpc::Status s = stub_->ListWorkflowExecutions(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << query << ": " << s.error_message();
    std::vector<std::string> ids;
    for (const auto& e : resp.executions()) ids.push_back(e.execution().workflow_id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::unique_ptr<DevServer> server_;
  std::unique_ptr<ws::WorkflowService::Stub> stub_;
  std::unique_ptr<os::OperatorService::Stub> ops_;
};

TEST_F(ServerOperatorTest, AddListRemoveSearchAttributes) {
  auto listed = List();
  EXPECT_TRUE(listed.custom_attributes().empty());
  EXPECT_EQ(listed.system_attributes().at("WorkflowId"), ev::INDEXED_VALUE_TYPE_KEYWORD);
  EXPECT_EQ(listed.system_attributes().at("StartTime"), ev::INDEXED_VALUE_TYPE_DATETIME);

  ASSERT_TRUE(Add({{"CustomerId", ev::INDEXED_VALUE_TYPE_KEYWORD},
                   {"Amount", ev::INDEXED_VALUE_TYPE_DOUBLE}})
                  .ok());
  // Same name and type again: a no-op, as on the real server's SQL visibility.
  EXPECT_TRUE(Add({{"CustomerId", ev::INDEXED_VALUE_TYPE_KEYWORD}}).ok());
  listed = List();
  ASSERT_EQ(listed.custom_attributes().size(), 2u);
  EXPECT_EQ(listed.custom_attributes().at("Amount"), ev::INDEXED_VALUE_TYPE_DOUBLE);

  // GetSearchAttributes (WorkflowService) reports system + custom keys.
  ws::GetSearchAttributesResponse keys;
  ASSERT_TRUE(stub_->GetSearchAttributes(Ctx().get(), {}, &keys).ok());
  EXPECT_EQ(keys.keys().at("CustomerId"), ev::INDEXED_VALUE_TYPE_KEYWORD);
  EXPECT_EQ(keys.keys().at("CloseTime"), ev::INDEXED_VALUE_TYPE_DATETIME);

  // Per namespace.
  {
    ws::RegisterNamespaceRequest req;
    req.set_namespace_("other");
    ws::RegisterNamespaceResponse resp;
    ASSERT_TRUE(stub_->RegisterNamespace(Ctx().get(), req, &resp).ok());
  }
  EXPECT_TRUE(List("other").custom_attributes().empty());

  ASSERT_TRUE(Remove({"Amount"}).ok());
  EXPECT_EQ(List().custom_attributes().size(), 1u);
}

TEST_F(ServerOperatorTest, SearchAttributeErrorsMatchTheRealServer) {
  EXPECT_EQ(Add({}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Add({{"WorkflowId", ev::INDEXED_VALUE_TYPE_KEYWORD}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Add({{"bad name", ev::INDEXED_VALUE_TYPE_KEYWORD}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Add({{"NoType", ev::INDEXED_VALUE_TYPE_UNSPECIFIED}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Add({{"X", ev::INDEXED_VALUE_TYPE_INT}}, "no-such-ns").error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Add({{"Color", ev::INDEXED_VALUE_TYPE_KEYWORD}}).ok());
  EXPECT_EQ(Add({{"Color", ev::INDEXED_VALUE_TYPE_INT}}).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  // Too many of one type (the SQL store's pre-allocated columns).
  EXPECT_EQ(Add({{"B1", ev::INDEXED_VALUE_TYPE_BOOL},
                 {"B2", ev::INDEXED_VALUE_TYPE_BOOL},
                 {"B3", ev::INDEXED_VALUE_TYPE_BOOL},
                 {"B4", ev::INDEXED_VALUE_TYPE_BOOL}})
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(List().custom_attributes().size(), 1u) << "a failed add changes nothing";

  EXPECT_EQ(Remove({}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Remove({"Unknown"}).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Remove({"WorkflowType"}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Remove({"BuildIds"}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerOperatorTest, StartValidatesSearchAttributes) {
  ASSERT_TRUE(Add({{"Priority", ev::INDEXED_VALUE_TYPE_INT}}).ok());
  grpc::Status s = Start("wf-unknown", {{"NotRegistered", Json("\"x\"")}});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("NotRegistered"), std::string::npos) << s.error_message();
  EXPECT_EQ(Start("wf-type", {{"Priority", Json("\"high\"")}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Start("wf-system", {{"WorkflowId", Json("\"x\"")}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Start("wf-ok", {{"Priority", Json("3", "Int")}}).ok());
  // Settable system attributes need no registration.
  EXPECT_TRUE(Start("wf-build", {{"BuildIds", Json("[\"b1\"]", "KeywordList")}}).ok());
}

TEST_F(ServerOperatorTest, TypedFiltersOverCustomAndSystemAttributes) {
  ASSERT_TRUE(Add({{"CustomKeywordField", ev::INDEXED_VALUE_TYPE_KEYWORD},
                   {"CustomIntField", ev::INDEXED_VALUE_TYPE_INT},
                   {"CustomDoubleField", ev::INDEXED_VALUE_TYPE_DOUBLE},
                   {"CustomBoolField", ev::INDEXED_VALUE_TYPE_BOOL},
                   {"CustomDatetimeField", ev::INDEXED_VALUE_TYPE_DATETIME},
                   {"CustomTextField", ev::INDEXED_VALUE_TYPE_TEXT},
                   {"CustomKeywordListField", ev::INDEXED_VALUE_TYPE_KEYWORD_LIST}})
                  .ok());
  ASSERT_TRUE(Start("a", {{"CustomKeywordField", Json("\"red\"")},
                          {"CustomIntField", Json("1")},
                          {"CustomDoubleField", Json("1.5")},
                          {"CustomBoolField", Json("true")},
                          {"CustomDatetimeField", Json("\"2024-01-01T00:00:00Z\"")},
                          {"CustomTextField", Json("\"hello world\"")},
                          {"CustomKeywordListField", Json("[\"x\",\"y\"]")}})
                  .ok());
  ASSERT_TRUE(Start("b", {{"CustomKeywordField", Json("\"blue\"")},
                          {"CustomIntField", Json("5")},
                          {"CustomDoubleField", Json("-2.25")},
                          {"CustomBoolField", Json("false")},
                          {"CustomDatetimeField", Json("\"2025-06-01T12:00:00Z\"")}})
                  .ok());
  ASSERT_TRUE(Start("c").ok());  // no custom attributes

  using V = std::vector<std::string>;
  EXPECT_EQ(ListIds("CustomKeywordField = 'red'"), V{"a"});
  EXPECT_EQ(ListIds("CustomKeywordField != 'red'"), V{"b"}) << "missing attributes never match";
  EXPECT_EQ(ListIds("CustomKeywordField IN ('red', 'blue')"), (V{"a", "b"}));
  EXPECT_EQ(ListIds("CustomKeywordField STARTS_WITH 'bl'"), V{"b"});
  EXPECT_EQ(ListIds("CustomIntField > 1"), V{"b"});
  EXPECT_EQ(ListIds("CustomIntField >= 1"), (V{"a", "b"}));
  EXPECT_EQ(ListIds("CustomIntField < 5"), V{"a"});
  EXPECT_EQ(ListIds("CustomIntField <= 5 AND CustomIntField > 0"), (V{"a", "b"}));
  EXPECT_EQ(ListIds("CustomIntField BETWEEN 2 AND 10"), V{"b"});
  EXPECT_EQ(ListIds("CustomDoubleField < 0"), V{"b"});
  EXPECT_EQ(ListIds("CustomDoubleField >= 1.5"), V{"a"});
  EXPECT_EQ(ListIds("CustomBoolField = true"), V{"a"});
  EXPECT_EQ(ListIds("CustomBoolField = false"), V{"b"});
  EXPECT_EQ(ListIds("CustomDatetimeField > '2024-06-01T00:00:00Z'"), V{"b"});
  EXPECT_EQ(ListIds("CustomDatetimeField <= \"2024-01-01T00:00:00Z\""), V{"a"});
  EXPECT_EQ(ListIds("CustomTextField = 'hello world'"), V{"a"});
  EXPECT_EQ(ListIds("CustomKeywordListField = 'y'"), V{"a"});
  EXPECT_EQ(ListIds("CustomKeywordField IS NULL"), V{"c"});
  EXPECT_EQ(ListIds("CustomKeywordField IS NOT NULL"), (V{"a", "b"}));
  EXPECT_EQ(ListIds("(CustomIntField = 1 OR CustomIntField = 5) AND WorkflowId != 'a'"), V{"b"});
  EXPECT_EQ(ListIds("StartTime > '2000-01-01T00:00:00Z' ORDER BY StartTime DESC"),
            (V{"a", "b", "c"}));
  EXPECT_EQ(ListIds("StartTime < '2000-01-01T00:00:00Z'"), V{});
  EXPECT_EQ(ListIds("ExecutionTime >= '2000-01-01T00:00:00Z'"), (V{"a", "b", "c"}));
  EXPECT_EQ(ListIds("CloseTime > '2000-01-01T00:00:00Z'"), V{}) << "all open";
  EXPECT_EQ(ListIds("CloseTime IS NULL"), (V{"a", "b", "c"}));
  EXPECT_EQ(Count("CustomIntField > 0"), 2);

  // Bad queries are INVALID_ARGUMENT: unknown attribute, value of the wrong
  // type, range operator on Text/Bool, bad ExecutionStatus value.
  for (const char* bad :
       {"Unknown = 'x'", "CustomIntField = 'abc'", "CustomBoolField = 'maybe'",
        "CustomDatetimeField > 'yesterday'", "CustomTextField > 'a'", "CustomBoolField < true",
        "ExecutionStatus = 'Sleeping'", "CustomIntField >", "CustomIntField BETWEEN 1"}) {
    grpc::Status error;
    EXPECT_EQ(Count(bad, &error), -1) << bad;
    EXPECT_EQ(error.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
}

TEST_F(ServerOperatorTest, UpsertWithUnknownAttributeFailsTheWorkflowTask) {
  ASSERT_TRUE(Start("wf-upsert").ok());
  ws::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("tq");
  ws::PollWorkflowTaskQueueResponse task;
  ASSERT_TRUE(stub_->PollWorkflowTaskQueue(Ctx().get(), poll, &task).ok());
  ASSERT_FALSE(task.task_token().empty());
  ws::RespondWorkflowTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(task.task_token());
  auto* c = done.add_commands();
  c->set_command_type(ev::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
  (*c->mutable_upsert_workflow_search_attributes_command_attributes()
        ->mutable_search_attributes()
        ->mutable_indexed_fields())["Nope"] = Json("\"x\"");
  ws::RespondWorkflowTaskCompletedResponse resp;
  grpc::Status s = stub_->RespondWorkflowTaskCompleted(Ctx().get(), done, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  // The task failed with BAD_SEARCH_ATTRIBUTES in history.
  ws::GetWorkflowExecutionHistoryRequest hreq;
  hreq.set_namespace_("default");
  hreq.mutable_execution()->set_workflow_id("wf-upsert");
  ws::GetWorkflowExecutionHistoryResponse history;
  ASSERT_TRUE(stub_->GetWorkflowExecutionHistory(Ctx().get(), hreq, &history).ok());
  bool failed = false;
  for (const auto& e : history.history().events()) {
    if (e.event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_FAILED) {
      failed = true;
      EXPECT_EQ(e.workflow_task_failed_event_attributes().cause(),
                ev::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES);
    }
  }
  EXPECT_TRUE(failed);
}

TEST_F(ServerOperatorTest, DeleteWorkflowExecution) {
  std::string closed_run, open_run;
  ASSERT_TRUE(Start("wf-closed", {}, &closed_run).ok());
  {
    ws::TerminateWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.mutable_workflow_execution()->set_workflow_id("wf-closed");
    ws::TerminateWorkflowExecutionResponse resp;
    ASSERT_TRUE(stub_->TerminateWorkflowExecution(Ctx().get(), req, &resp).ok());
  }
  ASSERT_TRUE(Start("wf-open", {}, &open_run).ok());
  ASSERT_EQ(Count(""), 2);

  // A history long poll parked on the running workflow is answered (with the
  // termination that precedes the deletion, or NOT_FOUND), not left hanging.
  ws::GetWorkflowExecutionHistoryRequest wait;
  wait.set_namespace_("default");
  wait.mutable_execution()->set_workflow_id("wf-open");
  wait.set_wait_new_event(true);
  wait.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
  ws::GetWorkflowExecutionHistoryResponse waited;
  grpc::ClientContext wait_ctx;
  wait_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::promise<grpc::Status> wait_done;
  stub_->async()->GetWorkflowExecutionHistory(&wait_ctx, &wait, &waited,
                                              [&](grpc::Status s) { wait_done.set_value(s); });

  auto del = [&](const std::string& id, const std::string& run) {
    ws::DeleteWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.mutable_workflow_execution()->set_workflow_id(id);
    req.mutable_workflow_execution()->set_run_id(run);
    ws::DeleteWorkflowExecutionResponse resp;
    return stub_->DeleteWorkflowExecution(Ctx().get(), req, &resp);
  };
  ASSERT_TRUE(del("wf-closed", closed_run).ok());
  ASSERT_TRUE(del("wf-open", "").ok()) << "running: terminated, then deleted";
  grpc::Status waited_status = wait_done.get_future().get();
  EXPECT_TRUE(waited_status.ok() || waited_status.error_code() == grpc::StatusCode::NOT_FOUND)
      << waited_status.error_message();

  EXPECT_EQ(Count(""), 0);
  ws::DescribeWorkflowExecutionRequest describe;
  describe.set_namespace_("default");
  describe.mutable_execution()->set_workflow_id("wf-open");
  ws::DescribeWorkflowExecutionResponse described;
  EXPECT_EQ(stub_->DescribeWorkflowExecution(Ctx().get(), describe, &described).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(del("wf-open", "").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(del("never-existed", "").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(del("", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The id is free again.
  EXPECT_TRUE(Start("wf-open").ok());
}

// Idle runs are kept with their history only in the store; a run whose
// deletion is being committed must not be frozen (its rows may already be
// gone when the commit callback reads it). Many deletions race the sweep.
TEST_F(ServerOperatorTest, DeletingFrozenRunsWhileTheSweepRuns) {
  auto dir = std::filesystem::temp_directory_path() /
             ("temporalio-delete-frozen-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  StartServer({.port = 0,
               .db_filename = (dir / "dev.db").string(),
               .idle_sweep_interval = std::chrono::milliseconds(1),
               .idle_sweep_ticks = 1});
  constexpr int kRuns = 40;
  for (int i = 0; i < kRuns; ++i) {
    const std::string id = "del-" + std::to_string(i);
    ASSERT_TRUE(Start(id).ok());
    if (i % 2 == 0) {
      ws::TerminateWorkflowExecutionRequest req;
      req.set_namespace_("default");
      req.mutable_workflow_execution()->set_workflow_id(id);
      ws::TerminateWorkflowExecutionResponse resp;
      ASSERT_TRUE(stub_->TerminateWorkflowExecution(Ctx().get(), req, &resp).ok());
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->GetStats().frozen_runs < kRuns && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(server_->GetStats().frozen_runs, static_cast<uint64_t>(kRuns));

  // A frozen run's history is read back from the store, unchanged.
  {
    ws::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id("del-0");
    ws::GetWorkflowExecutionHistoryResponse resp;
    ASSERT_TRUE(stub_->GetWorkflowExecutionHistory(Ctx().get(), req, &resp).ok());
    ASSERT_EQ(resp.history().events_size(), 3);  // started, task scheduled, terminated
    EXPECT_EQ(resp.history().events(2).event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
  }

  struct Call {
    grpc::ClientContext ctx;
    ws::DeleteWorkflowExecutionRequest req;
    ws::DeleteWorkflowExecutionResponse resp;
    std::promise<grpc::Status> done;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kRuns; ++i) {
    auto& c = calls.emplace_back(std::make_unique<Call>());
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c->req.set_namespace_("default");
    c->req.mutable_workflow_execution()->set_workflow_id("del-" + std::to_string(i));
    stub_->async()->DeleteWorkflowExecution(
        &c->ctx, &c->req, &c->resp, [p = c.get()](grpc::Status s) { p->done.set_value(s); });
  }
  for (auto& c : calls) {
    grpc::Status s = c->done.get_future().get();
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(Count(""), 0);
  EXPECT_EQ(server_->GetStats().frozen_runs, 0u);
  EXPECT_TRUE(Start("del-0").ok()) << "the id is free again";
  server_.reset();
  stub_.reset();
  ops_.reset();
  std::filesystem::remove_all(dir);
}

TEST(ServerOperatorPersistenceTest, SearchAttributesAndDeletionsSurviveRestart) {
  auto dir = std::filesystem::temp_directory_path() /
             ("temporalio-operator-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string db = (dir / "dev.db").string();
  {
    auto server = DevServer::Start(
        {.port = 0, .db_filename = db, .search_attributes = {{"Region", "keyword"}}});
    ASSERT_TRUE(server.ok()) << server.status();
    auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
    auto stub = ws::WorkflowService::NewStub(channel);
    auto ops = os::OperatorService::NewStub(channel);
    grpc::ClientContext c1;
    os::AddSearchAttributesRequest add;
    add.set_namespace_("default");
    (*add.mutable_search_attributes())["Size"] = ev::INDEXED_VALUE_TYPE_INT;
    os::AddSearchAttributesResponse added;
    ASSERT_TRUE(ops->AddSearchAttributes(&c1, add, &added).ok());
    for (const char* id : {"keep", "drop"}) {
      grpc::ClientContext c;
      ws::StartWorkflowExecutionRequest req;
      req.set_namespace_("default");
      req.set_workflow_id(id);
      req.mutable_workflow_type()->set_name("T");
      req.mutable_task_queue()->set_name("tq");
      (*req.mutable_search_attributes()->mutable_indexed_fields())["Size"] = Json("7");
      ws::StartWorkflowExecutionResponse resp;
      ASSERT_TRUE(stub->StartWorkflowExecution(&c, req, &resp).ok());
    }
    grpc::ClientContext c2;
    ws::DeleteWorkflowExecutionRequest del;
    del.set_namespace_("default");
    del.mutable_workflow_execution()->set_workflow_id("drop");
    ws::DeleteWorkflowExecutionResponse deleted;
    ASSERT_TRUE(stub->DeleteWorkflowExecution(&c2, del, &deleted).ok());
  }
  {
    // Same attribute and type again at start: fine; another type: refused.
    auto bad =
        DevServer::Start({.port = 0, .db_filename = db, .search_attributes = {{"Region", "Int"}}});
    EXPECT_FALSE(bad.ok());
    auto server = DevServer::Start(
        {.port = 0, .db_filename = db, .search_attributes = {{"Region", "Keyword"}}});
    ASSERT_TRUE(server.ok()) << server.status();
    auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
    auto stub = ws::WorkflowService::NewStub(channel);
    auto ops = os::OperatorService::NewStub(channel);
    grpc::ClientContext c1;
    os::ListSearchAttributesRequest list;
    list.set_namespace_("default");
    os::ListSearchAttributesResponse listed;
    ASSERT_TRUE(ops->ListSearchAttributes(&c1, list, &listed).ok());
    EXPECT_EQ(listed.custom_attributes().at("Size"), ev::INDEXED_VALUE_TYPE_INT);
    EXPECT_EQ(listed.custom_attributes().at("Region"), ev::INDEXED_VALUE_TYPE_KEYWORD);
    grpc::ClientContext c2;
    ws::ListWorkflowExecutionsRequest req;
    req.set_namespace_("default");
    req.set_query("Size = 7");
    ws::ListWorkflowExecutionsResponse resp;
    ASSERT_TRUE(stub->ListWorkflowExecutions(&c2, req, &resp).ok());
    ASSERT_EQ(resp.executions_size(), 1);
    EXPECT_EQ(resp.executions(0).execution().workflow_id(), "keep");
  }
  EXPECT_FALSE(DevServer::Start({.port = 0, .search_attributes = {{"X", "Float"}}}).ok());
  EXPECT_FALSE(DevServer::Start({.port = 0, .search_attributes = {{"StartTime", "Int"}}}).ok());
  std::filesystem::remove_all(dir);
}

// A minimal HTTP/1.0 GET against 127.0.0.1:port; returns the whole response.
std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, n);
    }
  }
  ::close(fd);
  return response;
}

TEST(ServerMetricsTest, PrometheusEndpointCountsRequestsAndTasks) {
  auto server = DevServer::Start({.port = 0, .metrics_port = 0});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->metrics_port(), 0);
  auto stub = ws::WorkflowService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  };
  ws::StartWorkflowExecutionRequest start;
  start.set_namespace_("default");
  start.set_workflow_id("m1");
  start.mutable_workflow_type()->set_name("T");
  start.mutable_task_queue()->set_name("tq");
  ws::StartWorkflowExecutionResponse started;
  ASSERT_TRUE(stub->StartWorkflowExecution(ctx().get(), start, &started).ok());
  ws::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("tq");
  ws::PollWorkflowTaskQueueResponse task;
  ASSERT_TRUE(stub->PollWorkflowTaskQueue(ctx().get(), poll, &task).ok());
  ws::RespondWorkflowTaskCompletedRequest complete;
  complete.set_namespace_("default");
  complete.set_task_token(task.task_token());
  complete.add_commands()->set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  ws::RespondWorkflowTaskCompletedResponse completed;
  ASSERT_TRUE(stub->RespondWorkflowTaskCompleted(ctx().get(), complete, &completed).ok());
  ws::DescribeNamespaceRequest bad;  // no namespace: an error
  ws::DescribeNamespaceResponse described;
  ASSERT_FALSE(stub->DescribeNamespace(ctx().get(), bad, &described).ok());

  std::string http = HttpGet((*server)->metrics_port(), "/metrics");
  ASSERT_NE(http.find("200 OK"), std::string::npos) << http;
  std::string body = http.substr(http.find("\r\n\r\n") + 4);
  EXPECT_NE(body.find("# TYPE service_requests counter"), std::string::npos) << body;
  EXPECT_NE(body.find("operation=\"StartWorkflowExecution\""), std::string::npos) << body;
  EXPECT_NE(body.find("operation=\"PollWorkflowTaskQueue\""), std::string::npos) << body;
  EXPECT_NE(body.find("workflow_task_started 1"), std::string::npos) << body;
  EXPECT_NE(body.find("workflow_task_completed 1"), std::string::npos) << body;
  EXPECT_NE(body.find("workflow_started 1"), std::string::npos) << body;
  EXPECT_NE(body.find("activity_task_started 0"), std::string::npos) << body;
  EXPECT_NE(body.find("service_errors{"), std::string::npos) << body;
  EXPECT_NE(body.find("status_code=\"INVALID_ARGUMENT\""), std::string::npos) << body;
}

TEST(ServerMetricsTest, NoEndpointByDefault) {
  auto server = DevServer::Start({.port = 0});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->metrics_port(), 0);
  EXPECT_NE((*server)->MetricsText().find("workflow_task_started 0"), std::string::npos);
}

// The filter language alone.
TEST(ListFilterTest, ParsesAndMatchesTypedValues) {
  using temporalio::server::visibility::ExecutionFields;
  using temporalio::server::visibility::ListFilter;
  temporal::api::common::v1::SearchAttributes sa;
  (*sa.mutable_indexed_fields())["N"] = Json("-3");
  std::string id = "w", run = "r", type = "T", queue = "q";
  ExecutionFields f{id, run, type, ev::WORKFLOW_EXECUTION_STATUS_COMPLETED, queue, 10, 20,
                    10, 4,   &sa};
  auto filter = ListFilter::Parse("N < -2 AND HistoryLength = 4 AND ExecutionStatus = 'Completed'",
                                  {{"N", ev::INDEXED_VALUE_TYPE_INT}});
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_TRUE(filter->Matches(f));
  auto closed = ListFilter::Parse("CloseTime = 20 AND ExecutionDuration = 10");
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(closed->Matches(f));
  EXPECT_FALSE(ListFilter::Parse("N = 1").ok()) << "N is not registered";
}

}  // namespace
