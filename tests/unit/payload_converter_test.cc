// Payload converter: encodings, golden bytes from the TypeScript SDK, typed
// round trips and decode errors.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "temporal/api/common/v1/message.pb.h"
#include "temporalio/converter/payload_converter.h"

namespace {

namespace conv = temporalio::converter;
using conv::Payload;
using google::protobuf::util::MessageDifferencer;

struct Order {
  std::string id;
  int qty = 0;
  bool operator==(const Order&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, qty)

struct WithOptional {
  std::string name;
  std::optional<int> size;
  bool operator==(const WithOptional&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WithOptional, name, size)

std::string Meta(const Payload& p, const std::string& key) {
  auto it = p.metadata().find(key);
  return it == p.metadata().end() ? "<absent>" : it->second;
}

// Golden payloads printed by tests/converter_golden/payloads.js with
// @temporalio/common 1.24.0 (defaultPayloadConverter.toPayload(value)):
// {value, encoding, data}.
TEST(PayloadConverterGolden, MatchesTypeScriptSdkBytes) {
  struct Case {
    const char* name;
    Payload payload;
    std::string encoding;
    std::string data;
  };
  const std::vector<Case> cases = {
      {"string", conv::ToPayload(std::string("hello")), "json/plain", "\"hello\""},
      // 'h\u00e9llo \u{1F600} "q" \\ \n\t\u0001'
      {"string_unicode",
       conv::ToPayload(std::string("h\xc3\xa9llo \xf0\x9f\x98\x80 \"q\" \\ \n\t\x01")),
       "json/plain", "\"h\xc3\xa9llo \xf0\x9f\x98\x80 \\\"q\\\" \\\\ \\n\\t\\u0001\""},
      {"int", conv::ToPayload(42), "json/plain", "42"},
      {"negative", conv::ToPayload(-7), "json/plain", "-7"},
      {"double", conv::ToPayload(1.5), "json/plain", "1.5"},
      {"double_integral", conv::ToPayload(3.0), "json/plain", "3"},
      {"double_small", conv::ToPayload(0.1), "json/plain", "0.1"},
      {"exp_small", conv::ToPayload(1e-7), "json/plain", "1e-7"},
      {"exp_small2", conv::ToPayload(1.5e-7), "json/plain", "1.5e-7"},
      {"tiny", conv::ToPayload(0.000001), "json/plain", "0.000001"},
      {"exp_large", conv::ToPayload(1e21), "json/plain", "1e+21"},
      {"exp_huge", conv::ToPayload(-1.5e300), "json/plain", "-1.5e+300"},
      {"int_1e20", conv::ToPayload(1e20), "json/plain", "100000000000000000000"},
      {"frac", conv::ToPayload(123456789.125), "json/plain", "123456789.125"},
      {"neg_zero", conv::ToPayload(-0.0), "json/plain", "0"},
      // 'a/b\x7f\u2028\x1f\b\f\r'
      {"string_misc", conv::ToPayload(std::string("a/b\x7f\xe2\x80\xa8\x1f\b\f\r")), "json/plain",
       "\"a/b\x7f\xe2\x80\xa8\\u001f\\b\\f\\r\""},
      {"large", conv::ToPayload(int64_t{9007199254740991}), "json/plain", "9007199254740991"},
      {"bool", conv::ToPayload(true), "json/plain", "true"},
      {"object", conv::ToPayload(Order{"o-1", 2}), "json/plain", R"({"id":"o-1","qty":2})"},
      {"nested",
       conv::ToPayload(nlohmann::json{{"a", {1, 2, 3}}, {"b", {{"c", nullptr}, {"d", "x"}}}}),
       "json/plain", R"({"a":[1,2,3],"b":{"c":null,"d":"x"}})"},
      {"array", conv::ToPayload(nlohmann::json::array({1, "two", false})), "json/plain",
       R"([1,"two",false])"},
      {"empty_array", conv::ToPayload(std::vector<int>{}), "json/plain", "[]"},
      // TS `undefined` -> binary/null; C++ nullptr/monostate/empty optional map to it
      // (as Go nil, Java null, Python None do).
      {"undefined", conv::ToPayload(nullptr), "binary/null", ""},
      {"monostate", conv::ToPayload(std::monostate{}), "binary/null", ""},
      {"nullopt", conv::ToPayload(std::optional<int>()), "binary/null", ""},
      {"bytes",
       conv::ToPayload(
           std::vector<std::byte>{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{0xff}}),
       "binary/plain", std::string("\x00\x01\x02\xff", 4)},
      {"empty_string", conv::ToPayload(std::string()), "json/plain", "\"\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.payload.metadata_size(), 1);
    EXPECT_EQ(Meta(c.payload, "encoding"), c.encoding);
    EXPECT_EQ(c.payload.data(), c.data);
  }
  // TS: null -> json/plain "null". A C++ JSON null value does the same.
  Payload json_null = conv::ToPayload(nlohmann::json());
  EXPECT_EQ(Meta(json_null, "encoding"), "json/plain");
  EXPECT_EQ(json_null.data(), "null");
}

// @temporalio/common 1.24.0 DefaultPayloadConverterWithProtobufs, WorkflowExecution
// {workflowId: 'wf-1', runId: 'run-1'}.
TEST(PayloadConverterGolden, ProtobufJsonMatchesTypeScriptSdk) {
  temporal::api::common::v1::WorkflowExecution we;
  we.set_workflow_id("wf-1");
  we.set_run_id("run-1");
  Payload p = conv::ToPayload(we);
  EXPECT_EQ(p.metadata_size(), 2);
  EXPECT_EQ(Meta(p, "encoding"), "json/protobuf");
  EXPECT_EQ(Meta(p, "messageType"), "temporal.api.common.v1.WorkflowExecution");
  EXPECT_EQ(p.data(), R"({"workflowId":"wf-1","runId":"run-1"})");
  auto back = conv::FromPayload<temporal::api::common::v1::WorkflowExecution>(p);
  EXPECT_EQ(back.workflow_id(), "wf-1");
  EXPECT_EQ(back.run_id(), "run-1");
}

TEST(PayloadConverter, ProtobufBinaryOption) {
  conv::PayloadConverter binary({.proto_encoding = conv::ProtoEncoding::kBinary});
  temporal::api::common::v1::WorkflowType wt;
  wt.set_name("Order");
  Payload p = binary.ToPayload(wt);
  EXPECT_EQ(Meta(p, "encoding"), "binary/protobuf");
  EXPECT_EQ(Meta(p, "messageType"), "temporal.api.common.v1.WorkflowType");
  EXPECT_EQ(p.data(), wt.SerializeAsString());
  // Either proto encoding decodes with any converter.
  EXPECT_EQ(conv::FromPayload<temporal::api::common::v1::WorkflowType>(p).name(), "Order");
  EXPECT_THROW(conv::FromPayload<temporal::api::common::v1::WorkflowType>(conv::ToPayload(1)),
               conv::DecodeError);
}

TEST(PayloadConverter, RoundTrips) {
  EXPECT_EQ(conv::FromPayload<std::string>(conv::ToPayload(std::string("h\xc3\xa9"))), "h\xc3\xa9");
  EXPECT_EQ(conv::FromPayload<int>(conv::ToPayload(-12)), -12);
  EXPECT_EQ(conv::FromPayload<int64_t>(conv::ToPayload(int64_t{1} << 60)), int64_t{1} << 60);
  EXPECT_EQ(conv::FromPayload<uint64_t>(conv::ToPayload(~uint64_t{0})), ~uint64_t{0});
  EXPECT_DOUBLE_EQ(conv::FromPayload<double>(conv::ToPayload(2.5)), 2.5);
  EXPECT_DOUBLE_EQ(conv::FromPayload<double>(conv::ToPayload(3.0)), 3.0);  // written as "3"
  for (double d : {0.1, 1e-300, 5e-324, 1.7976931348623157e308, 1e20, 1e21, -2.5e-7}) {
    EXPECT_EQ(conv::FromPayload<double>(conv::ToPayload(d)), d) << d;
  }
  EXPECT_EQ(conv::FromPayload<bool>(conv::ToPayload(false)), false);
  EXPECT_EQ(conv::FromPayload<Order>(conv::ToPayload(Order{"o", 3})), (Order{"o", 3}));
  std::map<std::string, std::vector<int>> m = {{"a", {1}}, {"b", {}}};
  EXPECT_EQ((conv::FromPayload<std::map<std::string, std::vector<int>>>(conv::ToPayload(m))), m);
  std::vector<std::byte> bytes = {std::byte{0}, std::byte{0x80}};
  EXPECT_EQ(conv::FromPayload<std::vector<std::byte>>(conv::ToPayload(bytes)), bytes);
  // Optionals: empty -> binary/null, present -> the value's payload.
  EXPECT_EQ(conv::FromPayload<std::optional<int>>(conv::ToPayload(std::optional<int>())),
            std::nullopt);
  EXPECT_EQ(conv::ToPayload(std::optional<int>(5)).data(), "5");
  EXPECT_EQ(conv::FromPayload<std::optional<int>>(conv::ToPayload(5)), 5);
  // A JSON null (as TS sends for `null`) decodes into an empty optional and into nullptr.
  EXPECT_EQ(conv::FromPayload<std::optional<std::string>>(conv::ToPayload(nlohmann::json())),
            std::nullopt);
  EXPECT_NO_THROW(conv::FromPayload<std::nullptr_t>(conv::ToPayload(nlohmann::json())));
  EXPECT_NO_THROW(conv::FromPayload<std::monostate>(conv::ToPayload(nullptr)));
  // Optional struct fields.
  WithOptional w{"n", std::nullopt};
  Payload wp = conv::ToPayload(w);
  EXPECT_EQ(wp.data(), R"({"name":"n","size":null})");
  EXPECT_EQ(conv::FromPayload<WithOptional>(wp), w);
  w.size = 4;
  EXPECT_EQ(conv::FromPayload<WithOptional>(conv::ToPayload(w)), w);
}

TEST(PayloadConverter, RawPayloadPassesThroughUntouched) {
  Payload raw;
  (*raw.mutable_metadata())["encoding"] = "my/custom";
  (*raw.mutable_metadata())["extra"] = "x";
  raw.set_data(std::string("\x00\x01", 2));
  EXPECT_TRUE(MessageDifferencer::Equals(conv::ToPayload(raw), raw));
  EXPECT_TRUE(MessageDifferencer::Equals(conv::FromPayload<Payload>(raw), raw));
}

TEST(PayloadConverter, DecodeMismatchThrowsDecodeError) {
  EXPECT_THROW(conv::FromPayload<int>(conv::ToPayload(nullptr)), conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<int>(conv::ToPayload(std::string("x"))), conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<std::string>(conv::ToPayload(std::vector<std::byte>{})),
               conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<std::vector<std::byte>>(conv::ToPayload(std::string("x"))),
               conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<std::nullptr_t>(conv::ToPayload(1)), conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<Order>(conv::ToPayload(std::string("x"))), conv::DecodeError);
  Payload bad;
  (*bad.mutable_metadata())["encoding"] = "json/plain";
  bad.set_data("{not json");
  EXPECT_THROW(conv::FromPayload<int>(bad), conv::DecodeError);
  Payload unknown;
  (*unknown.mutable_metadata())["encoding"] = "binary/encrypted";
  try {
    conv::FromPayload<int>(unknown);
    FAIL() << "no throw";
  } catch (const conv::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("binary/encrypted"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int"), std::string::npos) << e.what();
  }
  // DecodeError is a TemporalError.
  EXPECT_THROW(conv::FromPayload<int>(unknown), temporalio::TemporalError);
}

TEST(PayloadConverter, InvalidUtf8ThrowsEncodeError) {
  EXPECT_THROW(conv::ToPayload(std::string("\xff\xfe")), conv::EncodeError);
}

TEST(PayloadConverter, ArgumentPacks) {
  conv::Payloads ps = conv::ToPayloads(std::string("a"), 1, Order{"o", 2}, nullptr);
  ASSERT_EQ(ps.payloads_size(), 4);
  EXPECT_EQ(ps.payloads(0).data(), "\"a\"");
  EXPECT_EQ(ps.payloads(1).data(), "1");
  EXPECT_EQ(Meta(ps.payloads(3), "encoding"), "binary/null");
  auto [s, i, o, n] = conv::FromPayloads<std::string, int, Order, std::nullptr_t>(ps);
  EXPECT_EQ(s, "a");
  EXPECT_EQ(i, 1);
  EXPECT_EQ(o, (Order{"o", 2}));
  EXPECT_EQ(n, nullptr);
  EXPECT_EQ(conv::ToPayloads().payloads_size(), 0);
  // Extra payloads are ignored; a missing optional is empty; a missing value throws.
  auto [first] = conv::FromPayloads<std::string>(ps);
  EXPECT_EQ(first, "a");
  auto [a, b] = conv::FromPayloads<std::string, std::optional<int>>(conv::ToPayloads("x"));
  EXPECT_EQ(a, "x");
  EXPECT_EQ(b, std::nullopt);
  EXPECT_THROW((conv::FromPayloads<std::string, int>(conv::ToPayloads("x"))), conv::DecodeError);
}

struct Money {
  long cents;
};

}  // namespace

// A user customization through PayloadTraits.
template <>
struct temporalio::converter::PayloadTraits<Money> {
  static Payload ToPayload(const Money& m) {
    Payload p;
    (*p.mutable_metadata())["encoding"] = "money/cents";
    p.set_data(std::to_string(m.cents));
    return p;
  }
  static Money FromPayload(const Payload& p) { return Money{std::stol(p.data())}; }
};

namespace {
TEST(PayloadConverter, PayloadTraitsCustomization) {
  Payload p = conv::ToPayload(Money{1234});
  EXPECT_EQ(Meta(p, "encoding"), "money/cents");
  EXPECT_EQ(conv::FromPayload<Money>(p).cents, 1234);
}
}  // namespace

// std::string has a fast path (no JSON document); it must agree with the
// generic nlohmann path byte for byte, and fail where it fails.
TEST(PayloadConverter, StringFastPathMatchesJsonPath) {
  auto generic = [](const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  };
  std::vector<std::string> valid = {"", "plain ascii", std::string(1024, 'x'), "\x7f/<>&'"};
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  valid.push_back(controls + "\"\\");
  // U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF, U+2028
  valid.push_back("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
  valid.push_back("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xe2\x80\xa8");
  for (const std::string& s : valid) {
    conv::Payload p = conv::ToPayload(s);
    EXPECT_EQ(p.data(), generic(s)) << s;
    EXPECT_EQ(Meta(p, "encoding"), "json/plain");
    EXPECT_EQ(conv::FromPayload<std::string>(p), s);
  }
  // Ill-formed UTF-8: overlong, surrogate, above U+10FFFF, truncated, stray continuation.
  for (const std::string& s :
       {std::string("\xc0\x80"), std::string("\xc1\xbf"), std::string("\xe0\x80\x80"),
        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
        std::string("\xf5\x80\x80\x80"), std::string("ab\xe2\x82"), std::string("\x80"),
        std::string("x\xf0\x9f\x98")}) {
    EXPECT_THROW(conv::ToPayload(s), conv::EncodeError) << s;
    EXPECT_THROW((void)generic(s), nlohmann::json::exception) << s;
    // Decoding such bytes inside a JSON string fails too (as the parser does).
    conv::Payload p = conv::ToPayload(std::string("y"));
    p.set_data("\"" + s + "\"");
    EXPECT_THROW(conv::FromPayload<std::string>(p), conv::DecodeError) << s;
  }
}

TEST(PayloadConverter, StringDecodeFallsBackToTheParser) {
  auto decode = [](const std::string& data) {
    conv::Payload p = conv::ToPayload(std::string("y"));
    p.set_data(data);
    return conv::FromPayload<std::string>(p);
  };
  EXPECT_EQ(decode(R"("a\u0041\n")"), "aA\n");
  EXPECT_EQ(decode(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(decode(" \"x\" "), "x");
  EXPECT_EQ(decode("\"\""), "");
  EXPECT_THROW(decode("\"a\"b\""), conv::DecodeError);
  EXPECT_THROW(decode("\"tab\there\""), conv::DecodeError);  // raw control character
  EXPECT_THROW(decode("\""), conv::DecodeError);
  EXPECT_THROW(decode("null"), conv::DecodeError);
  EXPECT_THROW(decode("42"), conv::DecodeError);
  EXPECT_THROW(conv::FromPayload<std::string>(conv::ToPayload(std::vector<std::byte>{})),
               conv::DecodeError);
}
