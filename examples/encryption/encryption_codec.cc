#include "encryption_codec.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "temporalio/converter/payload_converter.h"

namespace temporalio::examples {
namespace {

using temporal::api::common::v1::Payload;

constexpr int kNonceSize = 12;
constexpr int kTagSize = 16;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const EVP_CIPHER* CipherFor(const std::string& key) {
  switch (key.size()) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return nullptr;
  }
}

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string Seal(const std::string& key, const std::string& plaintext) {
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  if (RAND_bytes(Bytes(out), kNonceSize) != 1) {
    throw converter::EncodeError("encryption: RAND_bytes failed");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), CipherFor(key), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), Bytes(out) + kNonceSize, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), Bytes(out) + kNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          Bytes(out) + kNonceSize + plaintext.size()) != 1) {
    throw converter::EncodeError("encryption: AES-GCM encryption failed");
  }
  return out;
}

std::string Open(const std::string& key, const std::string& sealed, const std::string& key_id) {
  if (sealed.size() < static_cast<size_t>(kNonceSize + kTagSize)) {
    throw converter::DecodeError("binary/encrypted payload too short (" +
                                 std::to_string(sealed.size()) + " bytes)");
  }
  const size_t text_size = sealed.size() - kNonceSize - kTagSize;
  std::string plaintext(text_size, '\0');
  std::string tag = sealed.substr(kNonceSize + text_size);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), CipherFor(key), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), Bytes(plaintext), &len, Bytes(sealed) + kNonceSize,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, Bytes(tag)) != 1) {
    throw converter::DecodeError("encryption: AES-GCM decryption setup failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), Bytes(plaintext) + len, &len) != 1) {
    throw converter::DecodeError("binary/encrypted payload failed authentication with key '" +
                                 key_id + "' (wrong key or tampered data)");
  }
  return plaintext;
}

}  // namespace

EncryptionCodec::EncryptionCodec(std::map<std::string, std::string> keys,
                                 std::string current_key_id)
    : keys_(std::move(keys)), current_key_id_(std::move(current_key_id)) {
  if (keys_.find(current_key_id_) == keys_.end()) {
    throw std::invalid_argument("EncryptionCodec: no key with id '" + current_key_id_ + "'");
  }
  for (const auto& [id, key] : keys_) {
    if (CipherFor(key) == nullptr) {
      throw std::invalid_argument("EncryptionCodec: key '" + id +
                                  "' must be 16, 24 or 32 bytes, not " +
                                  std::to_string(key.size()));
    }
  }
}

std::vector<Payload> EncryptionCodec::Encode(std::vector<Payload> payloads) const {
  const std::string& key = keys_.at(current_key_id_);
  for (Payload& payload : payloads) {
    Payload sealed;
    (*sealed.mutable_metadata())[converter::kMetadataEncoding] = kEncodingEncrypted;
    (*sealed.mutable_metadata())[kMetadataEncryptionKeyId] = current_key_id_;
    sealed.set_data(Seal(key, payload.SerializeAsString()));
    payload = std::move(sealed);
  }
  return payloads;
}

std::vector<Payload> EncryptionCodec::Decode(std::vector<Payload> payloads) const {
  for (Payload& payload : payloads) {
    if (converter::EncodingOf(payload) != kEncodingEncrypted) continue;
    auto id_it = payload.metadata().find(kMetadataEncryptionKeyId);
    if (id_it == payload.metadata().end()) {
      throw converter::DecodeError("binary/encrypted payload has no encryption-key-id");
    }
    auto key_it = keys_.find(id_it->second);
    if (key_it == keys_.end()) {
      throw converter::DecodeError("binary/encrypted payload uses unknown key id '" +
                                   id_it->second + "'");
    }
    Payload inner;
    if (!inner.ParseFromString(Open(key_it->second, payload.data(), key_it->first))) {
      throw converter::DecodeError("binary/encrypted payload does not hold a serialized Payload");
    }
    payload = std::move(inner);
  }
  return payloads;
}

}  // namespace temporalio::examples
