// Search attribute names, types and values as the real server's visibility
// sees them: the system attributes every namespace has, validation of custom
// attribute registrations and of the values workflows set.
#ifndef TEMPORALIO_SERVER_VISIBILITY_SEARCH_ATTRIBUTES_H_
#define TEMPORALIO_SERVER_VISIBILITY_SEARCH_ATTRIBUTES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/common.pb.h"

namespace temporalio::server::visibility {

using IndexedValueType = temporal::api::enums::v1::IndexedValueType;
// Attribute name -> type.
using SearchAttributeTypes = std::map<std::string, IndexedValueType>;

// Every system attribute (reserved and predefined), as ListSearchAttributes
// reports them.
const SearchAttributeTypes& SystemSearchAttributes();
// System attributes a workflow may set itself (TemporalChangeVersion,
// BuildIds, ...); the others (WorkflowId, StartTime, ...) are computed by
// the server and can't be set.
bool IsSettableSystemAttribute(std::string_view name);

// How many custom attributes of each type a namespace may have (the SQL
// visibility store's pre-allocated columns on the real server).
int MaxCustomAttributesOfType(IndexedValueType type);

// "Keyword" for INDEXED_VALUE_TYPE_KEYWORD, as payload metadata and
// `temporal server start-dev --search-attribute` spell types.
std::string TypeName(IndexedValueType type);
// Parses a type name case-insensitively; nullopt for unknown names.
std::optional<IndexedValueType> ParseTypeName(std::string_view name);

// A custom attribute name must be an identifier of at most 64 characters
// that does not collide with a system attribute. INVALID_ARGUMENT otherwise.
absl::Status ValidateNewAttributeName(std::string_view name);

// Checks that every attribute in `attributes` is registered (custom) or
// settable (system) and that its value decodes as its type. INVALID_ARGUMENT
// naming the first offender otherwise, as the real server's validator.
// Empty payloads (or JSON null) unset an attribute and are always accepted.
absl::Status ValidateSearchAttributes(const temporal::api::common::v1::SearchAttributes& attributes,
                                      const SearchAttributeTypes& custom);

// A decoded attribute value. Keyword lists hold several strings.
struct AttributeValue {
  std::vector<std::string> strings;  // Keyword, Text, KeywordList
  int64_t int_value = 0;             // Int; Datetime as Unix nanoseconds
  double double_value = 0;           // Double
  bool bool_value = false;           // Bool
};

// Decodes `payload` (json/plain) as `type`; nullopt when it does not decode.
std::optional<AttributeValue> DecodeValue(const temporal::api::common::v1::Payload& payload,
                                          IndexedValueType type);
// Parses an RFC 3339 time as Unix nanoseconds.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace temporalio::server::visibility

#endif  // TEMPORALIO_SERVER_VISIBILITY_SEARCH_ATTRIBUTES_H_
