#ifndef TEMPORALIO_COMMON_UUID_H_
#define TEMPORALIO_COMMON_UUID_H_

#include <string>

namespace temporalio::common {

// A random RFC 4122 version-4 UUID (request ids, run ids). Thread-safe.
// Not for workflow code, which must use the deterministic workflow::Uuid4().
std::string NewUuid();

// A random RFC 9562 version-7 UUID: a millisecond Unix timestamp, then 74
// random bits. For run ids: ids made close in time sort close together, so the
// store's indexes on them take each new run on their last pages instead of on
// a random page of an ever larger index. Thread-safe.
std::string NewTimeOrderedUuid();

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_UUID_H_
