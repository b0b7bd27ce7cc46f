// Hello workflow: a workflow that calls one activity and returns a greeting.
//
//   hello [host:port]     (without an address an in-process dev server is used)
//
// The activity is served by a minimal raw-stub activity poller below; once the
// shared temporalio Worker (activity side) is merged, replace
// `ServeOneActivity` with registering kComposeGreeting on that Worker, and the
// raw StartWorkflowExecution/GetWorkflowExecutionHistory calls with Client.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>

#include "server/dev_server.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/worker.h"

namespace wf = temporalio::workflow;
namespace wsv1 = temporal::api::workflowservice::v1;
using namespace std::chrono_literals;

// --- Activity ---
std::string ComposeGreeting(const std::string& greeting, const std::string& name) {
  return greeting + ", " + name + "!";
}
inline constexpr temporalio::ActivityDef<&ComposeGreeting> kComposeGreeting{"ComposeGreeting"};

// --- Workflow ---
class HelloWorkflow {
 public:
  wf::Task<std::string> Run(std::string name) {
    wf::Logger().Info("greeting " + name);
    co_return co_await ExecuteActivity(kComposeGreeting, "Hello", name,
                                       {.start_to_close_timeout = 10s});
  }
};
inline constexpr temporalio::WorkflowDef<&HelloWorkflow::Run> kHelloWorkflow{"HelloWorkflow"};

// Polls one activity task and completes it (stand-in for the activity Worker).
void ServeOneActivity(wsv1::WorkflowService::Stub* stub, const std::string& task_queue) {
  for (;;) {
    wsv1::PollActivityTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name(task_queue);
    req.set_identity("hello-activity-poller");
    wsv1::PollActivityTaskQueueResponse task;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 70s);
    if (!stub->PollActivityTaskQueue(&ctx, req, &task).ok()) return;
    if (task.task_token().empty()) continue;
    auto [greeting, name] =
        temporalio::converter::FromPayloads<std::string, std::string>(task.input());
    wsv1::RespondActivityTaskCompletedRequest done;
    done.set_namespace_("default");
    done.set_task_token(task.task_token());
    *done.mutable_result() = temporalio::converter::ToPayloads(ComposeGreeting(greeting, name));
    wsv1::RespondActivityTaskCompletedResponse out;
    grpc::ClientContext c2;
    (void)stub->RespondActivityTaskCompleted(&c2, done, &out);
    return;
  }
}

int main(int argc, char** argv) {
  std::unique_ptr<temporalio::server::DevServer> server;
  std::string address;
  if (argc > 1) {
    address = argv[1];
  } else {
    auto started = temporalio::server::DevServer::Start({.port = 0});
    if (!started.ok()) {
      std::cerr << "dev server: " << started.status() << "\n";
      return 1;
    }
    server = std::move(*started);
    address = server->address();
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = wsv1::WorkflowService::NewStub(channel);
  const std::string task_queue = "hello-task-queue";

  wf::WorkflowWorkerOptions options;
  options.task_queue = task_queue;
  options.registry.Register(kHelloWorkflow);
  wf::WorkflowWorker worker(channel, std::move(options));
  worker.Start();

  wsv1::StartWorkflowExecutionRequest start;
  start.set_namespace_("default");
  start.set_workflow_id("hello-workflow");
  start.mutable_workflow_type()->set_name(std::string(kHelloWorkflow.name));
  start.mutable_task_queue()->set_name(task_queue);
  *start.mutable_input() = temporalio::converter::ToPayloads(std::string("Temporal"));
  start.set_request_id("hello-" +
                       std::to_string(std::chrono::system_clock::now().time_since_epoch().count()));
  wsv1::StartWorkflowExecutionResponse started;
  grpc::ClientContext start_ctx;
  grpc::Status status = stub->StartWorkflowExecution(&start_ctx, start, &started);
  if (!status.ok()) {
    std::cerr << "start: " << status.error_message() << "\n";
    return 1;
  }

  ServeOneActivity(stub.get(), task_queue);

  // Wait for the result (long poll on the close event).
  wsv1::GetWorkflowExecutionHistoryRequest req;
  req.set_namespace_("default");
  req.mutable_execution()->set_workflow_id("hello-workflow");
  req.mutable_execution()->set_run_id(started.run_id());
  req.set_wait_new_event(true);
  req.set_history_event_filter_type(
      temporal::api::enums::v1::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
  for (;;) {
    wsv1::GetWorkflowExecutionHistoryResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    if (!stub->GetWorkflowExecutionHistory(&ctx, req, &resp).ok()) return 1;
    if (resp.history().events_size() > 0) {
      const auto& e = resp.history().events(0);
      if (!e.has_workflow_execution_completed_event_attributes()) {
        std::cerr << "workflow did not complete: " << e.ShortDebugString() << "\n";
        return 1;
      }
      std::cout << temporalio::converter::FromPayload<std::string>(
                       e.workflow_execution_completed_event_attributes().result().payloads(0))
                << "\n";
      break;
    }
    req.set_next_page_token(resp.next_page_token());
  }
  worker.Shutdown();
  return 0;
}
