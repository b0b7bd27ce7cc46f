// Failure converter: every failure kind round-trips with a cause chain; golden
// checks against Failures produced by the TypeScript SDK.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "temporalio/converter/data_converter.h"
#include "temporalio/converter/failure_converter.h"
#include "temporalio/converter/payload_converter.h"
#include "temporalio/errors.h"

namespace {

namespace conv = temporalio::converter;
using conv::Failure;
using google::protobuf::util::MessageDifferencer;
using temporalio::ActivityError;
using temporalio::ApplicationError;
using temporalio::CanceledError;
using temporalio::ChildWorkflowError;
using temporalio::FailureError;
using temporalio::ServerError;
using temporalio::TerminatedError;
using temporalio::TimeoutError;

std::string Base64Decode(std::string_view in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  unsigned value = 0;
  for (char c : in) {
    if (c == '=') break;
    value = (value << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((value >> bits) & 0xff));
    }
  }
  return out;
}

// Rethrows `error` and returns it as E (fails the test if it is another type).
template <class E>
E As(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const E& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "unexpected non-std exception";
  }
  throw std::logic_error("wrong exception type");
}

std::exception_ptr RoundTrip(const std::exception_ptr& error) {
  Failure failure = conv::ToFailure(error);
  Failure wire;
  EXPECT_TRUE(wire.ParseFromString(failure.SerializeAsString()));
  return conv::FromFailure(wire);
}

std::exception_ptr Cause2() {
  // A two-level cause chain: ApplicationError <- ServerError.
  return std::make_exception_ptr(ApplicationError(
      "middle", {.type = "Mid", .cause = std::make_exception_ptr(ServerError("root", true))}));
}

void ExpectCause2(const std::exception_ptr& cause) {
  auto mid = As<ApplicationError>(cause);
  EXPECT_EQ(mid.message(), "middle");
  EXPECT_EQ(mid.type(), "Mid");
  auto root = As<ServerError>(mid.cause());
  EXPECT_EQ(root.message(), "root");
  EXPECT_TRUE(root.non_retryable());
  EXPECT_EQ(root.cause(), nullptr);
}

TEST(FailureConverter, ApplicationErrorRoundTrip) {
  auto error = std::make_exception_ptr(
      ApplicationError("card declined", {.type = "PaymentError",
                                         .non_retryable = true,
                                         .details = conv::ToPayloads(std::string("order-1"), 42),
                                         .next_retry_delay = std::chrono::milliseconds(1500),
                                         .category = temporalio::ApplicationErrorCategory::kBenign,
                                         .cause = Cause2()}));
  Failure f = conv::ToFailure(error);
  EXPECT_EQ(f.message(), "card declined");
  EXPECT_EQ(f.source(), "CppSDK");
  ASSERT_TRUE(f.has_application_failure_info());
  EXPECT_EQ(f.application_failure_info().next_retry_delay().seconds(), 1);
  EXPECT_EQ(f.application_failure_info().next_retry_delay().nanos(), 500000000);
  EXPECT_TRUE(f.cause().has_application_failure_info());
  EXPECT_TRUE(f.cause().cause().has_server_failure_info());

  auto back = As<ApplicationError>(RoundTrip(error));
  EXPECT_EQ(back.message(), "card declined");
  EXPECT_EQ(back.type(), "PaymentError");
  EXPECT_TRUE(back.non_retryable());
  EXPECT_EQ(back.next_retry_delay(), std::chrono::milliseconds(1500));
  EXPECT_EQ(back.category(), temporalio::ApplicationErrorCategory::kBenign);
  auto [s, i] = conv::FromPayloads<std::string, int>(back.details());
  EXPECT_EQ(s, "order-1");
  EXPECT_EQ(i, 42);
  ExpectCause2(back.cause());
}

TEST(FailureConverter, CanceledErrorRoundTrip) {
  auto back = As<CanceledError>(
      RoundTrip(std::make_exception_ptr(CanceledError("canceled", conv::ToPayloads(7), Cause2()))));
  EXPECT_EQ(back.message(), "canceled");
  EXPECT_EQ(std::get<0>(conv::FromPayloads<int>(back.details())), 7);
  ExpectCause2(back.cause());
}

TEST(FailureConverter, TerminatedErrorRoundTrip) {
  auto back =
      As<TerminatedError>(RoundTrip(std::make_exception_ptr(TerminatedError("bye", Cause2()))));
  EXPECT_EQ(back.message(), "bye");
  ExpectCause2(back.cause());
}

TEST(FailureConverter, TimeoutErrorRoundTrip) {
  auto back = As<TimeoutError>(RoundTrip(
      std::make_exception_ptr(TimeoutError("timed out", temporalio::TimeoutType::kHeartbeat,
                                           conv::ToPayloads(std::string("progress")), Cause2()))));
  EXPECT_EQ(back.type(), temporalio::TimeoutType::kHeartbeat);
  EXPECT_EQ(std::get<0>(conv::FromPayloads<std::string>(back.last_heartbeat_details())),
            "progress");
  ExpectCause2(back.cause());
}

TEST(FailureConverter, ServerErrorRoundTrip) {
  auto back =
      As<ServerError>(RoundTrip(std::make_exception_ptr(ServerError("srv", false, Cause2()))));
  EXPECT_FALSE(back.non_retryable());
  ExpectCause2(back.cause());
}

TEST(FailureConverter, ActivityErrorRoundTrip) {
  auto back = As<ActivityError>(RoundTrip(std::make_exception_ptr(
      ActivityError("activity failed",
                    {.scheduled_event_id = 5,
                     .started_event_id = 6,
                     .identity = "worker@host",
                     .activity_type = "Charge",
                     .activity_id = "1",
                     .retry_state = temporalio::RetryState::kMaximumAttemptsReached},
                    Cause2()))));
  EXPECT_EQ(back.message(), "activity failed");
  EXPECT_EQ(back.info().scheduled_event_id, 5);
  EXPECT_EQ(back.info().started_event_id, 6);
  EXPECT_EQ(back.info().identity, "worker@host");
  EXPECT_EQ(back.info().activity_type, "Charge");
  EXPECT_EQ(back.info().activity_id, "1");
  EXPECT_EQ(back.info().retry_state, temporalio::RetryState::kMaximumAttemptsReached);
  ExpectCause2(back.cause());
}

TEST(FailureConverter, ChildWorkflowErrorRoundTrip) {
  auto back = As<ChildWorkflowError>(RoundTrip(std::make_exception_ptr(
      ChildWorkflowError("child failed",
                         {.namespace_ = "default",
                          .workflow_id = "child-1",
                          .run_id = "run-1",
                          .workflow_type = "Child",
                          .initiated_event_id = 9,
                          .started_event_id = 10,
                          .retry_state = temporalio::RetryState::kNonRetryableFailure},
                         Cause2()))));
  EXPECT_EQ(back.info().namespace_, "default");
  EXPECT_EQ(back.info().workflow_id, "child-1");
  EXPECT_EQ(back.info().run_id, "run-1");
  EXPECT_EQ(back.info().workflow_type, "Child");
  EXPECT_EQ(back.info().initiated_event_id, 9);
  EXPECT_EQ(back.info().started_event_id, 10);
  EXPECT_EQ(back.info().retry_state, temporalio::RetryState::kNonRetryableFailure);
  ExpectCause2(back.cause());
}

TEST(FailureConverter, PlainFailureErrorHasNoInfo) {
  Failure f = conv::ToFailure(std::make_exception_ptr(FailureError("generic", Cause2())));
  EXPECT_EQ(f.failure_info_case(), Failure::FAILURE_INFO_NOT_SET);
  auto back = As<FailureError>(conv::FromFailure(f));
  EXPECT_EQ(back.message(), "generic");
  ExpectCause2(back.cause());
}

struct MyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST(FailureConverter, ForeignExceptions) {
  Failure f = conv::ToFailure(std::make_exception_ptr(std::out_of_range("index 3")));
  EXPECT_EQ(f.message(), "index 3");
  EXPECT_EQ(f.source(), "CppSDK");
  EXPECT_EQ(f.application_failure_info().type(), "std::out_of_range");

  f = conv::ToFailure(std::make_exception_ptr(MyError("mine")));
  EXPECT_EQ(f.application_failure_info().type(), "(anonymous namespace)::MyError");

  f = conv::ToFailure(std::make_exception_ptr(42));
  EXPECT_EQ(f.application_failure_info().type(), "UnknownError");
  EXPECT_EQ(f.message(), "unknown exception of type int");

  // std::throw_with_nested builds a cause chain.
  std::exception_ptr nested;
  try {
    try {
      throw std::invalid_argument("inner");
    } catch (...) {
      std::throw_with_nested(std::runtime_error("outer"));
    }
  } catch (...) {
    nested = std::current_exception();
  }
  f = conv::ToFailure(nested);
  EXPECT_EQ(f.message(), "outer");
  EXPECT_EQ(f.cause().message(), "inner");
  EXPECT_EQ(f.cause().application_failure_info().type(), "std::invalid_argument");
  // Decoded, a foreign exception is an ApplicationError with that type.
  auto back = As<ApplicationError>(conv::FromFailure(f));
  // The dynamic type std::throw_with_nested creates (libstdc++: std::_Nested_exception<...>).
  EXPECT_NE(back.type().find("std::runtime_error"), std::string::npos) << back.type();
  EXPECT_EQ(As<ApplicationError>(back.cause()).message(), "inner");

  f = conv::ToFailure(nullptr);
  EXPECT_EQ(f.application_failure_info().type(), "UnknownError");
}

// Golden: @temporalio/common 1.24.0 DefaultFailureConverter.errorToFailure of
//   ApplicationFailure.create({message: 'card declined', type: 'PaymentError',
//     nonRetryable: true, details: ['order-1', 42, {reason: 'limit'}],
//     nextRetryDelay: '5s', cause: ApplicationFailure.create({message: 'inner',
//     type: 'InnerType'})})
// with fixed stacks, serialized by @temporalio/proto (tests/converter_golden/failures.js).
constexpr char kTsApplicationFailure[] =
    "Cg1jYXJkIGRlY2xpbmVkEg1UeXBlU2NyaXB0U0RLGjlBcHBsaWNhdGlvbkZhaWx1cmU6IGNhcmQgZGVjbGluZWQKICAgIG"
    "F0IG91dGVyIChiLmpzOjI6MikiVgoFaW5uZXISDVR5cGVTY3JpcHRTREsaMUFwcGxpY2F0aW9uRmFpbHVyZTogaW5uZXIK"
    "ICAgIGF0IGlubmVyIChhLmpzOjE6MSkqCwoJSW5uZXJUeXBlKocBCgxQYXltZW50RXJyb3IQARpxCiMKFgoIZW5jb2Rpbm"
    "cSCmpzb24vcGxhaW4SCSJvcmRlci0xIgocChYKCGVuY29kaW5nEgpqc29uL3BsYWluEgI0MgosChYKCGVuY29kaW5nEgpq"
    "c29uL3BsYWluEhJ7InJlYXNvbiI6ImxpbWl0In0iAggF";

TEST(FailureConverterGolden, DecodesTypeScriptApplicationFailure) {
  Failure ts;
  ASSERT_TRUE(ts.ParseFromString(Base64Decode(kTsApplicationFailure)));
  ASSERT_EQ(ts.source(), "TypeScriptSDK");
  std::exception_ptr decoded = conv::FromFailure(ts);
  auto e = As<ApplicationError>(decoded);
  EXPECT_EQ(e.message(), "card declined");
  EXPECT_EQ(e.stack_trace(), "ApplicationFailure: card declined\n    at outer (b.js:2:2)");
  EXPECT_EQ(e.type(), "PaymentError");
  EXPECT_TRUE(e.non_retryable());
  EXPECT_EQ(e.next_retry_delay(), std::chrono::seconds(5));
  ASSERT_EQ(e.details().payloads_size(), 3);
  auto [order, n, obj] = conv::FromPayloads<std::string, int, nlohmann::json>(e.details());
  EXPECT_EQ(order, "order-1");
  EXPECT_EQ(n, 42);
  EXPECT_EQ(obj, (nlohmann::json{{"reason", "limit"}}));
  auto inner = As<ApplicationError>(e.cause());
  EXPECT_EQ(inner.message(), "inner");
  EXPECT_EQ(inner.type(), "InnerType");
  EXPECT_FALSE(inner.non_retryable());
  EXPECT_EQ(inner.cause(), nullptr);
  // Re-encoding a decoded failure sends the original back unchanged.
  EXPECT_EQ(conv::ToFailure(decoded).SerializeAsString(), ts.SerializeAsString());
}

TEST(FailureConverterGolden, EncodesLikeTypeScript) {
  Failure expected;
  ASSERT_TRUE(expected.ParseFromString(Base64Decode(kTsApplicationFailure)));
  // Same error raised in C++: identical except for source and stack traces.
  expected.set_source("CppSDK");
  expected.clear_stack_trace();
  expected.mutable_cause()->set_source("CppSDK");
  expected.mutable_cause()->clear_stack_trace();
  Failure f = conv::ToFailure(std::make_exception_ptr(ApplicationError(
      "card declined",
      {.type = "PaymentError",
       .non_retryable = true,
       .details = conv::ToPayloads(std::string("order-1"), 42, nlohmann::json{{"reason", "limit"}}),
       .next_retry_delay = std::chrono::seconds(5),
       .cause = std::make_exception_ptr(ApplicationError("inner", {.type = "InnerType"}))})));
  EXPECT_TRUE(MessageDifferencer::Equals(f, expected)) << "got:\n"
                                                       << f.DebugString() << "expected:\n"
                                                       << expected.DebugString();
  EXPECT_EQ(f.SerializeAsString(), expected.SerializeAsString());
}

// Golden: @temporalio/common 1.24.0 DefaultFailureConverter({encodeCommonAttributes: true})
// on ApplicationFailure.create({message: 'secret message', type: 'T'}) with stack
// 'Error: secret message\n    at foo (bar.js:1:2)':
//   message "Encoded failure", stackTrace "", encodedAttributes json/plain
//   {"message":"secret message","stack_trace":"Error: secret message\n    at foo (bar.js:1:2)"}
constexpr char kTsEncodedAttributes[] =
    R"json({"message":"secret message","stack_trace":"Error: secret message\n    at foo (bar.js:1:2)"})json";

TEST(FailureConverterGolden, EncodedCommonAttributes) {
  conv::FailureConverter encoding({.encode_common_attributes = true});
  ApplicationError error("secret message", {.type = "T", .cause = Cause2()});
  error.set_stack_trace("Error: secret message\n    at foo (bar.js:1:2)");
  Failure f = encoding.ToFailure(std::make_exception_ptr(error));
  EXPECT_EQ(f.message(), "Encoded failure");
  EXPECT_EQ(f.stack_trace(), "");
  EXPECT_EQ(f.encoded_attributes().metadata().at("encoding"), "json/plain");
  EXPECT_EQ(f.encoded_attributes().data(), kTsEncodedAttributes);
  EXPECT_EQ(f.cause().message(), "Encoded failure");  // every level

  // Decoding restores message and stack trace, with either converter.
  auto back = As<ApplicationError>(conv::FromFailure(f));
  EXPECT_EQ(back.message(), "secret message");
  EXPECT_EQ(back.stack_trace(), "Error: secret message\n    at foo (bar.js:1:2)");
  ExpectCause2(back.cause());

  // The TS SDK's encoded failure decodes the same way.
  Failure ts;
  ts.set_message("Encoded failure");
  ts.set_source("TypeScriptSDK");
  ts.mutable_application_failure_info()->set_type("T");
  (*ts.mutable_encoded_attributes()->mutable_metadata())["encoding"] = "json/plain";
  ts.mutable_encoded_attributes()->set_data(kTsEncodedAttributes);
  auto from_ts = As<ApplicationError>(encoding.FromFailure(ts));
  EXPECT_EQ(from_ts.message(), "secret message");
  EXPECT_EQ(from_ts.type(), "T");
}

TEST(FailureConverter, DataConverterAppliesCodecsToFailurePayloads) {
  conv::DataConverter dc;
  dc.failure_converter = std::make_shared<const conv::FailureConverter>(
      conv::FailureConverterOptions{.encode_common_attributes = true});
  dc.codecs.push_back(
      std::make_shared<const conv::ZlibCodec>(conv::ZlibCodecOptions{.always_encode = true}));
  Failure f = dc.ToFailure(std::make_exception_ptr(ApplicationError(
      "m", {.details = conv::ToPayloads(std::string(200, 'x')),
            .cause = std::make_exception_ptr(
                TimeoutError("t", temporalio::TimeoutType::kHeartbeat, conv::ToPayloads(1)))})));
  const Failure plain = f;
  dc.EncodeFailure(&f);
  EXPECT_EQ(f.encoded_attributes().metadata().at("encoding"), "binary/zlib");
  EXPECT_EQ(f.application_failure_info().details().payloads(0).metadata().at("encoding"),
            "binary/zlib");
  EXPECT_EQ(f.cause().timeout_failure_info().last_heartbeat_details().payloads(0).metadata().at(
                "encoding"),
            "binary/zlib");
  dc.DecodeFailure(&f);
  EXPECT_TRUE(MessageDifferencer::Equals(f, plain));
  auto e = As<ApplicationError>(dc.FromFailure(f));
  EXPECT_EQ(e.message(), "m");
}

}  // namespace
