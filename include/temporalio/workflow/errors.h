// Errors raised by the workflow runtime itself (not by workflow code).
#ifndef TEMPORALIO_WORKFLOW_ERRORS_H_
#define TEMPORALIO_WORKFLOW_ERRORS_H_

#include "temporalio/errors.h"

namespace temporalio::workflow {

// Workflow code produced commands that do not match the recorded history
// (e.g. it was changed incompatibly). what() names both sides. The worker
// fails the workflow task (cause NON_DETERMINISTIC_ERROR); history is intact.
class NondeterminismError : public TemporalError {
 public:
  using TemporalError::TemporalError;
};

// A workflow task failed for another reason (workflow code threw a non-
// Temporal exception, unknown workflow type, deadlock, ...). The worker
// fails the workflow task; the server retries it.
class WorkflowTaskError : public TemporalError {
 public:
  using TemporalError::TemporalError;
};

}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_ERRORS_H_
