// A worker process for workflow_process_test: runs CrashWorkflow and its
// activity on a task queue until killed.
//
//   workflow_test_worker <address> <task-queue>
//
// Prints "ready" once polling. The sticky schedule-to-start timeout is short
// so that after a SIGKILL the server soon hands the run's next task to the
// normal queue (and so to the next worker process).
#include <unistd.h>

#include <iostream>

#include "integration/process_workflows.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: workflow_test_worker <address> <task-queue>\n";
    return 2;
  }
  namespace tw = temporalio::testing_workflows;
  try {
    auto client = temporalio::client::Client::Connect({.target_host = argv[1]});
    temporalio::worker::Worker worker(
        client,
        {.task_queue = argv[2], .sticky_schedule_to_start_timeout = std::chrono::seconds(1)});
    worker.RegisterWorkflow(tw::kCrash, tw::kCrashGo).RegisterActivity(tw::kRecord);
    worker.Start();
    std::cout << "ready" << std::endl;
    for (;;) pause();  // until killed
  } catch (const std::exception& e) {
    std::cerr << "workflow_test_worker: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
