// Typed values <-> temporal.api.common.v1.Payload, compatible with the other
// Temporal SDKs (same encodings, same metadata, same JSON bytes for the same
// values as the TypeScript SDK, except as noted below).
//
// Encoding picks the first rule that matches the static type T:
//   1. temporal::api::common::v1::Payload: passed through untouched (raw escape hatch).
//   2. A specialization of PayloadTraits<T> (user customization point).
//   3. std::nullptr_t, std::monostate, an empty std::optional -> "binary/null", no data.
//   4. std::optional<U> holding a value -> the payload of the value.
//   5. std::vector<std::byte> -> "binary/plain", the bytes as data.
//      (std::vector<uint8_t> is a JSON array of numbers, as in nlohmann-json.)
//   6. Any google::protobuf::Message -> "json/protobuf" (protobuf JSON mapping,
//      camelCase field names, no whitespace) with metadata "messageType" = the
//      full message name; or "binary/protobuf" when PayloadConverterOptions
//      say so.
//   7. Anything else nlohmann-json can serialize (numbers, bool, strings,
//      containers, user types with to_json/from_json or
//      NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE) -> "json/plain", compact JSON.
//      JSON objects are written with keys in sorted order (nlohmann::json
//      stores objects sorted): the TypeScript SDK keeps insertion order, so the
//      bytes match only when the struct's fields are declared in sorted order;
//      decoding does not depend on key order. Doubles are written as
//      JSON.stringify writes numbers ("3" not "3.0", "1e-7", "1e+21").
// Decoding into T requires the payload's metadata "encoding" to fit the rule
// above (json/plain "null" also decodes into nullptr_t/monostate/empty
// optional; proto messages accept json/protobuf and binary/protobuf); any
// mismatch or malformed data throws DecodeError.
//
// Thread safety: PayloadConverter is immutable; all methods are const and
// safe to call from any thread.
#ifndef TEMPORALIO_CONVERTER_PAYLOAD_CONVERTER_H_
#define TEMPORALIO_CONVERTER_PAYLOAD_CONVERTER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "temporal/api/common/v1/message.pb.h"
#include "temporalio/errors.h"

namespace temporalio::converter {

using Payload = temporal::api::common::v1::Payload;
using Payloads = temporal::api::common::v1::Payloads;

inline constexpr char kMetadataEncoding[] = "encoding";
inline constexpr char kMetadataMessageType[] = "messageType";
inline constexpr char kEncodingNull[] = "binary/null";
inline constexpr char kEncodingRaw[] = "binary/plain";
inline constexpr char kEncodingProtobufJson[] = "json/protobuf";
inline constexpr char kEncodingProtobuf[] = "binary/protobuf";
inline constexpr char kEncodingJson[] = "json/plain";

// Base of the data conversion errors.
class ConverterError : public TemporalError {
 public:
  using TemporalError::TemporalError;
};
// A value could not be turned into a payload (e.g. a string that is not valid UTF-8).
class EncodeError : public ConverterError {
 public:
  using ConverterError::ConverterError;
};
// A payload could not be turned into the requested type (wrong encoding,
// malformed data, JSON of another shape, missing argument).
class DecodeError : public ConverterError {
 public:
  using ConverterError::ConverterError;
};

// Customization point: specialize for a type to take over its conversion.
//   template <> struct temporalio::converter::PayloadTraits<Money> {
//     static Payload ToPayload(const Money& m);
//     static Money FromPayload(const Payload& p);   // throws DecodeError
//   };
template <class T>
struct PayloadTraits {};

// The payload's metadata "encoding", or "" when absent.
std::string_view EncodingOf(const Payload& payload);

enum class ProtoEncoding { kJson, kBinary };

struct PayloadConverterOptions {
  // How protobuf messages are encoded (both are accepted when decoding).
  ProtoEncoding proto_encoding = ProtoEncoding::kJson;
};

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class U>
struct IsOptional<std::optional<U>> : std::true_type {};
template <class T>
concept HasPayloadTraits = requires(const T& value, const Payload& payload) {
  { PayloadTraits<T>::ToPayload(value) } -> std::same_as<Payload>;
  { PayloadTraits<T>::FromPayload(payload) } -> std::same_as<T>;
};
template <class T>
concept IsNull = std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::monostate>;

std::string TypeName(const std::type_info& type);  // demangled
Payload NullPayload();
bool IsNullPayload(const Payload& payload);  // binary/null, or json/plain "null"
Payload BytesToPayload(const std::vector<std::byte>& bytes);
std::vector<std::byte> BytesFromPayload(const Payload& payload);
Payload ProtoToPayload(const google::protobuf::Message& message, ProtoEncoding encoding);
void ProtoFromPayload(const Payload& payload, google::protobuf::Message* message);
// Serializes compactly (see the header comment); throws EncodeError.
Payload JsonToPayload(const nlohmann::json& json);
// Requires json/plain; throws DecodeError naming `type` on mismatch or bad JSON.
nlohmann::json JsonFromPayload(const Payload& payload, const std::type_info& type);
// std::string without building a JSON document: the same bytes and errors as
// JsonToPayload(nlohmann::json(value)) / JsonFromPayload(...).get<std::string>().
Payload StringToJsonPayload(const std::string& value);
std::string StringFromJsonPayload(const Payload& payload);
[[noreturn]] void ThrowDecode(const Payload& payload, const std::type_info& type,
                              std::string_view reason);
}  // namespace detail

class PayloadConverter {
 public:
  explicit PayloadConverter(PayloadConverterOptions options = {}) : options_(options) {}

  // Throws EncodeError when the value cannot be serialized.
  template <class T>
  Payload ToPayload(const T& value) const;

  // Throws DecodeError (see the header comment).
  template <class T>
  T FromPayload(const Payload& payload) const;

  // One payload per value, in order (workflow/activity arguments).
  template <class... Ts>
  Payloads ToPayloads(const Ts&... values) const {
    Payloads payloads;
    ((*payloads.add_payloads() = ToPayload(values)), ...);
    return payloads;
  }

  // The inverse of ToPayloads. Extra payloads are ignored (a caller may send
  // arguments a newer definition added); a missing payload decodes as an
  // empty std::optional when the type is one, and throws DecodeError otherwise.
  template <class... Ts>
  std::tuple<Ts...> FromPayloads(const Payloads& payloads) const {
    return FromPayloadsImpl<Ts...>(payloads, std::index_sequence_for<Ts...>{});
  }

  const PayloadConverterOptions& options() const noexcept { return options_; }

 private:
  template <class... Ts, std::size_t... Is>
  std::tuple<Ts...> FromPayloadsImpl(const Payloads& payloads, std::index_sequence<Is...>) const {
    return std::tuple<Ts...>{FromPayloadAt<Ts>(payloads, Is)...};
  }
  template <class T>
  T FromPayloadAt(const Payloads& payloads, std::size_t index) const {
    if (static_cast<int>(index) < payloads.payloads_size()) {
      return FromPayload<T>(payloads.payloads(static_cast<int>(index)));
    }
    if constexpr (detail::IsOptional<T>::value) {
      return std::nullopt;
    } else {
      throw DecodeError("missing payload for argument " + std::to_string(index) + " of type " +
                        detail::TypeName(typeid(T)) + " (got " +
                        std::to_string(payloads.payloads_size()) + " payloads)");
    }
  }

  PayloadConverterOptions options_;
};

template <class T>
Payload PayloadConverter::ToPayload(const T& value) const {
  if constexpr (std::is_same_v<T, Payload>) {
    return value;
  } else if constexpr (detail::HasPayloadTraits<T>) {
    return PayloadTraits<T>::ToPayload(value);
  } else if constexpr (detail::IsNull<T>) {
    return detail::NullPayload();
  } else if constexpr (detail::IsOptional<T>::value) {
    return value.has_value() ? ToPayload(*value) : detail::NullPayload();
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    return detail::BytesToPayload(value);
  } else if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    return detail::ProtoToPayload(value, options_.proto_encoding);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return detail::StringToJsonPayload(value);
  } else {
    static_assert(std::is_constructible_v<nlohmann::json, const T&>,
                  "temporalio: no payload conversion for this type; define nlohmann-json "
                  "to_json/from_json (e.g. NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE) or specialize "
                  "temporalio::converter::PayloadTraits");
    return detail::JsonToPayload(nlohmann::json(value));
  }
}

template <class T>
T PayloadConverter::FromPayload(const Payload& payload) const {
  if constexpr (std::is_same_v<T, Payload>) {
    return payload;
  } else if constexpr (detail::HasPayloadTraits<T>) {
    return PayloadTraits<T>::FromPayload(payload);
  } else if constexpr (detail::IsNull<T>) {
    if (!detail::IsNullPayload(payload)) detail::ThrowDecode(payload, typeid(T), "expected null");
    return T{};
  } else if constexpr (detail::IsOptional<T>::value) {
    if (detail::IsNullPayload(payload)) return std::nullopt;
    return FromPayload<typename T::value_type>(payload);
  } else if constexpr (std::is_same_v<T, std::vector<std::byte>>) {
    return detail::BytesFromPayload(payload);
  } else if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    T message;
    detail::ProtoFromPayload(payload, &message);
    return message;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return detail::StringFromJsonPayload(payload);
  } else {
    nlohmann::json json = detail::JsonFromPayload(payload, typeid(T));
    try {
      return json.get<T>();
    } catch (const nlohmann::json::exception& e) {
      detail::ThrowDecode(payload, typeid(T), e.what());
    }
  }
}

// The default converter (default options).
const PayloadConverter& DefaultPayloadConverter();

// Shorthands using DefaultPayloadConverter().
template <class T>
Payload ToPayload(const T& value) {
  return DefaultPayloadConverter().ToPayload(value);
}
template <class T>
T FromPayload(const Payload& payload) {
  return DefaultPayloadConverter().FromPayload<T>(payload);
}
template <class... Ts>
Payloads ToPayloads(const Ts&... values) {
  return DefaultPayloadConverter().ToPayloads(values...);
}
template <class... Ts>
std::tuple<Ts...> FromPayloads(const Payloads& payloads) {
  return DefaultPayloadConverter().FromPayloads<Ts...>(payloads);
}

}  // namespace temporalio::converter

#ifndef TEMPORALIO_NO_JSON_OPTIONAL
// nlohmann-json 3.11 has no std::optional support: an empty optional is JSON
// null, so struct fields may be std::optional. Define TEMPORALIO_NO_JSON_OPTIONAL
// if your code provides its own adl_serializer<std::optional<T>>.
namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value.has_value()) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.get<T>();
    }
  }
};
}  // namespace nlohmann
#endif

#endif  // TEMPORALIO_CONVERTER_PAYLOAD_CONVERTER_H_
