// EncryptionCodec: round trip, wire format, key rotation, wrong key, tampering.
#include "encryption_codec.h"

#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <stdexcept>
#include <string>

#include "temporalio/converter/data_converter.h"

namespace {

namespace conv = temporalio::converter;
using conv::Payload;
using google::protobuf::util::MessageDifferencer;
using temporalio::examples::EncryptionCodec;

const std::string kKey1(32, '\x01');
const std::string kKey2(32, '\x02');

TEST(EncryptionCodec, RoundTripHidesPlaintext) {
  EncryptionCodec codec({{"k1", kKey1}}, "k1");
  Payload original = conv::ToPayload(std::string("top secret value"));
  Payload empty = conv::ToPayload(std::string());
  auto encoded = codec.Encode({original, empty});
  ASSERT_EQ(encoded.size(), 2u);
  EXPECT_EQ(encoded[0].metadata().at("encoding"), "binary/encrypted");
  EXPECT_EQ(encoded[0].metadata().at("encryption-key-id"), "k1");
  EXPECT_EQ(encoded[0].metadata_size(), 2);
  EXPECT_EQ(encoded[0].data().find("top secret"), std::string::npos);
  // nonce (12) + serialized payload + tag (16).
  EXPECT_EQ(encoded[0].data().size(), 12 + original.ByteSizeLong() + 16);
  // A fresh nonce per payload: the same plaintext seals differently.
  EXPECT_NE(codec.Encode({original})[0].data(), encoded[0].data());

  auto decoded = codec.Decode(encoded);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(decoded[0], original));
  EXPECT_TRUE(MessageDifferencer::Equals(decoded[1], empty));
}

TEST(EncryptionCodec, PassesThroughUnencryptedPayloads) {
  EncryptionCodec codec({{"k1", kKey1}}, "k1");
  Payload plain = conv::ToPayload(42);
  auto decoded = codec.Decode({plain});
  EXPECT_TRUE(MessageDifferencer::Equals(decoded[0], plain));
}

TEST(EncryptionCodec, DecodesWithRotatedKeys) {
  EncryptionCodec old_codec({{"k1", kKey1}}, "k1");
  EncryptionCodec new_codec({{"k1", kKey1}, {"k2", kKey2}}, "k2");
  Payload original = conv::ToPayload(std::string("v"));
  auto from_old = old_codec.Encode({original});
  auto from_new = new_codec.Encode({original});
  EXPECT_EQ(from_new[0].metadata().at("encryption-key-id"), "k2");
  EXPECT_TRUE(MessageDifferencer::Equals(new_codec.Decode(from_old)[0], original));
  EXPECT_TRUE(MessageDifferencer::Equals(new_codec.Decode(from_new)[0], original));
}

TEST(EncryptionCodec, WrongKeyFailsClearly) {
  EncryptionCodec writer({{"k1", kKey1}}, "k1");
  EncryptionCodec same_id_other_key({{"k1", kKey2}}, "k1");
  EncryptionCodec other_id({{"k2", kKey2}}, "k2");
  auto encoded = writer.Encode({conv::ToPayload(std::string("v"))});
  try {
    same_id_other_key.Decode(encoded);
    FAIL() << "expected DecodeError";
  } catch (const conv::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("failed authentication"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("wrong key"), std::string::npos) << e.what();
  }
  try {
    other_id.Decode(encoded);
    FAIL() << "expected DecodeError";
  } catch (const conv::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key id 'k1'"), std::string::npos) << e.what();
  }
}

TEST(EncryptionCodec, TamperedCiphertextFails) {
  EncryptionCodec codec({{"k1", kKey1}}, "k1");
  auto encoded = codec.Encode({conv::ToPayload(std::string("pay 10 dollars"))});
  const std::string sealed = encoded[0].data();
  // Flip one bit in the nonce, the ciphertext and the tag in turn.
  for (size_t index : {size_t{0}, size_t{20}, sealed.size() - 1}) {
    std::string tampered = sealed;
    tampered[index] = static_cast<char>(tampered[index] ^ 0x01);
    encoded[0].set_data(tampered);
    EXPECT_THROW(codec.Decode(encoded), conv::DecodeError) << "byte " << index;
  }
  encoded[0].set_data(sealed.substr(0, 20));  // truncated below nonce + tag
  EXPECT_THROW(codec.Decode(encoded), conv::DecodeError);
}

TEST(EncryptionCodec, WorksInADataConverter) {
  conv::DataConverter converter = conv::DataConverter::Default();
  converter.codecs.push_back(std::make_shared<const EncryptionCodec>(
      std::map<std::string, std::string>{{"k1", kKey1}}, "k1"));
  Payload payload = converter.ToPayload(std::string("hello"));
  converter.Encode(&payload);
  EXPECT_EQ(conv::EncodingOf(payload), "binary/encrypted");
  converter.Decode(&payload);
  EXPECT_EQ(converter.FromPayload<std::string>(payload), "hello");
}

TEST(EncryptionCodec, RejectsBadKeys) {
  EXPECT_THROW(EncryptionCodec({{"k1", kKey1}}, "missing"), std::invalid_argument);
  EXPECT_THROW(EncryptionCodec({{"k1", "short"}}, "k1"), std::invalid_argument);
}

}  // namespace
