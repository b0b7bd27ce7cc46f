// Heap figures and memory release for whichever malloc the process runs on:
// jemalloc (linked into the `temporal` binary, or preloaded) or glibc's.
#ifndef TEMPORALIO_COMMON_MALLOC_CONTROL_H_
#define TEMPORALIO_COMMON_MALLOC_CONTROL_H_

#include <cstddef>

namespace temporalio::common {

// "jemalloc" or "glibc".
const char* MallocName();
// Bytes in live allocations (jemalloc's stats.allocated; glibc's mallinfo2
// in-use bytes, mmapped chunks included).
size_t HeapAllocatedBytes();
// Gives freed memory back to the OS now rather than when the allocator's own
// policy would (jemalloc purges after ~10 s; glibc keeps freed small chunks).
void ReleaseFreeHeapMemory();

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_MALLOC_CONTROL_H_
