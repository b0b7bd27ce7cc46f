// Output of the `temporal` client commands: text cards and tables, JSON and
// JSON Lines, times, colours, and the protobuf <-> JSON mapping the official
// CLI uses (camelCase fields, SCREAMING_CASE enum names, int64 as strings).
#ifndef TEMPORALIO_CLI_OUTPUT_H_
#define TEMPORALIO_CLI_OUTPUT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "temporal/api/common/v1/message.pb.h"

namespace temporalio::cli {

// A user-facing failure of a command: printed as "Error: <what()>" on stderr,
// exit code 1.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class OutputFormat { kText, kJson, kJsonl, kNone };
enum class TimeFormat { kRelative, kIso, kRaw };
enum class Color { kRed, kGreen, kYellow, kBlue, kMagenta };

// Not thread-safe; one per command run. Writes to `out`, which must outlive it.
// In JSON/JSONL modes the text methods (Println, PrintCard, PrintTable, ...)
// print nothing, and PrintJson prints; in text mode the reverse.
class Printer {
 public:
  Printer(std::ostream& out, OutputFormat format, TimeFormat time_format, bool color);

  bool json() const { return format_ == OutputFormat::kJson || format_ == OutputFormat::kJsonl; }
  OutputFormat format() const { return format_; }

  void Println(std::string_view line = "");
  // A magenta section heading ("Running execution:").
  void Heading(std::string_view title);
  // Name/value rows, names padded to one column; rows with an empty value are
  // kept (callers drop the optional ones).
  void PrintCard(const std::vector<std::pair<std::string, std::string>>& rows);
  // Columns padded to the widest cell (or `min_widths`); header in magenta.
  void PrintTable(const std::vector<std::string>& columns,
                  const std::vector<std::vector<std::string>>& rows, bool header = true,
                  const std::vector<size_t>& min_widths = {});
  // One JSON value: indented for json (or an element of the current list),
  // one compact line for jsonl.
  void PrintJson(const nlohmann::ordered_json& value);
  // Brackets a sequence of PrintJson calls: a JSON array for json, one line per
  // value for jsonl.
  void StartList();
  void EndList();

  // Formats per --time-format; an unset timestamp gives "".
  std::string Time(const google::protobuf::Timestamp& ts) const;
  std::string Colored(std::string_view text, Color color) const;

 private:
  std::ostream& out_;
  OutputFormat format_;
  TimeFormat time_format_;
  bool color_;
  bool in_list_ = false;
  bool first_in_list_ = true;
};

// Protobuf JSON mapping as the official CLI prints it. With
// `shorthand_payloads` (the CLI's default for -o json), a json/plain payload
// with no other metadata becomes its JSON value, binary/null becomes null,
// and a Payloads whose payloads all convert becomes an array of values;
// without it, payloads keep {metadata, data} in base64 (as `show` prints
// histories, so SDK replayers accept them).
nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message,
                                   bool shorthand_payloads);
// Inverse of ProtoToJson(.., false). Throws CliError on bad input.
void JsonToProto(const std::string& json, google::protobuf::Message* message);

// Decodes a payload for humans: json/plain data as compact JSON; anything else
// as "<encoding>:<base64 data>".
std::string PayloadText(const temporal::api::common::v1::Payload& payload);
// One payload -> its JSON value; several -> array; json/plain only, others in
// proto JSON form.
nlohmann::ordered_json PayloadsJson(const temporal::api::common::v1::Payloads& payloads);
nlohmann::ordered_json PayloadJson(const temporal::api::common::v1::Payload& payload);
// A json/plain payload with `json_text` (validated and made compact); throws
// CliError when it is not JSON. `what` names the input in the message.
temporal::api::common::v1::Payload JsonPayload(std::string_view json_text, std::string_view what);

// "WorkflowExecutionStarted" from EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, with
// `prefix` ("EVENT_TYPE_") stripped.
std::string CamelEnumName(std::string_view screaming_name, std::string_view prefix);

// Go-style durations: "10s", "1h30m", "250ms", "2d"; a bare number is seconds.
// Throws CliError naming `flag` on bad input.
std::chrono::nanoseconds ParseDuration(std::string_view text, std::string_view flag);
// "1h2m3.5s" style (Go's time.Duration String).
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace temporalio::cli

#endif  // TEMPORALIO_CLI_OUTPUT_H_
