// Temporal's list-filter language (a SQL-like WHERE clause), for
// ListWorkflowExecutions / CountWorkflowExecutions.
#ifndef TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_
#define TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/visibility/search_attributes.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/workflow.pb.h"

namespace temporalio::server::visibility {

// What a filter sees of one run. Times are Unix nanoseconds, 0 when unset
// (CloseTime of an open run).
struct ExecutionFields {
  const std::string& workflow_id;
  const std::string& run_id;
  const std::string& workflow_type;
  temporal::api::enums::v1::WorkflowExecutionStatus status;
  const std::string& task_queue;
  int64_t start_time_ns = 0;
  int64_t close_time_ns = 0;
  int64_t execution_time_ns = 0;
  int64_t history_length = 0;
  // Custom and settable system attributes; may be null.
  const temporal::api::common::v1::SearchAttributes* search_attributes = nullptr;
};

// Supports, over the system attributes (WorkflowId, RunId, WorkflowType,
// ExecutionStatus, TaskQueue, StartTime, CloseTime, ExecutionTime,
// HistoryLength, ...) and the namespace's custom attributes:
// `=`, `!=`, `<`, `<=`, `>`, `>=`, `IN (...)`, `NOT IN (...)`,
// `BETWEEN a AND b`, `STARTS_WITH 'p'` (keywords), `IS [NOT] NULL`, AND, OR
// and parentheses. Values are quoted strings, numbers or true/false, checked
// against the attribute's type (Datetime values in RFC 3339). A KeywordList
// `=` matches when the list contains the value; Text compares whole values.
// A run without the attribute matches only `IS NULL` (SQL semantics). A
// trailing ORDER BY is accepted and ignored (results come newest first).
// Anything else (unknown attribute, bad value) is INVALID_ARGUMENT, as the
// real server rejects it.
class ListFilter {
 public:
  static absl::StatusOr<ListFilter> Parse(std::string_view query,
                                          const SearchAttributeTypes& custom = {});
  bool Matches(const ExecutionFields& fields) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;  // null: match everything
};

}  // namespace temporalio::server::visibility

#endif  // TEMPORALIO_SERVER_VISIBILITY_LIST_FILTER_H_
