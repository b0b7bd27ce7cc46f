// DataConverter: everything that turns values and errors into wire payloads
// and back — a PayloadConverter (typed values), a FailureConverter
// (exceptions) and a chain of PayloadCodecs (bytes).
//
// Conversion and coding are separate steps, as in the other SDKs: callers
// convert values with ToPayload/ToPayloads and then run Encode on the
// payloads that go on the wire (and Decode before FromPayload on the way in).
//
// Codecs are applied in order on Encode and in reverse order on Decode: put
// compression before encryption. A DataConverter is a value type; it is
// immutable in use and safe to share between threads once built.
#ifndef TEMPORALIO_CONVERTER_DATA_CONVERTER_H_
#define TEMPORALIO_CONVERTER_DATA_CONVERTER_H_

#include <memory>
#include <tuple>
#include <vector>

#include "temporalio/converter/failure_converter.h"
#include "temporalio/converter/payload_codec.h"
#include "temporalio/converter/payload_converter.h"

namespace temporalio::converter {

struct DataConverter {
  PayloadConverter payload_converter;
  // Never null in a valid DataConverter.
  std::shared_ptr<const FailureConverter> failure_converter =
      std::make_shared<const FailureConverter>();
  std::vector<std::shared_ptr<const PayloadCodec>> codecs;

  static const DataConverter& Default();

  template <class T>
  Payload ToPayload(const T& value) const {
    return payload_converter.ToPayload(value);
  }
  template <class T>
  T FromPayload(const Payload& payload) const {
    return payload_converter.FromPayload<T>(payload);
  }
  template <class... Ts>
  Payloads ToPayloads(const Ts&... values) const {
    return payload_converter.ToPayloads(values...);
  }
  template <class... Ts>
  std::tuple<Ts...> FromPayloads(const Payloads& payloads) const {
    return payload_converter.FromPayloads<Ts...>(payloads);
  }

  Failure ToFailure(std::exception_ptr error) const { return failure_converter->ToFailure(error); }
  std::exception_ptr FromFailure(const Failure& failure) const {
    return failure_converter->FromFailure(failure);
  }

  // Run the codec chain in place. Throw what the codecs throw
  // (EncodeError/DecodeError); on error the argument is left unspecified.
  void Encode(Payloads* payloads) const;
  void Decode(Payloads* payloads) const;
  void Encode(Payload* payload) const;
  void Decode(Payload* payload) const;
  // Every payload of a failure chain: details, heartbeat details and
  // encoded_attributes, at every level.
  void EncodeFailure(Failure* failure) const;
  void DecodeFailure(Failure* failure) const;
};

}  // namespace temporalio::converter

#endif  // TEMPORALIO_CONVERTER_DATA_CONVERTER_H_
