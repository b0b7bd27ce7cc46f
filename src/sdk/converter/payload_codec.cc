#include "temporalio/converter/payload_codec.h"

#include <zlib.h>

#include <string>
#include <utility>

#include "temporalio/converter/payload_converter.h"

namespace temporalio::converter {
namespace {

std::string Compress(const std::string& input, int level) {
  uLongf size = compressBound(static_cast<uLong>(input.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                           reinterpret_cast<const Bytef*>(input.data()),
                           static_cast<uLong>(input.size()), level);
  if (rc != Z_OK) throw EncodeError("zlib compression failed: error " + std::to_string(rc));
  out.resize(size);
  return out;
}

std::string Decompress(const std::string& input) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw DecodeError("zlib: inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  std::string out;
  char buffer[16384];
  int rc = Z_OK;
  do {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  } while (rc != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0));
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    throw DecodeError("binary/zlib payload is not a complete zlib stream (zlib error " +
                      std::to_string(rc) + ")");
  }
  return out;
}

}  // namespace

std::vector<Payload> ZlibCodec::Encode(std::vector<Payload> payloads) const {
  for (Payload& payload : payloads) {
    const std::string serialized = payload.SerializeAsString();
    std::string compressed = Compress(serialized, options_.level);
    if (!options_.always_encode && compressed.size() >= serialized.size()) continue;
    Payload wrapped;
    (*wrapped.mutable_metadata())[kMetadataEncoding] = kEncodingZlib;
    wrapped.set_data(std::move(compressed));
    payload = std::move(wrapped);
  }
  return payloads;
}

std::vector<Payload> ZlibCodec::Decode(std::vector<Payload> payloads) const {
  for (Payload& payload : payloads) {
    if (EncodingOf(payload) != kEncodingZlib) continue;
    Payload inner;
    if (!inner.ParseFromString(Decompress(payload.data()))) {
      throw DecodeError("binary/zlib payload does not hold a serialized Payload");
    }
    payload = std::move(inner);
  }
  return payloads;
}

}  // namespace temporalio::converter
