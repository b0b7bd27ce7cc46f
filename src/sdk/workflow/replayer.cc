#include "temporalio/workflow/replayer.h"

#include "sdk/converter/payload_visitor.h"
#include "sdk/workflow/run.h"

namespace temporalio::workflow {

Replayer::Replayer(WorkflowRegistry registry, converter::DataConverter data_converter)
    : registry_(std::make_shared<const WorkflowRegistry>(std::move(registry))),
      data_converter_(std::move(data_converter)) {}

void Replayer::ReplayWorkflow(const temporal::api::history::v1::History& history,
                              const std::string& workflow_id, const std::string& run_id) const {
  internal::RunParams params;
  params.workflow_id = workflow_id;
  params.run_id = run_id;
  params.registry = registry_;
  params.data_converter = &data_converter_;
  internal::WorkflowRun run(std::move(params));
  if (data_converter_.codecs.empty()) {
    run.Feed(history.events());  // nothing to decode: no copy of the history
  } else {
    std::vector<core::HistoryEvent> events(history.events().begin(), history.events().end());
    for (auto& e : events) converter::internal::DecodeAll(data_converter_, &e);
    run.Feed(events);
  }
  run.FinishReplay();
}

}  // namespace temporalio::workflow
