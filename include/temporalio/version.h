// Version of the temporalio C++ SDK, server and CLI (one release train).
#ifndef TEMPORALIO_VERSION_H_
#define TEMPORALIO_VERSION_H_

#include <string_view>

namespace temporalio {

// Semantic version of this build, e.g. "0.1.0".
std::string_view Version();

// Name sent to servers as the `client-name` header (as the official SDKs do).
inline constexpr std::string_view kSdkName = "temporal-cpp";

}  // namespace temporalio

#endif  // TEMPORALIO_VERSION_H_
