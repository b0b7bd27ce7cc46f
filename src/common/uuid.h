#ifndef TEMPORALIO_COMMON_UUID_H_
#define TEMPORALIO_COMMON_UUID_H_

#include <string>

namespace temporalio::common {

// A random RFC 4122 version-4 UUID (request ids, run ids). Thread-safe.
// Not for workflow code, which must use the deterministic workflow::Uuid4().
std::string NewUuid();

}  // namespace temporalio::common

#endif  // TEMPORALIO_COMMON_UUID_H_
