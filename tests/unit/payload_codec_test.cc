// Payload codecs: zlib round trips, pass-through, chaining order in DataConverter.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "temporalio/converter/data_converter.h"

namespace {

namespace conv = temporalio::converter;
using conv::Payload;
using google::protobuf::util::MessageDifferencer;

TEST(ZlibCodec, RoundTripWrapsWholePayload) {
  conv::ZlibCodec codec;
  Payload big = conv::ToPayload(std::string(1000, 'a'));
  Payload small = conv::ToPayload(1);  // compression would not help: left as is
  auto encoded = codec.Encode({big, small});
  ASSERT_EQ(encoded.size(), 2u);
  EXPECT_EQ(encoded[0].metadata().at("encoding"), "binary/zlib");
  EXPECT_EQ(encoded[0].metadata_size(), 1);
  EXPECT_LT(encoded[0].data().size(), 100u);
  EXPECT_TRUE(MessageDifferencer::Equals(encoded[1], small));

  // The data is the zlib-compressed serialized original Payload.
  std::string inflated(big.ByteSizeLong(), '\0');
  uLongf size = inflated.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(inflated.data()), &size,
                       reinterpret_cast<const Bytef*>(encoded[0].data().data()),
                       encoded[0].data().size()),
            Z_OK);
  Payload inner;
  ASSERT_TRUE(inner.ParseFromString(inflated.substr(0, size)));
  EXPECT_TRUE(MessageDifferencer::Equals(inner, big));

  auto decoded = codec.Decode(encoded);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(decoded[0], big));
  EXPECT_TRUE(MessageDifferencer::Equals(decoded[1], small));
}

TEST(ZlibCodec, AlwaysEncodeAndEmptyData) {
  conv::ZlibCodec codec({.always_encode = true, .level = 9});
  Payload null_payload = conv::ToPayload(nullptr);
  auto encoded = codec.Encode({null_payload});
  EXPECT_EQ(encoded[0].metadata().at("encoding"), "binary/zlib");
  EXPECT_TRUE(MessageDifferencer::Equals(codec.Decode(encoded)[0], null_payload));
  EXPECT_TRUE(codec.Encode({}).empty());
}

TEST(ZlibCodec, CorruptDataThrowsDecodeError) {
  conv::ZlibCodec codec;
  Payload bad;
  (*bad.mutable_metadata())["encoding"] = "binary/zlib";
  bad.set_data("not zlib");
  EXPECT_THROW(codec.Decode({bad}), conv::DecodeError);
  // Truncated stream.
  auto good =
      conv::ZlibCodec({.always_encode = true}).Encode({conv::ToPayload(std::string(500, 'x'))});
  good[0].mutable_data()->resize(good[0].data().size() / 2);
  EXPECT_THROW(codec.Decode(good), conv::DecodeError);
}

// Tags payloads so the order of codecs is visible.
class TagCodec : public conv::PayloadCodec {
 public:
  explicit TagCodec(std::string tag) : tag_(std::move(tag)) {}
  std::vector<Payload> Encode(std::vector<Payload> payloads) const override {
    for (auto& p : payloads) {
      Payload wrapped;
      (*wrapped.mutable_metadata())["encoding"] = tag_;
      wrapped.set_data(p.SerializeAsString());
      p = wrapped;
    }
    return payloads;
  }
  std::vector<Payload> Decode(std::vector<Payload> payloads) const override {
    for (auto& p : payloads) {
      if (conv::EncodingOf(p) != tag_) throw conv::DecodeError("expected " + tag_);
      Payload inner;
      inner.ParseFromString(p.data());
      p = inner;
    }
    return payloads;
  }

 private:
  std::string tag_;
};

class DroppingCodec : public TagCodec {
 public:
  DroppingCodec() : TagCodec("drop") {}
  std::vector<Payload> Encode(std::vector<Payload>) const override { return {}; }
};

TEST(DataConverter, CodecsApplyInOrderAndDecodeInReverse) {
  conv::DataConverter dc;
  dc.codecs = {
      std::make_shared<const conv::ZlibCodec>(conv::ZlibCodecOptions{.always_encode = true}),
      std::make_shared<const TagCodec>("outer")};
  conv::Payloads payloads = dc.ToPayloads(std::string("hello"), 42, nullptr);
  const conv::Payloads original = payloads;
  dc.Encode(&payloads);
  ASSERT_EQ(payloads.payloads_size(), 3);
  EXPECT_EQ(payloads.payloads(0).metadata().at("encoding"), "outer");  // applied last
  Payload inner;
  ASSERT_TRUE(inner.ParseFromString(payloads.payloads(0).data()));
  EXPECT_EQ(inner.metadata().at("encoding"), "binary/zlib");
  dc.Decode(&payloads);
  EXPECT_TRUE(MessageDifferencer::Equals(payloads, original));
  auto [s, i, n] = dc.FromPayloads<std::string, int, std::nullptr_t>(payloads);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(i, 42);

  Payload single = dc.ToPayload(std::string("x"));
  dc.Encode(&single);
  EXPECT_EQ(conv::EncodingOf(single), "outer");
  dc.Decode(&single);
  EXPECT_EQ(dc.FromPayload<std::string>(single), "x");
}

TEST(DataConverter, NoCodecsIsIdentityAndCountMismatchThrows) {
  const conv::DataConverter& dc = conv::DataConverter::Default();
  conv::Payloads payloads = dc.ToPayloads(1, 2);
  const conv::Payloads original = payloads;
  dc.Encode(&payloads);
  EXPECT_TRUE(MessageDifferencer::Equals(payloads, original));

  conv::DataConverter bad;
  bad.codecs = {std::make_shared<const DroppingCodec>()};
  EXPECT_THROW(bad.Encode(&payloads), conv::ConverterError);
}

}  // namespace
