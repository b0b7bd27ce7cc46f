// A minimal workflow worker written with the raw gRPC stub, so that client
// and activity-worker tests need no workflow runtime: poll a workflow task,
// answer it with explicit commands.
#ifndef TEMPORALIO_TESTS_INTEGRATION_FAKE_WORKFLOW_WORKER_H_
#define TEMPORALIO_TESTS_INTEGRATION_FAKE_WORKFLOW_WORKER_H_

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "server/dev_server.h"
#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"
#include "temporalio/client/client.h"

namespace temporalio::testing_fake {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace cmdv1 = temporal::api::command::v1;
namespace enums = temporal::api::enums::v1;

inline std::unique_ptr<server::DevServer> StartDevServer() {
  auto server = server::DevServer::Start(
      {.port = 0, .search_attributes = {{"CustomKeywordField", "Keyword"}}});
  if (!server.ok()) throw std::runtime_error(std::string(server.status().message()));
  return std::move(*server);
}

inline client::Client ConnectTo(const server::DevServer& server) {
  return client::Client::Connect({.target_host = server.address()});
}

// Polls until a workflow task arrives (or throws after `timeout`).
inline wsv1::PollWorkflowTaskQueueResponse PollWorkflowTask(
    const client::Client& client, const std::string& task_queue,
    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    wsv1::PollWorkflowTaskQueueRequest request;
    request.set_namespace_(client.options().namespace_);
    request.mutable_task_queue()->set_name(task_queue);
    request.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    request.set_identity("fake-workflow-worker");
    wsv1::PollWorkflowTaskQueueResponse response;
    grpc::Status status =
        client.WorkflowService().PollWorkflowTaskQueue(&context, request, &response);
    if (status.ok() && !response.task_token().empty()) return response;
    if (!status.ok() && status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      throw std::runtime_error("poll workflow task: " + status.error_message());
    }
  }
  throw std::runtime_error("no workflow task on " + task_queue);
}

inline void RespondWorkflowTask(const client::Client& client, const std::string& task_token,
                                std::vector<cmdv1::Command> commands) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  wsv1::RespondWorkflowTaskCompletedRequest request;
  request.set_namespace_(client.options().namespace_);
  request.set_task_token(task_token);
  request.set_identity("fake-workflow-worker");
  for (auto& command : commands) *request.add_commands() = std::move(command);
  wsv1::RespondWorkflowTaskCompletedResponse response;
  grpc::Status status =
      client.WorkflowService().RespondWorkflowTaskCompleted(&context, request, &response);
  if (!status.ok()) throw std::runtime_error("respond workflow task: " + status.error_message());
}

inline cmdv1::Command CompleteCommand(const converter::Payloads& result) {
  cmdv1::Command command;
  command.set_command_type(enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  *command.mutable_complete_workflow_execution_command_attributes()->mutable_result() = result;
  return command;
}

inline cmdv1::Command FailCommand(const converter::Failure& failure) {
  cmdv1::Command command;
  command.set_command_type(enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
  *command.mutable_fail_workflow_execution_command_attributes()->mutable_failure() = failure;
  return command;
}

inline cmdv1::Command CancelCommand() {
  cmdv1::Command command;
  command.set_command_type(enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION);
  command.mutable_cancel_workflow_execution_command_attributes();
  return command;
}

// The events of a polled task that are new since the previous task.
inline std::vector<temporal::api::history::v1::HistoryEvent> NewEvents(
    const wsv1::PollWorkflowTaskQueueResponse& task) {
  std::vector<temporal::api::history::v1::HistoryEvent> events;
  for (const auto& event : task.history().events()) {
    if (event.event_id() > task.previous_started_event_id()) events.push_back(event);
  }
  return events;
}

// Waits (with a deadline) until pred() holds, re-evaluating every few ms.
template <class Pred>
bool WaitUntil(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace temporalio::testing_fake

#endif  // TEMPORALIO_TESTS_INTEGRATION_FAKE_WORKFLOW_WORKER_H_
