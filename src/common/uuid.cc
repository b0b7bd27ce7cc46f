#include "common/uuid.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>

namespace temporalio::common {

namespace {

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return rng;
}

std::string Format(uint64_t hi, uint64_t lo) {
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace

std::string NewUuid() {
  const uint64_t hi = (Rng()() & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  return Format(hi, Rng()());
}

std::string NewTimeOrderedUuid() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const uint64_t hi = (static_cast<uint64_t>(ms) << 16) | 0x7000ULL |  // version 7
                      (Rng()() & 0x0FFFULL);
  return Format(hi, Rng()());
}

}  // namespace temporalio::common
