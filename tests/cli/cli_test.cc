// The `temporal` client commands run in-process (RunCli with captured
// stdout/stderr) against an in-process dev server; a scripted worker on the
// raw WorkflowService stub completes workflows and answers queries.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "server/dev_server.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace {

namespace ws = temporal::api::workflowservice::v1;
namespace ev = temporal::api::enums::v1;
namespace cmd = temporal::api::command::v1;
using nlohmann::json;
using temporalio::server::DevServer;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::set<std::string> Keys(const json& j) {
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  return keys;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = DevServer::Start({.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = ws::WorkflowService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  // Runs `temporal <args> --address <server>` (global flags after the
  // subcommand exercise the official CLI's flag placement).
  Result Run(std::vector<std::string> args) {
    args.push_back("--address");
    args.push_back(server_->address());
    std::ostringstream out, err;
    Result r;
    r.code = temporalio::cli::RunCli(args, out, err, /*out_is_tty=*/false);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  json RunJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  ws::PollWorkflowTaskQueueResponse Poll(const std::string& queue = "tq") {
    ws::PollWorkflowTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name(queue);
    req.set_identity("scripted-worker");
    ws::PollWorkflowTaskQueueResponse resp;
    grpc::Status s = stub_->PollWorkflowTaskQueue(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  void Respond(const std::string& token, cmd::Command c) {
    ws::RespondWorkflowTaskCompletedRequest req;
    req.set_namespace_("default");
    req.set_task_token(token);
    req.set_identity("scripted-worker");
    *req.add_commands() = std::move(c);
    ws::RespondWorkflowTaskCompletedResponse resp;
    grpc::Status s = stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static cmd::Command CompleteWith(const std::string& json_data) {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
    auto* p = c.mutable_complete_workflow_execution_command_attributes()
                  ->mutable_result()
                  ->add_payloads();
    (*p->mutable_metadata())["encoding"] = "json/plain";
    p->set_data(json_data);
    return c;
  }

  static cmd::Command Timer() {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_START_TIMER);
    c.mutable_start_timer_command_attributes()->set_timer_id("t");
    c.mutable_start_timer_command_attributes()->mutable_start_to_fire_timeout()->set_seconds(3600);
    return c;
  }

  std::string Start(const std::string& id, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"workflow", "start",      "-w", id,
                                     "--type",   "MyWorkflow", "-t", "tq"};
    args.insert(args.end(), extra.begin(), extra.end());
    json j = RunJson(args);
    return j.value("runId", "");
  }

  std::unique_ptr<DevServer> server_;
  std::unique_ptr<ws::WorkflowService::Stub> stub_;
};

TEST_F(CliTest, StartJsonShape) {
  json j = RunJson({"workflow", "start", "-w", "wf-shape", "--type", "MyWorkflow", "-t", "tq"});
  EXPECT_EQ(Keys(j),
            (std::set<std::string>{"workflowId", "runId", "type", "namespace", "taskQueue"}));
  EXPECT_EQ(j["workflowId"], "wf-shape");
  EXPECT_EQ(j["type"], "MyWorkflow");
  EXPECT_EQ(j["namespace"], "default");
  EXPECT_EQ(j["taskQueue"], "tq");
  EXPECT_FALSE(j["runId"].get<std::string>().empty());
}

TEST_F(CliTest, StartTextCard) {
  Result r = Run({"workflow", "start", "-w", "wf-text", "--type", "MyWorkflow", "-t", "tq"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Running execution:\n  WorkflowId  wf-text\n  RunId       "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  Type        MyWorkflow\n  Namespace   default\n  TaskQueue   tq\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no colour when not a TTY";
}

TEST_F(CliTest, StartSendsInputsMemoAndTimeouts) {
  Start("wf-in", {"-i", "{\"a\": 1}", "-i", "2", "--memo", "k={\"x\":true}", "--execution-timeout",
                  "1h", "--id-reuse-policy", "AllowDuplicate"});
  json hist = RunJson({"workflow", "show", "-w", "wf-in"});
  const json& attrs = hist["events"][0]["workflowExecutionStartedEventAttributes"];
  ASSERT_EQ(attrs["input"]["payloads"].size(), 2u);
  // Payloads keep their proto form in `show` (base64 of "json/plain", "{"a":1}").
  EXPECT_EQ(attrs["input"]["payloads"][0]["metadata"]["encoding"], "anNvbi9wbGFpbg==");
  EXPECT_EQ(attrs["input"]["payloads"][0]["data"], "eyJhIjoxfQ==");
  EXPECT_EQ(attrs["workflowExecutionTimeout"], "3600s");
  // describe decodes memo json/plain payloads (shorthand).
  json d = RunJson({"workflow", "describe", "-w", "wf-in"});
  EXPECT_EQ(d["workflowExecutionInfo"]["memo"]["fields"]["k"], json({{"x", true}}));
}

TEST_F(CliTest, ResultDescribeListCountShow) {
  std::string run_id = Start("wf-1", {"-i", "\"hello\""});
  auto task = Poll();
  Respond(task.task_token(), CompleteWith("{\"ok\":1}"));

  json result = RunJson({"workflow", "result", "-w", "wf-1"});
  EXPECT_EQ(result["status"], "COMPLETED");
  EXPECT_EQ(result["result"], json({{"ok", 1}}));
  EXPECT_EQ(result["workflowId"], "wf-1");
  EXPECT_EQ(result["closeEvent"]["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED");

  Result text = Run({"workflow", "result", "-w", "wf-1"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("Results:\n"), std::string::npos);
  EXPECT_NE(text.out.find("Status          COMPLETED"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Result          {\"ok\":1}"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ResultEncoding  json/plain"), std::string::npos) << text.out;

  json d = RunJson({"workflow", "describe", "-w", "wf-1"});
  EXPECT_EQ(d["workflowExecutionInfo"]["execution"]["workflowId"], "wf-1");
  EXPECT_EQ(d["workflowExecutionInfo"]["execution"]["runId"], run_id);
  EXPECT_EQ(d["workflowExecutionInfo"]["status"], "WORKFLOW_EXECUTION_STATUS_COMPLETED");
  EXPECT_EQ(d["workflowExecutionInfo"]["type"]["name"], "MyWorkflow");
  EXPECT_EQ(d["result"], json({{"ok", 1}}));
  EXPECT_TRUE(d.contains("closeEvent"));

  Result dt = Run({"workflow", "describe", "-w", "wf-1"});
  ASSERT_EQ(dt.code, 0) << dt.err;
  EXPECT_NE(dt.out.find("Execution Info:\n"), std::string::npos);
  EXPECT_NE(dt.out.find("  WorkflowId  "), std::string::npos) << dt.out;
  EXPECT_NE(dt.out.find("wf-1"), std::string::npos);

  json list = RunJson({"workflow", "list"});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["execution"]["workflowId"], "wf-1");
  EXPECT_EQ(list[0]["status"], "WORKFLOW_EXECUTION_STATUS_COMPLETED");

  Result jsonl = Run({"workflow", "list", "-o", "jsonl"});
  ASSERT_EQ(jsonl.code, 0);
  EXPECT_EQ(json::parse(jsonl.out)["execution"]["workflowId"], "wf-1");

  Result lt = Run({"workflow", "list", "-q", "WorkflowType = 'MyWorkflow'"});
  ASSERT_EQ(lt.code, 0) << lt.err;
  EXPECT_NE(lt.out.find("Status"), std::string::npos);
  EXPECT_NE(lt.out.find("Completed  wf-1"), std::string::npos) << lt.out;

  json count = RunJson({"workflow", "count"});
  EXPECT_EQ(count["count"], "1");  // int64 -> string in the proto JSON mapping
  Result ct = Run({"workflow", "count", "-q", "ExecutionStatus = 'Running'"});
  EXPECT_EQ(ct.out, "Total: 0\n");

  json hist = RunJson({"workflow", "show", "-w", "wf-1"});
  ASSERT_EQ(Keys(hist), std::set<std::string>{"events"});
  ASSERT_GE(hist["events"].size(), 5u);
  EXPECT_EQ(hist["events"][0]["eventId"], "1");
  EXPECT_EQ(hist["events"][0]["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED");
  EXPECT_EQ(hist["events"].back()["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED");

  Result st = Run({"workflow", "show", "-w", "wf-1"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("Progress:\n  ID   Time                  Type"), std::string::npos)
      << st.out;
  EXPECT_NE(st.out.find("WorkflowExecutionStarted"), std::string::npos);
  EXPECT_NE(st.out.find("WorkflowExecutionCompleted"), std::string::npos);
}

TEST_F(CliTest, ShowFollowWaitsForNewEvents) {
  Start("wf-follow");
  auto follow = std::async(std::launch::async, [&] {
    return RunJson({"workflow", "show", "-w", "wf-follow", "--follow"});
  });
  auto task = Poll();
  Respond(task.task_token(), CompleteWith("1"));
  json hist = follow.get();
  EXPECT_EQ(hist["events"].back()["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED");
}

TEST_F(CliTest, ExecuteWaitsAndFailsOnNonCompletion) {
  auto exec = std::async(std::launch::async, [&] {
    return Run(
        {"workflow", "execute", "-w", "wf-exec", "--type", "MyWorkflow", "-t", "tq", "-o", "json"});
  });
  auto task = Poll();
  Respond(task.task_token(), CompleteWith("[1,2]"));
  Result r = exec.get();
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["status"], "COMPLETED");
  EXPECT_EQ(j["result"], json({1, 2}));
  EXPECT_EQ(j["type"], "MyWorkflow");
  EXPECT_EQ(j["taskQueue"], "tq");

  // Terminated -> exit 1.
  Start("wf-term");
  Result t = Run({"workflow", "terminate", "-w", "wf-term", "--reason", "because"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out, "Workflow terminated\n");
  Result res = Run({"workflow", "result", "-w", "wf-term", "-o", "json"});
  EXPECT_EQ(res.code, 1);
  EXPECT_EQ(res.err, "Error: workflow failed\n");
  EXPECT_EQ(json::parse(res.out)["status"], "TERMINATED");
}

TEST_F(CliTest, SignalCancelSignalWithStart) {
  Start("wf-sig");
  Result s =
      Run({"workflow", "signal", "-w", "wf-sig", "--name", "approve", "-i", "{\"by\":\"me\"}"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out, "Signal workflow succeeded\n");
  Result c = Run({"workflow", "cancel", "-w", "wf-sig"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, "Canceled workflow\n");
  json hist = RunJson({"workflow", "show", "-w", "wf-sig"});
  std::vector<std::string> types;
  for (const auto& e : hist["events"]) types.push_back(e["eventType"]);
  EXPECT_NE(std::find(types.begin(), types.end(), "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"),
            types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"),
            types.end());

  json sws = RunJson({"workflow", "signal-with-start", "-w", "wf-sws", "--type", "MyWorkflow", "-t",
                      "tq", "--signal-name", "go", "--signal-input", "3"});
  EXPECT_EQ(Keys(sws), (std::set<std::string>{"workflowId", "runId", "type", "namespace"}));
  json d = RunJson({"workflow", "describe", "-w", "wf-sws"});
  EXPECT_EQ(d["workflowExecutionInfo"]["status"], "WORKFLOW_EXECUTION_STATUS_RUNNING");
}

TEST_F(CliTest, QueryAnsweredByWorker) {
  Start("wf-q");
  auto task = Poll();
  Respond(task.task_token(), Timer());
  auto query = std::async(std::launch::async, [&] {
    return Run({"workflow", "query", "-w", "wf-q", "--type", "state", "-o", "json"});
  });
  auto query_task = Poll();
  ASSERT_TRUE(query_task.has_query());
  EXPECT_EQ(query_task.query().query_type(), "state");
  ws::RespondQueryTaskCompletedRequest answer;
  answer.set_namespace_("default");
  answer.set_task_token(query_task.task_token());
  answer.set_completed_type(ev::QUERY_RESULT_TYPE_ANSWERED);
  auto* p = answer.mutable_query_result()->add_payloads();
  (*p->mutable_metadata())["encoding"] = "json/plain";
  p->set_data("{\"n\":5}");
  ws::RespondQueryTaskCompletedResponse answer_resp;
  ASSERT_TRUE(stub_->RespondQueryTaskCompleted(Ctx().get(), answer, &answer_resp).ok());
  Result r = query.get();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["queryResult"], json::parse("[{\"n\":5}]"));
}

TEST_F(CliTest, NamespaceCommands) {
  Result c = Run({"operator", "namespace", "create", "-n", "ns-a", "--retention", "48h",
                  "--description", "team a"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, "Namespace ns-a successfully registered.\n");
  json d = RunJson({"operator", "namespace", "describe", "ns-a"});
  EXPECT_EQ(d["namespaceInfo"]["name"], "ns-a");
  EXPECT_EQ(d["namespaceInfo"]["description"], "team a");
  EXPECT_EQ(d["config"]["workflowExecutionRetentionTtl"], "172800s");
  Result u = Run({"operator", "namespace", "update", "ns-a", "--description", "team b"});
  ASSERT_EQ(u.code, 0) << u.err;
  json list = RunJson({"operator", "namespace", "list"});
  ASSERT_TRUE(list.is_array());
  bool found = false;
  for (const auto& ns : list) {
    if (ns["namespaceInfo"]["name"] == "ns-a") {
      found = true;
      EXPECT_EQ(ns["namespaceInfo"]["description"], "team b");
    }
  }
  EXPECT_TRUE(found);
  Result dup = Run({"operator", "namespace", "create", "ns-a"});
  EXPECT_EQ(dup.code, 1);
  EXPECT_EQ(dup.err.rfind("Error: unable to create namespace ns-a: ", 0), 0u) << dup.err;
  // A workflow in the new namespace.
  json started = RunJson({"workflow", "start", "-n", "ns-a", "--type", "W", "-t", "tq"});
  EXPECT_EQ(started["namespace"], "ns-a");
}

TEST_F(CliTest, TaskQueueDescribe) {
  json j = RunJson({"task-queue", "describe", "-t", "tq"});
  EXPECT_TRUE(j["pollers"].is_array());
  EXPECT_TRUE(j.contains("stats"));
  Result t = Run({"task-queue", "describe", "--task-queue", "tq"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("Pollers:"), std::string::npos) << t.out;
}

TEST_F(CliTest, SearchAttributeCreateListRemove) {
  Result created = Run({"operator", "search-attribute", "create", "--name", "CustomerId", "--type",
                        "Keyword", "--name", "Amount", "--type", "int"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(created.out, "Search attributes have been added\n");

  // Golden JSON shape: the ListSearchAttributesResponse in proto JSON.
  json listed = RunJson({"operator", "search-attribute", "list"});
  EXPECT_TRUE(Keys(listed).contains("customAttributes")) << listed.dump();
  EXPECT_TRUE(Keys(listed).contains("systemAttributes")) << listed.dump();
  EXPECT_EQ(listed["customAttributes"], json({{"Amount", "INDEXED_VALUE_TYPE_INT"},
                                              {"CustomerId", "INDEXED_VALUE_TYPE_KEYWORD"}}));
  EXPECT_EQ(listed["systemAttributes"]["WorkflowId"], "INDEXED_VALUE_TYPE_KEYWORD");

  Result table = Run({"operator", "search-attribute", "list"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_LT(table.out.find("Name"), table.out.find('\n')) << "header first: " << table.out;
  EXPECT_NE(table.out.find("CustomerId"), std::string::npos);
  EXPECT_NE(table.out.find("Keyword"), std::string::npos);
  EXPECT_NE(table.out.find("StartTime"), std::string::npos);
  EXPECT_EQ(table.out.find("\x1b["), std::string::npos) << "no colours off a TTY";

  // Usable by start and in list/count filters.
  Start("wf-sa-1", {"--search-attribute", "CustomerId=\"c-1\"", "--search-attribute", "Amount=5"});
  Start("wf-sa-2", {"--search-attribute", "CustomerId=\"c-2\"", "--search-attribute", "Amount=50"});
  json count = RunJson({"workflow", "count", "-q", "Amount > 10"});
  EXPECT_EQ(count["count"], "1") << count.dump();
  json list = RunJson({"workflow", "list", "-q", "CustomerId = 'c-1'"});
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["execution"]["workflowId"], "wf-sa-1");
  Result unknown_sa =
      Run({"workflow", "start", "--type", "W", "-t", "tq", "--search-attribute", "Nope=1"});
  EXPECT_EQ(unknown_sa.code, 1);
  EXPECT_NE(unknown_sa.err.find("Nope"), std::string::npos) << unknown_sa.err;
  Result bad_query = Run({"workflow", "list", "-q", "Amount = 'many'"});
  EXPECT_EQ(bad_query.code, 1);
  EXPECT_EQ(bad_query.err.find('\n'), bad_query.err.size() - 1) << "one line";

  Result no_yes = Run({"operator", "search-attribute", "remove", "--name", "Amount"});
  EXPECT_EQ(no_yes.code, 1);
  Result removed = Run({"operator", "search-attribute", "remove", "--name", "Amount", "--yes"});
  ASSERT_EQ(removed.code, 0) << removed.err;
  EXPECT_EQ(removed.out, "Search attributes have been removed\n");
  Result again = Run({"operator", "search-attribute", "remove", "--name", "Amount", "--yes"});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err.rfind("Error: unable to remove search attributes: ", 0), 0u) << again.err;
  Result system = Run({"operator", "search-attribute", "remove", "--name", "WorkflowId", "-y"});
  EXPECT_EQ(system.code, 1);
  Result bad_type =
      Run({"operator", "search-attribute", "create", "--name", "X", "--type", "Float"});
  EXPECT_EQ(bad_type.code, 1);
  EXPECT_NE(bad_type.err.find("invalid --type"), std::string::npos) << bad_type.err;
  Result conflict =
      Run({"operator", "search-attribute", "create", "--name", "CustomerId", "--type", "Int"});
  EXPECT_EQ(conflict.code, 1);
  EXPECT_EQ(conflict.err.rfind("Error: unable to add search attributes: ", 0), 0u) << conflict.err;
}

TEST_F(CliTest, DeleteRemovesTheExecution) {
  Start("wf-del");
  Result del = Run({"workflow", "delete", "-w", "wf-del"});
  ASSERT_EQ(del.code, 0) << del.err;
  EXPECT_EQ(del.out, "Delete workflow succeeded\n");
  Result describe = Run({"workflow", "describe", "-w", "wf-del"});
  EXPECT_EQ(describe.code, 1);
  json count = RunJson({"workflow", "count", "-q", "WorkflowId = 'wf-del'"});
  EXPECT_EQ(count.value("count", "0"), "0") << "zero is omitted in proto JSON";
  Result again = Run({"workflow", "delete", "-w", "wf-del"});
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.err.rfind("Error: failed deleting workflow: ", 0), 0u) << again.err;
  EXPECT_EQ(again.err.find('\n'), again.err.size() - 1) << "one line";
}

TEST_F(CliTest, DescribeResetPoints) {
  Start("wf-reset");
  auto task = Poll();
  ws::RespondWorkflowTaskCompletedRequest req;
  req.set_namespace_("default");
  req.set_task_token(task.task_token());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  req.set_binary_checksum("checksum-1");  // what SDKs still send
#pragma GCC diagnostic pop
  *req.add_commands() = Timer();
  ws::RespondWorkflowTaskCompletedResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->RespondWorkflowTaskCompleted(&ctx, req, &resp).ok());

  json points = RunJson({"workflow", "describe", "-w", "wf-reset", "--reset-points"});
  ASSERT_TRUE(points.is_array()) << points.dump();
  ASSERT_EQ(points.size(), 1u) << points.dump();
  EXPECT_EQ(Keys(points[0]),
            (std::set<std::string>{"BinaryChecksum", "CreateTime", "RunId", "EventId"}));
  EXPECT_EQ(points[0]["BinaryChecksum"], "checksum-1");
  EXPECT_EQ(points[0]["EventId"], 4);
  Result text = Run({"workflow", "describe", "-w", "wf-reset", "--reset-points"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("Auto Reset Points: 1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("checksum-1"), std::string::npos) << text.out;
}

TEST_F(CliTest, StackQueriesTheStackTrace) {
  Start("wf-stack");
  // A worker answering the __stack_trace query like the official SDKs do.
  auto answered = std::async(std::launch::async, [&] {
    auto task = Poll();
    ws::RespondWorkflowTaskCompletedRequest req;
    req.set_namespace_("default");
    req.set_task_token(task.task_token());
    *req.add_commands() = Timer();
    ws::RespondWorkflowTaskCompletedResponse resp;
    grpc::ClientContext c1;
    if (!stub_->RespondWorkflowTaskCompleted(&c1, req, &resp).ok()) return std::string("complete");
    auto query = Poll();
    std::string type = query.query().query_type();
    ws::RespondQueryTaskCompletedRequest qreq;
    qreq.set_namespace_("default");
    qreq.set_task_token(query.task_token());
    qreq.set_completed_type(ev::QUERY_RESULT_TYPE_ANSWERED);
    auto* p = qreq.mutable_query_result()->add_payloads();
    (*p->mutable_metadata())["encoding"] = "json/plain";
    p->set_data("\"at sleep (workflow.js:3)\\nat main (workflow.js:9)\"");
    ws::RespondQueryTaskCompletedResponse qresp;
    grpc::ClientContext c2;
    stub_->RespondQueryTaskCompleted(&c2, qreq, &qresp);
    return type;
  });
  Result stack = Run({"workflow", "stack", "-w", "wf-stack"});
  EXPECT_EQ(answered.get(), "__stack_trace");
  ASSERT_EQ(stack.code, 0) << stack.err;
  EXPECT_NE(stack.out.find("at sleep (workflow.js:3)\nat main (workflow.js:9)"), std::string::npos)
      << stack.out;
}

TEST_F(CliTest, UpdateWithoutWorkerTimesOutAndBadFlagsAreReported) {
  Start("wf-upd");
  // No worker runs the workflow: the update is admitted but never accepted,
  // so the call ends at the command timeout with the server's error on one line.
  Result execute = Run({"workflow", "update", "execute", "-w", "wf-upd", "--name", "setPrice", "-i",
                        "42", "--update-id", "u-1", "--command-timeout", "2s"});
  EXPECT_EQ(execute.code, 1);
  EXPECT_EQ(execute.err.rfind("Error: unable to update workflow: ", 0), 0u) << execute.err;
  EXPECT_EQ(execute.err.find('\n'), execute.err.size() - 1) << "one line";
  Result start_bad_stage = Run({"workflow", "update", "start", "-w", "wf-upd", "--name", "x",
                                "--wait-for-stage", "completed"});
  EXPECT_EQ(start_bad_stage.code, 1);
  EXPECT_EQ(start_bad_stage.err,
            "Error: invalid wait for stage: completed, valid values are: 'accepted'\n");
  Result no_name = Run({"workflow", "update", "execute", "-w", "wf-upd"});
  EXPECT_EQ(no_name.code, 1);
  EXPECT_NE(no_name.err.find("--name"), std::string::npos) << no_name.err;
  Result describe_no_id = Run({"workflow", "update", "describe", "-w", "wf-upd"});
  EXPECT_EQ(describe_no_id.code, 1);
  EXPECT_EQ(describe_no_id.err, "Error: --update-id flag must be provided\n");
}

TEST_F(CliTest, BadFlags) {
  Result missing = Run({"workflow", "start", "-t", "tq"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err.rfind("Error: ", 0), 0u);
  EXPECT_NE(missing.err.find("--type"), std::string::npos) << missing.err;

  Result unknown = Run({"workflow", "describe", "-w", "x", "--bogus"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.err.rfind("Error: ", 0), 0u);

  Result output = Run({"workflow", "list", "-o", "xml"});
  EXPECT_EQ(output.code, 1);
  EXPECT_EQ(output.err, "Error: invalid --output \"xml\" (text, json, jsonl, none)\n");

  Result input = Run({"workflow", "start", "--type", "W", "-t", "tq", "-i", "{not json"});
  EXPECT_EQ(input.code, 1);
  EXPECT_EQ(input.err, "Error: input is not valid JSON: {not json\n");

  Result duration = Run({"workflow", "start", "--type", "W", "-t", "tq", "--run-timeout", "5x"});
  EXPECT_EQ(duration.code, 1);
  EXPECT_NE(duration.err.find("invalid duration"), std::string::npos);

  Result policy =
      Run({"workflow", "start", "--type", "W", "-t", "tq", "--id-reuse-policy", "Sometimes"});
  EXPECT_EQ(policy.code, 1);
  EXPECT_EQ(policy.err, "Error: invalid --id-reuse-policy: \"Sometimes\"\n");

  Result not_found = Run({"workflow", "describe", "-w", "nope"});
  EXPECT_EQ(not_found.code, 1);
  EXPECT_EQ(not_found.err.rfind("Error: failed describing workflow: ", 0), 0u) << not_found.err;
  EXPECT_EQ(not_found.err.find('\n'), not_found.err.size() - 1) << "one line";
}

TEST(CliStandaloneTest, UnreachableServerFailsWithinCommandTimeout) {
  std::ostringstream out, err;
  auto started = std::chrono::steady_clock::now();
  // Port 1 on loopback: nothing listens there.
  int code = temporalio::cli::RunCli(
      {"workflow", "list", "--address", "127.0.0.1:1", "--command-timeout", "3s"}, out, err, false);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(code, 1);
  EXPECT_EQ(err.str().rfind("Error: failed listing workflows: ", 0), 0u) << err.str();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(CliStandaloneTest, HelpAndVersion) {
  std::ostringstream out, err;
  EXPECT_EQ(temporalio::cli::RunCli({"workflow", "--help"}, out, err, false), 0);
  EXPECT_NE(out.str().find("signal-with-start"), std::string::npos);
  std::ostringstream vout, verr;
  EXPECT_EQ(temporalio::cli::RunCli({"--version"}, vout, verr, false), 0);
  EXPECT_EQ(vout.str().rfind("temporal version ", 0), 0u);
}

}  // namespace
