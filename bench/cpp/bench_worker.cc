#include "bench_worker.h"

#include <grpcpp/grpcpp.h>

#include "bench_workflows.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"
#include "temporalio/workflow/worker.h"

namespace temporalio::bench {

class BenchWorkerImpl {
 public:
  explicit BenchWorkerImpl(const BenchWorkerOptions& options)
      : client_(client::Client::Connect({.target_host = options.address})),
        activities_(client_, {.task_queue = options.task_queue,
                              .max_concurrent_activities = options.max_concurrent_activities,
                              .activity_pollers = options.activity_pollers}) {
    activities_.RegisterActivity(std::string(kBenchEcho.name), &BenchEcho);
    workflow::WorkflowWorkerOptions wf_options;
    wf_options.task_queue = options.task_queue;
    wf_options.registry = BenchRegistry();
    wf_options.max_cached_workflows = options.max_cached_workflows;
    wf_options.max_concurrent_workflow_tasks = options.workflow_task_slots;
    workflows_ = std::make_unique<workflow::WorkflowWorker>(
        grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()),
        std::move(wf_options));
    activities_.Start();
    workflows_->Start();
  }
  void Shutdown() {
    workflows_->Shutdown();
    activities_.Shutdown();
  }

 private:
  client::Client client_;
  worker::Worker activities_;
  std::unique_ptr<workflow::WorkflowWorker> workflows_;
};

BenchWorker::BenchWorker(const BenchWorkerOptions& options)
    : impl_(std::make_unique<BenchWorkerImpl>(options)) {}
BenchWorker::~BenchWorker() { Shutdown(); }
void BenchWorker::Shutdown() { impl_->Shutdown(); }

}  // namespace temporalio::bench
