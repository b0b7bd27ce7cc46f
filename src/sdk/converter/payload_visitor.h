// Internal: applies a DataConverter's codecs to every payload of a proto
// message (history events, commands, query results), as the other SDKs'
// payload visitors do. Search attributes and headers are left alone (the
// server indexes search attributes; headers are interceptor data).
#ifndef TEMPORALIO_SDK_CONVERTER_PAYLOAD_VISITOR_H_
#define TEMPORALIO_SDK_CONVERTER_PAYLOAD_VISITOR_H_

#include <google/protobuf/message.h>

#include "temporalio/converter/data_converter.h"

namespace temporalio::converter::internal {

// Run the codec chain (Encode / Decode) on every Payloads and Payload field
// reachable from `message`, including failures' details and
// encoded_attributes. No-op without codecs. Throws what the codecs throw.
void EncodeAll(const DataConverter& dc, google::protobuf::Message* message);
void DecodeAll(const DataConverter& dc, google::protobuf::Message* message);

}  // namespace temporalio::converter::internal

#endif  // TEMPORALIO_SDK_CONVERTER_PAYLOAD_VISITOR_H_
