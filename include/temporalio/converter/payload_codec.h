// Payload codecs: byte-level transforms (compression, encryption) applied to
// payloads after conversion and before they leave the process, and undone on
// the way in. A codec sees whole payloads (metadata and data) and usually
// wraps each in a new payload, as the other SDKs' codecs do.
#ifndef TEMPORALIO_CONVERTER_PAYLOAD_CODEC_H_
#define TEMPORALIO_CONVERTER_PAYLOAD_CODEC_H_

#include <vector>

#include "temporal/api/common/v1/message.pb.h"

namespace temporalio::converter {

// Implementations must be thread-safe (Encode/Decode are called concurrently)
// and return exactly one payload per input payload, in order. Decode must
// pass through payloads it did not encode (e.g. written before the codec was
// added). Errors are reported by throwing EncodeError/DecodeError.
class PayloadCodec {
 public:
  virtual ~PayloadCodec() = default;
  virtual std::vector<temporal::api::common::v1::Payload> Encode(
      std::vector<temporal::api::common::v1::Payload> payloads) const = 0;
  virtual std::vector<temporal::api::common::v1::Payload> Decode(
      std::vector<temporal::api::common::v1::Payload> payloads) const = 0;
};

inline constexpr char kEncodingZlib[] = "binary/zlib";

struct ZlibCodecOptions {
  // Compress even when the result is not smaller than the input.
  bool always_encode = false;
  // zlib level 0-9, or -1 for zlib's default (6).
  int level = -1;
};

// Compresses each payload: the serialized Payload message, zlib-compressed
// (RFC 1950), becomes the data of a payload with encoding "binary/zlib" (the
// Go SDK's ZlibCodec format). By default a payload is left as is when
// compression would not make it smaller. Stateless; thread-safe.
class ZlibCodec : public PayloadCodec {
 public:
  explicit ZlibCodec(ZlibCodecOptions options = {}) : options_(options) {}
  std::vector<temporal::api::common::v1::Payload> Encode(
      std::vector<temporal::api::common::v1::Payload> payloads) const override;
  std::vector<temporal::api::common::v1::Payload> Decode(
      std::vector<temporal::api::common::v1::Payload> payloads) const override;

 private:
  ZlibCodecOptions options_;
};

}  // namespace temporalio::converter

#endif  // TEMPORALIO_CONVERTER_PAYLOAD_CODEC_H_
