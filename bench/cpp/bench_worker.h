// The only place the benchmarks touch the C++ SDK's worker API: a worker
// running the benchmark workflows (bench_workflows.h) and the BenchEcho
// activity on one task queue. Switch this file (only) when the workflow and
// activity workers become one worker::Worker.
#ifndef TEMPORALIO_BENCH_BENCH_WORKER_H_
#define TEMPORALIO_BENCH_BENCH_WORKER_H_

#include <cstddef>
#include <memory>
#include <string>

namespace temporalio::bench {

struct BenchWorkerOptions {
  std::string address;
  std::string task_queue;
  size_t max_cached_workflows = 1000;
  // Workflow task slots, all of them polling when idle (half the sticky queue).
  int workflow_task_slots = 64;
  int activity_pollers = 64;
  int max_concurrent_activities = 200;
};

class BenchWorkerImpl;

// Polls until Shutdown (or destruction). Throws when it cannot connect.
class BenchWorker {
 public:
  explicit BenchWorker(const BenchWorkerOptions& options);
  ~BenchWorker();
  void Shutdown();

 private:
  std::unique_ptr<BenchWorkerImpl> impl_;
};

}  // namespace temporalio::bench

#endif  // TEMPORALIO_BENCH_BENCH_WORKER_H_
