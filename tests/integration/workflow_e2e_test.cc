// The C++ worker (workflows + activities) end to end against the in-process
// dev server. Some checks use the raw WorkflowService stub to see the wire.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "server/dev_server.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"
#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/replayer.h"

namespace temporalio {
namespace {

namespace wf = temporalio::workflow;
namespace wsv1 = temporal::api::workflowservice::v1;
namespace ev = temporal::api::enums::v1;
using namespace std::chrono_literals;

std::string Compose(const std::string& greeting, const std::string& name) {
  return greeting + ", " + name + "!";
}
inline constexpr ActivityDef<&Compose> kCompose{"Compose"};

class GreetingWorkflow {
 public:
  wf::Task<std::string> Run(std::string name) {
    co_await wf::Sleep(10ms);
    co_return co_await ExecuteActivity(kCompose, "Hello", name, {.start_to_close_timeout = 10s});
  }
};
inline constexpr WorkflowDef<&GreetingWorkflow::Run> kGreeting{"GreetingWorkflow"};

class ChangedGreetingWorkflow {  // same name, incompatible code
 public:
  wf::Task<std::string> Run(std::string name) {
    co_return co_await ExecuteActivity(kCompose, "Hello", name, {.start_to_close_timeout = 10s});
  }
};

class SignalQueryWorkflow {
 public:
  wf::Task<int> Run() {
    co_await wf::WaitCondition([this] { return done_; });
    co_return total_;
  }
  void Add(int n) { total_ += n; }
  void Finish() { done_ = true; }
  int Total() const { return total_; }

 private:
  int total_ = 0;
  bool done_ = false;
};
inline constexpr WorkflowDef<&SignalQueryWorkflow::Run> kSignalQuery{"SignalQueryWorkflow"};
inline constexpr SignalDef<&SignalQueryWorkflow::Add> kAdd{"add"};
inline constexpr SignalDef<&SignalQueryWorkflow::Finish> kFinish{"finish"};
inline constexpr QueryDef<&SignalQueryWorkflow::Total> kTotal{"total"};

class CancelableWorkflow {
 public:
  wf::Task<void> Run() {
    try {
      co_await wf::Sleep(1h);
    } catch (const CanceledError&) {
      cleanup_done_ = true;
      throw;
    }
  }

 private:
  bool cleanup_done_ = false;
};
inline constexpr WorkflowDef<&CancelableWorkflow::Run> kCancelable{"CancelableWorkflow"};

class FailingWorkflow {
 public:
  wf::Task<void> Run() {
    co_await wf::Sleep(1ms);
    throw ApplicationError("it failed", {.type = "Oops", .non_retryable = true});
  }
};
inline constexpr WorkflowDef<&FailingWorkflow::Run> kFailing{"FailingWorkflow"};

std::atomic<bool> release_deadlock{false};
class DeadlockWorkflow {
 public:
  wf::Task<int> Run() {
    while (!release_deadlock.load()) std::this_thread::yield();  // never yields to the runtime
    co_return 1;
  }
};
inline constexpr WorkflowDef<&DeadlockWorkflow::Run> kDeadlock{"DeadlockWorkflow"};

// Two activities, the second opted out of eager execution.
class EagerWorkflow {
 public:
  wf::Task<std::string> Run(std::string name) {
    std::string a = co_await ExecuteActivity(kCompose, "Hi", name, {.start_to_close_timeout = 10s});
    std::string b = co_await ExecuteActivity(
        kCompose, "Bye", name, {.start_to_close_timeout = 10s, .disable_eager_execution = true});
    co_return a + " " + b;
  }
};
inline constexpr WorkflowDef<&EagerWorkflow::Run> kEager{"EagerWorkflow"};

void RegisterAll(worker::Worker& w) {
  w.RegisterWorkflow(kEager);
  w.RegisterWorkflow(kGreeting);
  w.RegisterWorkflow(kSignalQuery, kAdd, kFinish, kTotal);
  w.RegisterWorkflow(kCancelable);
  w.RegisterWorkflow(kFailing);
  w.RegisterWorkflow(kDeadlock);
  w.RegisterActivity(kCompose);
}

class WorkflowE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = server::DevServer::Start({.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = wsv1::WorkflowService::NewStub(channel_);
    client_ = std::make_unique<client::Client>(
        client::Client::Connect({.target_host = server_->address()}));
  }
  void TearDown() override {
    for (auto& w : workers_) w->Shutdown();
    workers_.clear();
    server_->Shutdown();
  }

  void StartWorker(const std::string& tq, size_t cache = 1000, bool eager = true) {
    workers_.push_back(std::make_unique<worker::Worker>(
        *client_, worker::WorkerOptions{.task_queue = tq,
                                        .disable_eager_activity_execution = !eager,
                                        .max_cached_workflows = cache}));
    RegisterAll(*workers_.back());
    workers_.back()->Start();
  }

  std::string Start(const std::string& type, const std::string& id, const std::string& tq,
                    converter::Payloads input = {}) {
    wsv1::StartWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.set_workflow_id(id);
    req.mutable_workflow_type()->set_name(type);
    req.mutable_task_queue()->set_name(tq);
    *req.mutable_input() = std::move(input);
    req.set_request_id(id + "-req");
    wsv1::StartWorkflowExecutionResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->StartWorkflowExecution(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.run_id();
  }

  void Signal(const std::string& id, const std::string& name, converter::Payloads input = {}) {
    wsv1::SignalWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.mutable_workflow_execution()->set_workflow_id(id);
    req.set_signal_name(name);
    *req.mutable_input() = std::move(input);
    req.set_request_id(id + name + std::to_string(++signal_counter_));
    wsv1::SignalWorkflowExecutionResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->SignalWorkflowExecution(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  temporal::api::history::v1::History History(const std::string& id) {
    temporal::api::history::v1::History history;
    std::string token;
    do {
      wsv1::GetWorkflowExecutionHistoryRequest req;
      req.set_namespace_("default");
      req.mutable_execution()->set_workflow_id(id);
      req.set_next_page_token(token);
      wsv1::GetWorkflowExecutionHistoryResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      grpc::Status st = stub_->GetWorkflowExecutionHistory(&ctx, req, &resp);
      EXPECT_TRUE(st.ok()) << st.error_message();
      for (const auto& e : resp.history().events()) *history.add_events() = e;
      token = resp.next_page_token();
    } while (!token.empty());
    return history;
  }

  // The result of a completed run's close event.
  template <class T>
  static T ResultOf(const temporal::api::history::v1::HistoryEvent& closed) {
    return converter::FromPayload<T>(
        closed.workflow_execution_completed_event_attributes().result().payloads(0));
  }

  // Waits (deadline 30 s) for the close event; returns it.
  temporal::api::history::v1::HistoryEvent WaitClosed(const std::string& id) {
    wsv1::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(id);
    req.set_wait_new_event(true);
    req.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    auto deadline = std::chrono::system_clock::now() + 30s;
    while (std::chrono::system_clock::now() < deadline) {
      wsv1::GetWorkflowExecutionHistoryResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline);
      grpc::Status s = stub_->GetWorkflowExecutionHistory(&ctx, req, &resp);
      if (!s.ok()) break;
      if (resp.history().events_size() > 0) return resp.history().events(0);
      req.set_next_page_token(resp.next_page_token());
    }
    ADD_FAILURE() << "workflow " << id << " did not close in time";
    return {};
  }

  // Waits until the history has an event satisfying `pred`.
  bool WaitForEvent(
      const std::string& id,
      const std::function<bool(const temporal::api::history::v1::HistoryEvent&)>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto history = History(id);
      for (const auto& e : history.events()) {
        if (pred(e)) return true;
      }
      std::this_thread::sleep_for(20ms);  // polling interval for the condition, not a wait
    }
    auto history = History(id);
    for (const auto& e : history.events()) ADD_FAILURE() << e.ShortDebugString();
    return false;
  }

  template <class T>
  T Query(const std::string& id, const std::string& type) {
    wsv1::QueryWorkflowRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(id);
    req.mutable_query()->set_query_type(type);
    wsv1::QueryWorkflowResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    grpc::Status s = stub_->QueryWorkflow(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return converter::FromPayload<T>(resp.query_result().payloads(0));
  }

  std::unique_ptr<server::DevServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<wsv1::WorkflowService::Stub> stub_;
  std::unique_ptr<client::Client> client_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  int signal_counter_ = 0;
};

TEST_F(WorkflowE2ETest, TimerAndActivityCompleteAndReplay) {
  StartWorker("tq-greet");
  Start("GreetingWorkflow", "greet-1", "tq-greet", converter::ToPayloads(std::string("World")));
  auto closed = WaitClosed("greet-1");
  ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_EQ(ResultOf<std::string>(closed), "Hello, World!");
  auto history = History("greet-1");
  wf::WorkflowRegistry same;
  same.Register(kGreeting);
  EXPECT_NO_THROW(wf::Replayer(std::move(same)).ReplayWorkflow(history));
  wf::WorkflowRegistry changed;
  changed.Register(WorkflowDef<&ChangedGreetingWorkflow::Run>{"GreetingWorkflow"});
  try {
    wf::Replayer(std::move(changed)).ReplayWorkflow(history);
    ADD_FAILURE() << "expected NondeterminismError";
  } catch (const wf::NondeterminismError& e) {
    EXPECT_NE(std::string(e.what()).find("TimerStarted"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ScheduleActivityTask"), std::string::npos) << e.what();
  }
}

// The first activity runs eagerly (started in the workflow task completion's
// reply, counted by the server); the opted-out one and, on a worker with
// eager execution disabled, both go through the task queue. Same result and
// the same history shape either way.
TEST_F(WorkflowE2ETest, ActivitiesRunEagerlyUnlessDisabled) {
  StartWorker("tq-eager");
  StartWorker("tq-no-eager", 1000, /*eager=*/false);
  const uint64_t before = server_->GetStats().eager_activities;
  Start("EagerWorkflow", "eager-1", "tq-eager", converter::ToPayloads(std::string("Ann")));
  auto closed = WaitClosed("eager-1");
  ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_EQ(ResultOf<std::string>(closed), "Hi, Ann! Bye, Ann!");
  EXPECT_EQ(server_->GetStats().eager_activities, before + 1);

  Start("EagerWorkflow", "eager-2", "tq-no-eager", converter::ToPayloads(std::string("Bo")));
  closed = WaitClosed("eager-2");
  ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_EQ(server_->GetStats().eager_activities, before + 1);

  auto types = [](const temporal::api::history::v1::History& h) {
    std::vector<int> out;
    for (const auto& e : h.events()) out.push_back(e.event_type());
    return out;
  };
  EXPECT_EQ(types(History("eager-1")), types(History("eager-2")));
  wf::WorkflowRegistry registry;
  registry.Register(kEager);
  EXPECT_NO_THROW(wf::Replayer(std::move(registry)).ReplayWorkflow(History("eager-1")));
}

TEST_F(WorkflowE2ETest, SignalConditionAndQuery) {
  StartWorker("tq-signal");
  Start("SignalQueryWorkflow", "sq-1", "tq-signal");
  Signal("sq-1", "add", converter::ToPayloads(2));
  Signal("sq-1", "add", converter::ToPayloads(5));
  ASSERT_TRUE(WaitForEvent("sq-1", [](const auto& e) {
    return e.event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED && e.event_id() > 4;
  }));
  // Both signals are processed once the workflow is idle with them in history.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  int total = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         (total = Query<int>("sq-1", "total")) != 7) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(total, 7);
  Signal("sq-1", "finish");
  auto closed = WaitClosed("sq-1");
  ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_EQ(ResultOf<int>(closed), 7);
  // A query on the closed workflow replays it from history.
  EXPECT_EQ(Query<int>("sq-1", "total"), 7);
}

TEST_F(WorkflowE2ETest, CancellationAndFailure) {
  StartWorker("tq-cancel");
  Start("CancelableWorkflow", "cancel-1", "tq-cancel");
  ASSERT_TRUE(WaitForEvent(
      "cancel-1", [](const auto& e) { return e.event_type() == ev::EVENT_TYPE_TIMER_STARTED; }));
  wsv1::RequestCancelWorkflowExecutionRequest req;
  req.set_namespace_("default");
  req.mutable_workflow_execution()->set_workflow_id("cancel-1");
  req.set_request_id("cancel-req");
  wsv1::RequestCancelWorkflowExecutionResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->RequestCancelWorkflowExecution(&ctx, req, &resp).ok());
  EXPECT_EQ(WaitClosed("cancel-1").event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
  bool timer_canceled = false;
  auto cancel_history = History("cancel-1");
  for (const auto& e : cancel_history.events()) {
    timer_canceled |= e.event_type() == ev::EVENT_TYPE_TIMER_CANCELED;
  }
  EXPECT_TRUE(timer_canceled);

  Start("FailingWorkflow", "fail-1", "tq-cancel");
  auto closed = WaitClosed("fail-1");
  ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
  const auto& f = closed.workflow_execution_failed_event_attributes().failure();
  EXPECT_EQ(f.message(), "it failed");
  EXPECT_EQ(f.application_failure_info().type(), "Oops");
}

TEST_F(WorkflowE2ETest, DeadlockFailsWorkflowTask) {
  release_deadlock = false;
  StartWorker("tq-deadlock");
  Start("DeadlockWorkflow", "dl-1", "tq-deadlock");
  bool failed = WaitForEvent("dl-1", [](const auto& e) {
    return e.event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_FAILED &&
           e.workflow_task_failed_event_attributes().failure().message().find(
               "Potential deadlock") != std::string::npos;
  });
  release_deadlock = true;  // let the stuck thread finish
  EXPECT_TRUE(failed);
}

// The deadlocked task's executor thread stays stuck; another takes its place,
// so other workflows on the same worker still run to completion meanwhile.
TEST_F(WorkflowE2ETest, DeadlockedExecutorIsReplaced) {
  release_deadlock = false;
  StartWorker("tq-deadlock-2");
  Start("DeadlockWorkflow", "dl-2", "tq-deadlock-2");
  ASSERT_TRUE(WaitForEvent(
      "dl-2", [](const auto& e) { return e.event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_FAILED; }));
  for (int i = 0; i < 4; ++i) {
    const std::string id = "after-deadlock-" + std::to_string(i);
    Start("GreetingWorkflow", id, "tq-deadlock-2", converter::ToPayloads(std::string("again")));
    auto closed = WaitClosed(id);
    EXPECT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) << id;
  }
  release_deadlock = true;
}

int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// Workflow task slots cost no thread each: 64 slots (64 outstanding polls)
// add a few executor threads, and 100 concurrent workflows complete.
TEST_F(WorkflowE2ETest, WorkflowTaskSlotsDoNotTakeAThreadEach) {
  const int before = ThreadCount();
  workers_.push_back(std::make_unique<worker::Worker>(
      *client_,
      worker::WorkerOptions{
          .task_queue = "tq-slots", .max_concurrent_workflow_tasks = 64, .workflow_pollers = 64}));
  RegisterAll(*workers_.back());
  workers_.back()->Start();
  const int added = ThreadCount() - before;
  EXPECT_LT(added, 24) << "threads added by a worker with 64 workflow task slots";
  constexpr int kWorkflows = 100;
  for (int i = 0; i < kWorkflows; ++i) {
    Start("GreetingWorkflow", "slots-" + std::to_string(i), "tq-slots",
          converter::ToPayloads("n" + std::to_string(i)));
  }
  for (int i = 0; i < kWorkflows; ++i) {
    auto closed = WaitClosed("slots-" + std::to_string(i));
    ASSERT_EQ(closed.event_type(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) << i;
    EXPECT_EQ(ResultOf<std::string>(closed), "Hello, n" + std::to_string(i) + "!");
  }
}

}  // namespace
}  // namespace temporalio
