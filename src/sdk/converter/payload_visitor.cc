#include "sdk/converter/payload_visitor.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <vector>

namespace temporalio::converter::internal {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

template <class OnPayloads, class OnPayload>
void Visit(Message* message, const OnPayloads& on_payloads, const OnPayload& on_payload) {
  const auto* payloads_type = Payloads::descriptor();
  const auto* payload_type = Payload::descriptor();
  const std::string& name = message->GetDescriptor()->full_name();
  if (message->GetDescriptor() == payloads_type) {
    on_payloads(static_cast<Payloads*>(message));
    return;
  }
  if (message->GetDescriptor() == payload_type) {
    on_payload(static_cast<Payload*>(message));
    return;
  }
  if (name == "temporal.api.common.v1.SearchAttributes" ||
      name == "temporal.api.common.v1.Header") {
    return;
  }
  const auto* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      int n = reflection->FieldSize(*message, field);
      for (int i = 0; i < n; ++i) {
        Visit(reflection->MutableRepeatedMessage(message, field, i), on_payloads, on_payload);
      }
    } else {
      Visit(reflection->MutableMessage(message, field), on_payloads, on_payload);
    }
  }
}

}  // namespace

void EncodeAll(const DataConverter& dc, google::protobuf::Message* message) {
  if (dc.codecs.empty()) return;
  Visit(
      message, [&dc](Payloads* p) { dc.Encode(p); }, [&dc](Payload* p) { dc.Encode(p); });
}

void DecodeAll(const DataConverter& dc, google::protobuf::Message* message) {
  if (dc.codecs.empty()) return;
  Visit(
      message, [&dc](Payloads* p) { dc.Decode(p); }, [&dc](Payload* p) { dc.Decode(p); });
}

}  // namespace temporalio::converter::internal
