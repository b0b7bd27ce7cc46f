// Names the calling thread (as shown by top -H, perf and gdb), so profiles
// tell the store's writer from its syncer and from gRPC's threads.
#ifndef TEMPORALIO_COMMON_THREAD_NAME_H_
#define TEMPORALIO_COMMON_THREAD_NAME_H_

#include <pthread.h>

namespace temporalio::common {

// `name` is cut to 15 characters by the kernel.
inline void SetCurrentThreadName(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_THREAD_NAME_H_
