// Must NOT compile: workflow code may not co_await a non-workflow awaitable.
#include <coroutine>

#include "temporalio/workflow/task.h"

temporalio::workflow::Task<void> Bad() { co_await std::suspend_always{}; }
