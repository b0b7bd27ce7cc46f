// Replayer: re-executes a recorded history with the given workflow
// definitions to check that the current code is compatible with it.
//
//   temporalio::workflow::Replayer replayer(registry);
//   replayer.ReplayWorkflow(history);   // throws NondeterminismError on mismatch
//
// Thread-safe (each call replays on its own run).
#ifndef TEMPORALIO_WORKFLOW_REPLAYER_H_
#define TEMPORALIO_WORKFLOW_REPLAYER_H_

#include <memory>
#include <string>

#include "temporal/api/history/v1/message.pb.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/workflow/errors.h"
#include "temporalio/workflow/registry.h"

namespace temporalio::workflow {

class Replayer {
 public:
  explicit Replayer(WorkflowRegistry registry,
                    converter::DataConverter data_converter = converter::DataConverter::Default());

  // Replays `history` (complete or not). Throws NondeterminismError naming
  // the mismatching command and event, or WorkflowTaskError when a workflow
  // task would fail for another reason (unknown type, workflow code threw a
  // non-Temporal exception). A workflow that fails with an ApplicationError
  // is not an error here (it is recorded history).
  void ReplayWorkflow(const temporal::api::history::v1::History& history,
                      const std::string& workflow_id = "replay",
                      const std::string& run_id = "replay") const;

 private:
  std::shared_ptr<const WorkflowRegistry> registry_;
  converter::DataConverter data_converter_;
};

}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_REPLAYER_H_
