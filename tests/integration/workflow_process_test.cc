// Workflows across processes, against the in-process dev server on a free
// loopback port:
//  - a worker process killed with SIGKILL mid-workflow and replaced: the
//    workflow completes once, with each activity's side effect once;
//  - the dev server (`temporal server start-dev`) killed with SIGKILL while
//    a worker holds a workflow task: the restarted server dispatches it again;
//  - the same workflow logic in C++ and in TypeScript (interop/workflows.js,
//    run by interop/ts-worker.js) records the same event type sequence.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "integration/process_workflows.h"
#include "server/dev_server.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"
#include "temporalio/workflow/definitions.h"

namespace temporalio {
namespace {

namespace wf = temporalio::workflow;
namespace tw = temporalio::testing_workflows;
namespace ev = temporal::api::enums::v1;
using History = temporal::api::history::v1::History;
using namespace std::chrono_literals;

// A child process running `argv`; waits for it to print `ready_marker`.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv,
                        const std::string& ready_marker = "ready\n") {
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    std::string& got = output_;
    auto deadline = std::chrono::steady_clock::now() + 90s;
    while (got.find(ready_marker) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("child not ready in time: " + got);
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[256];
      ssize_t n = read(stdout_, buf, sizeof(buf));
      if (n <= 0) throw std::runtime_error("child exited before ready: " + got);
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) Stop(SIGTERM);
  }
  // What it printed up to the ready marker.
  const std::string& output() const { return output_; }
  // Sends `sig` and reaps the child.
  void Stop(int sig) {
    close(stdin_);
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    close(stdout_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string output_;
};

std::vector<ev::EventType> Types(const History& h) {
  std::vector<ev::EventType> types;
  for (const auto& e : h.events()) types.push_back(e.event_type());
  return types;
}
int Count(const History& h, ev::EventType type) {
  int n = 0;
  for (const auto& e : h.events()) n += e.event_type() == type;
  return n;
}
std::string Dump(const History& h) {
  std::string out;
  for (const auto& e : h.events()) out += ev::EventType_Name(e.event_type()) + "\n";
  return out;
}

// Polls `probe` until true (deadline 60 s).
bool Eventually(const std::function<bool()>& probe) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(20ms);  // polling interval, not a wait for an outcome
  }
  return false;
}

// The workflow has nothing pending: its last event is a completed workflow task.
bool Idle(const History& h, ev::EventType after) {
  return Count(h, after) > 0 &&
         h.events(h.events_size() - 1).event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
}

class WorkflowProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = server::DevServer::Start({.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<client::Client>(
        client::Client::Connect({.target_host = server_->address()}));
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<server::DevServer> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(WorkflowProcessTest, WorkerKilledMidWorkflowIsReplacedAndWorkflowCompletesOnce) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("wf-crash-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  std::string side_effects = dir + "/side_effects.txt";
  std::filesystem::remove(side_effects);
  const std::vector<std::string> worker_argv = {TEMPORALIO_TEST_WORKER, server_->address(),
                                                "tq-crash"};

  auto first = std::make_unique<ChildProcess>(worker_argv);
  auto handle =
      client_->StartWorkflow(tw::kCrash, {.id = "crash", .task_queue = "tq-crash"}, side_effects);
  // Mid-workflow: the first activity is done and the run is cached in the
  // worker, blocked on the signal.
  ASSERT_TRUE(Eventually(
      [&] { return Idle(handle.FetchHistory(), ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED); }));
  first->Stop(SIGKILL);
  first.reset();

  ChildProcess second(worker_argv);
  handle.Signal(tw::kCrashGo);
  EXPECT_EQ(handle.GetResult(), 2);  // "after" saw exactly one earlier line

  std::ifstream in(side_effects);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"before", "after"}));
  History h = handle.FetchHistory();
  EXPECT_EQ(Count(h, ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED), 1) << Dump(h);
  EXPECT_EQ(Count(h, ev::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), 2) << Dump(h);
  EXPECT_EQ(Count(h, ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED), 2) << Dump(h);
  std::filesystem::remove_all(dir);
}

// A workflow task handed to a worker is written with the run's next commit,
// not on its own (the engine's RecordTaskStarted). The server killed in
// between: on restart the task is dispatched again with the same event ids
// and the workflow completes with one started event per task.
TEST(DevServerCrashTest, WorkflowTaskHandedOutBeforeACrashIsDispatchedAgain) {
  namespace ws = temporal::api::workflowservice::v1;
  std::string dir =
      (std::filesystem::temp_directory_path() / ("server-crash-" + std::to_string(getpid())))
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/dev.db";
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + 10s);
    return c;
  };
  ws::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("q");
  {
    ChildProcess server({TEMPORALIO_CLI, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                         "--port", "0", "--db-filename", db, "--log-level", "warn"},
                        "Metrics:");
    const std::string& out = server.output();
    const size_t at = out.find("Server:");
    ASSERT_NE(at, std::string::npos) << out;
    std::istringstream line(out.substr(at + 7));
    std::string address;
    line >> address;
    auto stub = ws::WorkflowService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    ws::StartWorkflowExecutionRequest start;
    start.set_namespace_("default");
    start.set_workflow_id("held");
    start.mutable_workflow_type()->set_name("W");
    start.mutable_task_queue()->set_name("q");
    start.set_request_id("r1");
    ws::StartWorkflowExecutionResponse started;
    ASSERT_TRUE(stub->StartWorkflowExecution(ctx().get(), start, &started).ok());
    ws::PollWorkflowTaskQueueResponse task;
    ASSERT_TRUE(stub->PollWorkflowTaskQueue(ctx().get(), poll, &task).ok());
    ASSERT_EQ(task.started_event_id(), 3);
    server.Stop(SIGKILL);
  }
  auto server = server::DevServer::Start({.port = 0, .db_filename = db});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = ws::WorkflowService::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  ws::PollWorkflowTaskQueueResponse again;
  ASSERT_TRUE(stub->PollWorkflowTaskQueue(ctx().get(), poll, &again).ok());
  ASSERT_EQ(again.started_event_id(), 3);
  EXPECT_EQ(Types(again.history()),
            (std::vector<ev::EventType>{ev::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
                                        ev::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                                        ev::EVENT_TYPE_WORKFLOW_TASK_STARTED}));
  ws::RespondWorkflowTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(again.task_token());
  done.add_commands()->set_command_type(ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  ws::RespondWorkflowTaskCompletedResponse done_resp;
  grpc::Status s = stub->RespondWorkflowTaskCompleted(ctx().get(), done, &done_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ws::GetWorkflowExecutionHistoryRequest h;
  h.set_namespace_("default");
  h.mutable_execution()->set_workflow_id("held");
  ws::GetWorkflowExecutionHistoryResponse hr;
  ASSERT_TRUE(stub->GetWorkflowExecutionHistory(ctx().get(), h, &hr).ok());
  EXPECT_EQ(Types(hr.history()),
            (std::vector<ev::EventType>{
                ev::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, ev::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                ev::EVENT_TYPE_WORKFLOW_TASK_STARTED, ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}));
  server->reset();
  std::filesystem::remove_all(dir);
}

// --- C++ vs TypeScript -------------------------------------------------------

std::string Compose(const std::string& greeting, const std::string& name) {
  return greeting + ", " + name + "!";
}
inline constexpr ActivityDef<&Compose> kCompose{"Compose"};

// interop/workflows.js `sameLogic`, in C++.
class SameLogicWorkflow {
 public:
  wf::Task<std::string> Run(std::string name, std::string activity_task_queue) {
    std::string greeting = co_await ExecuteActivity(
        kCompose, "Hello", name,
        {.start_to_close_timeout = 10s, .task_queue = activity_task_queue});
    co_await wf::Sleep(10ms);
    auto reached = wf::WaitCondition([this] { return count_ >= 2; });
    co_await std::move(reached);
    co_return greeting + " " + std::to_string(count_);
  }
  void Add(int n) { count_ += n; }
  int Count() const { return count_; }

 private:
  int count_ = 0;
};
inline constexpr WorkflowDef<&SameLogicWorkflow::Run> kSameLogic{"sameLogic"};
inline constexpr SignalDef<&SameLogicWorkflow::Add> kSameAdd{"add"};
inline constexpr QueryDef<&SameLogicWorkflow::Count> kSameCount{"count"};

TEST_F(WorkflowProcessTest, SameLogicInCppAndTypeScriptRecordsSameEventTypes) {
#ifndef TEMPORALIO_NODE
  GTEST_SKIP() << "node not found at configure time";
#else
  std::string interop = TEMPORALIO_INTEROP_DIR;
  if (!std::filesystem::exists(interop + "/node_modules/@temporalio/worker/package.json")) {
    GTEST_SKIP() << "interop/node_modules missing";
  }
  // The C++ worker runs the C++ workflow and serves Compose for both.
  worker::Worker cpp(*client_, {.task_queue = "tq-same-cpp"});
  cpp.RegisterWorkflow(kSameLogic, kSameAdd, kSameCount);
  worker::Worker activities(*client_, {.task_queue = "tq-same-activities"});
  activities.RegisterActivity(kCompose);
  cpp.Start();
  activities.Start();
  ChildProcess ts({TEMPORALIO_NODE, interop + "/ts-worker.js", server_->address(), "tq-same-ts"});

  std::vector<std::vector<ev::EventType> > types;
  std::vector<std::string> results;
  for (std::string tq : {"tq-same-cpp", "tq-same-ts"}) {
    SCOPED_TRACE(tq);
    auto handle = client_->StartWorkflow(kSameLogic, {.id = "same-" + tq, .task_queue = tq},
                                         std::string("World"), std::string("tq-same-activities"));
    // Signal only once the run is blocked with nothing pending, so both
    // histories see it at the same point.
    ASSERT_TRUE(
        Eventually([&] { return Idle(handle.FetchHistory(), ev::EVENT_TYPE_TIMER_FIRED); }));
    EXPECT_EQ(handle.Query(kSameCount), 0);
    handle.Signal(kSameAdd, 2);
    results.push_back(handle.GetResult());
    History h = handle.FetchHistory();
    types.push_back(Types(h));
    EXPECT_EQ(Count(h, ev::EVENT_TYPE_WORKFLOW_TASK_FAILED), 0) << Dump(h);
  }
  EXPECT_EQ(results[0], "Hello, World! 2");
  EXPECT_EQ(results[1], results[0]);
  EXPECT_EQ(types[0], types[1]);
  cpp.Shutdown();
  activities.Shutdown();
#endif
}

}  // namespace
}  // namespace temporalio
