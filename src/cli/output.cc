#include "cli/output.h"

#include <absl/strings/escaping.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <map>

namespace temporalio::cli {

namespace common = temporal::api::common::v1;

Printer::Printer(std::ostream& out, OutputFormat format, TimeFormat time_format, bool color)
    : out_(out), format_(format), time_format_(time_format), color_(color && !json()) {}

void Printer::Println(std::string_view line) {
  if (format_ != OutputFormat::kText) return;
  out_ << line << '\n';
}

void Printer::Heading(std::string_view title) { Println(Colored(title, Color::kMagenta)); }

namespace {

// Display width: counts UTF-8 code points and skips ANSI colour sequences.
size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == 0x1b) {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string PadRight(std::string_view s, size_t width) {
  std::string out(s);
  size_t w = DisplayWidth(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

}  // namespace

void Printer::PrintCard(const std::vector<std::pair<std::string, std::string>>& rows) {
  if (format_ != OutputFormat::kText) return;
  size_t width = 0;
  for (const auto& [name, value] : rows) width = std::max(width, DisplayWidth(name));
  for (const auto& [name, value] : rows) {
    out_ << "  " << PadRight(name, width) << "  " << value << '\n';
  }
}

void Printer::PrintTable(const std::vector<std::string>& columns,
                         const std::vector<std::vector<std::string>>& rows, bool header,
                         const std::vector<size_t>& min_widths) {
  if (format_ != OutputFormat::kText) return;
  std::vector<size_t> widths(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    widths[c] = std::max(DisplayWidth(columns[c]), c < min_widths.size() ? min_widths[c] : 0);
    for (const auto& row : rows) {
      if (c < row.size()) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  auto print_row = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string line;
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      size_t w = DisplayWidth(cell);
      line += "  ";
      line += is_header ? Colored(cell, Color::kMagenta) : cell;
      // The last column is not padded (no trailing blanks).
      if (c + 1 < columns.size() && w < widths[c]) line.append(widths[c] - w, ' ');
    }
    out_ << line << '\n';
  };
  if (header) print_row(columns, true);
  for (const auto& row : rows) print_row(row, false);
}

void Printer::PrintJson(const nlohmann::ordered_json& value) {
  if (format_ == OutputFormat::kJsonl) {
    out_ << value.dump() << '\n';
    return;
  }
  if (format_ != OutputFormat::kJson) return;
  if (in_list_) {
    out_ << (first_in_list_ ? "\n" : ",\n");
    first_in_list_ = false;
    out_ << value.dump(2);
    return;
  }
  out_ << value.dump(2) << '\n';
}

void Printer::StartList() {
  in_list_ = true;
  first_in_list_ = true;
  if (format_ == OutputFormat::kJson) out_ << '[';
}

void Printer::EndList() {
  if (format_ == OutputFormat::kJson) out_ << (first_in_list_ ? "]\n" : "\n]\n");
  in_list_ = false;
}

namespace {

std::string Plural(int64_t n, std::string_view unit, std::string_view suffix) {
  return fmt::format("{} {}{} {}", n, unit, n == 1 ? "" : "s", suffix);
}

}  // namespace

std::string Printer::Time(const google::protobuf::Timestamp& ts) const {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  using google::protobuf::util::TimeUtil;
  switch (time_format_) {
    case TimeFormat::kIso: {
      // RFC 3339 in UTC, seconds precision (as Go's time.RFC3339).
      google::protobuf::Timestamp whole;
      whole.set_seconds(ts.seconds());
      return TimeUtil::ToString(whole);
    }
    case TimeFormat::kRaw:
      return TimeUtil::ToString(ts);
    case TimeFormat::kRelative:
      break;
  }
  int64_t now = std::time(nullptr);
  int64_t diff = now - ts.seconds();
  std::string_view suffix = diff >= 0 ? "ago" : "from now";
  int64_t d = std::llabs(diff);
  if (d < 1) return "now";
  if (d < 60) return Plural(d, "second", suffix);
  if (d < 3600) return Plural(d / 60, "minute", suffix);
  if (d < 86400) return Plural(d / 3600, "hour", suffix);
  if (d < 7 * 86400) return Plural(d / 86400, "day", suffix);
  if (d < 30 * 86400) return Plural(d / (7 * 86400), "week", suffix);
  if (d < 365 * 86400) return Plural(d / (30 * 86400), "month", suffix);
  return Plural(d / (365 * 86400), "year", suffix);
}

std::string Printer::Colored(std::string_view text, Color color) const {
  if (!color_) return std::string(text);
  int code = 0;
  switch (color) {
    case Color::kRed:
      code = 31;
      break;
    case Color::kGreen:
      code = 32;
      break;
    case Color::kYellow:
      code = 33;
      break;
    case Color::kBlue:
      code = 34;
      break;
    case Color::kMagenta:
      code = 35;
      break;
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

namespace {

// The shorthand of one Payload in its proto JSON form (as the official CLI's
// Go API prints with shorthand on): json/plain (no other metadata) -> the
// value; binary/null -> null; json/protobuf + messageType -> the object with
// "_protoMessageType". Returns false for anything else.
bool PayloadShorthand(const nlohmann::ordered_json& j, nlohmann::ordered_json* out) {
  if (!j.is_object() || !j.contains("metadata") || !j["metadata"].is_object()) return false;
  for (const auto& [key, value] : j.items()) {
    if (key != "metadata" && key != "data") return false;
  }
  const auto& meta = j["metadata"];
  std::map<std::string, std::string> decoded;
  for (const auto& [key, value] : meta.items()) {
    std::string v;
    if (!value.is_string() || !absl::Base64Unescape(value.get<std::string>(), &v)) return false;
    decoded[key] = v;
  }
  std::string data;
  if (j.contains("data") &&
      (!j["data"].is_string() || !absl::Base64Unescape(j["data"].get<std::string>(), &data))) {
    return false;
  }
  const std::string& encoding = decoded["encoding"];
  if (encoding == "binary/null") {
    *out = nullptr;
    return true;
  }
  if (encoding == "json/plain" && decoded.size() == 1) {
    auto parsed = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return false;
    *out = std::move(parsed);
    return true;
  }
  if (encoding == "json/protobuf" && decoded.size() == 2 && !decoded["messageType"].empty()) {
    auto parsed = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return false;
    parsed["_protoMessageType"] = decoded["messageType"];
    *out = std::move(parsed);
    return true;
  }
  return false;
}

// Rewrites, in place, Payload objects to their shorthand and Payloads
// ({"payloads": [...]}, all convertible) to an array of values.
void ShorthandPayloads(nlohmann::ordered_json& j) {
  if (j.is_array()) {
    for (auto& e : j) ShorthandPayloads(e);
    return;
  }
  if (!j.is_object()) return;
  nlohmann::ordered_json single;
  if (PayloadShorthand(j, &single)) {
    j = std::move(single);
    return;
  }
  if (j.size() == 1 && j.contains("payloads") && j["payloads"].is_array()) {
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    bool all = true;
    for (const auto& p : j["payloads"]) {
      nlohmann::ordered_json v;
      if (!PayloadShorthand(p, &v)) {
        all = false;
        break;
      }
      values.push_back(std::move(v));
    }
    if (all) {
      j = std::move(values);
      return;
    }
  }
  for (auto& [key, value] : j.items()) ShorthandPayloads(value);
}

}  // namespace

nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message,
                                   bool shorthand_payloads) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) throw CliError(fmt::format("failed encoding JSON: {}", status.ToString()));
  auto j = nlohmann::ordered_json::parse(text);
  if (shorthand_payloads) ShorthandPayloads(j);
  return j;
}

void JsonToProto(const std::string& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) throw CliError(fmt::format("invalid JSON: {}", status.ToString()));
}

namespace {

std::string Encoding(const common::Payload& payload) {
  auto it = payload.metadata().find("encoding");
  return it == payload.metadata().end() ? "" : it->second;
}

}  // namespace

std::string PayloadText(const common::Payload& payload) {
  std::string encoding = Encoding(payload);
  if (encoding == "json/plain") {
    auto parsed = nlohmann::ordered_json::parse(payload.data(), nullptr, false);
    if (!parsed.is_discarded()) return parsed.dump();
  }
  if (encoding == "binary/null") return "null";
  return fmt::format("{}:{}", encoding.empty() ? "<no encoding>" : encoding,
                     absl::Base64Escape(payload.data()));
}

nlohmann::ordered_json PayloadJson(const common::Payload& payload) {
  return ProtoToJson(payload, /*shorthand_payloads=*/true);
}

nlohmann::ordered_json PayloadsJson(const common::Payloads& payloads) {
  if (payloads.payloads_size() == 1) return PayloadJson(payloads.payloads(0));
  return ProtoToJson(payloads, /*shorthand_payloads=*/true);
}

common::Payload JsonPayload(std::string_view json_text, std::string_view what) {
  auto parsed = nlohmann::ordered_json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    throw CliError(fmt::format("{} is not valid JSON: {}", what, json_text));
  }
  common::Payload payload;
  (*payload.mutable_metadata())["encoding"] = "json/plain";
  payload.set_data(parsed.dump());
  return payload;
}

std::string CamelEnumName(std::string_view screaming_name, std::string_view prefix) {
  if (screaming_name.substr(0, prefix.size()) == prefix)
    screaming_name.remove_prefix(prefix.size());
  std::string out;
  bool upper = true;
  for (char c : screaming_name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                 : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = false;
  }
  return out;
}

std::chrono::nanoseconds ParseDuration(std::string_view text, std::string_view flag) {
  auto bad = [&] {
    return CliError(fmt::format("invalid duration {:?} for {} (e.g. 10s, 1h30m, 250ms)",
                                std::string(text), flag));
  };
  if (text.empty()) throw bad();
  double total_ns = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (i == start) throw bad();
    double value = 0;
    try {
      value = std::stod(std::string(text.substr(start, i - start)));
    } catch (const std::exception&) {
      throw bad();
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit.empty()) {
      if (any || i != text.size()) throw bad();
      scale = 1e9;
    } else if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "µs") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else if (unit == "d") {
      scale = 86400e9;
    } else {
      throw bad();
    }
    total_ns += value * scale;
    any = true;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total_ns)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  ns = std::llabs(ns);
  if (ns < 1000) return fmt::format("{}{}ns", sign, ns);
  if (ns < 1000000) return fmt::format("{}{}µs", sign, static_cast<double>(ns) / 1e3);
  if (ns < 1000000000) return fmt::format("{}{}ms", sign, static_cast<double>(ns) / 1e6);
  int64_t hours = ns / 3600000000000LL;
  ns %= 3600000000000LL;
  int64_t minutes = ns / 60000000000LL;
  ns %= 60000000000LL;
  std::string out = sign;
  if (hours > 0) out += fmt::format("{}h", hours);
  if (hours > 0 || minutes > 0) out += fmt::format("{}m", minutes);
  out += fmt::format("{}s", static_cast<double>(ns) / 1e9);
  return out;
}

}  // namespace temporalio::cli
