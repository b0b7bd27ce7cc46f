// An AES-GCM encryption payload codec, wire-compatible with the encryption
// samples of the Go, Python and TypeScript SDKs: each payload is serialized
// and sealed into a new payload with
//   metadata "encoding"          = "binary/encrypted"
//   metadata "encryption-key-id" = the id of the key used
//   data                         = 12-byte random nonce || ciphertext || 16-byte tag
//
// Keys are held in a key ring (id -> 16, 24 or 32 raw bytes: AES-128/192/256);
// Encode uses the current key, Decode whichever key the payload names, so
// keys can be rotated without losing old histories. Payloads without the
// "binary/encrypted" encoding pass through Decode unchanged.
//
// Errors: Encode throws converter::EncodeError (OpenSSL failure); Decode
// throws converter::DecodeError when the key id is unknown, the data is too
// short, or authentication fails (wrong key or tampered data). Thread-safe:
// immutable after construction, each call uses its own OpenSSL context.
#ifndef TEMPORALIO_EXAMPLES_ENCRYPTION_ENCRYPTION_CODEC_H_
#define TEMPORALIO_EXAMPLES_ENCRYPTION_ENCRYPTION_CODEC_H_

#include <map>
#include <string>
#include <vector>

#include "temporalio/converter/payload_codec.h"

namespace temporalio::examples {

inline constexpr char kEncodingEncrypted[] = "binary/encrypted";
inline constexpr char kMetadataEncryptionKeyId[] = "encryption-key-id";

class EncryptionCodec : public converter::PayloadCodec {
 public:
  // `keys`: key id -> raw key bytes; `current_key_id` must be one of them.
  // Throws std::invalid_argument on a missing current key or a bad key size.
  EncryptionCodec(std::map<std::string, std::string> keys, std::string current_key_id);

  std::vector<temporal::api::common::v1::Payload> Encode(
      std::vector<temporal::api::common::v1::Payload> payloads) const override;
  std::vector<temporal::api::common::v1::Payload> Decode(
      std::vector<temporal::api::common::v1::Payload> payloads) const override;

 private:
  std::map<std::string, std::string> keys_;
  std::string current_key_id_;
};

}  // namespace temporalio::examples

#endif  // TEMPORALIO_EXAMPLES_ENCRYPTION_ENCRYPTION_CODEC_H_
