// Must NOT compile: an activity called with the wrong argument types.
#include <string>

#include "temporalio/workflow/definitions.h"

std::string Greet(const std::string& name) { return name; }
inline constexpr temporalio::ActivityDef<&Greet> kGreet{"Greet"};
temporalio::workflow::Task<std::string> Bad() { return ExecuteActivity(kGreet, 42, {}); }
