// The C++ activity worker against the in-process dev server. A fake workflow
// worker (raw gRPC stub) schedules one activity and reports its close event.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "fake_workflow_worker.h"
#include "temporalio/activity/context.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"

namespace {

using namespace temporalio;                // NOLINT
using namespace temporalio::client;        // NOLINT
using namespace temporalio::testing_fake;  // NOLINT
using temporal::api::history::v1::HistoryEvent;

struct ActivitySpec {
  std::string type;
  converter::Payloads input;
  std::chrono::seconds start_to_close{30};
  std::chrono::seconds heartbeat_timeout{0};
  int maximum_attempts = 5;
};

int Add(int a, int b) { return a + b; }

struct Greeter {
  std::string prefix;
  std::string Greet(const std::string& name) const { return prefix + name; }
};

class SdkActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartDevServer();
    client_ = std::make_unique<Client>(ConnectTo(*server_));
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    wf_tq_ = "wf-" + name;
    act_tq_ = "act-" + name;
    worker_ =
        std::make_unique<worker::Worker>(*client_, worker::WorkerOptions{.task_queue = act_tq_});
  }
  void TearDown() override { worker_.reset(); }
  const converter::DataConverter& dc() { return client_->data_converter(); }

  // Starts a driver workflow that schedules `spec`; returns the activity's
  // close event. `on_signal("cancel")` makes the driver cancel the activity.
  HistoryEvent RunActivity(const ActivitySpec& spec, std::string* workflow_id = nullptr) {
    std::string id =
        "driver-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    if (workflow_id) *workflow_id = id;
    auto handle = client_->StartWorkflow<void>("ActivityDriver", {.id = id, .task_queue = wf_tq_});
    auto task = PollWorkflowTask(*client_, wf_tq_);
    cmdv1::Command schedule;
    schedule.set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* attrs = schedule.mutable_schedule_activity_task_command_attributes();
    attrs->set_activity_id("1");
    attrs->mutable_activity_type()->set_name(spec.type);
    attrs->mutable_task_queue()->set_name(act_tq_);
    *attrs->mutable_input() = spec.input;
    attrs->mutable_start_to_close_timeout()->set_seconds(spec.start_to_close.count());
    if (spec.heartbeat_timeout.count() > 0) {
      attrs->mutable_heartbeat_timeout()->set_seconds(spec.heartbeat_timeout.count());
    }
    attrs->mutable_retry_policy()->mutable_initial_interval()->set_nanos(100'000'000);
    attrs->mutable_retry_policy()->set_backoff_coefficient(1);
    attrs->mutable_retry_policy()->set_maximum_attempts(spec.maximum_attempts);
    RespondWorkflowTask(*client_, task.task_token(), {schedule});
    for (;;) {
      task = PollWorkflowTask(*client_, wf_tq_);
      int64_t scheduled_id = 0;
      for (const auto& event : task.history().events()) {
        if (event.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
          scheduled_id = event.event_id();
        }
      }
      std::vector<cmdv1::Command> commands;
      for (const auto& event : NewEvents(task)) {
        switch (event.event_type()) {
          case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
          case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
          case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED:
          case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            RespondWorkflowTask(*client_, task.task_token(), {CompleteCommand({})});
            return event;
          case enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
            cmdv1::Command cancel;
            cancel.set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
            cancel.mutable_request_cancel_activity_task_command_attributes()
                ->set_scheduled_event_id(scheduled_id);
            commands.push_back(cancel);
            break;
          }
          default:
            break;
        }
      }
      RespondWorkflowTask(*client_, task.task_token(), commands);
    }
  }

  std::unique_ptr<server::DevServer> server_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<worker::Worker> worker_;
  std::string wf_tq_;
  std::string act_tq_;
};

TEST_F(SdkActivityTest, FreeFunctionLambdaAndMemberFunction) {
  Greeter greeter{"hello "};
  worker_->RegisterActivity("Add", &Add);
  worker_->RegisterActivity("Greet", &Greeter::Greet, &greeter);
  worker_->RegisterActivity("Info", [] {
    const auto& info = activity::Info();
    return info.activity_type + "/" + info.workflow_type + "/" + info.task_queue + "/" +
           std::to_string(info.attempt);
  });
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Add", .input = dc().ToPayloads(2, 3)});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(
      dc().FromPayload<int>(event.activity_task_completed_event_attributes().result().payloads(0)),
      5);
}

TEST_F(SdkActivityTest, MemberFunction) {
  Greeter greeter{"hello "};
  worker_->RegisterActivity("Greet", &Greeter::Greet, &greeter);
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Greet", .input = dc().ToPayloads(std::string("bob"))});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(dc().FromPayload<std::string>(
                event.activity_task_completed_event_attributes().result().payloads(0)),
            "hello bob");
}

TEST_F(SdkActivityTest, InfoIsVisible) {
  worker_->RegisterActivity("Info", [] {
    const auto& info = activity::Info();
    return info.activity_type + "/" + info.workflow_type + "/" + info.task_queue + "/" +
           std::to_string(info.attempt) + "/" + info.activity_id;
  });
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Info"});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(dc().FromPayload<std::string>(
                event.activity_task_completed_event_attributes().result().payloads(0)),
            "Info/ActivityDriver/" + act_tq_ + "/1/1");
}

TEST_F(SdkActivityTest, RetriesUntilSuccessAttemptVisible) {
  worker_->RegisterActivity("Flaky", [] {
    int attempt = activity::Info().attempt;
    if (attempt < 3) throw std::runtime_error("deliberate failure " + std::to_string(attempt));
    return attempt;
  });
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Flaky"});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(
      dc().FromPayload<int>(event.activity_task_completed_event_attributes().result().payloads(0)),
      3);
}

TEST_F(SdkActivityTest, NonRetryableFailure) {
  std::atomic<int> calls{0};
  worker_->RegisterActivity("Fatal", [&calls]() -> void {
    ++calls;
    throw ApplicationError("bad input", {.type = "BadInput", .non_retryable = true});
  });
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Fatal"});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
  const auto& failure = event.activity_task_failed_event_attributes().failure();
  EXPECT_EQ(failure.message(), "bad input");
  EXPECT_EQ(failure.application_failure_info().type(), "BadInput");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(SdkActivityTest, DecodeErrorIsNonRetryable) {
  worker_->RegisterActivity("Add", &Add);
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Add", .input = dc().ToPayloads(std::string("x"))});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
  const auto& failure = event.activity_task_failed_event_attributes().failure();
  EXPECT_EQ(failure.application_failure_info().type(), "DecodeError");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
}

TEST_F(SdkActivityTest, UnregisteredActivityFails) {
  worker_->RegisterActivity("Add", &Add);
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Missing", .maximum_attempts = 1});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
  EXPECT_EQ(
      event.activity_task_failed_event_attributes().failure().application_failure_info().type(),
      "NotFoundError");
}

TEST_F(SdkActivityTest, HeartbeatDetailsVisibleOnRetry) {
  worker_->RegisterActivity("Resume", [] {
    if (activity::Info().attempt == 1) {
      activity::Heartbeat(7);
      throw std::runtime_error("crash after progress");
    }
    return activity::LastHeartbeatDetail<int>().value_or(-1);
  });
  worker_->Start();
  HistoryEvent event = RunActivity({.type = "Resume"});
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(
      dc().FromPayload<int>(event.activity_task_completed_event_attributes().result().payloads(0)),
      7);
}

// Blocks until the activity's cancellation token fires, heartbeating.
void HeartbeatUntilCancelled() {
  std::mutex mu;
  std::condition_variable_any cv;
  std::stop_token token = activity::CancellationToken();
  while (!token.stop_requested()) {
    activity::Heartbeat(std::string("working"));
    std::unique_lock lock(mu);
    cv.wait_for(lock, token, std::chrono::milliseconds(50), [] { return false; });
  }
}

TEST_F(SdkActivityTest, CancellationDelivered) {
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  worker_->RegisterActivity("LongRunning", [&]() -> void {
    started = true;
    HeartbeatUntilCancelled();
    saw_cancel = activity::IsCancelled();
    throw CanceledError("stopped on request");
  });
  worker_->Start();
  std::string workflow_id = "driver-CancellationDelivered";
  std::thread canceller([&] {
    ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
    client_->GetWorkflowHandle(workflow_id).Signal("cancel");
  });
  HistoryEvent event =
      RunActivity({.type = "LongRunning", .heartbeat_timeout = std::chrono::seconds(1)});
  canceller.join();
  EXPECT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
  EXPECT_TRUE(saw_cancel.load());
}

TEST_F(SdkActivityTest, AsyncCompletionByTaskToken) {
  std::mutex mu;
  std::optional<std::string> token;
  worker_->RegisterActivity("Async", [&]() -> std::string {
    {
      std::lock_guard lock(mu);
      token = activity::Info().task_token;
    }
    activity::CompleteAsync();
  });
  worker_->Start();
  std::thread completer([&] {
    ASSERT_TRUE(WaitUntil([&] {
      std::lock_guard lock(mu);
      return token.has_value();
    }));
    auto handle = client_->GetAsyncActivityHandle(*token);
    EXPECT_FALSE(handle.Heartbeat(std::string("half way")));
    handle.Complete(std::string("done later"));
  });
  HistoryEvent event = RunActivity({.type = "Async"});
  completer.join();
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  EXPECT_EQ(dc().FromPayload<std::string>(
                event.activity_task_completed_event_attributes().result().payloads(0)),
            "done later");
}

TEST_F(SdkActivityTest, AsyncFailureById) {
  std::atomic<bool> started{false};
  std::string run_id;
  worker_->RegisterActivity("Async", [&]() -> void {
    started = true;
    activity::CompleteAsync();
  });
  worker_->Start();
  std::string workflow_id = "driver-AsyncFailureById";
  std::thread completer([&] {
    ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
    auto handle = client_->GetAsyncActivityHandle(workflow_id, "", "1");
    handle.Fail(
        ApplicationError("failed from outside", {.type = "External", .non_retryable = true}));
  });
  HistoryEvent event = RunActivity({.type = "Async"});
  completer.join();
  ASSERT_EQ(event.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
  EXPECT_EQ(
      event.activity_task_failed_event_attributes().failure().application_failure_info().type(),
      "External");
}

TEST_F(SdkActivityTest, AsyncHandleOnUnknownActivityIsNotFound) {
  auto handle = client_->GetAsyncActivityHandle("no-such-workflow", "", "1");
  EXPECT_THROW(handle.Complete(1), RpcError);
}

TEST_F(SdkActivityTest, GracefulShutdownCancelsAfterGracePeriod) {
  worker_.reset();
  worker::Worker worker(*client_, {.task_queue = act_tq_,
                                   .graceful_shutdown_timeout = std::chrono::milliseconds(100)});
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  worker.RegisterActivity("Blocking", [&]() -> void {
    started = true;
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait(lock, activity::CancellationToken(), [] { return false; });
    saw_cancel = activity::IsCancelled();
    throw CanceledError("worker shutting down");
  });
  worker.Start();
  std::thread driver([&] {
    auto handle = client_->StartWorkflow<void>("ActivityDriver",
                                               {.id = "driver-shutdown", .task_queue = wf_tq_});
    auto task = PollWorkflowTask(*client_, wf_tq_);
    cmdv1::Command schedule;
    schedule.set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* attrs = schedule.mutable_schedule_activity_task_command_attributes();
    attrs->set_activity_id("1");
    attrs->mutable_activity_type()->set_name("Blocking");
    attrs->mutable_task_queue()->set_name(act_tq_);
    attrs->mutable_start_to_close_timeout()->set_seconds(60);
    RespondWorkflowTask(*client_, task.task_token(), {schedule});
  });
  ASSERT_TRUE(WaitUntil([&] { return started.load(); }));
  driver.join();
  worker.Shutdown();
  EXPECT_TRUE(saw_cancel.load());
  worker.Shutdown();  // idempotent
}

TEST_F(SdkActivityTest, ActivityContextOutsideActivityThrows) {
  EXPECT_FALSE(activity::InActivity());
  EXPECT_THROW(activity::Info(), activity::NotInActivityError);
  EXPECT_THROW(activity::Heartbeat(1), activity::NotInActivityError);
}

}  // namespace
