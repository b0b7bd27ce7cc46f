// The C++ client against the in-process dev server, driven by a fake
// workflow worker written with the raw gRPC stub (no workflow runtime).
#include <future>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "fake_workflow_worker.h"
#include "temporalio/client/client.h"
#include "testutil/ports.h"

namespace {

using namespace temporalio;                // NOLINT
using namespace temporalio::client;        // NOLINT
using namespace temporalio::testing_fake;  // NOLINT

struct Order {
  std::string id;
  int qty = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, qty)

struct Receipt {
  std::string order_id;
  int total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Receipt, order_id, total)

class SdkClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartDevServer();
    client_ = std::make_unique<Client>(ConnectTo(*server_));
  }
  std::string Unique(const std::string& prefix) {
    return prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  const converter::DataConverter& dc() { return client_->data_converter(); }

  std::unique_ptr<server::DevServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(SdkClientTest, StartAndGetTypedResult) {
  std::string tq = Unique("tq");
  auto handle = client_->StartWorkflow<Receipt>(
      "OrderWorkflow", {.id = Unique("wf"), .task_queue = tq}, Order{"o-1", 3});
  EXPECT_FALSE(handle.run_id().empty());
  auto task = PollWorkflowTask(*client_, tq);
  ASSERT_EQ(task.workflow_type().name(), "OrderWorkflow");
  const auto& started = task.history().events(0).workflow_execution_started_event_attributes();
  Order order = dc().FromPayload<Order>(started.input().payloads(0));
  EXPECT_EQ(order.id, "o-1");
  RespondWorkflowTask(*client_, task.task_token(),
                      {CompleteCommand(dc().ToPayloads(Receipt{order.id, order.qty * 10}))});
  Receipt receipt = handle.GetResult();
  EXPECT_EQ(receipt.order_id, "o-1");
  EXPECT_EQ(receipt.total, 30);

  WorkflowExecutionDescription description = handle.Describe();
  EXPECT_EQ(description.status, WorkflowExecutionStatus::kCompleted);
  EXPECT_EQ(description.workflow_type, "OrderWorkflow");
  EXPECT_EQ(description.task_queue, tq);
  EXPECT_TRUE(description.start_time.has_value());
  EXPECT_TRUE(description.close_time.has_value());
  EXPECT_GT(description.history_length, 3);
  ASSERT_NE(description.raw, nullptr);

  auto history = handle.FetchHistory();
  ASSERT_GE(history.events_size(), 5);
  EXPECT_EQ(history.events(0).event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  EXPECT_EQ(history.events(history.events_size() - 1).event_type(),
            enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
}

TEST_F(SdkClientTest, ExecuteWorkflowVoidAndOptions) {
  std::string tq = Unique("tq");
  WorkflowOptions options{.id = Unique("wf"),
                          .task_queue = tq,
                          .execution_timeout = std::chrono::hours(1),
                          .task_timeout = std::chrono::seconds(5),
                          .retry_policy = RetryPolicy{.maximum_attempts = 1},
                          .memo = {{"owner", "alice"}, {"n", 7}},
                          .search_attributes = {{"CustomKeywordField", "kw"}}};
  std::thread worker([&] {
    auto task = PollWorkflowTask(*client_, tq);
    const auto& started = task.history().events(0).workflow_execution_started_event_attributes();
    EXPECT_EQ(dc().FromPayload<std::string>(started.memo().fields().at("owner")), "alice");
    EXPECT_EQ(started.retry_policy().maximum_attempts(), 1);
    RespondWorkflowTask(*client_, task.task_token(), {CompleteCommand({})});
  });
  client_->ExecuteWorkflow<void>("VoidWorkflow", options);
  worker.join();
  auto description = client_->GetWorkflowHandle(options.id).Describe();
  EXPECT_EQ(dc().FromPayload<int>(description.memo.at("n")), 7);
}

TEST_F(SdkClientTest, FailedWorkflowIsTypedError) {
  std::string tq = Unique("tq");
  auto handle =
      client_->StartWorkflow<std::string>("Failing", {.id = Unique("wf"), .task_queue = tq});
  auto task = PollWorkflowTask(*client_, tq);
  converter::Failure failure = dc().ToFailure(std::make_exception_ptr(ApplicationError(
      "card declined",
      {.type = "PaymentError", .non_retryable = true, .details = dc().ToPayloads(42)})));
  RespondWorkflowTask(*client_, task.task_token(), {FailCommand(failure)});
  try {
    handle.GetResult();
    FAIL() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    try {
      std::rethrow_exception(e.cause());
    } catch (const ApplicationError& cause) {
      EXPECT_EQ(cause.message(), "card declined");
      EXPECT_EQ(cause.type(), "PaymentError");
      EXPECT_TRUE(cause.non_retryable());
      EXPECT_EQ(dc().FromPayload<int>(cause.details().payloads(0)), 42);
    }
  }
}

TEST_F(SdkClientTest, AlreadyStarted) {
  std::string tq = Unique("tq");
  WorkflowOptions options{.id = Unique("wf"), .task_queue = tq};
  auto first = client_->StartWorkflow<void>("Dup", options);
  try {
    client_->StartWorkflow<void>("Dup", options);
    FAIL() << "expected WorkflowAlreadyStartedError";
  } catch (const WorkflowAlreadyStartedError& e) {
    EXPECT_EQ(e.workflow_id(), options.id);
    EXPECT_EQ(e.run_id(), first.run_id());
  }
  // USE_EXISTING returns the running run.
  options.id_conflict_policy = WorkflowIdConflictPolicy::kUseExisting;
  EXPECT_EQ(client_->StartWorkflow<void>("Dup", options).run_id(), first.run_id());
}

TEST_F(SdkClientTest, SignalThenTerminate) {
  std::string tq = Unique("tq");
  auto handle = client_->StartWorkflow<void>("Signaled", {.id = Unique("wf"), .task_queue = tq});
  handle.Signal("approve", Order{"o-2", 1}, std::string("extra"));
  EXPECT_EQ(handle.Describe().status, WorkflowExecutionStatus::kRunning);
  bool found = false;
  auto history = handle.FetchHistory();
  for (const auto& event : history.events()) {
    if (event.event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) continue;
    const auto& attrs = event.workflow_execution_signaled_event_attributes();
    EXPECT_EQ(attrs.signal_name(), "approve");
    auto [order, extra] = dc().FromPayloads<Order, std::string>(attrs.input());
    EXPECT_EQ(order.id, "o-2");
    EXPECT_EQ(extra, "extra");
    found = true;
  }
  EXPECT_TRUE(found);
  handle.Terminate("enough");
  try {
    handle.GetResult();
    FAIL() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    EXPECT_THROW(std::rethrow_exception(e.cause()), TerminatedError);
  }
  EXPECT_EQ(handle.Describe().status, WorkflowExecutionStatus::kTerminated);
  // Terminating a closed workflow: NOT_FOUND.
  EXPECT_THROW(handle.Terminate("again"), WorkflowNotFoundError);
}

TEST_F(SdkClientTest, CancelIsTypedError) {
  std::string tq = Unique("tq");
  auto handle = client_->StartWorkflow<int>("Cancellable", {.id = Unique("wf"), .task_queue = tq});
  handle.Cancel("please");
  auto task = PollWorkflowTask(*client_, tq);
  bool cancel_requested = false;
  for (const auto& event : task.history().events()) {
    cancel_requested |= event.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED;
  }
  EXPECT_TRUE(cancel_requested);
  RespondWorkflowTask(*client_, task.task_token(), {CancelCommand()});
  try {
    handle.GetResult();
    FAIL() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    EXPECT_THROW(std::rethrow_exception(e.cause()), CanceledError);
  }
  EXPECT_EQ(handle.Describe().status, WorkflowExecutionStatus::kCanceled);
}

TEST_F(SdkClientTest, SignalWithStart) {
  std::string tq = Unique("tq");
  WorkflowOptions options{.id = Unique("wf"), .task_queue = tq};
  auto handle = client_->SignalWithStart<void>("SigStart", options, "go",
                                               std::tuple{std::string("now")}, Order{"o-3", 2});
  EXPECT_FALSE(handle.run_id().empty());
  auto task = PollWorkflowTask(*client_, tq);
  bool signaled = false;
  for (const auto& event : task.history().events()) {
    if (event.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      signaled = true;
      EXPECT_EQ(dc().FromPayload<std::string>(
                    event.workflow_execution_signaled_event_attributes().input().payloads(0)),
                "now");
    }
  }
  EXPECT_TRUE(signaled);
  // A second SignalWithStart signals the same run.
  auto again =
      client_->SignalWithStart<void>("SigStart", options, "go", std::tuple{std::string("again")});
  EXPECT_EQ(again.run_id(), handle.run_id());
  handle.Terminate();
}

TEST_F(SdkClientTest, ListAndCount) {
  std::string tq = Unique("tq");
  std::string type = Unique("ListedType");
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    std::string id = Unique("wf") + "-" + std::to_string(i);
    client_->StartWorkflow<void>(type, {.id = id, .task_queue = tq});
    ids.insert(id);
  }
  std::string query = "WorkflowType = '" + type + "'";
  ASSERT_TRUE(WaitUntil([&] { return client_->CountWorkflows(query) == 5; }));
  std::set<std::string> listed;
  for (const WorkflowExecution& execution : client_->ListWorkflows(query, /*page_size=*/2)) {
    EXPECT_EQ(execution.workflow_type, type);
    EXPECT_EQ(execution.status, WorkflowExecutionStatus::kRunning);
    listed.insert(execution.workflow_id);
  }
  EXPECT_EQ(listed, ids);
  EXPECT_EQ(client_->CountWorkflows("WorkflowType = 'no-such-type'"), 0);
  auto empty = client_->ListWorkflows("WorkflowType = 'no-such-type'");
  EXPECT_TRUE(empty.begin() == empty.end());
}

TEST_F(SdkClientTest, UnknownWorkflowIsNotFound) {
  auto handle = client_->GetWorkflowHandle<int>("no-such-workflow");
  EXPECT_THROW(handle.Describe(), WorkflowNotFoundError);
  EXPECT_THROW(handle.GetResult(), WorkflowNotFoundError);
  EXPECT_THROW(handle.Signal("x"), WorkflowNotFoundError);
  try {
    handle.Describe();
  } catch (const WorkflowNotFoundError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(e.workflow_id(), "no-such-workflow");
  }
}

TEST_F(SdkClientTest, UnknownNamespaceIsRpcError) {
  ClientOptions options{.target_host = server_->address(), .namespace_ = "no-such-namespace"};
  Client other = Client::Connect(options);
  EXPECT_THROW(other.StartWorkflow<void>("X", {.id = "x", .task_queue = "tq"}), RpcError);
}

TEST_F(SdkClientTest, MissingOptionsAreRejected) {
  EXPECT_THROW(client_->StartWorkflow<void>("X", {.task_queue = "tq"}), std::invalid_argument);
  EXPECT_THROW(client_->StartWorkflow<void>("X", {.id = "x"}), std::invalid_argument);
}

TEST(SdkClientConnectTest, UnreachableServerIsUnavailable) {
  int port = testutil::PickFreeLoopbackPort();
  ClientOptions options{.target_host = "127.0.0.1:" + std::to_string(port),
                        .connect_timeout = std::chrono::milliseconds(1500)};
  try {
    Client::Connect(options);
    FAIL() << "expected RpcError";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(std::string(e.what()).find("failed to connect"), std::string::npos);
  }
}

}  // namespace
