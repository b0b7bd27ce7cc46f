// The benchmark workflows and activity, in C++. bench/ts/workflows.js has the
// same logic under the same names for the TypeScript peer, so the load
// generator and the replay inputs are the same for both.
#ifndef TEMPORALIO_BENCH_BENCH_WORKFLOWS_H_
#define TEMPORALIO_BENCH_BENCH_WORKFLOWS_H_

#include <chrono>
#include <string>

#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/registry.h"
#include "temporalio/workflow/workflow.h"

namespace temporalio::bench {

namespace wf = temporalio::workflow;
using namespace std::chrono_literals;

// The no-op activity: returns its (1 KiB) argument.
inline std::string BenchEcho(const std::string& payload) { return payload; }
inline constexpr ActivityDef<&BenchEcho> kBenchEcho{"BenchEcho"};

// Hello: one activity round trip. History: 11 events.
class BenchHello {
 public:
  wf::Task<std::string> Run(std::string payload) {
    co_return co_await ExecuteActivity(kBenchEcho, payload, {.start_to_close_timeout = 30s});
  }
};
inline constexpr WorkflowDef<&BenchHello::Run> kBenchHello{"BenchHello"};

// n activities one after the other. History: ~6n events.
class BenchActivities {
 public:
  wf::Task<int> Run(int n, std::string payload) {
    for (int i = 0; i < n; ++i) {
      co_await ExecuteActivity(kBenchEcho, payload, {.start_to_close_timeout = 30s});
    }
    co_return n;
  }
};
inline constexpr WorkflowDef<&BenchActivities::Run> kBenchActivities{"BenchActivities"};

// `timers` 1 ms timers one after the other, then waits until `signals`
// "poke" signals have arrived (they arrive while the timers run).
class BenchTimerSignal {
 public:
  wf::Task<int> Run(int timers, int signals) {
    for (int i = 0; i < timers; ++i) co_await wf::Sleep(1ms);
    co_await wf::WaitCondition([this, signals] { return received_ >= signals; });
    co_return received_;
  }
  void Poke() { ++received_; }

 private:
  int received_ = 0;
};
inline constexpr WorkflowDef<&BenchTimerSignal::Run> kBenchTimerSignal{"BenchTimerSignal"};
inline constexpr SignalDef<&BenchTimerSignal::Poke> kPoke{"poke"};

// Blocks on a one-hour timer (the memory benchmark keeps many of these cached).
class BenchSleep {
 public:
  wf::Task<void> Run() { co_await wf::Sleep(1h); }
};
inline constexpr WorkflowDef<&BenchSleep::Run> kBenchSleep{"BenchSleep"};

inline wf::WorkflowRegistry BenchRegistry() {
  wf::WorkflowRegistry registry;
  registry.Register(kBenchHello);
  registry.Register(kBenchActivities);
  registry.Register(kBenchTimerSignal, kPoke);
  registry.Register(kBenchSleep);
  return registry;
}

}  // namespace temporalio::bench

#endif  // TEMPORALIO_BENCH_BENCH_WORKFLOWS_H_
