// The dev server through its real gRPC API, with a scripted worker written
// against the raw WorkflowService stub: event sequences the official SDKs
// rely on, and the status codes + error details of bad input.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "google/rpc/status.pb.h"
#include "server/dev_server.h"
#include "server/persistence/sqlite_store.h"
#include "temporal/api/errordetails/v1/message.pb.h"
#include "temporal/api/protocol/v1/message.pb.h"
#include "temporal/api/update/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace {

namespace ws = temporal::api::workflowservice::v1;
namespace ev = temporal::api::enums::v1;
namespace hv = temporal::api::history::v1;
namespace cmd = temporal::api::command::v1;
using temporalio::server::DevServer;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Idle runs freeze at every 1 ms sweep, so every test below also runs
    // against runs that are serialized and parsed back between its steps.
    StartServer({.port = 0,
                 .search_attributes = {{"CustomKeywordField", "Keyword"}},
                 .idle_sweep_interval = std::chrono::milliseconds(1),
                 .idle_sweep_ticks = 1});
  }

  void StartServer(const temporalio::server::DevServerOptions& options) {
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = ws::WorkflowService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  ws::StartWorkflowExecutionRequest StartRequest(const std::string& id) {
    ws::StartWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.set_workflow_id(id);
    req.mutable_workflow_type()->set_name("TestWorkflow");
    req.mutable_task_queue()->set_name(task_queue_);
    req.set_request_id("req-" + id);
    req.set_identity("test");
    return req;
  }

  std::string Start(const std::string& id) {
    ws::StartWorkflowExecutionResponse resp;
    grpc::Status s = stub_->StartWorkflowExecution(Ctx().get(), StartRequest(id), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.run_id();
  }

  // Waits (up to 10 s) until some run is frozen; returns how many are.
  uint64_t WaitForFrozenRuns() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->GetStats().frozen_runs == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return server_->GetStats().frozen_runs;
  }

  ws::PollWorkflowTaskQueueResponse PollWorkflowTask() {
    ws::PollWorkflowTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name(task_queue_);
    req.set_identity("worker-1");
    ws::PollWorkflowTaskQueueResponse resp;
    grpc::Status s = stub_->PollWorkflowTaskQueue(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Complete(const std::string& token, std::vector<cmd::Command> commands,
                        ws::RespondWorkflowTaskCompletedResponse* out = nullptr,
                        bool return_new_workflow_task = false) {
    ws::RespondWorkflowTaskCompletedRequest req;
    req.set_namespace_("default");
    req.set_task_token(token);
    req.set_identity("worker-1");
    req.set_return_new_workflow_task(return_new_workflow_task);
    for (auto& c : commands) *req.add_commands() = std::move(c);
    ws::RespondWorkflowTaskCompletedResponse resp;
    return stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, out ? out : &resp);
  }

  static cmd::Command CompleteWorkflow(const std::string& data) {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
    auto* p = c.mutable_complete_workflow_execution_command_attributes()
                  ->mutable_result()
                  ->add_payloads();
    (*p->mutable_metadata())["encoding"] = "json/plain";
    p->set_data(data);
    return c;
  }

  static cmd::Command StartTimer(const std::string& id, int millis) {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_START_TIMER);
    auto* a = c.mutable_start_timer_command_attributes();
    a->set_timer_id(id);
    a->mutable_start_to_fire_timeout()->set_seconds(millis / 1000);
    a->mutable_start_to_fire_timeout()->set_nanos((millis % 1000) * 1000000);
    return c;
  }

  static cmd::Command ScheduleActivity(const std::string& id, const std::string& queue) {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* a = c.mutable_schedule_activity_task_command_attributes();
    a->set_activity_id(id);
    a->mutable_activity_type()->set_name("Greet");
    a->mutable_task_queue()->set_name(queue);
    a->mutable_start_to_close_timeout()->set_seconds(30);
    a->mutable_retry_policy()->set_maximum_attempts(3);
    a->mutable_retry_policy()->mutable_initial_interval()->set_nanos(1000000);
    return c;
  }

  std::vector<hv::HistoryEvent> History(const std::string& id, const std::string& run_id = "") {
    ws::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(id);
    req.mutable_execution()->set_run_id(run_id);
    ws::GetWorkflowExecutionHistoryResponse resp;
    grpc::Status s = stub_->GetWorkflowExecutionHistory(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.history().events().begin(), resp.history().events().end()};
  }

  static std::vector<ev::EventType> Types(const std::vector<hv::HistoryEvent>& events) {
    std::vector<ev::EventType> out;
    for (const auto& e : events) out.push_back(e.event_type());
    return out;
  }

  static std::vector<ev::EventType> Types(const ws::PollWorkflowTaskQueueResponse& task) {
    return Types(std::vector<hv::HistoryEvent>(task.history().events().begin(),
                                               task.history().events().end()));
  }

  // Unpacks the first error detail of a status into `detail`.
  template <class Detail>
  static bool DetailOf(const grpc::Status& status, Detail* detail) {
    google::rpc::Status rpc;
    if (!rpc.ParseFromString(status.error_details()) || rpc.details_size() == 0) return false;
    return rpc.details(0).UnpackTo(detail);
  }

  std::string task_queue_ = "server-test-tq";
  std::unique_ptr<DevServer> server_;
  std::unique_ptr<ws::WorkflowService::Stub> stub_;
};

using E = ev::EventType;

// Run ids are RFC 9562 version-7 UUIDs: random to a client, but later runs sort
// after earlier ones, so the store's run-id indexes grow at their end.
TEST_F(ServerTest, RunIdsAreTimeOrderedUuids) {
  const std::regex v7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::vector<std::string> run_ids;
  for (int i = 0; i < 3; ++i) {
    run_ids.push_back(Start("uuid-wf-" + std::to_string(i)));
    EXPECT_TRUE(std::regex_match(run_ids.back(), v7)) << run_ids.back();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a new millisecond
  }
  EXPECT_LT(run_ids[0], run_ids[1]);
  EXPECT_LT(run_ids[1], run_ids[2]);
  std::set<std::string> distinct(run_ids.begin(), run_ids.end());
  EXPECT_EQ(distinct.size(), run_ids.size());
}

TEST_F(ServerTest, TimerWorkflowHasTheRealServersEventSequence) {
  Start("timer-wf");
  auto task = PollWorkflowTask();
  ASSERT_FALSE(task.task_token().empty());
  EXPECT_EQ(task.started_event_id(), 3);
  EXPECT_EQ(task.previous_started_event_id(), 0);
  EXPECT_EQ(task.attempt(), 1);
  EXPECT_EQ(Types(task), (std::vector<ev::EventType>{E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
                                                     E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                                                     E::EVENT_TYPE_WORKFLOW_TASK_STARTED}));
  ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t1", 10)}).ok());
  task = PollWorkflowTask();  // after the timer fires
  EXPECT_EQ(task.previous_started_event_id(), 3);
  ASSERT_TRUE(Complete(task.task_token(), {CompleteWorkflow("\"done\"")}).ok());
  auto events = History("timer-wf");
  EXPECT_EQ(
      Types(events),
      (std::vector<ev::EventType>{
          E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
          E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
          E::EVENT_TYPE_TIMER_STARTED, E::EVENT_TYPE_TIMER_FIRED,
          E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E::EVENT_TYPE_WORKFLOW_TASK_STARTED,
          E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].event_id(), int64_t(i + 1));
  EXPECT_EQ(events[4].timer_started_event_attributes().workflow_task_completed_event_id(), 4);
  EXPECT_EQ(events[5].timer_fired_event_attributes().started_event_id(), 5);
  EXPECT_EQ(events[8].workflow_task_completed_event_attributes().scheduled_event_id(), 7);
  EXPECT_EQ(events[8].workflow_task_completed_event_attributes().started_event_id(), 8);
}

TEST_F(ServerTest, IdleRunsAreFrozenAndServeEveryOperationUnchanged) {
  Start("frozen-wf");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t1", 3600 * 1000)}).ok());
  auto before = History("frozen-wf");
  ASSERT_EQ(before.size(), 5u);
  ASSERT_EQ(WaitForFrozenRuns(), 1u);

  // Scans (count, list) read frozen runs without thawing them.
  ws::CountWorkflowExecutionsRequest count;
  count.set_namespace_("default");
  count.set_query("WorkflowId = 'frozen-wf' AND ExecutionStatus = 'Running'");
  ws::CountWorkflowExecutionsResponse count_resp;
  ASSERT_TRUE(stub_->CountWorkflowExecutions(Ctx().get(), count, &count_resp).ok());
  EXPECT_EQ(count_resp.count(), 1);
  EXPECT_EQ(server_->GetStats().frozen_runs, 1u);

  // History comes back identical after a freeze and a thaw.
  auto after = History("frozen-wf");
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(before[i], after[i])) << i;
  }

  // A signal thaws a frozen run and schedules a workflow task on it.
  ASSERT_EQ(WaitForFrozenRuns(), 1u);
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("frozen-wf");
  sig.set_signal_name("go");
  sig.set_request_id("sig-1");
  ws::SignalWorkflowExecutionResponse sig_resp;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sig_resp).ok());
  ASSERT_EQ(WaitForFrozenRuns(), 1u);  // idle again: the new task waits for a poller
  task = PollWorkflowTask();
  ASSERT_FALSE(task.task_token().empty());
  EXPECT_EQ(task.previous_started_event_id(), 3);
  EXPECT_EQ(Types(task).back(), E::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  ASSERT_TRUE(Complete(task.task_token(), {CompleteWorkflow("\"ok\"")}).ok());
  ASSERT_EQ(WaitForFrozenRuns(), 1u);  // closed runs freeze too
  auto events = History("frozen-wf");
  EXPECT_EQ(
      Types(events),
      (std::vector<ev::EventType>{
          E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
          E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
          E::EVENT_TYPE_TIMER_STARTED, E::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
          E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E::EVENT_TYPE_WORKFLOW_TASK_STARTED,
          E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}));
  ws::DescribeWorkflowExecutionRequest describe;
  describe.set_namespace_("default");
  describe.mutable_execution()->set_workflow_id("frozen-wf");
  ws::DescribeWorkflowExecutionResponse described;
  ASSERT_TRUE(stub_->DescribeWorkflowExecution(Ctx().get(), describe, &described).ok());
  EXPECT_EQ(described.workflow_execution_info().status(), ev::WORKFLOW_EXECUTION_STATUS_COMPLETED);
  EXPECT_EQ(described.workflow_execution_info().history_length(), 10);
}

// A retried signal (same request id) is applied once; the request id is on
// the event, as on the real server. SignalWithStart dedups the same way.
TEST_F(ServerTest, RetriedSignalIsAppliedOnce) {
  Start("signal-dedup");
  for (int attempt = 0; attempt < 2; ++attempt) {
    ws::SignalWorkflowExecutionRequest sig;
    sig.set_namespace_("default");
    sig.mutable_workflow_execution()->set_workflow_id("signal-dedup");
    sig.set_signal_name("go");
    sig.set_request_id("signal-request-1");
    ws::SignalWorkflowExecutionResponse resp;
    ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &resp).ok());
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    ws::SignalWithStartWorkflowExecutionRequest sws;
    sws.set_namespace_("default");
    sws.set_workflow_id("signal-dedup");
    sws.mutable_workflow_type()->set_name("TestWorkflow");
    sws.mutable_task_queue()->set_name(task_queue_);
    sws.set_signal_name("go");
    sws.set_request_id("signal-request-2");
    ws::SignalWithStartWorkflowExecutionResponse resp;
    ASSERT_TRUE(stub_->SignalWithStartWorkflowExecution(Ctx().get(), sws, &resp).ok());
    EXPECT_FALSE(resp.started());
  }
  std::vector<std::string> request_ids;
  for (const auto& e : History("signal-dedup")) {
    if (e.event_type() == E::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      request_ids.push_back(e.workflow_execution_signaled_event_attributes().request_id());
    }
  }
  EXPECT_EQ(request_ids, (std::vector<std::string>{"signal-request-1", "signal-request-2"}));
}

// Runs that stay in memory (no idle sweep within a test) keep the hashes of
// their last 1,000 signal request ids; the window wraps around and retries
// of any signal still in it are applied once.
class ServerHotRunTest : public ServerTest {
 protected:
  void SetUp() override { StartServer({.port = 0}); }
  grpc::Status Signal(const std::string& request_id) {
    ws::SignalWorkflowExecutionRequest sig;
    sig.set_namespace_("default");
    sig.mutable_workflow_execution()->set_workflow_id("signal-window");
    sig.set_signal_name("go");
    sig.set_request_id(request_id);
    ws::SignalWorkflowExecutionResponse resp;
    return stub_->SignalWorkflowExecution(Ctx().get(), sig, &resp);
  }
  int64_t HistoryLength() {
    ws::DescribeWorkflowExecutionRequest describe;
    describe.set_namespace_("default");
    describe.mutable_execution()->set_workflow_id("signal-window");
    ws::DescribeWorkflowExecutionResponse described;
    EXPECT_TRUE(stub_->DescribeWorkflowExecution(Ctx().get(), describe, &described).ok());
    return described.workflow_execution_info().history_length();
  }
};

TEST_F(ServerHotRunTest, RetriesWithinTheLastThousandSignalsAreAppliedOnce) {
  Start("signal-window");
  ASSERT_TRUE(Signal("s0").ok());
  ASSERT_TRUE(Signal("s0").ok());
  EXPECT_EQ(HistoryLength(), 3);  // started, task scheduled, one signal
  constexpr int kSignals = 1005;
  for (int i = 1; i < kSignals; ++i) ASSERT_TRUE(Signal("s" + std::to_string(i)).ok());
  EXPECT_EQ(HistoryLength(), 2 + kSignals);
  // The window now holds s5..s1004: its oldest, ones before and after the
  // ring wrapped, and the newest.
  for (const char* retry : {"s5", "s500", "s1002", "s1004", "s1004"})
    ASSERT_TRUE(Signal(retry).ok());
  EXPECT_EQ(HistoryLength(), 2 + kSignals);
  ASSERT_TRUE(Signal("s-new").ok());
  EXPECT_EQ(HistoryLength(), 3 + kSignals);
}

// Due timers fire in start order; a cancelled timer and one not yet due do not.
TEST_F(ServerTest, DueTimersFireInStartOrderAndCancelledOnesNever) {
  Start("many-timers");
  auto task = PollWorkflowTask();
  cmd::Command cancel;
  cancel.set_command_type(ev::COMMAND_TYPE_CANCEL_TIMER);
  cancel.mutable_cancel_timer_command_attributes()->set_timer_id("c");
  ASSERT_TRUE(
      Complete(task.task_token(), {StartTimer("a", 100), StartTimer("b", 100), StartTimer("c", 100),
                                   StartTimer("late", 3600 * 1000), cancel})
          .ok());
  auto fired = [&] {
    std::vector<std::string> ids;
    for (const auto& e : History("many-timers")) {
      if (e.event_type() == E::EVENT_TYPE_TIMER_FIRED) {
        ids.push_back(e.timer_fired_event_attributes().timer_id());
      }
    }
    return ids;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fired().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // room for a wrong third
  EXPECT_EQ(fired(), (std::vector<std::string>{"a", "b"}));
}

// A workflow task's timeout timer usually fires after the task completed; on
// a frozen run that must not thaw it (a thaw reads the history back from the
// store). Scans and timers of closed runs do not thaw either.
TEST_F(ServerTest, StaleTimersDoNotThawFrozenRuns) {
  auto start = StartRequest("stale-timers");
  start.mutable_workflow_task_timeout()->set_seconds(1);
  ws::StartWorkflowExecutionResponse started;
  ASSERT_TRUE(stub_->StartWorkflowExecution(Ctx().get(), start, &started).ok());
  auto task = PollWorkflowTask();  // arms the task's 1 s start-to-close timer
  ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t1", 3600 * 1000)}).ok());
  ASSERT_EQ(WaitForFrozenRuns(), 1u);
  const uint64_t thaws = server_->GetStats().thawed_runs;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the timeout fires
  EXPECT_EQ(server_->GetStats().thawed_runs, thaws);
  EXPECT_EQ(server_->GetStats().frozen_runs, 1u);
  // Reading the history does thaw it, from the store, unchanged.
  EXPECT_EQ(History("stale-timers").size(), 5u);
  EXPECT_EQ(server_->GetStats().thawed_runs, thaws + 1);
}

TEST_F(ServerTest, SignalDuringWorkflowTaskIsBufferedUntilItCompletes) {
  Start("buffered");
  auto task = PollWorkflowTask();
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("buffered");
  sig.set_signal_name("go");
  ws::SignalWorkflowExecutionResponse sig_resp;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sig_resp).ok());
  // Not visible while the task runs.
  EXPECT_EQ(History("buffered").size(), 3u);
  ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t1", 60000)}).ok());
  EXPECT_EQ(Types(History("buffered")),
            (std::vector<ev::EventType>{
                E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                E::EVENT_TYPE_TIMER_STARTED, E::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
                E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED}));
}

TEST_F(ServerTest, CloseCommandWithUnhandledSignalIsRejectedAsUnhandledCommand) {
  Start("unhandled");
  auto task = PollWorkflowTask();
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("unhandled");
  sig.set_signal_name("late");
  ws::SignalWorkflowExecutionResponse sig_resp;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sig_resp).ok());
  grpc::Status s = Complete(task.task_token(), {CompleteWorkflow("1")});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "UnhandledCommand");
  auto events = History("unhandled");
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[3].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_FAILED);
  EXPECT_EQ(events[3].workflow_task_failed_event_attributes().cause(),
            ev::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND);
  EXPECT_EQ(events[4].event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  EXPECT_EQ(events[5].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  EXPECT_EQ(events[5].workflow_task_scheduled_event_attributes().attempt(), 1);
}

TEST_F(ServerTest, FailedWorkflowTaskRetriesAsTransientAttempt) {
  Start("transient");
  auto task = PollWorkflowTask();
  ws::RespondWorkflowTaskFailedRequest fail;
  fail.set_namespace_("default");
  fail.set_task_token(task.task_token());
  fail.set_cause(ev::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
  fail.mutable_failure()->set_message("boom");
  ws::RespondWorkflowTaskFailedResponse fail_resp;
  ASSERT_TRUE(stub_->RespondWorkflowTaskFailed(Ctx().get(), fail, &fail_resp).ok());

  auto retry = PollWorkflowTask();
  EXPECT_EQ(retry.attempt(), 2);
  // History has the failure; the new attempt's events exist only in the poll response.
  EXPECT_EQ(History("transient").size(), 4u);
  EXPECT_EQ(Types(retry),
            (std::vector<ev::EventType>{
                E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_FAILED,
                E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E::EVENT_TYPE_WORKFLOW_TASK_STARTED}));
  EXPECT_EQ(retry.started_event_id(), 6);
  ASSERT_TRUE(Complete(retry.task_token(), {CompleteWorkflow("2")}).ok());
  auto events = History("transient");
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[4].workflow_task_scheduled_event_attributes().attempt(), 2);
  EXPECT_EQ(events[6].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  EXPECT_EQ(events[7].event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
}

TEST_F(ServerTest, ActivityStartedEventIsWrittenAtCompletionWithFinalAttempt) {
  Start("act");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {ScheduleActivity("a1", "acts")}).ok());
  auto poll_activity = [&] {
    ws::PollActivityTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name("acts");
    req.set_identity("act-worker");
    ws::PollActivityTaskQueueResponse resp;
    EXPECT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), req, &resp).ok());
    return resp;
  };
  auto a1 = poll_activity();
  ASSERT_EQ(a1.activity_id(), "a1");
  EXPECT_EQ(a1.attempt(), 1);
  ws::RespondActivityTaskFailedRequest f;
  f.set_namespace_("default");
  f.set_task_token(a1.task_token());
  f.mutable_failure()->set_message("flaky");
  f.mutable_failure()->mutable_application_failure_info()->set_type("Flaky");
  ws::RespondActivityTaskFailedResponse fr;
  ASSERT_TRUE(stub_->RespondActivityTaskFailed(Ctx().get(), f, &fr).ok());
  auto a2 = poll_activity();
  EXPECT_EQ(a2.attempt(), 2);
  // A stale token (attempt 1) no longer works.
  ws::RespondActivityTaskCompletedRequest stale;
  stale.set_namespace_("default");
  stale.set_task_token(a1.task_token());
  ws::RespondActivityTaskCompletedResponse cr;
  EXPECT_EQ(stub_->RespondActivityTaskCompleted(Ctx().get(), stale, &cr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ws::RecordActivityTaskHeartbeatRequest hb;
  hb.set_namespace_("default");
  hb.set_task_token(a2.task_token());
  ws::RecordActivityTaskHeartbeatResponse hbr;
  ASSERT_TRUE(stub_->RecordActivityTaskHeartbeat(Ctx().get(), hb, &hbr).ok());
  EXPECT_FALSE(hbr.cancel_requested());
  ws::RespondActivityTaskCompletedRequest ok;
  ok.set_namespace_("default");
  ok.set_task_token(a2.task_token());
  ASSERT_TRUE(stub_->RespondActivityTaskCompleted(Ctx().get(), ok, &cr).ok());
  auto events = History("act");
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[4].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  EXPECT_EQ(events[5].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_STARTED);
  EXPECT_EQ(events[5].activity_task_started_event_attributes().attempt(), 2);
  EXPECT_EQ(events[5].activity_task_started_event_attributes().last_failure().message(), "flaky");
  EXPECT_EQ(events[6].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(events[6].activity_task_completed_event_attributes().started_event_id(), 6);
  EXPECT_EQ(events[7].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
}

// request_eager_execution: the activity is started for the completing worker
// and handed back in the completion's reply (no poll); its events are the
// same as a polled one's. Without the flag, or when the workflow closes or
// cancels the activity in the same task, nothing is started eagerly.
// A task handed to a polling worker is not committed on its own: its
// WorkflowTaskStarted event (or an activity's started state) is written with
// the run's next commit, which the worker's answer makes. History readers
// still see the started event at once (a worker that lost its cache fetches it).
TEST_F(ServerTest, PolledTasksAreWrittenWithTheWorkersAnswer) {
  Start("lazy");
  const uint64_t before = server_->GetStats().batches;
  auto task = PollWorkflowTask();
  ASSERT_EQ(task.started_event_id(), 3);
  EXPECT_EQ(server_->GetStats().batches, before);
  EXPECT_EQ(Types(History("lazy")), (std::vector<E>{E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
                                                    E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                                                    E::EVENT_TYPE_WORKFLOW_TASK_STARTED}));
  ASSERT_TRUE(Complete(task.task_token(), {ScheduleActivity("a1", "lazy-acts")}).ok());
  EXPECT_EQ(server_->GetStats().batches, before + 1);

  ws::PollActivityTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("lazy-acts");
  poll.set_identity("act-worker");
  ws::PollActivityTaskQueueResponse act;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), poll, &act).ok());
  ASSERT_EQ(act.activity_id(), "a1");
  EXPECT_EQ(server_->GetStats().batches, before + 1);
  ws::RespondActivityTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(act.task_token());
  ws::RespondActivityTaskCompletedResponse done_resp;
  ASSERT_TRUE(stub_->RespondActivityTaskCompleted(Ctx().get(), done, &done_resp).ok());
  EXPECT_EQ(server_->GetStats().batches, before + 2);

  task = PollWorkflowTask();
  EXPECT_EQ(server_->GetStats().batches, before + 2);
  ASSERT_TRUE(Complete(task.task_token(), {CompleteWorkflow("1")}).ok());
  EXPECT_EQ(server_->GetStats().batches, before + 3);
  auto events = History("lazy");
  EXPECT_EQ(Types(events),
            (std::vector<E>{
                E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                E::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, E::EVENT_TYPE_ACTIVITY_TASK_STARTED,
                E::EVENT_TYPE_ACTIVITY_TASK_COMPLETED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                E::EVENT_TYPE_WORKFLOW_TASK_STARTED, E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}));
  EXPECT_EQ(events[5].activity_task_started_event_attributes().identity(), "act-worker");
}

TEST_F(ServerTest, EagerActivityIsStartedInTheWorkflowTaskCompletionReply) {
  Start("eager");
  auto task = PollWorkflowTask();
  cmd::Command eager = ScheduleActivity("a1", task_queue_);
  eager.mutable_schedule_activity_task_command_attributes()->set_request_eager_execution(true);
  ws::RespondWorkflowTaskCompletedResponse reply;
  ASSERT_TRUE(
      Complete(task.task_token(), {eager, ScheduleActivity("a2", task_queue_)}, &reply).ok());
  ASSERT_EQ(reply.activity_tasks_size(), 1);
  const ws::PollActivityTaskQueueResponse& a1 = reply.activity_tasks(0);
  EXPECT_EQ(a1.activity_id(), "a1");
  EXPECT_EQ(a1.activity_type().name(), "Greet");
  EXPECT_EQ(a1.workflow_execution().workflow_id(), "eager");
  EXPECT_EQ(a1.workflow_namespace(), "default");
  EXPECT_EQ(a1.attempt(), 1);
  EXPECT_EQ(a1.start_to_close_timeout().seconds(), 30);
  EXPECT_TRUE(a1.has_started_time());
  EXPECT_FALSE(a1.task_token().empty());

  // Only the other activity is left for pollers.
  ws::PollActivityTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name(task_queue_);
  poll.set_identity("act-worker");
  ws::PollActivityTaskQueueResponse a2;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), poll, &a2).ok());
  EXPECT_EQ(a2.activity_id(), "a2");
  ws::PollActivityTaskQueueResponse none;
  ASSERT_TRUE(
      stub_->PollActivityTaskQueue(Ctx(std::chrono::milliseconds(1500)).get(), poll, &none).ok());
  EXPECT_TRUE(none.task_token().empty());

  ws::DescribeWorkflowExecutionRequest dreq;
  dreq.set_namespace_("default");
  dreq.mutable_execution()->set_workflow_id("eager");
  ws::DescribeWorkflowExecutionResponse desc;
  ASSERT_TRUE(stub_->DescribeWorkflowExecution(Ctx().get(), dreq, &desc).ok());
  ASSERT_EQ(desc.pending_activities_size(), 2);
  for (const auto& pa : desc.pending_activities()) {
    EXPECT_EQ(pa.state(), ev::PENDING_ACTIVITY_STATE_STARTED) << pa.activity_id();
  }

  ws::RespondActivityTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(a1.task_token());
  done.set_identity("worker-1");
  ws::RespondActivityTaskCompletedResponse cr;
  ASSERT_TRUE(stub_->RespondActivityTaskCompleted(Ctx().get(), done, &cr).ok());
  auto events = History("eager");
  ASSERT_EQ(events.size(), 9u);
  EXPECT_EQ(events[4].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  EXPECT_EQ(events[5].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  EXPECT_EQ(events[6].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_STARTED);
  EXPECT_EQ(events[6].activity_task_started_event_attributes().scheduled_event_id(), 5);
  EXPECT_EQ(events[6].activity_task_started_event_attributes().identity(), "worker-1");
  EXPECT_EQ(events[7].event_type(), E::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(events[7].activity_task_completed_event_attributes().started_event_id(), 7);
  EXPECT_EQ(events[8].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);

  // Closing in the same task: the eager request is ignored.
  Start("eager-close");
  task = PollWorkflowTask();
  cmd::Command eager2 = ScheduleActivity("b1", task_queue_);
  eager2.mutable_schedule_activity_task_command_attributes()->set_request_eager_execution(true);
  ws::RespondWorkflowTaskCompletedResponse reply2;
  ASSERT_TRUE(Complete(task.task_token(), {eager2, CompleteWorkflow("1")}, &reply2).ok());
  EXPECT_EQ(reply2.activity_tasks_size(), 0);
}

// A query reaching a workflow with a pending workflow task rides along in the
// task's `queries` map; one that arrives later goes out as a query-only task.
// Which happens depends on arrival order, so repeat until both were seen.
TEST_F(ServerTest, QueriesAreAnsweredAttachedToWorkflowTasksOrAsQueryOnlyTasks) {
  bool saw_attached = false, saw_query_only = false;
  for (int round = 0; round < 40 && !(saw_attached && saw_query_only); ++round) {
    const std::string id = "query-" + std::to_string(round);
    Start(id);
    // Even rounds send the query before polling (it usually rides the task);
    // odd rounds poll first, so the query must wait and go out on its own.
    const bool query_first = round % 2 == 0;
    ws::PollWorkflowTaskQueueResponse polled;
    if (!query_first) polled = PollWorkflowTask();
    auto query_ctx = Ctx();
    ws::QueryWorkflowRequest query_req;
    query_req.set_namespace_("default");
    query_req.mutable_execution()->set_workflow_id(id);
    query_req.mutable_query()->set_query_type("state");
    ws::QueryWorkflowResponse query_resp;
    std::promise<grpc::Status> query_done;
    stub_->async()->QueryWorkflow(query_ctx.get(), &query_req, &query_resp,
                                  [&](grpc::Status s) { query_done.set_value(s); });
    auto query = std::async(std::launch::deferred, [&] {
      grpc::Status s = query_done.get_future().get();
      EXPECT_TRUE(s.ok()) << s.error_message();
      return query_resp.query_result().payloads_size()
                 ? query_resp.query_result().payloads(0).data()
                 : "";
    });
    auto task = query_first ? PollWorkflowTask() : polled;
    if (!task.queries().empty()) {
      saw_attached = true;
      ASSERT_EQ(task.queries().size(), 1u);
      EXPECT_EQ(task.queries().begin()->second.query_type(), "state");
      ws::RespondWorkflowTaskCompletedRequest req;
      req.set_namespace_("default");
      req.set_task_token(task.task_token());
      auto& result = (*req.mutable_query_results())[task.queries().begin()->first];
      result.set_result_type(ev::QUERY_RESULT_TYPE_ANSWERED);
      result.mutable_answer()->add_payloads()->set_data("\"attached\"");
      *req.add_commands() = StartTimer("t", 60000);
      ws::RespondWorkflowTaskCompletedResponse resp;
      ASSERT_TRUE(stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, &resp).ok());
      EXPECT_EQ(query.get(), "\"attached\"");
      continue;
    }
    // The query came after the task started: it goes out once the task is done.
    ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t", 60000)}).ok());
    auto query_task = PollWorkflowTask();
    ASSERT_TRUE(query_task.has_query()) << "expected a query-only task";
    EXPECT_EQ(query_task.query().query_type(), "state");
    EXPECT_GT(query_task.history().events_size(), 0);  // full history for a non-sticky worker
    saw_query_only = true;
    ws::RespondQueryTaskCompletedRequest answer;
    answer.set_namespace_("default");
    answer.set_task_token(query_task.task_token());
    answer.set_completed_type(ev::QUERY_RESULT_TYPE_ANSWERED);
    answer.mutable_query_result()->add_payloads()->set_data("\"query-only\"");
    ws::RespondQueryTaskCompletedResponse answer_resp;
    ASSERT_TRUE(stub_->RespondQueryTaskCompleted(Ctx().get(), answer, &answer_resp).ok());
    EXPECT_EQ(query.get(), "\"query-only\"");
  }
  EXPECT_TRUE(saw_attached);
  EXPECT_TRUE(saw_query_only);
}

TEST_F(ServerTest, PollWithNoTaskReturnsEmptyBeforeTheDeadline) {
  ws::PollActivityTaskQueueRequest req;
  req.set_namespace_("default");
  req.mutable_task_queue()->set_name("idle");
  ws::PollActivityTaskQueueResponse resp;
  grpc::Status s =
      stub_->PollActivityTaskQueue(Ctx(std::chrono::milliseconds(1500)).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.task_token().empty());
}

// A worker that asks for its next workflow task in the completion gets it in
// the reply, even with another worker's poll parked on the queue (new tasks
// are dispatched as soon as their commit is queued).
TEST_F(ServerTest, ReturnNewWorkflowTaskGoesToTheCompletingWorker) {
  Start("return-new");
  auto task = PollWorkflowTask();
  ASSERT_FALSE(task.task_token().empty());
  // A signal while the task runs: a new task is due at its completion.
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("return-new");
  sig.set_signal_name("go");
  ws::SignalWorkflowExecutionResponse sig_resp;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sig_resp).ok());

  ws::PollWorkflowTaskQueueRequest other;
  other.set_namespace_("default");
  other.mutable_task_queue()->set_name(task_queue_);
  other.set_identity("worker-2");
  ws::PollWorkflowTaskQueueResponse other_resp;
  auto other_ctx = Ctx(std::chrono::seconds(30));
  std::promise<grpc::Status> other_done;
  stub_->async()->PollWorkflowTaskQueue(other_ctx.get(), &other, &other_resp,
                                        [&](grpc::Status s) { other_done.set_value(s); });
  ws::DescribeTaskQueueRequest d;
  d.set_namespace_("default");
  d.mutable_task_queue()->set_name(task_queue_);
  d.set_task_queue_type(ev::TASK_QUEUE_TYPE_WORKFLOW);
  for (bool parked = false; !parked;) {  // until the server has seen worker-2's poll
    ws::DescribeTaskQueueResponse dr;
    ASSERT_TRUE(stub_->DescribeTaskQueue(Ctx().get(), d, &dr).ok());
    for (const auto& p : dr.pollers()) parked = parked || p.identity() == "worker-2";
    if (!parked) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ws::RespondWorkflowTaskCompletedResponse resp;
  ASSERT_TRUE(Complete(task.task_token(), {}, &resp, /*return_new_workflow_task=*/true).ok());
  ASSERT_FALSE(resp.workflow_task().task_token().empty());
  EXPECT_EQ(Types(resp.workflow_task()).back(), E::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  ASSERT_TRUE(Complete(resp.workflow_task().task_token(), {CompleteWorkflow("1")}).ok());

  other_ctx->TryCancel();
  other_done.get_future().get();  // cancelled, or empty at its deadline
  EXPECT_TRUE(other_resp.task_token().empty()) << "the parked poll got the returned task";
}

// A worker that cancelled its poll (one shutting down) is not handed a task:
// the next poll gets it at once instead of after the task's timeout.
TEST_F(ServerTest, CancelledPollIsNotHandedATask) {
  ws::PollWorkflowTaskQueueRequest req;
  req.set_namespace_("default");
  req.mutable_task_queue()->set_name(task_queue_);
  req.set_identity("worker-going-away");
  ws::PollWorkflowTaskQueueResponse gone_resp;
  grpc::ClientContext gone_ctx;
  gone_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::promise<grpc::Status> gone_done;
  stub_->async()->PollWorkflowTaskQueue(&gone_ctx, &req, &gone_resp,
                                        [&](grpc::Status s) { gone_done.set_value(s); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // parked on the server
  gone_ctx.TryCancel();
  EXPECT_EQ(gone_done.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server saw it

  Start("wf-after-cancelled-poll");
  // This poll ends (empty) before the 10 s workflow task timeout would hand
  // a lost task out again.
  ws::PollWorkflowTaskQueueResponse task = PollWorkflowTask();
  EXPECT_FALSE(task.task_token().empty()) << "the task went to the cancelled poll";
  EXPECT_EQ(task.workflow_execution().workflow_id(), "wf-after-cancelled-poll");
}

// One workflow task completion per command kind: the events it writes.
TEST_F(ServerTest, EachCommandWritesItsEvents) {
  struct Case {
    std::string name;
    std::vector<cmd::Command> first;   // completion of the first task
    std::vector<cmd::Command> second;  // completion of a second task (if any)
    std::vector<ev::EventType> tail;   // last events of the history
    ev::WorkflowExecutionStatus status;
  };
  auto cancel_timer = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_CANCEL_TIMER);
    c.mutable_cancel_timer_command_attributes()->set_timer_id("t1");
    return c;
  };
  auto fail = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
    c.mutable_fail_workflow_execution_command_attributes()->mutable_failure()->set_message("no");
    return c;
  };
  auto cancel = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION);
    return c;
  };
  auto marker = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_RECORD_MARKER);
    c.mutable_record_marker_command_attributes()->set_marker_name("core_patch");
    return c;
  };
  auto upsert = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
    auto& f = (*c.mutable_upsert_workflow_search_attributes_command_attributes()
                    ->mutable_search_attributes()
                    ->mutable_indexed_fields())["CustomKeywordField"];
    f.set_data("\"x\"");
    return c;
  };
  auto memo = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES);
    (*c.mutable_modify_workflow_properties_command_attributes()
          ->mutable_upserted_memo()
          ->mutable_fields())["owner"]
        .set_data("\"me\"");
    return c;
  };
  auto cancel_activity = [] {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
    c.mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(5);
    return c;
  };
  using S = ev::WorkflowExecutionStatus;
  std::vector<Case> cases = {
      {"cancel-timer",
       {StartTimer("t1", 60000), cancel_timer(), CompleteWorkflow("1")},
       {},
       {E::EVENT_TYPE_TIMER_STARTED, E::EVENT_TYPE_TIMER_CANCELED,
        E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED},
       S::WORKFLOW_EXECUTION_STATUS_COMPLETED},
      {"fail",
       {fail()},
       {},
       {E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED},
       S::WORKFLOW_EXECUTION_STATUS_FAILED},
      {"cancel",
       {cancel()},
       {},
       {E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED},
       S::WORKFLOW_EXECUTION_STATUS_CANCELED},
      {"marker-upsert-memo",
       {marker(), upsert(), memo(), CompleteWorkflow("1")},
       {},
       {E::EVENT_TYPE_MARKER_RECORDED, E::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        E::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED},
       S::WORKFLOW_EXECUTION_STATUS_COMPLETED},
      // An activity nobody started is cancelled on the spot, and the workflow hears of it.
      {"cancel-unstarted-activity",
       {ScheduleActivity("a1", "nobody")},
       {cancel_activity()},
       {E::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        E::EVENT_TYPE_ACTIVITY_TASK_CANCELED, E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED},
       S::WORKFLOW_EXECUTION_STATUS_RUNNING},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Start(c.name);
    auto task = PollWorkflowTask();
    grpc::Status s = Complete(task.task_token(), c.first);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (!c.second.empty()) {
      // A signal gives the workflow a second task.
      ws::SignalWorkflowExecutionRequest sig;
      sig.set_namespace_("default");
      sig.mutable_workflow_execution()->set_workflow_id(c.name);
      sig.set_signal_name("next");
      ws::SignalWorkflowExecutionResponse sr;
      ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sr).ok());
      task = PollWorkflowTask();
      s = Complete(task.task_token(), c.second);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    auto types = Types(History(c.name));
    ASSERT_GE(types.size(), c.tail.size());
    EXPECT_EQ(std::vector<ev::EventType>(types.end() - c.tail.size(), types.end()), c.tail);
    ws::DescribeWorkflowExecutionRequest d;
    d.set_namespace_("default");
    d.mutable_execution()->set_workflow_id(c.name);
    ws::DescribeWorkflowExecutionResponse dr;
    ASSERT_TRUE(stub_->DescribeWorkflowExecution(Ctx().get(), d, &dr).ok());
    EXPECT_EQ(dr.workflow_execution_info().status(), c.status);
  }
}

TEST_F(ServerTest, TerminateFailsTheRunningWorkflowTaskFirst) {
  Start("term");
  auto task = PollWorkflowTask();
  ws::TerminateWorkflowExecutionRequest t;
  t.set_namespace_("default");
  t.mutable_workflow_execution()->set_workflow_id("term");
  t.set_reason("stop");
  ws::TerminateWorkflowExecutionResponse tr;
  ASSERT_TRUE(stub_->TerminateWorkflowExecution(Ctx().get(), t, &tr).ok());
  auto events = History("term");
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[3].workflow_task_failed_event_attributes().cause(),
            ev::WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND);
  EXPECT_EQ(events[4].workflow_execution_terminated_event_attributes().reason(), "stop");
  // The worker's late answer is refused.
  EXPECT_EQ(Complete(task.task_token(), {CompleteWorkflow("1")}).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, HistoryLongPollWakesOnCloseEvent) {
  Start("longpoll");
  auto waiter = std::async(std::launch::async, [&] {
    ws::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id("longpoll");
    req.set_wait_new_event(true);
    req.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    ws::GetWorkflowExecutionHistoryResponse resp;
    EXPECT_TRUE(
        stub_->GetWorkflowExecutionHistory(Ctx(std::chrono::seconds(30)).get(), req, &resp).ok());
    return resp;
  });
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {CompleteWorkflow("\"r\"")}).ok());
  auto resp = waiter.get();
  // Either the close event, or (if the poll expired first) an empty page to poll again.
  if (resp.history().events_size() == 0) {
    EXPECT_FALSE(resp.next_page_token().empty());
  } else {
    ASSERT_EQ(resp.history().events_size(), 1);
    EXPECT_EQ(resp.history().events(0).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  }
}

TEST_F(ServerTest, DescribeTaskQueueListsPollersAndReverseHistoryPages) {
  Start("tq");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {CompleteWorkflow("1")}).ok());
  ws::DescribeTaskQueueRequest d;
  d.set_namespace_("default");
  d.mutable_task_queue()->set_name(task_queue_);
  d.set_task_queue_type(ev::TASK_QUEUE_TYPE_WORKFLOW);
  ws::DescribeTaskQueueResponse dr;
  ASSERT_TRUE(stub_->DescribeTaskQueue(Ctx().get(), d, &dr).ok());
  ASSERT_EQ(dr.pollers_size(), 1);
  EXPECT_EQ(dr.pollers(0).identity(), "worker-1");

  ws::GetWorkflowExecutionHistoryReverseRequest r;
  r.set_namespace_("default");
  r.mutable_execution()->set_workflow_id("tq");
  r.set_maximum_page_size(2);
  std::vector<int64_t> ids;
  ws::GetWorkflowExecutionHistoryReverseResponse rr;
  do {
    rr.Clear();
    ASSERT_TRUE(stub_->GetWorkflowExecutionHistoryReverse(Ctx().get(), r, &rr).ok());
    for (const auto& e : rr.history().events()) ids.push_back(e.event_id());
    r.set_next_page_token(rr.next_page_token());
  } while (!rr.next_page_token().empty());
  EXPECT_EQ(ids, (std::vector<int64_t>{5, 4, 3, 2, 1}));
}

TEST_F(ServerTest, ActivityCancellationIsDeliveredThroughHeartbeats) {
  Start("cancel-act");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {ScheduleActivity("a1", "acts")}).ok());
  ws::PollActivityTaskQueueRequest preq;
  preq.set_namespace_("default");
  preq.mutable_task_queue()->set_name("acts");
  ws::PollActivityTaskQueueResponse act;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), preq, &act).ok());
  // The workflow asks for cancellation (a signal gives it a task to do so).
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("cancel-act");
  sig.set_signal_name("cancel");
  ws::SignalWorkflowExecutionResponse sr;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sr).ok());
  task = PollWorkflowTask();
  cmd::Command c;
  c.set_command_type(ev::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
  c.mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(5);
  ASSERT_TRUE(Complete(task.task_token(), {c}).ok());
  ws::RecordActivityTaskHeartbeatRequest hb;
  hb.set_namespace_("default");
  hb.set_task_token(act.task_token());
  ws::RecordActivityTaskHeartbeatResponse hbr;
  ASSERT_TRUE(stub_->RecordActivityTaskHeartbeat(Ctx().get(), hb, &hbr).ok());
  EXPECT_TRUE(hbr.cancel_requested());
  ws::RespondActivityTaskCanceledRequest cr;
  cr.set_namespace_("default");
  cr.set_task_token(act.task_token());
  ws::RespondActivityTaskCanceledResponse crr;
  ASSERT_TRUE(stub_->RespondActivityTaskCanceled(Ctx().get(), cr, &crr).ok());
  auto types = Types(History("cancel-act"));
  ASSERT_GE(types.size(), 3u);
  EXPECT_EQ(std::vector<ev::EventType>(types.end() - 3, types.end()),
            (std::vector<ev::EventType>{E::EVENT_TYPE_ACTIVITY_TASK_STARTED,
                                        E::EVENT_TYPE_ACTIVITY_TASK_CANCELED,
                                        E::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED}));
}

// Polls the workflow's next task and returns the history's last events.
TEST_F(ServerTest, ActivityTimeoutsProduceTimeoutFailures) {
  struct Case {
    std::string name;
    std::function<void(cmd::ScheduleActivityTaskCommandAttributes*)> options;
    bool start;  // a worker picks the activity up (and then goes silent)
    ev::TimeoutType expected;
  };
  std::vector<Case> cases = {
      {"s2s", [](auto* a) { a->mutable_schedule_to_start_timeout()->set_nanos(200000000); }, false,
       ev::TIMEOUT_TYPE_SCHEDULE_TO_START},
      {"hb",
       [](auto* a) {
         a->mutable_heartbeat_timeout()->set_nanos(200000000);
         a->mutable_retry_policy()->set_maximum_attempts(1);
       },
       true, ev::TIMEOUT_TYPE_HEARTBEAT},
      {"s2c",
       [](auto* a) {
         a->mutable_schedule_to_close_timeout()->set_nanos(300000000);
         a->clear_start_to_close_timeout();
       },
       true, ev::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Start("timeout-" + c.name);
    auto task = PollWorkflowTask();
    cmd::Command command = ScheduleActivity("a", "acts-" + c.name);
    c.options(command.mutable_schedule_activity_task_command_attributes());
    ASSERT_TRUE(Complete(task.task_token(), {command}).ok());
    if (c.start) {
      ws::PollActivityTaskQueueRequest preq;
      preq.set_namespace_("default");
      preq.mutable_task_queue()->set_name("acts-" + c.name);
      ws::PollActivityTaskQueueResponse act;
      ASSERT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), preq, &act).ok());
      ASSERT_FALSE(act.task_token().empty());
    }
    task = PollWorkflowTask();  // the timeout schedules the next workflow task
    ASSERT_FALSE(task.task_token().empty());
    const auto& events = task.history().events();
    const hv::HistoryEvent* timed_out = nullptr;
    for (const auto& e : events) {
      if (e.event_type() == E::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT) timed_out = &e;
    }
    ASSERT_NE(timed_out, nullptr);
    const auto& attrs = timed_out->activity_task_timed_out_event_attributes();
    EXPECT_EQ(attrs.failure().timeout_failure_info().timeout_type(), c.expected);
    EXPECT_EQ(attrs.started_event_id() != 0, c.start);
  }
}

TEST_F(ServerTest, WorkflowTaskTimeoutSchedulesATransientRetry) {
  auto req = StartRequest("wft-timeout");
  req.mutable_workflow_task_timeout()->set_nanos(200000000);
  ws::StartWorkflowExecutionResponse resp;
  ASSERT_TRUE(stub_->StartWorkflowExecution(Ctx().get(), req, &resp).ok());
  auto first = PollWorkflowTask();  // ... and never answered
  auto retry = PollWorkflowTask();
  EXPECT_EQ(retry.attempt(), 2);
  auto events = History("wft-timeout");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].event_type(), E::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
  EXPECT_EQ(events[3].workflow_task_timed_out_event_attributes().timeout_type(),
            ev::TIMEOUT_TYPE_START_TO_CLOSE);
  EXPECT_EQ(Complete(first.task_token(), {}).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, RunTimeoutClosesTheWorkflowAsTimedOut) {
  auto req = StartRequest("run-timeout");
  req.mutable_workflow_run_timeout()->set_nanos(300000000);
  ws::StartWorkflowExecutionResponse resp;
  ASSERT_TRUE(stub_->StartWorkflowExecution(Ctx().get(), req, &resp).ok());
  ws::GetWorkflowExecutionHistoryRequest h;
  h.set_namespace_("default");
  h.mutable_execution()->set_workflow_id("run-timeout");
  h.set_wait_new_event(true);
  h.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
  ws::GetWorkflowExecutionHistoryResponse hr;
  do {
    ASSERT_TRUE(
        stub_->GetWorkflowExecutionHistory(Ctx(std::chrono::seconds(30)).get(), h, &hr).ok());
    h.set_next_page_token(hr.next_page_token());
  } while (hr.history().events_size() == 0);
  EXPECT_EQ(hr.history().events(0).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT);
}

TEST_F(ServerTest, QueryRejectConditionAndFailedQueries) {
  Start("q-closed");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {[] {
                         cmd::Command c;
                         c.set_command_type(ev::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
                         return c;
                       }()})
                  .ok());
  ws::QueryWorkflowRequest q;
  q.set_namespace_("default");
  q.mutable_execution()->set_workflow_id("q-closed");
  q.mutable_query()->set_query_type("state");
  q.set_query_reject_condition(ev::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY);
  ws::QueryWorkflowResponse qr;
  ASSERT_TRUE(stub_->QueryWorkflow(Ctx().get(), q, &qr).ok());
  EXPECT_EQ(qr.query_rejected().status(), ev::WORKFLOW_EXECUTION_STATUS_FAILED);

  // Without a reject condition it goes to a worker, which fails it.
  q.clear_query_reject_condition();
  ws::QueryWorkflowResponse failed_resp;
  std::promise<grpc::Status> done;
  auto ctx = Ctx();
  stub_->async()->QueryWorkflow(ctx.get(), &q, &failed_resp,
                                [&](grpc::Status s) { done.set_value(s); });
  auto query_task = PollWorkflowTask();
  ASSERT_TRUE(query_task.has_query());
  ws::RespondQueryTaskCompletedRequest answer;
  answer.set_namespace_("default");
  answer.set_task_token(query_task.task_token());
  answer.set_completed_type(ev::QUERY_RESULT_TYPE_FAILED);
  answer.mutable_failure()->set_message("no handler for state");
  ws::RespondQueryTaskCompletedResponse ar;
  ASSERT_TRUE(stub_->RespondQueryTaskCompleted(Ctx().get(), answer, &ar).ok());
  grpc::Status s = done.get_future().get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "no handler for state");
  temporal::api::errordetails::v1::QueryFailedFailure detail;
  ASSERT_TRUE(DetailOf(s, &detail));
  EXPECT_EQ(detail.failure().message(), "no handler for state");
}

TEST_F(ServerTest, ActivityOperationsById) {
  Start("byid");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {ScheduleActivity("a-by-id", "acts-byid")}).ok());
  ws::PollActivityTaskQueueRequest preq;
  preq.set_namespace_("default");
  preq.mutable_task_queue()->set_name("acts-byid");
  ws::PollActivityTaskQueueResponse act;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Ctx().get(), preq, &act).ok());
  ws::RecordActivityTaskHeartbeatByIdRequest hb;
  hb.set_namespace_("default");
  hb.set_workflow_id("byid");
  hb.set_activity_id("a-by-id");
  hb.mutable_details()->add_payloads()->set_data("42");
  ws::RecordActivityTaskHeartbeatByIdResponse hbr;
  ASSERT_TRUE(stub_->RecordActivityTaskHeartbeatById(Ctx().get(), hb, &hbr).ok());
  ws::RespondActivityTaskCompletedByIdRequest done;
  done.set_namespace_("default");
  done.set_workflow_id("byid");
  done.set_activity_id("a-by-id");
  ws::RespondActivityTaskCompletedByIdResponse dr;
  ASSERT_TRUE(stub_->RespondActivityTaskCompletedById(Ctx().get(), done, &dr).ok());
  EXPECT_EQ(stub_->RespondActivityTaskCompletedById(Ctx().get(), done, &dr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  hb.set_activity_id("");
  EXPECT_EQ(stub_->RecordActivityTaskHeartbeatById(Ctx().get(), hb, &hbr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, StickyTaskFallsBackToTheNormalQueue) {
  for (bool shutdown_worker : {false, true}) {
    SCOPED_TRACE(shutdown_worker ? "ShutdownWorker" : "schedule-to-start timeout");
    const std::string id = shutdown_worker ? "sticky-shutdown" : "sticky-timeout";
    const std::string sticky = "sticky-queue-" + id;
    Start(id);
    auto task = PollWorkflowTask();
    ws::RespondWorkflowTaskCompletedRequest req;
    req.set_namespace_("default");
    req.set_task_token(task.task_token());
    *req.add_commands() = StartTimer("t", 60000);
    req.mutable_sticky_attributes()->mutable_worker_task_queue()->set_name(sticky);
    req.mutable_sticky_attributes()->mutable_schedule_to_start_timeout()->set_seconds(
        shutdown_worker ? 60 : 0);
    req.mutable_sticky_attributes()->mutable_schedule_to_start_timeout()->set_nanos(
        shutdown_worker ? 0 : 200000000);
    ws::RespondWorkflowTaskCompletedResponse resp;
    ASSERT_TRUE(stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, &resp).ok());
    ws::SignalWorkflowExecutionRequest sig;
    sig.set_namespace_("default");
    sig.mutable_workflow_execution()->set_workflow_id(id);
    sig.set_signal_name("wake");
    ws::SignalWorkflowExecutionResponse sr;
    ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sr).ok());
    if (shutdown_worker) {
      ws::ShutdownWorkerRequest sd;
      sd.set_namespace_("default");
      sd.set_sticky_task_queue(sticky);
      ws::ShutdownWorkerResponse sdr;
      ASSERT_TRUE(stub_->ShutdownWorker(Ctx().get(), sd, &sdr).ok());
    }
    // Nobody polls the sticky queue: the task reaches the normal queue, with
    // the full history (a non-sticky worker has nothing cached).
    auto moved = PollWorkflowTask();
    ASSERT_FALSE(moved.task_token().empty());
    EXPECT_EQ(moved.history().events(0).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    ASSERT_TRUE(Complete(moved.task_token(), {CompleteWorkflow("1")}).ok());
  }
}

// A worker that shuts down forgets its parked runs' sticky queue without
// thawing them (each thaw reads a whole history back from the store); their
// next task then goes straight to the normal queue.
TEST_F(ServerTest, ShutdownWorkerDoesNotThawParkedRuns) {
  const std::string sticky = "sticky-queue-parked";
  Start("parked");
  auto task = PollWorkflowTask();
  ws::RespondWorkflowTaskCompletedRequest req;
  req.set_namespace_("default");
  req.set_task_token(task.task_token());
  *req.add_commands() = StartTimer("t", 3600 * 1000);
  req.mutable_sticky_attributes()->mutable_worker_task_queue()->set_name(sticky);
  req.mutable_sticky_attributes()->mutable_schedule_to_start_timeout()->set_seconds(60);
  ws::RespondWorkflowTaskCompletedResponse resp;
  ASSERT_TRUE(stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(WaitForFrozenRuns(), 1u);
  const uint64_t thaws = server_->GetStats().thawed_runs;

  ws::ShutdownWorkerRequest sd;
  sd.set_namespace_("default");
  sd.set_sticky_task_queue(sticky);
  ws::ShutdownWorkerResponse sdr;
  ASSERT_TRUE(stub_->ShutdownWorker(Ctx().get(), sd, &sdr).ok());
  EXPECT_EQ(server_->GetStats().thawed_runs, thaws);
  EXPECT_EQ(server_->GetStats().frozen_runs, 1u);

  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("parked");
  sig.set_signal_name("wake");
  ws::SignalWorkflowExecutionResponse sr;
  ASSERT_TRUE(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sr).ok());
  // The sticky queue's 60 s schedule-to-start timeout is not waited out: the
  // task is on the normal queue, with the full history.
  auto moved = PollWorkflowTask();
  ASSERT_FALSE(moved.task_token().empty());
  EXPECT_EQ(moved.history().events(0).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  EXPECT_EQ(Types(moved).back(), E::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  ASSERT_TRUE(Complete(moved.task_token(), {CompleteWorkflow("1")}).ok());
}

// Servers restarted on one database file in a fresh temporary directory.
class ServerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/temporalio-restart-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    db_ = dir_ + "/dev.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::unique_ptr<ws::WorkflowService::Stub> Connect(const DevServer& server) {
    return ws::WorkflowService::NewStub(
        grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  }
  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  }
  // Workflow "W" on task queue "q".
  static ws::StartWorkflowExecutionRequest StartRequest(const std::string& ns,
                                                        const std::string& workflow_id) {
    ws::StartWorkflowExecutionRequest start;
    start.set_namespace_(ns);
    start.set_workflow_id(workflow_id);
    start.mutable_workflow_type()->set_name("W");
    start.mutable_task_queue()->set_name("q");
    start.set_request_id("r1");
    return start;
  }
  static ws::PollWorkflowTaskQueueRequest PollRequest(const std::string& ns) {
    ws::PollWorkflowTaskQueueRequest poll;
    poll.set_namespace_(ns);
    poll.mutable_task_queue()->set_name("q");
    return poll;
  }

  std::string dir_;
  std::string db_;
};

// A restart on the same database file keeps namespaces, runs, pending
// workflow tasks, activities and timers.
TEST_F(ServerRestartTest, StateSurvivesRestartOnTheSameDatabase) {
  std::string run_id;
  {
    auto server = DevServer::Start({.port = 0, .db_filename = db_, .namespaces = {"orders"}});
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = Connect(**server);
    ws::StartWorkflowExecutionRequest start = StartRequest("orders", "survivor");
    ws::StartWorkflowExecutionResponse resp;
    ASSERT_TRUE(stub->StartWorkflowExecution(Ctx().get(), start, &resp).ok());
    run_id = resp.run_id();
    // First task: schedule an activity and a timer, then "crash".
    ws::PollWorkflowTaskQueueRequest poll = PollRequest("orders");
    ws::PollWorkflowTaskQueueResponse task;
    ASSERT_TRUE(stub->PollWorkflowTaskQueue(Ctx().get(), poll, &task).ok());
    ws::RespondWorkflowTaskCompletedRequest done;
    done.set_namespace_("orders");
    done.set_task_token(task.task_token());
    auto* timer = done.add_commands();
    timer->set_command_type(ev::COMMAND_TYPE_START_TIMER);
    timer->mutable_start_timer_command_attributes()->set_timer_id("t");
    timer->mutable_start_timer_command_attributes()->mutable_start_to_fire_timeout()->set_nanos(
        300000000);
    auto* act = done.add_commands();
    act->set_command_type(ev::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* a = act->mutable_schedule_activity_task_command_attributes();
    a->set_activity_id("a");
    a->mutable_activity_type()->set_name("A");
    a->mutable_task_queue()->set_name("acts");
    a->mutable_start_to_close_timeout()->set_seconds(30);
    ws::RespondWorkflowTaskCompletedResponse done_resp;
    ASSERT_TRUE(stub->RespondWorkflowTaskCompleted(Ctx().get(), done, &done_resp).ok());
  }
  auto server = DevServer::Start({.port = 0, .db_filename = db_});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Connect(**server);
  ws::DescribeWorkflowExecutionRequest d;
  d.set_namespace_("orders");  // registered before the restart
  d.mutable_execution()->set_workflow_id("survivor");
  ws::DescribeWorkflowExecutionResponse dr;
  ASSERT_TRUE(stub->DescribeWorkflowExecution(Ctx().get(), d, &dr).ok());
  EXPECT_EQ(dr.workflow_execution_info().execution().run_id(), run_id);
  EXPECT_EQ(dr.workflow_execution_info().status(), ev::WORKFLOW_EXECUTION_STATUS_RUNNING);
  ASSERT_EQ(dr.pending_activities_size(), 1);
  // The activity is dispatched again, and the timer fires after the restart.
  ws::PollActivityTaskQueueRequest ap;
  ap.set_namespace_("orders");
  ap.mutable_task_queue()->set_name("acts");
  ws::PollActivityTaskQueueResponse act_task;
  ASSERT_TRUE(stub->PollActivityTaskQueue(Ctx().get(), ap, &act_task).ok());
  EXPECT_EQ(act_task.activity_id(), "a");
  ws::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("orders");
  poll.mutable_task_queue()->set_name("q");
  ws::PollWorkflowTaskQueueResponse task;
  ASSERT_TRUE(stub->PollWorkflowTaskQueue(Ctx().get(), poll, &task).ok());
  ASSERT_FALSE(task.task_token().empty());
  bool fired = false;
  for (const auto& e : task.history().events())
    fired |= e.event_type() == E::EVENT_TYPE_TIMER_FIRED;
  EXPECT_TRUE(fired);
  server->reset();
}

// A graceful shutdown writes the tasks handed to workers since their run's
// last commit: the worker's answer is accepted after the restart.
TEST_F(ServerRestartTest, TaskHandedOutBeforeShutdownIsAnsweredAfterRestart) {
  ws::PollWorkflowTaskQueueResponse task;
  {
    auto server = DevServer::Start({.port = 0, .db_filename = db_});
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = Connect(**server);
    ws::StartWorkflowExecutionRequest start = StartRequest("default", "held");
    ws::StartWorkflowExecutionResponse resp;
    ASSERT_TRUE(stub->StartWorkflowExecution(Ctx().get(), start, &resp).ok());
    ws::PollWorkflowTaskQueueRequest poll = PollRequest("default");
    ASSERT_TRUE(stub->PollWorkflowTaskQueue(Ctx().get(), poll, &task).ok());
    ASSERT_EQ(task.started_event_id(), 3);
  }
  auto server = DevServer::Start({.port = 0, .db_filename = db_});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Connect(**server);
  ws::RespondWorkflowTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(task.task_token());
  auto* complete = done.add_commands();
  complete->set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  ws::RespondWorkflowTaskCompletedResponse done_resp;
  grpc::Status s = stub->RespondWorkflowTaskCompleted(Ctx().get(), done, &done_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::GetWorkflowExecutionHistoryRequest h;
  h.set_namespace_("default");
  h.mutable_execution()->set_workflow_id("held");
  ws::GetWorkflowExecutionHistoryResponse hr;
  ASSERT_TRUE(stub->GetWorkflowExecutionHistory(Ctx().get(), h, &hr).ok());
  ASSERT_EQ(hr.history().events_size(), 5);
  EXPECT_EQ(hr.history().events(2).event_type(), E::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  EXPECT_EQ(hr.history().events(4).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  server->reset();
}

// New tasks go to waiting workers while the transactions that created them
// are still being fsynced; every reply that acknowledges a change waits for
// its fsync. Here the store's syncer is held, so nothing becomes durable.
TEST_F(ServerRestartTest, TasksReachWorkersBeforeTheirCommitIsDurableRepliesWaitForIt) {
  temporalio::server::persistence::SqliteStore* store = nullptr;
  auto server = DevServer::Start(
      {.port = 0,
       .db_filename = db_,
       .store_opened_for_testing = [&](temporalio::server::persistence::Store& opened) {
         store = dynamic_cast<temporalio::server::persistence::SqliteStore*>(&opened);
       }});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE(store, nullptr);
  auto stub = Connect(**server);
  store->PauseSyncForTesting();

  ws::StartWorkflowExecutionRequest start = StartRequest("default", "early");
  ws::StartWorkflowExecutionResponse start_resp;
  std::promise<grpc::Status> started;
  auto start_ctx = Ctx();
  stub->async()->StartWorkflowExecution(start_ctx.get(), &start, &start_resp,
                                        [&](grpc::Status s) { started.set_value(s); });
  ws::PollWorkflowTaskQueueRequest poll = PollRequest("default");
  ws::PollWorkflowTaskQueueResponse task;
  ASSERT_TRUE(stub->PollWorkflowTaskQueue(Ctx().get(), poll, &task).ok());
  ASSERT_FALSE(task.task_token().empty()) << "the task waited for the fsync";
  ASSERT_EQ(task.history().events_size(), 3);
  EXPECT_EQ(task.history().events(0).event_type(), E::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  std::future<grpc::Status> start_reply = started.get_future();
  EXPECT_EQ(start_reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  // The worker schedules an activity: the activity poller gets it at once,
  // the worker's completion is acknowledged only once durable.
  ws::RespondWorkflowTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(task.task_token());
  auto* act = done.add_commands();
  act->set_command_type(ev::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
  auto* a = act->mutable_schedule_activity_task_command_attributes();
  a->set_activity_id("a");
  a->mutable_activity_type()->set_name("A");
  a->mutable_task_queue()->set_name("q");
  a->mutable_start_to_close_timeout()->set_seconds(30);
  ws::RespondWorkflowTaskCompletedResponse done_resp;
  std::promise<grpc::Status> completed;
  auto done_ctx = Ctx();
  stub->async()->RespondWorkflowTaskCompleted(done_ctx.get(), &done, &done_resp,
                                              [&](grpc::Status s) { completed.set_value(s); });
  ws::PollActivityTaskQueueRequest activity_poll;
  activity_poll.set_namespace_("default");
  activity_poll.mutable_task_queue()->set_name("q");
  ws::PollActivityTaskQueueResponse activity;
  ASSERT_TRUE(stub->PollActivityTaskQueue(Ctx().get(), activity_poll, &activity).ok());
  EXPECT_EQ(activity.activity_id(), "a");
  std::future<grpc::Status> completion_reply = completed.get_future();
  EXPECT_EQ(completion_reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  EXPECT_EQ(start_reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  // A history read waits for the events written before it arrived.
  ws::GetWorkflowExecutionHistoryRequest h;
  h.set_namespace_("default");
  h.mutable_execution()->set_workflow_id("early");
  ws::GetWorkflowExecutionHistoryResponse hr;
  std::promise<grpc::Status> read;
  auto read_ctx = Ctx();
  stub->async()->GetWorkflowExecutionHistory(read_ctx.get(), &h, &hr,
                                             [&](grpc::Status s) { read.set_value(s); });
  std::future<grpc::Status> read_reply = read.get_future();
  EXPECT_EQ(read_reply.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  store->ResumeSyncForTesting();
  grpc::Status s = start_reply.get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = completion_reply.get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = read_reply.get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  // Started, task scheduled/started/completed, activity scheduled.
  ASSERT_EQ(hr.history().events_size(), 5);
  EXPECT_EQ(hr.history().events(4).event_type(), E::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  server->reset();
}

// ---- bad input ----

TEST_F(ServerTest, StartValidatesRequiredFields) {
  ws::StartWorkflowExecutionResponse resp;
  for (auto mutate : std::vector<std::function<void(ws::StartWorkflowExecutionRequest&)>>{
           [](auto& r) { r.clear_workflow_id(); }, [](auto& r) { r.clear_workflow_type(); },
           [](auto& r) { r.clear_task_queue(); },
           [](auto& r) { r.mutable_workflow_run_timeout()->set_seconds(-1); }}) {
    auto req = StartRequest("bad");
    mutate(req);
    EXPECT_EQ(stub_->StartWorkflowExecution(Ctx().get(), req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(ServerTest, UnknownNamespaceIsNotFoundWithNamespaceNotFoundFailure) {
  auto req = StartRequest("x");
  req.set_namespace_("nope");
  ws::StartWorkflowExecutionResponse resp;
  grpc::Status s = stub_->StartWorkflowExecution(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  temporal::api::errordetails::v1::NamespaceNotFoundFailure detail;
  ASSERT_TRUE(DetailOf(s, &detail));
  EXPECT_EQ(detail.namespace_(), "nope");
  ws::DescribeNamespaceRequest dreq;
  dreq.set_namespace_("nope");
  ws::DescribeNamespaceResponse dresp;
  EXPECT_EQ(stub_->DescribeNamespace(Ctx().get(), dreq, &dresp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, DuplicateStartIsAlreadyExistsWithRunIdUnlessSameRequest) {
  std::string run_id = Start("dup");
  auto again = StartRequest("dup");
  ws::StartWorkflowExecutionResponse resp;
  // The same request id is the same start: same run, no error.
  ASSERT_TRUE(stub_->StartWorkflowExecution(Ctx().get(), again, &resp).ok());
  EXPECT_EQ(resp.run_id(), run_id);
  again.set_request_id("another");
  grpc::Status s = stub_->StartWorkflowExecution(Ctx().get(), again, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure detail;
  ASSERT_TRUE(DetailOf(s, &detail));
  EXPECT_EQ(detail.run_id(), run_id);
  EXPECT_EQ(detail.start_request_id(), "req-dup");
  // USE_EXISTING returns the running run.
  again.set_workflow_id_conflict_policy(ev::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING);
  ASSERT_TRUE(stub_->StartWorkflowExecution(Ctx().get(), again, &resp).ok());
  EXPECT_EQ(resp.run_id(), run_id);
  EXPECT_FALSE(resp.started());
}

TEST_F(ServerTest, UnknownExecutionIsNotFoundForEveryOperation) {
  ws::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("missing");
  sig.set_signal_name("s");
  ws::SignalWorkflowExecutionResponse sr;
  EXPECT_EQ(stub_->SignalWorkflowExecution(Ctx().get(), sig, &sr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ws::TerminateWorkflowExecutionRequest term;
  term.set_namespace_("default");
  term.mutable_workflow_execution()->set_workflow_id("missing");
  ws::TerminateWorkflowExecutionResponse tr;
  EXPECT_EQ(stub_->TerminateWorkflowExecution(Ctx().get(), term, &tr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ws::DescribeWorkflowExecutionRequest desc;
  desc.set_namespace_("default");
  desc.mutable_execution()->set_workflow_id("missing");
  ws::DescribeWorkflowExecutionResponse dr;
  EXPECT_EQ(stub_->DescribeWorkflowExecution(Ctx().get(), desc, &dr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ws::GetWorkflowExecutionHistoryRequest hist;
  hist.set_namespace_("default");
  hist.mutable_execution()->set_workflow_id("missing");
  ws::GetWorkflowExecutionHistoryResponse hr;
  EXPECT_EQ(stub_->GetWorkflowExecutionHistory(Ctx().get(), hist, &hr).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, GarbageTaskTokenIsInvalidArgument) {
  ws::RespondWorkflowTaskCompletedRequest req;
  req.set_namespace_("default");
  req.set_task_token("\xff\xfe not a token");
  ws::RespondWorkflowTaskCompletedResponse resp;
  EXPECT_EQ(stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ws::RespondActivityTaskCompletedRequest areq;
  areq.set_namespace_("default");
  ws::RespondActivityTaskCompletedResponse aresp;
  EXPECT_EQ(stub_->RespondActivityTaskCompleted(Ctx().get(), areq, &aresp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, CompletedWorkflowTaskTokenCannotBeUsedTwice) {
  Start("twice");
  auto task = PollWorkflowTask();
  ASSERT_TRUE(Complete(task.task_token(), {StartTimer("t", 60000)}).ok());
  EXPECT_EQ(Complete(task.task_token(), {}).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, OversizedPayloadIsRejected) {
  auto req = StartRequest("big");
  req.mutable_input()->add_payloads()->set_data(std::string(2 * 1024 * 1024 + 1, 'x'));
  ws::StartWorkflowExecutionResponse resp;
  grpc::Status s = stub_->StartWorkflowExecution(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("size"), std::string::npos) << s.error_message();
}

TEST_F(ServerTest, BadCommandFailsTheWorkflowTaskAndKeepsHistoryConsistent) {
  Start("badcmd");
  auto task = PollWorkflowTask();
  cmd::Command bad;
  bad.set_command_type(ev::COMMAND_TYPE_START_TIMER);  // no timer id, no timeout
  grpc::Status s = Complete(task.task_token(), {bad});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto events = History("badcmd");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].workflow_task_failed_event_attributes().cause(),
            ev::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES);
}

TEST_F(ServerTest, UnsupportedCommandFailsTheTaskVisibly) {
  Start("child");
  auto task = PollWorkflowTask();
  cmd::Command c;
  c.set_command_type(ev::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION);
  grpc::Status s = Complete(task.task_token(), {c});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("not supported"), std::string::npos) << s.error_message();
  auto events = History("child");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].workflow_task_failed_event_attributes().cause(),
            ev::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES);
}

TEST_F(ServerTest, ContinueAsNewClosesTheRunAndStartsTheNext) {
  const std::string first_run = Start("can");
  auto task = PollWorkflowTask();
  cmd::Command c;
  c.set_command_type(ev::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
  auto* a = c.mutable_continue_as_new_workflow_execution_command_attributes();
  a->mutable_input()->add_payloads()->set_data("next");
  a->mutable_memo()->mutable_fields()->operator[]("k").set_data("v");
  ASSERT_TRUE(Complete(task.task_token(), {c}).ok());

  auto first = History("can", first_run);
  ASSERT_EQ(first.back().event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  const auto& closed = first.back().workflow_execution_continued_as_new_event_attributes();
  EXPECT_EQ(closed.workflow_type().name(), "TestWorkflow");  // unset: the current type
  EXPECT_EQ(closed.task_queue().name(), task_queue_);
  EXPECT_EQ(closed.initiator(), ev::CONTINUE_AS_NEW_INITIATOR_WORKFLOW);
  const std::string next_run = closed.new_execution_run_id();
  ASSERT_FALSE(next_run.empty());

  // The workflow id now names the new run; it starts at attempt 1 with the input.
  auto next = History("can");
  ASSERT_GE(next.size(), 2u);
  const auto& started = next[0].workflow_execution_started_event_attributes();
  EXPECT_EQ(started.continued_execution_run_id(), first_run);
  EXPECT_EQ(started.first_execution_run_id(), first_run);
  EXPECT_EQ(started.attempt(), 1);
  EXPECT_EQ(started.input().payloads(0).data(), "next");
  EXPECT_EQ(started.memo().fields().at("k").data(), "v");
  auto task2 = PollWorkflowTask();
  EXPECT_EQ(task2.workflow_execution().run_id(), next_run);
  ASSERT_TRUE(Complete(task2.task_token(), {CompleteWorkflow("done")}).ok());

  ws::DescribeWorkflowExecutionRequest d;
  d.set_namespace_("default");
  d.mutable_execution()->set_workflow_id("can");
  d.mutable_execution()->set_run_id(first_run);
  ws::DescribeWorkflowExecutionResponse dr;
  ASSERT_TRUE(stub_->DescribeWorkflowExecution(Ctx().get(), d, &dr).ok());
  EXPECT_EQ(dr.workflow_execution_info().status(), ev::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
}

TEST_F(ServerTest, ListFilterErrorsAreInvalidArgumentAndFiltersWork) {
  Start("list-a");
  Start("list-b");
  ws::ListWorkflowExecutionsRequest req;
  req.set_namespace_("default");
  req.set_query("WorkflowId = 'list-a' AND ExecutionStatus = 'Running'");
  ws::ListWorkflowExecutionsResponse resp;
  ASSERT_TRUE(stub_->ListWorkflowExecutions(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.executions_size(), 1);
  EXPECT_EQ(resp.executions(0).execution().workflow_id(), "list-a");
  ws::CountWorkflowExecutionsRequest count;
  count.set_namespace_("default");
  count.set_query("WorkflowType = 'TestWorkflow'");
  ws::CountWorkflowExecutionsResponse count_resp;
  ASSERT_TRUE(stub_->CountWorkflowExecutions(Ctx().get(), count, &count_resp).ok());
  EXPECT_EQ(count_resp.count(), 2);
  req.set_query("NoSuchAttribute = 'x'");
  EXPECT_EQ(stub_->ListWorkflowExecutions(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_query("WorkflowId = ");
  EXPECT_EQ(stub_->ListWorkflowExecutions(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, NamespaceRegistrationAndDuplicates) {
  ws::RegisterNamespaceRequest req;
  req.set_namespace_("orders");
  req.mutable_workflow_execution_retention_period()->set_seconds(3600);
  ws::RegisterNamespaceResponse resp;
  ASSERT_TRUE(stub_->RegisterNamespace(Ctx().get(), req, &resp).ok());
  grpc::Status dup = stub_->RegisterNamespace(Ctx().get(), req, &resp);
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  temporal::api::errordetails::v1::NamespaceAlreadyExistsFailure detail;
  EXPECT_TRUE(DetailOf(dup, &detail));
  ws::DescribeNamespaceRequest dreq;
  dreq.set_namespace_("orders");
  ws::DescribeNamespaceResponse dresp;
  ASSERT_TRUE(stub_->DescribeNamespace(Ctx().get(), dreq, &dresp).ok());
  EXPECT_EQ(dresp.config().workflow_execution_retention_ttl().seconds(), 3600);
  ws::RegisterNamespaceRequest empty;
  EXPECT_EQ(stub_->RegisterNamespace(Ctx().get(), empty, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, ListAndUpdateNamespaces) {
  ws::RegisterNamespaceRequest reg;
  reg.set_namespace_("billing");
  ws::RegisterNamespaceResponse reg_resp;
  ASSERT_TRUE(stub_->RegisterNamespace(Ctx().get(), reg, &reg_resp).ok());
  ws::ListNamespacesRequest list;
  ws::ListNamespacesResponse list_resp;
  ASSERT_TRUE(stub_->ListNamespaces(Ctx().get(), list, &list_resp).ok());
  std::vector<std::string> names;
  for (const auto& n : list_resp.namespaces()) names.push_back(n.namespace_info().name());
  EXPECT_EQ(names, (std::vector<std::string>{"billing", "default"}));
  ws::UpdateNamespaceRequest update;
  update.set_namespace_("billing");
  update.mutable_update_info()->set_description("invoices");
  update.mutable_config()->mutable_workflow_execution_retention_ttl()->set_seconds(7200);
  ws::UpdateNamespaceResponse update_resp;
  ASSERT_TRUE(stub_->UpdateNamespace(Ctx().get(), update, &update_resp).ok());
  ws::DescribeNamespaceRequest d;
  d.set_namespace_("billing");
  ws::DescribeNamespaceResponse dr;
  ASSERT_TRUE(stub_->DescribeNamespace(Ctx().get(), d, &dr).ok());
  EXPECT_EQ(dr.namespace_info().description(), "invoices");
  EXPECT_EQ(dr.config().workflow_execution_retention_ttl().seconds(), 7200);
  update.set_namespace_("missing");
  EXPECT_EQ(stub_->UpdateNamespace(Ctx().get(), update, &update_resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, PollAndQueryValidateInput) {
  ws::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  ws::PollWorkflowTaskQueueResponse presp;
  EXPECT_EQ(stub_->PollWorkflowTaskQueue(Ctx().get(), poll, &presp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  Start("q");
  ws::QueryWorkflowRequest q;
  q.set_namespace_("default");
  q.mutable_execution()->set_workflow_id("q");
  ws::QueryWorkflowResponse qresp;
  EXPECT_EQ(stub_->QueryWorkflow(Ctx().get(), q, &qresp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace

// ---- workflow updates ----

namespace upd = temporal::api::update::v1;
namespace proto = temporal::api::protocol::v1;

class ServerUpdateTest : public ServerTest {
 protected:
  ws::UpdateWorkflowExecutionRequest UpdateRequest(const std::string& workflow_id,
                                                   const std::string& update_id) {
    ws::UpdateWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.mutable_workflow_execution()->set_workflow_id(workflow_id);
    req.mutable_wait_policy()->set_lifecycle_stage(
        ev::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED);
    req.mutable_request()->mutable_meta()->set_update_id(update_id);
    req.mutable_request()->mutable_input()->set_name("add");
    return req;
  }
  std::future<std::pair<grpc::Status, ws::UpdateWorkflowExecutionResponse>> UpdateAsync(
      ws::UpdateWorkflowExecutionRequest req) {
    return std::async(std::launch::async, [this, req] {
      ws::UpdateWorkflowExecutionResponse resp;
      grpc::Status s = stub_->UpdateWorkflowExecution(Ctx().get(), req, &resp);
      return std::make_pair(s, resp);
    });
  }
  // Starts a workflow and completes its first task with no commands.
  void StartIdle(const std::string& id) {
    Start(id);
    auto task = PollWorkflowTask();
    ASSERT_TRUE(Complete(task.task_token(), {}).ok());
  }
  static cmd::Command ProtocolMessage(const std::string& message_id) {
    cmd::Command c;
    c.set_command_type(ev::COMMAND_TYPE_PROTOCOL_MESSAGE);
    c.mutable_protocol_message_command_attributes()->set_message_id(message_id);
    return c;
  }
  grpc::Status CompleteWithMessages(const std::string& token, std::vector<cmd::Command> commands,
                                    std::vector<proto::Message> messages,
                                    ws::RespondWorkflowTaskCompletedResponse* out) {
    ws::RespondWorkflowTaskCompletedRequest req;
    req.set_namespace_("default");
    req.set_task_token(token);
    req.set_identity("worker-1");
    for (auto& c : commands) *req.add_commands() = std::move(c);
    for (auto& m : messages) *req.add_messages() = std::move(m);
    return stub_->RespondWorkflowTaskCompleted(Ctx().get(), req, out);
  }
};

TEST_F(ServerUpdateTest, UpdateValidatesInput) {
  StartIdle("upd-input");
  ws::UpdateWorkflowExecutionResponse resp;
  auto no_meta = UpdateRequest("upd-input", "u");
  no_meta.mutable_request()->clear_meta();
  EXPECT_EQ(stub_->UpdateWorkflowExecution(Ctx().get(), no_meta, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto no_name = UpdateRequest("upd-input", "u");
  no_name.mutable_request()->mutable_input()->clear_name();
  grpc::Status s = stub_->UpdateWorkflowExecution(Ctx().get(), no_name, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "Update name is not set on request.");
  auto admitted = UpdateRequest("upd-input", "u");
  admitted.mutable_wait_policy()->set_lifecycle_stage(
      ev::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED);
  EXPECT_EQ(stub_->UpdateWorkflowExecution(Ctx().get(), admitted, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->UpdateWorkflowExecution(Ctx().get(), UpdateRequest("no-such-wf", "u"), &resp)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  ws::PollWorkflowExecutionUpdateRequest poll;
  poll.set_namespace_("default");
  ws::PollWorkflowExecutionUpdateResponse poll_resp;
  EXPECT_EQ(stub_->PollWorkflowExecutionUpdate(Ctx().get(), poll, &poll_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  poll.mutable_update_ref()->mutable_workflow_execution()->set_workflow_id("upd-input");
  poll.mutable_update_ref()->set_update_id("never-sent");
  EXPECT_EQ(stub_->PollWorkflowExecutionUpdate(Ctx().get(), poll, &poll_resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerUpdateTest, AcceptedUpdateIsWrittenAndItsOutcomeReturned) {
  StartIdle("upd-ok");
  const size_t before = History("upd-ok").size();
  auto call = UpdateAsync(UpdateRequest("upd-ok", "u1"));
  auto task = PollWorkflowTask();
  ASSERT_EQ(task.messages_size(), 1);
  const proto::Message& request_msg = task.messages(0);
  EXPECT_EQ(request_msg.protocol_instance_id(), "u1");
  EXPECT_EQ(request_msg.event_id(), task.started_event_id() - 1);
  upd::Request request;
  ASSERT_TRUE(request_msg.body().UnpackTo(&request));
  EXPECT_EQ(request.input().name(), "add");
  // The speculative task is not in history while it runs.
  EXPECT_EQ(History("upd-ok").size(), before);

  proto::Message accept;
  accept.set_id("u1/accept");
  accept.set_protocol_instance_id("u1");
  upd::Acceptance acceptance;
  acceptance.set_accepted_request_message_id(request_msg.id());
  acceptance.set_accepted_request_sequencing_event_id(request_msg.event_id());
  accept.mutable_body()->PackFrom(acceptance);
  proto::Message respond;
  respond.set_id("u1/complete");
  respond.set_protocol_instance_id("u1");
  upd::Response response;
  response.mutable_meta()->set_update_id("u1");
  response.mutable_outcome()->mutable_success()->add_payloads()->set_data("42");
  respond.mutable_body()->PackFrom(response);
  ws::RespondWorkflowTaskCompletedResponse out;
  ASSERT_TRUE(CompleteWithMessages(task.task_token(),
                                   {ProtocolMessage("u1/accept"), ProtocolMessage("u1/complete")},
                                   {accept, respond}, &out)
                  .ok());
  auto [status, resp] = call.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.stage(), ev::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED);
  EXPECT_EQ(resp.outcome().success().payloads(0).data(), "42");
  EXPECT_EQ(resp.update_ref().update_id(), "u1");

  auto events = History("upd-ok");
  const auto types = Types(events);
  std::vector<ev::EventType> tail(types.begin() + static_cast<std::ptrdiff_t>(before), types.end());
  EXPECT_EQ(tail, (std::vector<ev::EventType>{ev::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                                              ev::EVENT_TYPE_WORKFLOW_TASK_STARTED,
                                              ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                                              ev::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                                              ev::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED}));
  EXPECT_EQ(
      events.back().workflow_execution_update_completed_event_attributes().accepted_event_id(),
      events[events.size() - 2].event_id());
  // Asking again returns the recorded outcome without a workflow task.
  ws::UpdateWorkflowExecutionResponse again;
  ASSERT_TRUE(
      stub_->UpdateWorkflowExecution(Ctx().get(), UpdateRequest("upd-ok", "u1"), &again).ok());
  EXPECT_EQ(again.outcome().success().payloads(0).data(), "42");
}

TEST_F(ServerUpdateTest, UnansweredUpdateIsRejectedAndTheSpeculativeTaskDiscarded) {
  StartIdle("upd-none");
  const auto before = History("upd-none");
  auto call = UpdateAsync(UpdateRequest("upd-none", "u1"));
  auto task = PollWorkflowTask();
  ASSERT_EQ(task.messages_size(), 1);
  ws::RespondWorkflowTaskCompletedResponse out;
  ASSERT_TRUE(CompleteWithMessages(task.task_token(), {}, {}, &out).ok());
  EXPECT_EQ(out.reset_history_event_id(), before.back().event_id() - 1);  // last WFT started
  auto [status, resp] = call.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.outcome().failure().application_failure_info().type(), "UnprocessedUpdate");
  EXPECT_EQ(Types(History("upd-none")), Types(before));
}

TEST_F(ServerUpdateTest, BadProtocolMessageFailsTheWorkflowTask) {
  StartIdle("upd-bad");
  auto call = UpdateAsync(UpdateRequest("upd-bad", "u1"));
  auto task = PollWorkflowTask();
  ws::RespondWorkflowTaskCompletedResponse out;
  grpc::Status s =
      CompleteWithMessages(task.task_token(), {ProtocolMessage("no-such-message")}, {}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("absent message ID"), std::string::npos) << s.error_message();
  auto events = History("upd-bad");
  EXPECT_EQ(events.back().workflow_task_failed_event_attributes().cause(),
            ev::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE);
  // The next attempt carries the update again; a rejection ends it.
  auto retry = PollWorkflowTask();
  ASSERT_EQ(retry.messages_size(), 1);
  proto::Message reject;
  reject.set_id("u1/reject");
  reject.set_protocol_instance_id("u1");
  upd::Rejection rejection;
  rejection.mutable_failure()->set_message("no thanks");
  reject.mutable_body()->PackFrom(rejection);
  ASSERT_TRUE(CompleteWithMessages(retry.task_token(), {}, {reject}, &out).ok());
  auto [status, resp] = call.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.outcome().failure().message(), "no thanks");
}
