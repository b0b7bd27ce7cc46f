// Round-trips a payload through a DataConverter with the AES-GCM codec:
// the value is converted to json/plain, sealed as binary/encrypted, then
// opened and converted back. A Client uses the same converter with
//   ClientOptions{.data_converter = converter}
// so workflow inputs, results, signals, queries and failures details never
// leave the process in clear text.
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "encryption_codec.h"
#include "temporalio/converter/data_converter.h"

namespace {

struct Secret {
  std::string owner;
  std::string card;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Secret, owner, card)

}  // namespace

int main() {
  using temporalio::converter::DataConverter;
  // Demo key only: load real keys from a key management service.
  const std::string key(32, 'k');
  DataConverter converter = DataConverter::Default();
  converter.codecs.push_back(std::make_shared<const temporalio::examples::EncryptionCodec>(
      std::map<std::string, std::string>{{"demo-key-1", key}}, "demo-key-1"));

  temporalio::converter::Payload payload =
      converter.ToPayload(Secret{"alice", "4111 1111 1111 1111"});
  converter.Encode(&payload);
  std::cout << "encoding: " << payload.metadata().at("encoding")
            << ", key id: " << payload.metadata().at("encryption-key-id")
            << ", data: " << payload.data().size() << " bytes\n";
  if (payload.data().find("alice") != std::string::npos) {
    std::cerr << "plaintext leaked into the encoded payload\n";
    return EXIT_FAILURE;
  }
  converter.Decode(&payload);
  Secret back = converter.FromPayload<Secret>(payload);
  std::cout << "decoded: owner=" << back.owner << " card=" << back.card << "\n";
  return back.owner == "alice" ? EXIT_SUCCESS : EXIT_FAILURE;
}
