// The client's *Async methods against the in-process dev server: futures
// completed from gRPC callbacks (no thread per pending call), typed errors
// through futures, GetResultAsync following retries and continue-as-new,
// RPC retries on a timer, and calls outliving the Client object.
#include <dirent.h>

#include <cstdio>

#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fake_workflow_worker.h"
#include "temporalio/client/client.h"

namespace {

using namespace temporalio;                // NOLINT
using namespace temporalio::client;        // NOLINT
using namespace temporalio::testing_fake;  // NOLINT

constexpr auto kWait = std::chrono::seconds(60);

// Threads of this process right now.
int CountThreads() {
  int count = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

template <class T>
T Get(std::future<T>& future) {
  if (future.wait_for(kWait) != std::future_status::ready) {
    throw std::runtime_error("future not ready within deadline");
  }
  return future.get();
}

class SdkAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartDevServer();
    client_ = std::make_unique<Client>(ConnectTo(*server_));
    worker_client_ = std::make_unique<Client>(ConnectTo(*server_));
  }
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  const converter::DataConverter& dc() { return client_->data_converter(); }

  std::unique_ptr<server::DevServer> server_;
  std::unique_ptr<Client> client_;
  // The fake worker's own connection.
  std::unique_ptr<Client> worker_client_;
};

TEST_F(SdkAsyncTest, ManyResultsWithoutAThreadEach) {
  constexpr int kCount = 200;
  std::string tq = Unique("tq");
  // Warm up the client's and server's gRPC machinery before the baseline.
  EXPECT_THROW(client_->GetWorkflowHandle("warm-up").DescribeAsync().get(), WorkflowNotFoundError);
  const int threads_before = CountThreads();
  ASSERT_GT(threads_before, 0);

  std::vector<std::future<WorkflowHandle<int>>> starts;
  for (int i = 0; i < kCount; ++i) {
    starts.push_back(client_->StartWorkflowAsync<int>(
        "Double", {.id = Unique("wf") + "-" + std::to_string(i), .task_queue = tq}, i));
  }
  std::vector<std::future<int>> results;
  for (auto& start : starts) results.push_back(Get(start).GetResultAsync());
  const int threads_pending = CountThreads();

  // The fake worker answers every task with twice its input.
  std::string worker_error;
  std::thread worker([&] {
    try {
      for (int i = 0; i < kCount; ++i) {
        auto task = PollWorkflowTask(*worker_client_, tq);
        const auto& started =
            task.history().events(0).workflow_execution_started_event_attributes();
        int input = dc().FromPayload<int>(started.input().payloads(0));
        RespondWorkflowTask(*worker_client_, task.task_token(),
                            {CompleteCommand(dc().ToPayloads(2 * input))});
      }
    } catch (const std::exception& e) {
      worker_error = e.what();
    }
  });
  int threads_max = threads_pending;
  for (int i = 0; i < kCount; ++i) {
    threads_max = std::max(threads_max, CountThreads());
    try {
      EXPECT_EQ(Get(results[i]), 2 * i);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "result " << i << ": " << e.what();
      break;
    }
  }
  worker.join();
  EXPECT_EQ(worker_error, "");
  std::printf("threads: before %d, with %d results pending %d, max %d\n", threads_before, kCount,
              threads_pending, threads_max);
  // The fake worker thread itself accounts for one; gRPC's pools for a few.
  // A thread per pending result would add 200.
  EXPECT_LT(threads_pending - threads_before, 20)
      << "before " << threads_before << " pending " << threads_pending;
  EXPECT_LT(threads_max - threads_before, 30)
      << "before " << threads_before << " max " << threads_max;
}

TEST_F(SdkAsyncTest, FailedWorkflowThroughFuture) {
  std::string tq = Unique("tq");
  auto start =
      client_->StartWorkflowAsync<std::string>("Failing", {.id = Unique("wf"), .task_queue = tq});
  auto result = Get(start).GetResultAsync();
  auto task = PollWorkflowTask(*worker_client_, tq);
  RespondWorkflowTask(*worker_client_, task.task_token(),
                      {FailCommand(dc().ToFailure(std::make_exception_ptr(ApplicationError(
                          "card declined", {.type = "PaymentError", .non_retryable = true}))))});
  try {
    Get(result);
    FAIL() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    try {
      std::rethrow_exception(e.cause());
    } catch (const ApplicationError& cause) {
      EXPECT_EQ(cause.message(), "card declined");
      EXPECT_EQ(cause.type(), "PaymentError");
    }
  }
}

TEST_F(SdkAsyncTest, AlreadyStartedThroughFuture) {
  WorkflowOptions options{.id = Unique("wf"), .task_queue = Unique("tq")};
  auto first = client_->StartWorkflowAsync<void>("Dup", options);
  std::string first_run = Get(first).run_id();
  auto second = client_->StartWorkflowAsync<void>("Dup", options);
  try {
    Get(second);
    FAIL() << "expected WorkflowAlreadyStartedError";
  } catch (const WorkflowAlreadyStartedError& e) {
    EXPECT_EQ(e.workflow_id(), options.id);
    EXPECT_EQ(e.run_id(), first_run);
  }
  // Bad options fail through the future too.
  auto bad = client_->StartWorkflowAsync<void>("X", {.task_queue = "tq"});
  EXPECT_THROW(Get(bad), std::invalid_argument);
}

TEST_F(SdkAsyncTest, NotFoundThroughFutures) {
  auto handle = client_->GetWorkflowHandle<int>("no-such-workflow");
  auto describe = handle.DescribeAsync();
  auto result = handle.GetResultAsync();
  auto signal = handle.SignalAsync("x", 1);
  auto query = handle.QueryAsync<int>("q");
  auto cancel = handle.CancelAsync();
  auto terminate = handle.TerminateAsync();
  EXPECT_THROW(Get(describe), WorkflowNotFoundError);
  EXPECT_THROW(Get(result), WorkflowNotFoundError);
  EXPECT_THROW(Get(signal), WorkflowNotFoundError);
  EXPECT_THROW(Get(query), WorkflowNotFoundError);
  EXPECT_THROW(Get(cancel), WorkflowNotFoundError);
  EXPECT_THROW(Get(terminate), WorkflowNotFoundError);
  try {
    handle.DescribeAsync().get();
  } catch (const WorkflowNotFoundError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(e.workflow_id(), "no-such-workflow");
  }
}

TEST_F(SdkAsyncTest, ResultFollowsRetryRun) {
  std::string tq = Unique("tq");
  auto start = client_->StartWorkflowAsync<std::string>(
      "Flaky", {.id = Unique("wf"),
                .task_queue = tq,
                .retry_policy = RetryPolicy{.initial_interval = std::chrono::milliseconds(100),
                                            .maximum_attempts = 3}});
  WorkflowHandle<std::string> handle = Get(start);
  auto result = handle.GetResultAsync();
  auto first = PollWorkflowTask(*worker_client_, tq);
  EXPECT_EQ(first.workflow_execution().run_id(), handle.run_id());
  RespondWorkflowTask(*worker_client_, first.task_token(),
                      {FailCommand(dc().ToFailure(
                          std::make_exception_ptr(ApplicationError("transient failure"))))});
  auto second = PollWorkflowTask(*worker_client_, tq);
  EXPECT_NE(second.workflow_execution().run_id(), handle.run_id());
  EXPECT_EQ(second.history().events(0).workflow_execution_started_event_attributes().attempt(), 2);
  RespondWorkflowTask(*worker_client_, second.task_token(),
                      {CompleteCommand(dc().ToPayloads(std::string("second time lucky")))});
  EXPECT_EQ(Get(result), "second time lucky");
  // Without following runs, the first run's failure is the answer.
  auto first_only = handle.GetResultAsync(/*follow_runs=*/false);
  EXPECT_THROW(Get(first_only), WorkflowFailedError);
}

TEST_F(SdkAsyncTest, ResultFollowsContinueAsNew) {
  std::string tq = Unique("tq");
  auto start =
      client_->StartWorkflowAsync<int>("Counter", {.id = Unique("wf"), .task_queue = tq}, 0);
  WorkflowHandle<int> handle = Get(start);
  auto result = handle.GetResultAsync();
  // Each run continues as new with input + 1 until 3, then returns it.
  std::set<std::string> runs;
  for (;;) {
    auto task = PollWorkflowTask(*worker_client_, tq);
    runs.insert(task.workflow_execution().run_id());
    int n = dc().FromPayload<int>(
        task.history().events(0).workflow_execution_started_event_attributes().input().payloads(0));
    if (n == 3) {
      RespondWorkflowTask(*worker_client_, task.task_token(),
                          {CompleteCommand(dc().ToPayloads(n * 100))});
      break;
    }
    cmdv1::Command command;
    command.set_command_type(enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
    auto* attrs = command.mutable_continue_as_new_workflow_execution_command_attributes();
    attrs->mutable_workflow_type()->set_name("Counter");
    attrs->mutable_task_queue()->set_name(tq);
    *attrs->mutable_input() = dc().ToPayloads(n + 1);
    RespondWorkflowTask(*worker_client_, task.task_token(), {command});
  }
  EXPECT_EQ(runs.size(), 4u);
  EXPECT_EQ(Get(result), 300);
  auto not_followed = handle.GetResultAsync(/*follow_runs=*/false);
  EXPECT_THROW(Get(not_followed), TemporalError);
}

TEST_F(SdkAsyncTest, SignalQueryDescribeCancelTerminate) {
  std::string tq = Unique("tq");
  auto start = client_->StartWorkflowAsync<void>("Ops", {.id = Unique("wf"), .task_queue = tq});
  WorkflowHandle<void> handle = Get(start);
  // Complete the first workflow task so that queries go out as query tasks.
  auto first = PollWorkflowTask(*worker_client_, tq);
  RespondWorkflowTask(*worker_client_, first.task_token(), {});

  auto signal = handle.SignalAsync("approve", std::string("yes"));
  Get(signal);
  auto signaled = PollWorkflowTask(*worker_client_, tq);
  bool found = false;
  for (const auto& event : NewEvents(signaled)) {
    if (event.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      EXPECT_EQ(event.workflow_execution_signaled_event_attributes().signal_name(), "approve");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  RespondWorkflowTask(*worker_client_, signaled.task_token(), {});

  auto query = handle.QueryAsync<std::string>("status", 7);
  auto query_task = PollWorkflowTask(*worker_client_, tq);
  ASSERT_TRUE(query_task.has_query());
  EXPECT_EQ(query_task.query().query_type(), "status");
  {
    grpc::ClientContext context;
    wsv1::RespondQueryTaskCompletedRequest request;
    request.set_namespace_("default");
    request.set_task_token(query_task.task_token());
    request.set_completed_type(enums::QUERY_RESULT_TYPE_ANSWERED);
    int arg = dc().FromPayload<int>(query_task.query().query_args().payloads(0));
    *request.mutable_query_result() = dc().ToPayloads("status " + std::to_string(arg));
    wsv1::RespondQueryTaskCompletedResponse response;
    ASSERT_TRUE(worker_client_->WorkflowService()
                    .RespondQueryTaskCompleted(&context, request, &response)
                    .ok());
  }
  EXPECT_EQ(Get(query), "status 7");

  auto described = handle.DescribeAsync();
  WorkflowExecutionDescription description = Get(described);
  EXPECT_EQ(description.status, WorkflowExecutionStatus::kRunning);
  EXPECT_EQ(description.workflow_type, "Ops");
  ASSERT_NE(description.raw, nullptr);

  auto cancel = handle.CancelAsync("please");
  Get(cancel);
  auto terminate = handle.TerminateAsync("enough");
  Get(terminate);
  auto result = handle.GetResultAsync();
  try {
    Get(result);
    FAIL() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    EXPECT_THROW(std::rethrow_exception(e.cause()), TerminatedError);
  }
  auto again = handle.TerminateAsync("again");
  EXPECT_THROW(Get(again), WorkflowNotFoundError);
}

TEST_F(SdkAsyncTest, CallsOutliveTheClient) {
  std::string tq = Unique("tq");
  std::future<int> result;
  {
    Client client = ConnectTo(*server_);
    auto start = client.StartWorkflowAsync<int>("Outlive", {.id = Unique("wf"), .task_queue = tq});
    result = Get(start).GetResultAsync();
  }  // Client and handle gone; the pending poll keeps the connection alive.
  auto task = PollWorkflowTask(*worker_client_, tq);
  RespondWorkflowTask(*worker_client_, task.task_token(), {CompleteCommand(dc().ToPayloads(5))});
  EXPECT_EQ(Get(result), 5);
}

TEST_F(SdkAsyncTest, UnavailableIsRetriedOnATimerThenFails) {
  ClientOptions options{.target_host = server_->address(),
                        .rpc_timeout = std::chrono::milliseconds(2000),
                        .retry = {.initial_interval = std::chrono::milliseconds(20),
                                  .max_interval = std::chrono::milliseconds(40),
                                  .max_attempts = 4}};
  Client client = Client::Connect(options);
  server_.reset();  // Nobody listens any more: UNAVAILABLE on every attempt.
  auto describe = client.GetWorkflowHandle("x").DescribeAsync();
  try {
    Get(describe);
    FAIL() << "expected RpcError";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::UNAVAILABLE) << e.what();
  }
}

}  // namespace
