#include "bench_worker.h"

#include <grpcpp/grpcpp.h>

#include "bench_workflows.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"

namespace temporalio::bench {

class BenchWorkerImpl {
 public:
  explicit BenchWorkerImpl(const BenchWorkerOptions& options)
      : client_(client::Client::Connect({.target_host = options.address})),
        worker_(client_, {.task_queue = options.task_queue,
                          .max_concurrent_activities = options.max_concurrent_activities,
                          .activity_pollers = options.activity_pollers,
                          .max_cached_workflows = options.max_cached_workflows,
                          .max_concurrent_workflow_tasks = options.workflow_task_slots,
                          .workflow_pollers = options.workflow_task_slots}) {
    worker_.RegisterActivity(kBenchEcho);
    worker_.RegisterWorkflow(kBenchHello);
    worker_.RegisterWorkflow(kBenchActivities);
    worker_.RegisterWorkflow(kBenchTimerSignal, kPoke);
    worker_.RegisterWorkflow(kBenchSleep);
    worker_.Start();
  }
  void Shutdown() { worker_.Shutdown(); }

 private:
  client::Client client_;
  worker::Worker worker_;
};

BenchWorker::BenchWorker(const BenchWorkerOptions& options)
    : impl_(std::make_unique<BenchWorkerImpl>(options)) {}
BenchWorker::~BenchWorker() { Shutdown(); }
void BenchWorker::Shutdown() { impl_->Shutdown(); }

}  // namespace temporalio::bench
