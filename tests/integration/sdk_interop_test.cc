// The C++ SDK against the official TypeScript SDK (the conformance peer) on our
// dev server: a C++ client drives TypeScript workflows, and TypeScript
// workflows call activities that a C++ activity worker runs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "server/dev_server.h"
#include "temporalio/activity/context.h"
#include "temporalio/client/client.h"
#include "temporalio/errors.h"
#include "temporalio/worker/worker.h"

namespace {

using temporalio::client::Client;
using temporalio::client::WorkflowOptions;

struct Greeting {
  std::string name;
  int times = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Greeting, name, times)

// What interop/activities.js `echo` returns, wrapped by the `activityRoundTrip` workflow.
struct Echo {
  Greeting received;
  std::vector<std::string> keys;
  std::string greeting;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Echo, received, keys, greeting)
struct RoundTrip {
  Echo fromActivity;  // NOLINT(readability-identifier-naming): the TypeScript field name
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RoundTrip, fromActivity)

// A TypeScript worker (interop/ts-worker.js) in a child process.
class TsWorker {
 public:
  TsWorker(const std::string& address, const std::string& task_queue) {
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::string script = std::string(TEMPORALIO_INTEROP_DIR) + "/ts-worker.js";
      execl(TEMPORALIO_NODE, TEMPORALIO_NODE, script.c_str(), address.c_str(), task_queue.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    // Wait for "ready" (bundling the workflows takes a few seconds).
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (got.find("ready\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("TS worker not ready in time: " + got);
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[256];
      ssize_t n = read(stdout_, buf, sizeof(buf));
      if (n <= 0) throw std::runtime_error("TS worker exited before ready: " + got);
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ~TsWorker() {
    close(stdin_);  // the worker shuts down when stdin closes
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    close(stdout_);
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
};

bool InteropInstalled() {
  return std::filesystem::exists(std::string(TEMPORALIO_INTEROP_DIR) +
                                 "/node_modules/@temporalio/worker/package.json");
}

class SdkInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!InteropInstalled()) return;
    auto server = temporalio::server::DevServer::Start({.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server).release();
    client_ = new Client(Client::Connect({.target_host = server_->address()}));
    ts_worker_ = new TsWorker(server_->address(), "ts-tq");
  }
  static void TearDownTestSuite() {
    delete ts_worker_;
    delete client_;
    delete server_;
  }
  void SetUp() override {
    if (!InteropInstalled()) GTEST_SKIP() << "interop/node_modules missing: run scripts/setup.sh";
  }
  static std::string Id(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + "-" + std::to_string(++n) + "-" + std::to_string(getpid());
  }

  static inline temporalio::server::DevServer* server_ = nullptr;
  static inline Client* client_ = nullptr;
  static inline TsWorker* ts_worker_ = nullptr;
};

TEST_F(SdkInteropTest, CppClientRunsTypeScriptWorkflowWithStructArguments) {
  auto result = client_->ExecuteWorkflow<RoundTrip>(
      "activityRoundTrip", WorkflowOptions{.id = Id("roundtrip"), .task_queue = "ts-tq"},
      Greeting{"Ada", 3});
  EXPECT_EQ(result.fromActivity.received.name, "Ada");
  EXPECT_EQ(result.fromActivity.received.times, 3);
  EXPECT_EQ(result.fromActivity.keys, (std::vector<std::string>{"name", "times"}));
  EXPECT_EQ(result.fromActivity.greeting, "hello Ada");
}

TEST_F(SdkInteropTest, CppClientSignalsAndQueriesTypeScriptWorkflow) {
  auto handle = client_->StartWorkflow<std::string>(
      "queryWorkflow", WorkflowOptions{.id = Id("query"), .task_queue = "ts-tq"}, "cpp");
  auto state = handle.Query<nlohmann::json>("state");
  EXPECT_EQ(state["name"], "cpp");
  EXPECT_EQ(state["phase"], "waiting");
  handle.Signal("finish", "from C++");
  EXPECT_EQ(handle.GetResult(), "finished with from C++");
  // Queries still work on the closed workflow.
  EXPECT_EQ(handle.Query<nlohmann::json>("state")["phase"], "done");
  EXPECT_EQ(handle.Describe().status, temporalio::client::WorkflowExecutionStatus::kCompleted);
}

TEST_F(SdkInteropTest, TypeScriptWorkflowFailureArrivesAsTypedError) {
  auto handle = client_->StartWorkflow<std::string>(
      "failingWorkflow", WorkflowOptions{.id = Id("fail"), .task_queue = "ts-tq"}, "broken");
  try {
    handle.GetResult();
    FAIL() << "expected WorkflowFailedError";
  } catch (const temporalio::WorkflowFailedError& e) {
    try {
      std::rethrow_exception(e.cause());
    } catch (const temporalio::ApplicationError& app) {
      EXPECT_EQ(std::string(app.what()), "broken");
      EXPECT_EQ(app.type(), "InteropError");
      EXPECT_TRUE(app.non_retryable());
    }
  }
}

TEST_F(SdkInteropTest, CancelAndTerminateTypeScriptWorkflows) {
  auto cancelled = client_->StartWorkflow<std::string>(
      "longSleepWorkflow", WorkflowOptions{.id = Id("cancel"), .task_queue = "ts-tq"});
  cancelled.Cancel();
  try {
    cancelled.GetResult();
    FAIL() << "expected WorkflowFailedError";
  } catch (const temporalio::WorkflowFailedError& e) {
    EXPECT_THROW(std::rethrow_exception(e.cause()), temporalio::CanceledError);
  }
  auto terminated = client_->StartWorkflow<std::string>(
      "longSleepWorkflow", WorkflowOptions{.id = Id("terminate"), .task_queue = "ts-tq"});
  terminated.Terminate("enough");
  EXPECT_EQ(terminated.Describe().status, temporalio::client::WorkflowExecutionStatus::kTerminated);
}

// C++ activities, called from a TypeScript workflow.
class CppActivities {
 public:
  std::string Greet(const Greeting& g) {
    std::string out;
    for (int i = 0; i < g.times; ++i) out += "Hello, " + g.name + "! ";
    return out;
  }
  int Flaky(int succeed_on) {
    int attempt = temporalio::activity::Info().attempt;
    if (attempt < succeed_on) {
      throw temporalio::ApplicationError("not yet", {.type = "Flaky"});
    }
    return attempt;
  }
  std::string Fatal(const std::string& why) {
    throw temporalio::ApplicationError(why, {.type = "Fatal", .non_retryable = true});
  }
  // Heartbeats progress; attempt 1 dies after step 2, attempt 2 resumes there.
  int HeartbeatResume(int steps) {
    int start = temporalio::activity::LastHeartbeatDetail<int>().value_or(0);
    for (int i = start; i < steps; ++i) {
      temporalio::activity::Heartbeat(i + 1);
      if (temporalio::activity::Info().attempt == 1 && i + 1 == 2) {
        throw temporalio::ApplicationError("crash mid-way", {.type = "Crash"});
      }
    }
    return start;  // where this attempt resumed
  }
  std::string Async(const std::string&) {
    {
      std::lock_guard lock(mu);
      async_token = temporalio::activity::Info().task_token;
    }
    temporalio::activity::CompleteAsync();
  }
  void WaitForCancel() {
    while (!temporalio::activity::IsCancelled()) {
      temporalio::activity::Heartbeat();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // activity work, not a test wait
    }
    throw temporalio::CanceledError("cancelled as asked");
  }

  std::mutex mu;
  std::string async_token;
};

TEST_F(SdkInteropTest, TypeScriptWorkflowCallsCppActivities) {
  CppActivities impl;
  temporalio::worker::Worker worker(*client_, {.task_queue = "cpp-activities"});
  worker.RegisterActivity("CppGreet", &CppActivities::Greet, &impl)
      .RegisterActivity("CppFlaky", &CppActivities::Flaky, &impl)
      .RegisterActivity("CppFatal", &CppActivities::Fatal, &impl)
      .RegisterActivity("CppHeartbeatResume", &CppActivities::HeartbeatResume, &impl)
      .RegisterActivity("CppAsync", &CppActivities::Async, &impl);
  worker.Start();
  auto handle = client_->StartWorkflow<nlohmann::json>(
      "callCppActivities", WorkflowOptions{.id = Id("cpp-acts"), .task_queue = "ts-tq"},
      "cpp-activities");
  // Complete the async activity once it has handed out its token.
  std::string token;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (token.empty() && std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(impl.mu);
      token = impl.async_token;
    }
    if (token.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(token.empty()) << "async activity never started";
  client_->GetAsyncActivityHandle(token).Complete(std::string("completed from C++ client"));
  nlohmann::json report = handle.GetResult();
  worker.Shutdown();
  EXPECT_EQ(report["greeting"], "Hello, TypeScript! Hello, TypeScript! ");
  EXPECT_EQ(report["flakyAttempt"], 3);
  EXPECT_EQ(report["fatal"]["activityFailure"], true);
  EXPECT_EQ(report["fatal"]["type"], "Fatal");
  EXPECT_EQ(report["fatal"]["message"], "bad input");
  EXPECT_EQ(report["fatal"]["nonRetryable"], true);
  EXPECT_EQ(report["heartbeatResume"], 2);  // attempt 2 saw attempt 1's last heartbeat
  EXPECT_EQ(report["asyncResult"], "completed from C++ client");
}

TEST_F(SdkInteropTest, TypeScriptWorkflowCancelsCppActivity) {
  CppActivities impl;
  temporalio::worker::Worker worker(*client_, {.task_queue = "cpp-cancel"});
  worker.RegisterActivity("CppWaitForCancel", &CppActivities::WaitForCancel, &impl);
  worker.Start();
  auto result = client_->ExecuteWorkflow<std::string>(
      "cancelCppActivity", WorkflowOptions{.id = Id("cpp-cancel"), .task_queue = "ts-tq"},
      "cpp-cancel");
  worker.Shutdown();
  EXPECT_EQ(result, "cancelled");
}

}  // namespace
