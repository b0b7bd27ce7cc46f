#include "temporalio/converter/data_converter.h"

#include <utility>

namespace temporalio::converter {
namespace {

std::vector<Payload> Take(Payloads* payloads) {
  std::vector<Payload> out;
  out.reserve(payloads->payloads_size());
  for (Payload& p : *payloads->mutable_payloads()) out.push_back(std::move(p));
  payloads->clear_payloads();
  return out;
}

void Put(std::vector<Payload> in, Payloads* payloads) {
  for (Payload& p : in) *payloads->add_payloads() = std::move(p);
}

void CheckCount(std::size_t before, std::size_t after) {
  if (before != after) {
    throw ConverterError("payload codec returned " + std::to_string(after) + " payloads for " +
                         std::to_string(before));
  }
}

// Applies `fn` to every Payloads/Payload inside a failure chain.
template <class PayloadsFn, class PayloadFn>
void ForEachFailurePayloads(Failure* failure, const PayloadsFn& on_payloads,
                            const PayloadFn& on_payload) {
  for (Failure* f = failure; f != nullptr; f = f->has_cause() ? f->mutable_cause() : nullptr) {
    if (f->has_encoded_attributes()) on_payload(f->mutable_encoded_attributes());
    if (f->has_application_failure_info() && f->application_failure_info().has_details()) {
      on_payloads(f->mutable_application_failure_info()->mutable_details());
    }
    if (f->has_timeout_failure_info() && f->timeout_failure_info().has_last_heartbeat_details()) {
      on_payloads(f->mutable_timeout_failure_info()->mutable_last_heartbeat_details());
    }
    if (f->has_canceled_failure_info() && f->canceled_failure_info().has_details()) {
      on_payloads(f->mutable_canceled_failure_info()->mutable_details());
    }
    if (f->has_reset_workflow_failure_info() &&
        f->reset_workflow_failure_info().has_last_heartbeat_details()) {
      on_payloads(f->mutable_reset_workflow_failure_info()->mutable_last_heartbeat_details());
    }
  }
}

}  // namespace

const DataConverter& DataConverter::Default() {
  static const DataConverter* const kConverter = new DataConverter();
  return *kConverter;
}

void DataConverter::Encode(Payloads* payloads) const {
  if (codecs.empty()) return;
  std::vector<Payload> items = Take(payloads);
  for (const auto& codec : codecs) {
    const std::size_t n = items.size();
    items = codec->Encode(std::move(items));
    CheckCount(n, items.size());
  }
  Put(std::move(items), payloads);
}

void DataConverter::Decode(Payloads* payloads) const {
  if (codecs.empty()) return;
  std::vector<Payload> items = Take(payloads);
  for (auto it = codecs.rbegin(); it != codecs.rend(); ++it) {
    const std::size_t n = items.size();
    items = (*it)->Decode(std::move(items));
    CheckCount(n, items.size());
  }
  Put(std::move(items), payloads);
}

void DataConverter::Encode(Payload* payload) const {
  if (codecs.empty()) return;
  Payloads one;
  *one.add_payloads() = std::move(*payload);
  Encode(&one);
  *payload = std::move(*one.mutable_payloads(0));
}

void DataConverter::Decode(Payload* payload) const {
  if (codecs.empty()) return;
  Payloads one;
  *one.add_payloads() = std::move(*payload);
  Decode(&one);
  *payload = std::move(*one.mutable_payloads(0));
}

void DataConverter::EncodeFailure(Failure* failure) const {
  if (codecs.empty()) return;
  ForEachFailurePayloads(
      failure, [this](Payloads* p) { Encode(p); }, [this](Payload* p) { Encode(p); });
}

void DataConverter::DecodeFailure(Failure* failure) const {
  if (codecs.empty()) return;
  ForEachFailurePayloads(
      failure, [this](Payloads* p) { Decode(p); }, [this](Payload* p) { Decode(p); });
}

}  // namespace temporalio::converter
