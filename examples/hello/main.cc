// Hello workflow: a workflow that calls one activity and returns a greeting.
//
//   hello [host:port]
//
// With an address it connects to that server (e.g. `temporal server
// start-dev`). Without one it starts an in-process dev server on a free
// loopback port, backed by a temporary SQLite file (durable, as start-dev),
// removed at exit.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "server/dev_server.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"
#include "temporalio/workflow/definitions.h"

namespace wf = temporalio::workflow;
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

int main(int argc, char** argv) {
  std::unique_ptr<temporalio::server::DevServer> server;
  std::filesystem::path db_dir;
  std::string address;
  if (argc > 1) {
    address = argv[1];
  } else {
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "temporalio-hello-XXXXXX").string();
    if (mkdtemp(dir_template.data()) == nullptr) {
      std::cerr << "cannot create a temporary directory\n";
      return 1;
    }
    db_dir = dir_template;
    auto started =
        temporalio::server::DevServer::Start({.port = 0, .db_filename = db_dir / "hello.db"});
    if (!started.ok()) {
      std::cerr << "dev server: " << started.status() << "\n";
      return 1;
    }
    server = std::move(*started);
    address = server->address();
  }

  int status = 0;
  try {
    auto client = temporalio::client::Client::Connect({.target_host = address});
    const std::string task_queue = "hello-task-queue";

    temporalio::worker::Worker worker(client, {.task_queue = task_queue});
    worker.RegisterWorkflow(kHelloWorkflow);
    worker.RegisterActivity(kComposeGreeting);
    worker.Start();

    std::string result = client.ExecuteWorkflow(
        kHelloWorkflow,
        {.id = "hello-workflow",
         .task_queue = task_queue,
         .id_conflict_policy = temporalio::client::WorkflowIdConflictPolicy::kUseExisting},
        std::string("Temporal"));
    std::cout << "Workflow result: " << result << std::endl;
    worker.Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "hello: " << e.what() << "\n";
    status = 1;
  }
  if (server) server->Shutdown();
  if (!db_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(db_dir, ignored);
  }
  return status;
}
