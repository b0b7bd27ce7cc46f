#include "temporalio/converter/payload_converter.h"

#include <cxxabi.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>

#include <google/protobuf/util/json_util.h>

namespace temporalio::converter {

std::string_view EncodingOf(const Payload& payload) {
  auto it = payload.metadata().find(kMetadataEncoding);
  return it == payload.metadata().end() ? std::string_view() : std::string_view(it->second);
}

const PayloadConverter& DefaultPayloadConverter() {
  static const PayloadConverter* const kConverter = new PayloadConverter();
  return *kConverter;
}

namespace detail {
namespace {

Payload MakePayload(std::string_view encoding, std::string data) {
  Payload payload;
  (*payload.mutable_metadata())[kMetadataEncoding] = std::string(encoding);
  payload.set_data(std::move(data));
  return payload;
}

void RequireEncoding(const Payload& payload, std::string_view encoding,
                     const std::type_info& type) {
  if (EncodingOf(payload) != encoding) {
    ThrowDecode(payload, type, "expected encoding " + std::string(encoding));
  }
}

// Appends `value` formatted as ECMAScript Number::toString does (what
// JSON.stringify writes): shortest round-trip digits, integers up to 1e21
// without exponent or ".0", exponent form "1e-7" / "1.5e+300" otherwise.
void AppendJsNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");  // JSON.stringify(NaN) === "null"
    return;
  }
  if (value == 0) {
    out->push_back('0');  // also -0
    return;
  }
  if (value < 0) {
    out->push_back('-');
    value = -value;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  (void)ec;  // 64 bytes always suffice
  // buf = d[.ddd]e±XX
  const std::string_view sci(buf, end - buf);
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int k = static_cast<int>(digits.size());
  const int n =
      std::atoi(std::string(sci.substr(e_pos + 1)).c_str()) + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out->append(digits);
    out->append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, 0, n);
    out->push_back('.');
    out->append(digits, n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<std::size_t>(-n), '0');
    out->append(digits);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    out->append(std::to_string(std::abs(n - 1)));
  }
}

// Compact JSON like JSON.stringify: no whitespace, numbers as above, strings
// escaped by nlohmann (same escapes as JSON.stringify for valid UTF-8).
// Throws nlohmann::json::type_error on invalid UTF-8.
void AppendJson(const nlohmann::json& json, std::string* out) {
  switch (json.type()) {
    case nlohmann::json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, item] : json.items()) {
        if (!first) out->push_back(',');
        first = false;
        out->append(
            nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict));
        out->push_back(':');
        AppendJson(item, out);
      }
      out->push_back('}');
      break;
    }
    case nlohmann::json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : json) {
        if (!first) out->push_back(',');
        first = false;
        AppendJson(item, out);
      }
      out->push_back(']');
      break;
    }
    case nlohmann::json::value_t::number_float:
      AppendJsNumber(json.get<double>(), out);
      break;
    default:
      out->append(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict));
      break;
  }
}

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF) starting at s[i] with a lead byte >= 0x80;
// 0 when it is not well formed.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  const auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    const unsigned b = byte(k);
    return i + k < s.size() && b >= lo && b <= hi;
  };
  const unsigned c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

Payload StringToJsonPayload(const std::string& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string data;
  data.reserve(value.size() + 2);
  data.push_back('"');
  // Runs of characters that need no escape are copied in one append.
  size_t run = 0;
  for (size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(value, i);
      if (len == 0) {
        throw EncodeError("cannot encode value as JSON: invalid UTF-8 byte at index " +
                          std::to_string(i));
      }
      i += len;  // well-formed UTF-8 is copied as is
      continue;
    }
    data.append(value, run, i - run);
    switch (c) {  // the escapes of nlohmann::json::dump and JSON.stringify
      case '"':
        data.append("\\\"");
        break;
      case '\\':
        data.append("\\\\");
        break;
      case '\b':
        data.append("\\b");
        break;
      case '\f':
        data.append("\\f");
        break;
      case '\n':
        data.append("\\n");
        break;
      case '\r':
        data.append("\\r");
        break;
      case '\t':
        data.append("\\t");
        break;
      default:
        data.append("\\u00");
        data.push_back(kHex[c >> 4]);
        data.push_back(kHex[c & 0xF]);
    }
    run = ++i;
  }
  data.append(value, run, value.size() - run);
  data.push_back('"');
  return MakePayload(kEncodingJson, std::move(data));
}

std::string StringFromJsonPayload(const Payload& payload) {
  RequireEncoding(payload, kEncodingJson, typeid(std::string));
  const std::string& data = payload.data();
  if (data.size() >= 2 && data.front() == '"' && data.back() == '"') {
    // Fast path: a string literal without escapes (valid UTF-8, no control
    // characters) is its own value. Anything else goes through the parser.
    const std::string_view body(data.data() + 1, data.size() - 2);
    bool plain = true;
    for (size_t i = 0; plain && i < body.size();) {
      const auto c = static_cast<unsigned char>(body[i]);
      if (c >= 0x80) {
        const size_t len = Utf8SequenceLength(body, i);
        plain = len != 0;
        i += len;
      } else {
        plain = c >= 0x20 && c != '"' && c != '\\';
        ++i;
      }
    }
    if (plain) return std::string(body);
  }
  nlohmann::json json = JsonFromPayload(payload, typeid(std::string));
  try {
    return json.get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    ThrowDecode(payload, typeid(std::string), e.what());
  }
}

std::string TypeName(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(type.name());
}

void ThrowDecode(const Payload& payload, const std::type_info& type, std::string_view reason) {
  std::string encoding(EncodingOf(payload));
  throw DecodeError("cannot decode payload with encoding '" + encoding + "' into " +
                    TypeName(type) + ": " + std::string(reason));
}

Payload NullPayload() { return MakePayload(kEncodingNull, {}); }

bool IsNullPayload(const Payload& payload) {
  const std::string_view encoding = EncodingOf(payload);
  return encoding == kEncodingNull || (encoding == kEncodingJson && payload.data() == "null");
}

Payload BytesToPayload(const std::vector<std::byte>& bytes) {
  return MakePayload(kEncodingRaw,
                     std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::vector<std::byte> BytesFromPayload(const Payload& payload) {
  RequireEncoding(payload, kEncodingRaw, typeid(std::vector<std::byte>));
  const auto* begin = reinterpret_cast<const std::byte*>(payload.data().data());
  return std::vector<std::byte>(begin, begin + payload.data().size());
}

Payload ProtoToPayload(const google::protobuf::Message& message, ProtoEncoding encoding) {
  Payload payload;
  if (encoding == ProtoEncoding::kBinary) {
    std::string data;
    if (!message.SerializeToString(&data)) {
      throw EncodeError("cannot serialize " + message.GetTypeName());
    }
    payload = MakePayload(kEncodingProtobuf, std::move(data));
  } else {
    std::string data;
    google::protobuf::util::JsonPrintOptions options;  // camelCase, compact
    auto status = google::protobuf::util::MessageToJsonString(message, &data, options);
    if (!status.ok()) {
      throw EncodeError("cannot encode " + message.GetTypeName() +
                        " as JSON: " + std::string(status.message()));
    }
    payload = MakePayload(kEncodingProtobufJson, std::move(data));
  }
  (*payload.mutable_metadata())[kMetadataMessageType] = message.GetTypeName();
  return payload;
}

void ProtoFromPayload(const Payload& payload, google::protobuf::Message* message) {
  const std::string_view encoding = EncodingOf(payload);
  const std::string type = message->GetTypeName();
  auto fail = [&](const std::string& reason) -> void {
    throw DecodeError("cannot decode payload with encoding '" + std::string(encoding) + "' into " +
                      type + ": " + reason);
  };
  if (encoding == kEncodingProtobufJson) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // a newer sender may have added fields
    auto status = google::protobuf::util::JsonStringToMessage(payload.data(), message, options);
    if (!status.ok()) fail(std::string(status.message()));
  } else if (encoding == kEncodingProtobuf) {
    if (!message->ParseFromString(payload.data())) fail("malformed protobuf");
  } else {
    fail("expected encoding json/protobuf or binary/protobuf");
  }
}

Payload JsonToPayload(const nlohmann::json& json) {
  try {
    std::string data;
    AppendJson(json, &data);
    return MakePayload(kEncodingJson, std::move(data));
  } catch (const nlohmann::json::exception& e) {
    throw EncodeError(std::string("cannot encode value as JSON: ") + e.what());
  }
}

nlohmann::json JsonFromPayload(const Payload& payload, const std::type_info& type) {
  RequireEncoding(payload, kEncodingJson, type);
  nlohmann::json json = nlohmann::json::parse(payload.data(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) ThrowDecode(payload, type, "malformed JSON");
  return json;
}

}  // namespace detail
}  // namespace temporalio::converter
