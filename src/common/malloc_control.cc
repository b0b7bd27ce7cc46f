#include "common/malloc_control.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdint>

namespace temporalio::common {
namespace {

using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

// jemalloc's control entry point when jemalloc is the process's malloc;
// looked up at run time so the libraries work under either allocator.
MallctlFn Mallctl() {
  static const MallctlFn kMallctl = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  return kMallctl;
}

// jemalloc 5's MALLCTL_ARENAS_ALL: "every arena" in arena.<i>.* names.
constexpr const char* kPurgeAllArenas = "arena.4096.purge";

}  // namespace

const char* MallocName() { return Mallctl() != nullptr ? "jemalloc" : "glibc"; }

size_t HeapAllocatedBytes() {
  if (MallctlFn mallctl = Mallctl()) {
    // Statistics are snapshots refreshed by advancing the epoch.
    uint64_t epoch = 1;
    size_t size = sizeof(epoch);
    mallctl("epoch", &epoch, &size, &epoch, size);
    size_t allocated = 0;
    size = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) return 0;
    return allocated;
  }
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

void ReleaseFreeHeapMemory() {
  if (MallctlFn mallctl = Mallctl()) {
    mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

}  // namespace temporalio::common
