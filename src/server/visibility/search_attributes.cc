#include "server/visibility/search_attributes.h"

#include <google/protobuf/util/time_util.h>

#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace temporalio::server::visibility {
namespace {

namespace ev1 = temporal::api::enums::v1;

// Settable by workflows (the real server's "predefined" attributes).
const SearchAttributeTypes& SettableSystemAttributes() {
  static const auto* kTypes = new SearchAttributeTypes{
      {"TemporalChangeVersion", ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BinaryChecksums", ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BuildIds", ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BatcherNamespace", ev1::INDEXED_VALUE_TYPE_KEYWORD},
      {"BatcherUser", ev1::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalScheduledStartTime", ev1::INDEXED_VALUE_TYPE_DATETIME},
      {"TemporalScheduledById", ev1::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalSchedulePaused", ev1::INDEXED_VALUE_TYPE_BOOL},
      {"TemporalNamespaceDivision", ev1::INDEXED_VALUE_TYPE_KEYWORD},
  };
  return *kTypes;
}

}  // namespace

const SearchAttributeTypes& SystemSearchAttributes() {
  static const auto* kTypes = [] {
    auto* types = new SearchAttributeTypes{
        {"WorkflowId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"RunId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"WorkflowType", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"ExecutionStatus", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"TaskQueue", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"StartTime", ev1::INDEXED_VALUE_TYPE_DATETIME},
        {"CloseTime", ev1::INDEXED_VALUE_TYPE_DATETIME},
        {"ExecutionTime", ev1::INDEXED_VALUE_TYPE_DATETIME},
        {"ExecutionDuration", ev1::INDEXED_VALUE_TYPE_INT},
        {"HistoryLength", ev1::INDEXED_VALUE_TYPE_INT},
        {"HistorySizeBytes", ev1::INDEXED_VALUE_TYPE_INT},
        {"StateTransitionCount", ev1::INDEXED_VALUE_TYPE_INT},
        {"ParentWorkflowId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"ParentRunId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"RootWorkflowId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
        {"RootRunId", ev1::INDEXED_VALUE_TYPE_KEYWORD},
    };
    for (const auto& [name, type] : SettableSystemAttributes()) (*types)[name] = type;
    return types;
  }();
  return *kTypes;
}

bool IsSettableSystemAttribute(std::string_view name) {
  return SettableSystemAttributes().contains(std::string(name));
}

int MaxCustomAttributesOfType(IndexedValueType type) {
  return type == ev1::INDEXED_VALUE_TYPE_KEYWORD ? 10 : 3;
}

std::string TypeName(IndexedValueType type) {
  switch (type) {
    case ev1::INDEXED_VALUE_TYPE_TEXT:
      return "Text";
    case ev1::INDEXED_VALUE_TYPE_KEYWORD:
      return "Keyword";
    case ev1::INDEXED_VALUE_TYPE_INT:
      return "Int";
    case ev1::INDEXED_VALUE_TYPE_DOUBLE:
      return "Double";
    case ev1::INDEXED_VALUE_TYPE_BOOL:
      return "Bool";
    case ev1::INDEXED_VALUE_TYPE_DATETIME:
      return "Datetime";
    case ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST:
      return "KeywordList";
    default:
      return "Unspecified";
  }
}

std::optional<IndexedValueType> ParseTypeName(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  for (int t = ev1::INDEXED_VALUE_TYPE_TEXT; t <= ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST; ++t) {
    auto type = static_cast<IndexedValueType>(t);
    if (absl::AsciiStrToLower(TypeName(type)) == lower) return type;
  }
  return std::nullopt;
}

absl::Status ValidateNewAttributeName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("Search attribute name is empty.");
  if (name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("Search attribute name ", std::string(name), " exceeds length limit 64."));
  }
  bool ok = std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Search attribute name ", std::string(name),
        " is invalid: it must start with a letter or '_' and contain only letters, digits "
        "and '_'."));
  }
  if (SystemSearchAttributes().contains(std::string(name))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Search attribute ", std::string(name), " is reserved by system."));
  }
  return absl::OkStatus();
}

std::optional<int64_t> ParseRfc3339(std::string_view text) {
  google::protobuf::Timestamp ts;
  if (!google::protobuf::util::TimeUtil::FromString(std::string(text), &ts)) return std::nullopt;
  return ts.seconds() * 1000000000 + ts.nanos();
}

std::optional<AttributeValue> DecodeValue(const temporal::api::common::v1::Payload& payload,
                                          IndexedValueType type) {
  auto json = nlohmann::json::parse(payload.data(), nullptr, false);
  if (json.is_discarded()) return std::nullopt;
  // SDKs send single values of list types as lists and vice versa; accept both.
  std::vector<nlohmann::json> items;
  if (json.is_array()) {
    items.assign(json.begin(), json.end());
  } else {
    items.push_back(json);
  }
  AttributeValue value;
  switch (type) {
    case ev1::INDEXED_VALUE_TYPE_KEYWORD:
    case ev1::INDEXED_VALUE_TYPE_TEXT:
    case ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST:
      for (const auto& item : items) {
        if (!item.is_string()) return std::nullopt;
        value.strings.push_back(item.get<std::string>());
      }
      if (type != ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST && value.strings.size() != 1) {
        return std::nullopt;
      }
      return value;
    default:
      break;
  }
  if (items.size() != 1) return std::nullopt;
  const nlohmann::json& item = items[0];
  switch (type) {
    case ev1::INDEXED_VALUE_TYPE_INT:
      if (item.is_number_integer()) {
        value.int_value = item.get<int64_t>();
      } else if (item.is_number_float() && std::floor(item.get<double>()) == item.get<double>()) {
        value.int_value = static_cast<int64_t>(item.get<double>());
      } else {
        return std::nullopt;
      }
      return value;
    case ev1::INDEXED_VALUE_TYPE_DOUBLE:
      if (!item.is_number()) return std::nullopt;
      value.double_value = item.get<double>();
      return value;
    case ev1::INDEXED_VALUE_TYPE_BOOL:
      if (!item.is_boolean()) return std::nullopt;
      value.bool_value = item.get<bool>();
      return value;
    case ev1::INDEXED_VALUE_TYPE_DATETIME: {
      if (!item.is_string()) return std::nullopt;
      auto ns = ParseRfc3339(item.get<std::string>());
      if (!ns) return std::nullopt;
      value.int_value = *ns;
      return value;
    }
    default:
      return std::nullopt;
  }
}

absl::Status ValidateSearchAttributes(const temporal::api::common::v1::SearchAttributes& attributes,
                                      const SearchAttributeTypes& custom) {
  for (const auto& [name, payload] : attributes.indexed_fields()) {
    IndexedValueType type;
    if (auto it = custom.find(name); it != custom.end()) {
      type = it->second;
    } else if (IsSettableSystemAttribute(name)) {
      type = SettableSystemAttributes().at(name);
    } else if (SystemSearchAttributes().contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " attribute can't be set in SearchAttributes"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("search attribute ", name, " is not defined"));
    }
    if (payload.data().empty() || payload.data() == "null") continue;  // unset
    if (!DecodeValue(payload, type)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value for search attribute ", name,
                                                     " of type ", TypeName(type), ": ",
                                                     payload.data()));
    }
  }
  return absl::OkStatus();
}

}  // namespace temporalio::server::visibility
