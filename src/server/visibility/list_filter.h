// Temporal's list-filter language (a SQL-like WHERE clause), for
// ListWorkflowExecutions / CountWorkflowExecutions.
#ifndef TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_
#define TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "temporal/api/enums/v1/workflow.pb.h"

namespace temporalio::server::visibility {

struct ExecutionFields {
  const std::string& workflow_id;
  const std::string& run_id;
  const std::string& workflow_type;
  temporal::api::enums::v1::WorkflowExecutionStatus status;
  const std::string& task_queue;
};

// Supports `=`, `!=`, `IN (...)`, AND, OR, NOT-free parentheses over
// WorkflowId, RunId, WorkflowType, ExecutionStatus and TaskQueue; a trailing
// ORDER BY is accepted and ignored (results come newest first). Anything else
// is INVALID_ARGUMENT, as the real server rejects unknown attributes.
class ListFilter {
 public:
  static absl::StatusOr<ListFilter> Parse(std::string_view query);
  bool Matches(const ExecutionFields& fields) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;  // null: match everything
};

}  // namespace temporalio::server::visibility

#endif  // TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_
