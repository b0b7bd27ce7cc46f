// Must NOT compile: a typed workflow started with the wrong argument types.
#include <string>

#include "temporalio/client/client.h"
#include "temporalio/workflow/definitions.h"

class Greeter {
 public:
  temporalio::workflow::Task<std::string> Run(std::string name) { co_return name; }
};
inline constexpr temporalio::WorkflowDef<&Greeter::Run> kGreeter{"Greeter"};

void Bad(const temporalio::client::Client& client) {
  (void)client.StartWorkflow(kGreeter, {.id = "x", .task_queue = "q"}, 42);
}
