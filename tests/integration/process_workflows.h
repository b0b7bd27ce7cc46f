// Workflows shared by the test worker process (process_worker_main.cc) and
// workflow_process_test.cc.
#ifndef TEMPORALIO_TESTS_INTEGRATION_PROCESS_WORKFLOWS_H_
#define TEMPORALIO_TESTS_INTEGRATION_PROCESS_WORKFLOWS_H_

#include <fstream>
#include <string>

#include "temporalio/workflow/definitions.h"

namespace temporalio::testing_workflows {

using namespace std::chrono_literals;

// Appends `tag` as a line to `path`; returns the number of lines now there
// (the side effect the crash test counts).
inline int Record(const std::string& path, const std::string& tag) {
  {
    std::ofstream out(path, std::ios::app);
    out << tag << "\n";
  }
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}
inline constexpr ActivityDef<&Record> kRecord{"Record"};

// Records "before", waits for the "go" signal, records "after"; returns the
// line count seen by the second activity.
class CrashWorkflow {
 public:
  workflow::Task<int> Run(std::string path) {
    int before = co_await ExecuteActivity(kRecord, path, "before", {.start_to_close_timeout = 10s});
    (void)before;
    auto go = workflow::WaitCondition([this] { return go_; });
    co_await std::move(go);
    co_await workflow::Sleep(1ms);
    co_return co_await ExecuteActivity(kRecord, path, "after", {.start_to_close_timeout = 10s});
  }
  void Go() { go_ = true; }

 private:
  bool go_ = false;
};
inline constexpr WorkflowDef<&CrashWorkflow::Run> kCrash{"CrashWorkflow"};
inline constexpr SignalDef<&CrashWorkflow::Go> kCrashGo{"go"};

}  // namespace temporalio::testing_workflows

#endif  // TEMPORALIO_TESTS_INTEGRATION_PROCESS_WORKFLOWS_H_
