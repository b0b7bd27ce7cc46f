// Private to the history engine: time/uuid helpers shared by its sources.
#ifndef TEMPORALIO_SERVER_HISTORY_ENGINE_INTERNAL_H_
#define TEMPORALIO_SERVER_HISTORY_ENGINE_INTERNAL_H_

#include <chrono>
#include <string>

#include "common/clock.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace temporalio::server::history {

inline common::TimePoint FromProto(const google::protobuf::Timestamp& ts) {
  return common::TimePoint(std::chrono::duration_cast<common::TimePoint::duration>(
      std::chrono::seconds(ts.seconds()) + std::chrono::nanoseconds(ts.nanos())));
}

inline void ToProto(common::TimePoint tp, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

inline std::chrono::nanoseconds FromProto(const google::protobuf::Duration& d) {
  return std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
}

inline void ToProto(std::chrono::nanoseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1000000000);
  out->set_nanos(static_cast<int32_t>(d.count() % 1000000000));
}

inline bool IsSet(const google::protobuf::Duration& d) { return d.seconds() > 0 || d.nanos() > 0; }
inline bool IsSet(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

}  // namespace temporalio::server::history

#endif  // TEMPORALIO_SERVER_HISTORY_ENGINE_INTERNAL_H_
