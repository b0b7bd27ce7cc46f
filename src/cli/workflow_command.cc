// `temporal workflow ...`: start, execute, describe, list, count, show,
// result, signal, query, stack, cancel, terminate, delete, signal-with-start,
// update (execute, start, result, describe).
#include <absl/strings/escaping.h>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "google/rpc/status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace temporalio::cli {
namespace {

namespace ws = temporal::api::workflowservice::v1;
namespace common = temporal::api::common::v1;
namespace enums = temporal::api::enums::v1;
namespace history = temporal::api::history::v1;
namespace update = temporal::api::update::v1;

std::string NewUuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  std::string hex = fmt::format("{:016x}{:016x}", a, b);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20, 12));
}

void SetDuration(const std::string& text, std::string_view flag, google::protobuf::Duration* out) {
  if (text.empty()) return;
  auto ns = ParseDuration(text, flag).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

// --input / --input-file / --input-meta / --input-base64.
struct PayloadInput {
  std::vector<std::string> inputs;
  std::vector<std::string> input_files;
  std::vector<std::string> input_meta;
  bool input_base64 = false;

  void Add(CLI::App* cmd, const std::string& prefix = "", const std::string& short_flag = "-i") {
    std::string what = prefix.empty() ? "" : "signal ";
    std::string names = "--" + prefix + "input";
    if (!short_flag.empty()) names = short_flag + "," + names;
    cmd->add_option(names, inputs, "Input value (JSON; repeat for several arguments)");
    cmd->add_option("--" + prefix + "input-file", input_files,
                    "File holding an input value (JSON; repeatable)");
    cmd->add_option("--" + prefix + "input-meta", input_meta,
                    "Input payload metadata KEY=VALUE (repeatable)");
    cmd->add_flag("--" + prefix + "input-base64", input_base64,
                  "Input values are base64-encoded bytes (not validated as JSON)");
  }

  // Throws CliError on unreadable files or bad JSON.
  common::Payloads Build() const {
    if (!inputs.empty() && !input_files.empty()) {
      throw CliError("cannot provide both --input and --input-file");
    }
    std::vector<std::string> raw = inputs;
    for (const auto& path : input_files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw CliError(fmt::format("failed reading input file {:?}", path));
      std::stringstream buffer;
      buffer << in.rdbuf();
      raw.push_back(buffer.str());
    }
    std::vector<std::pair<std::string, std::string>> meta;
    bool json_plain = true;
    for (const auto& kv : input_meta) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) {
        throw CliError(fmt::format("metadata {:?} expected to have '='", kv));
      }
      meta.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      if (meta.back().first == "encoding" && meta.back().second != "json/plain") json_plain = false;
    }
    common::Payloads payloads;
    for (const auto& value : raw) {
      common::Payload payload;
      if (input_base64) {
        std::string decoded;
        if (!absl::Base64Unescape(value, &decoded)) {
          throw CliError(fmt::format("input is not valid base64: {}", value));
        }
        (*payload.mutable_metadata())["encoding"] = "json/plain";
        payload.set_data(decoded);
      } else if (json_plain) {
        payload = JsonPayload(value, "input");
      } else {
        payload.set_data(value);
      }
      for (const auto& [k, v] : meta) (*payload.mutable_metadata())[k] = v;
      *payloads.add_payloads() = std::move(payload);
    }
    return payloads;
  }
};

// KEY=JSON pairs (memo, search attributes) as json/plain payloads.
void FillPayloadMap(const std::vector<std::string>& pairs, std::string_view flag,
                    google::protobuf::Map<std::string, common::Payload>* out) {
  for (const auto& kv : pairs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(fmt::format("{} wants KEY=JSON_VALUE, got {:?}", flag, kv));
    }
    (*out)[kv.substr(0, eq)] = JsonPayload(kv.substr(eq + 1), fmt::format("{} value", flag));
  }
}

// "AllowDuplicate" (or "ALLOW_DUPLICATE", or the full enum name) -> enum value.
template <typename Enum, typename ParseFn>
Enum ParseEnumFlag(const std::string& value, std::string_view prefix, ParseFn parse,
                   std::string_view flag) {
  std::string screaming;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0 &&
        std::islower(static_cast<unsigned char>(value[i - 1]))) {
      screaming += '_';
    }
    screaming += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (screaming.rfind(prefix, 0) != 0) screaming = std::string(prefix) + screaming;
  Enum out{};
  if (!parse(screaming, &out)) throw CliError(fmt::format("invalid {}: {:?}", flag, value));
  return out;
}

// --workflow-id/--run-id.
struct WorkflowRef {
  std::string workflow_id;
  std::string run_id;
  void Add(CLI::App* cmd, bool required = true) {
    auto* opt = cmd->add_option("-w,--workflow-id", workflow_id, "Workflow ID");
    if (required) opt->required();
    cmd->add_option("-r,--run-id", run_id, "Run ID");
  }
  common::WorkflowExecution Execution() const {
    common::WorkflowExecution e;
    e.set_workflow_id(workflow_id);
    e.set_run_id(run_id);
    return e;
  }
};

// Shared by start, execute, signal-with-start.
struct StartFlags {
  std::string workflow_id;
  std::string type;
  std::string task_queue;
  std::string run_timeout;
  std::string execution_timeout;
  std::string task_timeout = "10s";
  std::vector<std::string> search_attributes;
  std::vector<std::string> memo;
  std::vector<std::string> headers;
  std::string cron;
  bool fail_existing = false;
  std::string start_delay;
  std::string id_reuse_policy;
  std::string id_conflict_policy;
  PayloadInput input;

  void Add(CLI::App* cmd) {
    cmd->add_option("-w,--workflow-id", workflow_id, "Workflow ID (default: a UUID)");
    cmd->add_option("--type,--name", type, "Workflow Type name")->required();
    cmd->add_option("-t,--task-queue", task_queue, "Workflow Task queue")->required();
    cmd->add_option("--run-timeout", run_timeout, "Fail a Workflow Run if it lasts longer");
    cmd->add_option("--execution-timeout", execution_timeout,
                    "Fail a Workflow Execution (all runs) if it lasts longer");
    cmd->add_option("--task-timeout", task_timeout, "Fail a Workflow Task if it lasts longer")
        ->capture_default_str();
    cmd->add_option("--search-attribute", search_attributes,
                    "Search Attribute KEY=JSON_VALUE (repeatable)");
    cmd->add_option("--memo", memo, "Memo KEY=JSON_VALUE (repeatable)");
    cmd->add_option("--headers", headers, "Temporal workflow header KEY=JSON_VALUE (repeatable)");
    cmd->add_option("--cron", cron, "Cron schedule");
    cmd->add_flag("--fail-existing", fail_existing, "Fail if the Workflow is already running");
    cmd->add_option("--start-delay", start_delay, "Delay before the first Workflow Task");
    cmd->add_option(
        "--id-reuse-policy", id_reuse_policy,
        "AllowDuplicate, AllowDuplicateFailedOnly, RejectDuplicate, TerminateIfRunning");
    cmd->add_option("--id-conflict-policy", id_conflict_policy,
                    "Fail, UseExisting, TerminateExisting");
    input.Add(cmd);
  }

  template <typename Request>
  void Fill(Runtime& rt, Request* req) {
    req->set_namespace_(rt.namespace_());
    if (workflow_id.empty()) workflow_id = NewUuid();
    req->set_workflow_id(workflow_id);
    req->mutable_workflow_type()->set_name(type);
    req->mutable_task_queue()->set_name(task_queue);
    req->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    auto payloads = input.Build();
    if (payloads.payloads_size() > 0) *req->mutable_input() = std::move(payloads);
    SetDuration(execution_timeout, "--execution-timeout",
                req->mutable_workflow_execution_timeout());
    SetDuration(run_timeout, "--run-timeout", req->mutable_workflow_run_timeout());
    SetDuration(task_timeout, "--task-timeout", req->mutable_workflow_task_timeout());
    req->set_identity(rt.connection().identity());
    req->set_request_id(NewUuid());
    if (!id_reuse_policy.empty()) {
      req->set_workflow_id_reuse_policy(ParseEnumFlag<enums::WorkflowIdReusePolicy>(
          id_reuse_policy, "WORKFLOW_ID_REUSE_POLICY_", enums::WorkflowIdReusePolicy_Parse,
          "--id-reuse-policy"));
    }
    if (!id_conflict_policy.empty()) {
      req->set_workflow_id_conflict_policy(ParseEnumFlag<enums::WorkflowIdConflictPolicy>(
          id_conflict_policy, "WORKFLOW_ID_CONFLICT_POLICY_", enums::WorkflowIdConflictPolicy_Parse,
          "--id-conflict-policy"));
    }
    req->set_cron_schedule(cron);
    if (!memo.empty()) FillPayloadMap(memo, "--memo", req->mutable_memo()->mutable_fields());
    if (!search_attributes.empty()) {
      FillPayloadMap(search_attributes, "--search-attribute",
                     req->mutable_search_attributes()->mutable_indexed_fields());
    }
    if (!headers.empty()) {
      FillPayloadMap(headers, "--headers", req->mutable_header()->mutable_fields());
    }
    SetDuration(start_delay, "--start-delay", req->mutable_workflow_start_delay());
  }
};

// The run id carried by an ALREADY_EXISTS WorkflowExecutionAlreadyStartedFailure.
std::string AlreadyStartedRunId(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::ALREADY_EXISTS) return "";
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return "";
  for (const auto& detail : rpc_status.details()) {
    temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure failure;
    if (detail.UnpackTo(&failure)) return failure.run_id();
  }
  return "";
}

void PrintRunningExecution(Runtime& rt, const std::string& workflow_id, const std::string& run_id,
                           const std::string& type, const std::string& task_queue) {
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson({{"workflowId", workflow_id},
                 {"runId", run_id},
                 {"type", type},
                 {"namespace", rt.namespace_()},
                 {"taskQueue", task_queue}});
    return;
  }
  p.Heading("Running execution:");
  p.PrintCard({{"WorkflowId", workflow_id},
               {"RunId", run_id},
               {"Type", type},
               {"Namespace", rt.namespace_()},
               {"TaskQueue", task_queue}});
}

// Starts the workflow; returns its run id. An already running execution is
// reused unless --fail-existing (as the official CLI's client does).
std::string StartWorkflow(Runtime& rt, StartFlags& flags) {
  ws::StartWorkflowExecutionRequest req;
  flags.Fill(rt, &req);
  if (flags.fail_existing &&
      req.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) {
    throw CliError("--fail-existing cannot be combined with --id-conflict-policy UseExisting");
  }
  ws::StartWorkflowExecutionResponse resp;
  auto& conn = rt.connection();
  grpc::Status status = conn.workflow().StartWorkflowExecution(conn.NewContext().get(), req, &resp);
  if (!status.ok() && !flags.fail_existing) {
    std::string existing = AlreadyStartedRunId(status);
    if (!existing.empty()) return existing;
  }
  conn.Check(status, "failed starting workflow");
  return resp.run_id();
}

// Pages through a run's history. `follow` long-polls for new events until
// the run closes. Calls `on_event` for each event.
void ForEachEvent(Runtime& rt, const std::string& workflow_id, const std::string& run_id,
                  bool follow, const std::function<void(const history::HistoryEvent&)>& on_event) {
  auto& conn = rt.connection();
  std::string token;
  do {
    ws::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_(rt.namespace_());
    req.mutable_execution()->set_workflow_id(workflow_id);
    req.mutable_execution()->set_run_id(run_id);
    req.set_next_page_token(token);
    req.set_wait_new_event(follow);
    ws::GetWorkflowExecutionHistoryResponse resp;
    auto ctx = conn.NewContext(
        follow ? std::nullopt : std::optional<std::chrono::milliseconds>(std::chrono::seconds(30)));
    conn.Check(conn.workflow().GetWorkflowExecutionHistory(ctx.get(), req, &resp),
               "failed getting history");
    for (const auto& event : resp.history().events()) on_event(event);
    token = resp.next_page_token();
  } while (!token.empty());
}

bool IsCloseEvent(const history::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return true;
    default:
      return false;
  }
}

// Waits for the close event, following continue-as-new from `run_id`
// (empty: the latest run).
history::HistoryEvent WaitCloseEvent(Runtime& rt, const std::string& workflow_id,
                                     std::string run_id, bool wait = true) {
  auto& conn = rt.connection();
  for (;;) {
    std::optional<history::HistoryEvent> close;
    std::string token;
    do {
      ws::GetWorkflowExecutionHistoryRequest req;
      req.set_namespace_(rt.namespace_());
      req.mutable_execution()->set_workflow_id(workflow_id);
      req.mutable_execution()->set_run_id(run_id);
      req.set_next_page_token(token);
      req.set_wait_new_event(wait);
      req.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
      ws::GetWorkflowExecutionHistoryResponse resp;
      auto ctx = conn.NewContext(
          wait ? std::nullopt : std::optional<std::chrono::milliseconds>(std::chrono::seconds(30)));
      conn.Check(conn.workflow().GetWorkflowExecutionHistory(ctx.get(), req, &resp),
                 "failed getting close event");
      for (const auto& e : resp.history().events()) {
        if (IsCloseEvent(e)) close = e;
      }
      token = resp.next_page_token();
    } while (!close && !token.empty());
    if (!close) throw CliError("missing close event");
    if (close->has_workflow_execution_continued_as_new_event_attributes() && wait) {
      run_id = close->workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
      continue;
    }
    return *close;
  }
}

std::string StatusOfClose(const history::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return "COMPLETED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      return "FAILED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      return "TIMEOUT";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      return "CANCELED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      return "TERMINATED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return "CONTINUED_AS_NEW";
    default:
      return "<unknown>";
  }
}

std::string FailureText(const temporal::api::failure::v1::Failure* f, std::string indent) {
  std::string s;
  while (f != nullptr) {
    s += "\n" + indent + "Message: " + f->message();
    if (!f->stack_trace().empty()) {
      std::string trace = f->stack_trace();
      std::string body;
      for (size_t pos = 0;;) {
        size_t nl = trace.find('\n', pos);
        body += "\n" + indent + "    " + trace.substr(pos, nl == std::string::npos ? nl : nl - pos);
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      s += "\n" + indent + "StackTrace:" + body;
    }
    if (f->has_cause()) {
      f = &f->cause();
      s += "\n" + indent + "Cause:";
      indent += "    ";
    } else {
      f = nullptr;
    }
  }
  return s;
}

// "Results:" card (text) for a close event.
void PrintTextResult(Runtime& rt, const history::HistoryEvent& close,
                     std::chrono::nanoseconds duration) {
  auto& p = rt.printer();
  p.Heading("Results:");
  std::vector<std::pair<std::string, std::string>> rows;
  if (duration.count() > 0) {
    rows.emplace_back("RunTime",
                      FormatDuration(duration - duration % std::chrono::milliseconds(10)));
  }
  std::string status = StatusOfClose(close);
  Color colour = status == "COMPLETED" ? Color::kGreen : Color::kRed;
  rows.emplace_back("Status", p.Colored(status, colour));
  if (close.has_workflow_execution_completed_event_attributes()) {
    const auto& result = close.workflow_execution_completed_event_attributes().result();
    rows.emplace_back("Result", result.payloads_size() == 0
                                    ? "null"
                                    : (result.payloads_size() == 1 ? PayloadText(result.payloads(0))
                                                                   : PayloadsJson(result).dump()));
    if (result.payloads_size() > 0) {
      auto it = result.payloads(0).metadata().find("encoding");
      if (it != result.payloads(0).metadata().end())
        rows.emplace_back("ResultEncoding", it->second);
    }
  } else if (close.has_workflow_execution_failed_event_attributes()) {
    rows.emplace_back(
        "Failure",
        FailureText(&close.workflow_execution_failed_event_attributes().failure(), "    "));
  } else if (close.has_workflow_execution_terminated_event_attributes()) {
    const auto& reason = close.workflow_execution_terminated_event_attributes().reason();
    if (!reason.empty()) rows.emplace_back("Reason", reason);
  }
  p.PrintCard(rows);
}

// The JSON result object of execute/result.
nlohmann::ordered_json JsonResult(Runtime& rt, const std::string& workflow_id,
                                  const std::string& run_id, const std::string& type,
                                  const std::string& task_queue, std::chrono::nanoseconds duration,
                                  const history::HistoryEvent& close) {
  nlohmann::ordered_json j = {{"workflowId", workflow_id}, {"runId", run_id}};
  if (!type.empty()) j["type"] = type;
  j["namespace"] = rt.namespace_();
  if (!task_queue.empty()) j["taskQueue"] = task_queue;
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  if (millis > 0) j["durationMillis"] = millis;
  j["status"] = StatusOfClose(close);
  j["closeEvent"] = ProtoToJson(close, rt.shorthand_payloads());
  if (close.has_workflow_execution_completed_event_attributes()) {
    j["result"] = PayloadsJson(close.workflow_execution_completed_event_attributes().result());
  }
  return j;
}

std::string ColoredEventType(const Printer& p, enums::EventType type) {
  std::string name = CamelEnumName(enums::EventType_Name(type), "EVENT_TYPE_");
  std::string_view n = name;
  auto ends = [&](std::string_view suffix) {
    return n.size() >= suffix.size() && n.substr(n.size() - suffix.size()) == suffix;
  };
  if (ends("Failed")) return p.Colored(name, Color::kRed);
  if (ends("TimedOut")) return p.Colored(name, Color::kYellow);
  if (type == enums::EVENT_TYPE_TIMER_CANCELED || ends("ExecutionCanceled")) {
    return p.Colored(name, Color::kMagenta);
  }
  if (ends("Completed")) return p.Colored(name, Color::kGreen);
  if (ends("Started")) return p.Colored(name, Color::kBlue);
  return name;
}

// Text "Progress:" table of a run's events (following continue-as-new when
// `follow`); returns the close event, if any was seen.
std::optional<history::HistoryEvent> PrintProgress(Runtime& rt, const std::string& workflow_id,
                                                   std::string run_id, bool follow) {
  auto& p = rt.printer();
  p.Heading("Progress:");
  p.PrintTable({"ID", "Time", "Type"}, {}, true, {3, 20, 26});
  std::optional<history::HistoryEvent> close;
  while (true) {
    std::string next_run;
    ForEachEvent(rt, workflow_id, run_id, follow, [&](const history::HistoryEvent& e) {
      google::protobuf::Timestamp whole;
      whole.set_seconds(e.event_time().seconds());
      p.PrintTable(
          {"ID", "Time", "Type"},
          {{std::to_string(e.event_id()), google::protobuf::util::TimeUtil::ToString(whole),
            ColoredEventType(p, e.event_type())}},
          false, {3, 20, 26});
      if (IsCloseEvent(e)) close = e;
      if (e.has_workflow_execution_continued_as_new_event_attributes()) {
        next_run = e.workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
      }
    });
    if (!follow || next_run.empty()) break;
    run_id = next_run;
  }
  return close;
}

// ---------------------------------------------------------------------------

int RunStart(Runtime& rt, StartFlags& flags) {
  std::string run_id = StartWorkflow(rt, flags);
  PrintRunningExecution(rt, flags.workflow_id, run_id, flags.type, flags.task_queue);
  return 0;
}

int RunExecute(Runtime& rt, StartFlags& flags, bool detailed) {
  auto started = std::chrono::steady_clock::now();
  std::string run_id = StartWorkflow(rt, flags);
  auto& p = rt.printer();
  if (!p.json()) {
    PrintRunningExecution(rt, flags.workflow_id, run_id, flags.type, flags.task_queue);
    p.Println();
    PrintProgress(rt, flags.workflow_id, run_id, /*follow=*/true);
    p.Println();
  }
  history::HistoryEvent close = WaitCloseEvent(rt, flags.workflow_id, run_id);
  auto duration = std::chrono::steady_clock::now() - started;
  if (p.json()) {
    auto j =
        JsonResult(rt, flags.workflow_id, run_id, flags.type, flags.task_queue, duration, close);
    if (detailed) {
      nlohmann::ordered_json events = nlohmann::ordered_json::array();
      ForEachEvent(rt, flags.workflow_id, run_id, false, [&](const history::HistoryEvent& e) {
        events.push_back(ProtoToJson(e, false));
      });
      j["history"] = {{"events", events}};
    }
    p.PrintJson(j);
  } else {
    PrintTextResult(rt, close, duration);
  }
  if (close.event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) {
    throw CliError("workflow failed");
  }
  return 0;
}

int RunResult(Runtime& rt, const WorkflowRef& ref) {
  history::HistoryEvent close = WaitCloseEvent(rt, ref.workflow_id, ref.run_id);
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(JsonResult(rt, ref.workflow_id, ref.run_id, "", "", {}, close));
  } else {
    PrintTextResult(rt, close, {});
  }
  if (close.event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) {
    throw CliError("workflow failed");
  }
  return 0;
}

int RunShow(Runtime& rt, const WorkflowRef& ref, bool follow, bool reverse) {
  if (reverse && follow) throw CliError("--reverse cannot be combined with --follow");
  auto& p = rt.printer();
  if (!p.json()) {
    auto close = PrintProgress(rt, ref.workflow_id, ref.run_id, follow);
    p.Println();
    if (close) PrintTextResult(rt, *close, {});
    return 0;
  }
  // JSON: the temporal.api.history.v1.History message, payloads kept in
  // their proto form so SDK replayers can read it back.
  history::History out;
  if (reverse) {
    auto& conn = rt.connection();
    std::string token;
    do {
      ws::GetWorkflowExecutionHistoryReverseRequest req;
      req.set_namespace_(rt.namespace_());
      *req.mutable_execution() = ref.Execution();
      req.set_next_page_token(token);
      ws::GetWorkflowExecutionHistoryReverseResponse resp;
      conn.Check(
          conn.workflow().GetWorkflowExecutionHistoryReverse(conn.NewContext().get(), req, &resp),
          "failed getting history");
      for (const auto& e : resp.history().events()) *out.add_events() = e;
      token = resp.next_page_token();
    } while (!token.empty());
  } else {
    ForEachEvent(rt, ref.workflow_id, ref.run_id, follow,
                 [&](const history::HistoryEvent& e) { *out.add_events() = e; });
  }
  p.PrintJson(ProtoToJson(out, /*shorthand_payloads=*/false));
  return 0;
}

std::string PayloadMapText(const google::protobuf::Map<std::string, common::Payload>& fields) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : fields) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::string out = "map[";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ' ';
    out += keys[i] + ":" + PayloadText(fields.at(keys[i]));
  }
  return out + "]";
}

// Deprecated fields the official CLI still shows.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
std::string BinaryChecksum(const temporal::api::workflow::v1::ResetPointInfo& p) {
  return p.binary_checksum();
}
std::string AssignedBuildId(const temporal::api::workflow::v1::WorkflowExecutionInfo& info) {
  return info.assigned_build_id();
}
#pragma GCC diagnostic pop

int RunDescribe(Runtime& rt, const WorkflowRef& ref, bool reset_points, bool raw) {
  auto& conn = rt.connection();
  ws::DescribeWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_execution() = ref.Execution();
  ws::DescribeWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().DescribeWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed describing workflow");
  auto& p = rt.printer();
  const auto& info = resp.workflow_execution_info();

  if (reset_points) {
    const auto& points = info.auto_reset_points().points();
    if (p.json()) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const auto& pt : points) {
        arr.push_back({{"BinaryChecksum", BinaryChecksum(pt)},
                       {"CreateTime", google::protobuf::util::TimeUtil::ToString(pt.create_time())},
                       {"RunId", pt.run_id()},
                       {"EventId", pt.first_workflow_task_completed_id()}});
      }
      p.PrintJson(arr);
      return 0;
    }
    p.Heading(fmt::format("Auto Reset Points: {}", points.size()));
    std::vector<std::vector<std::string>> rows;
    for (const auto& pt : points) {
      rows.push_back({BinaryChecksum(pt), p.Time(pt.create_time()), pt.run_id(),
                      std::to_string(pt.first_workflow_task_completed_id())});
    }
    p.PrintTable({"BinaryChecksum", "CreateTime", "RunId", "EventId"}, rows);
    return 0;
  }

  bool running = info.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
  std::optional<history::HistoryEvent> close;
  if (!running) {
    close = WaitCloseEvent(rt, info.execution().workflow_id(), info.execution().run_id(),
                           /*wait=*/false);
  }

  if (p.json() || raw) {
    nlohmann::ordered_json j = ProtoToJson(resp, rt.shorthand_payloads() && !raw);
    if (close) {
      j["closeEvent"] = ProtoToJson(*close, rt.shorthand_payloads() && !raw);
      if (close->has_workflow_execution_completed_event_attributes()) {
        j["result"] = PayloadsJson(close->workflow_execution_completed_event_attributes().result());
      }
    }
    if (p.json()) {
      p.PrintJson(j);
    } else {
      rt.out() << j.dump(2) << '\n';
    }
    return 0;
  }

  p.Heading("Execution Info:");
  std::vector<std::pair<std::string, std::string>> rows = {
      {"WorkflowId", info.execution().workflow_id()},
      {"RunId", info.execution().run_id()},
      {"Type", info.type().name()},
      {"Namespace", rt.namespace_()},
      {"TaskQueue", info.task_queue()},
      {"AssignedBuildId", AssignedBuildId(info)},
      {"StartTime", p.Time(info.start_time())},
  };
  if (info.has_close_time()) rows.emplace_back("CloseTime", p.Time(info.close_time()));
  if (info.has_execution_time()) rows.emplace_back("ExecutionTime", p.Time(info.execution_time()));
  if (info.memo().fields_size() > 0)
    rows.emplace_back("Memo", PayloadMapText(info.memo().fields()));
  if (info.search_attributes().indexed_fields_size() > 0) {
    rows.emplace_back("SearchAttributes",
                      PayloadMapText(info.search_attributes().indexed_fields()));
  }
  rows.emplace_back("StateTransitionCount", std::to_string(info.state_transition_count()));
  rows.emplace_back("HistoryLength", std::to_string(info.history_length()));
  rows.emplace_back("HistorySize", std::to_string(info.history_size_bytes()));
  if (info.has_parent_execution()) {
    rows.emplace_back("ParentWorkflowId", info.parent_execution().workflow_id());
    rows.emplace_back("ParentRunId", info.parent_execution().run_id());
  }
  if (info.has_root_execution()) {
    rows.emplace_back("RootWorkflowId", info.root_execution().workflow_id());
    rows.emplace_back("RootRunId", info.root_execution().run_id());
  }
  p.PrintCard(rows);

  if (resp.has_workflow_extended_info()) {
    const auto& ext = resp.workflow_extended_info();
    p.Heading("Extended Execution Info:");
    std::vector<std::pair<std::string, std::string>> ext_rows = {
        {"CancelRequested", ext.cancel_requested() ? "true" : "false"}};
    if (ext.has_execution_expiration_time()) {
      ext_rows.emplace_back("ExecutionExpirationTime", p.Time(ext.execution_expiration_time()));
    }
    if (ext.has_run_expiration_time()) {
      ext_rows.emplace_back("RunExpirationTime", p.Time(ext.run_expiration_time()));
    }
    if (ext.has_original_start_time()) {
      ext_rows.emplace_back("OriginalStartTime", p.Time(ext.original_start_time()));
    }
    p.PrintCard(ext_rows);
  }

  if (running) {
    p.Println();
    p.Heading(fmt::format("Pending Activities: {}", resp.pending_activities_size()));
    for (int i = 0; i < resp.pending_activities_size(); ++i) {
      const auto& a = resp.pending_activities(i);
      p.Println();
      std::vector<std::pair<std::string, std::string>> act = {
          {"ActivityId", a.activity_id()},
          {"Type", a.activity_type().name()},
          {"State",
           CamelEnumName(enums::PendingActivityState_Name(a.state()), "PENDING_ACTIVITY_STATE_")},
          {"Attempt", std::to_string(a.attempt())},
          {"MaximumAttempts", std::to_string(a.maximum_attempts())},
          {"ScheduledTime", p.Time(a.scheduled_time())},
      };
      if (a.has_last_started_time())
        act.emplace_back("LastStartedTime", p.Time(a.last_started_time()));
      if (a.has_last_heartbeat_time()) {
        act.emplace_back("LastHeartbeatTime", p.Time(a.last_heartbeat_time()));
      }
      if (a.has_expiration_time()) act.emplace_back("ExpirationTime", p.Time(a.expiration_time()));
      if (a.has_last_failure()) act.emplace_back("LastFailure", a.last_failure().message());
      if (!a.last_worker_identity().empty()) {
        act.emplace_back("LastWorkerIdentity", a.last_worker_identity());
      }
      p.PrintCard(act);
    }
    if (resp.pending_activities_size() > 0) p.Println();
    p.Heading(fmt::format("Pending Child Workflows: {}", resp.pending_children_size()));
    for (const auto& c : resp.pending_children()) {
      p.Println();
      p.PrintCard({{"WorkflowId", c.workflow_id()},
                   {"RunId", c.run_id()},
                   {"WorkflowTypeName", c.workflow_type_name()},
                   {"InitiatedId", std::to_string(c.initiated_id())}});
    }
    p.Heading(fmt::format("Pending Nexus Operations: {}", resp.pending_nexus_operations_size()));
  } else if (close) {
    p.Println();
    std::chrono::nanoseconds duration{0};
    if (info.has_start_time() && info.has_close_time()) {
      duration = std::chrono::nanoseconds(google::protobuf::util::TimeUtil::DurationToNanoseconds(
          info.close_time() - info.start_time()));
    }
    PrintTextResult(rt, *close, duration);
  }
  return 0;
}

struct ListFlags {
  std::string query;
  bool archived = false;
  int limit = 0;
  int page_size = 0;
};

int RunList(Runtime& rt, ListFlags flags) {
  if (flags.archived) throw CliError("the server does not support archived workflow listing");
  auto& conn = rt.connection();
  auto& p = rt.printer();
  if (flags.limit > 0 && (flags.page_size <= 0 || flags.limit < flags.page_size)) {
    flags.page_size = flags.limit;
  }
  p.StartList();
  std::string token;
  int processed = 0;
  for (int page = 0;; ++page) {
    ws::ListWorkflowExecutionsRequest req;
    req.set_namespace_(rt.namespace_());
    req.set_query(flags.query);
    req.set_page_size(flags.page_size);
    req.set_next_page_token(token);
    ws::ListWorkflowExecutionsResponse resp;
    conn.Check(conn.workflow().ListWorkflowExecutions(conn.NewContext().get(), req, &resp),
               "failed listing workflows");
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : resp.executions()) {
      if (flags.limit > 0 && processed >= flags.limit) break;
      ++processed;
      if (p.json()) {
        p.PrintJson(ProtoToJson(e, rt.shorthand_payloads()));
      } else {
        rows.push_back({CamelEnumName(enums::WorkflowExecutionStatus_Name(e.status()),
                                      "WORKFLOW_EXECUTION_STATUS_"),
                        e.execution().workflow_id(), e.type().name(), p.Time(e.start_time())});
      }
    }
    if (!rows.empty()) {
      p.PrintTable({"Status", "WorkflowId", "Type", "StartTime"}, rows, /*header=*/page == 0);
    }
    token = resp.next_page_token();
    if (token.empty() || (flags.limit > 0 && processed >= flags.limit)) break;
  }
  p.EndList();
  return 0;
}

int RunCount(Runtime& rt, const std::string& query) {
  auto& conn = rt.connection();
  ws::CountWorkflowExecutionsRequest req;
  req.set_namespace_(rt.namespace_());
  req.set_query(query);
  ws::CountWorkflowExecutionsResponse resp;
  conn.Check(conn.workflow().CountWorkflowExecutions(conn.NewContext().get(), req, &resp),
             "failed counting workflows");
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(ProtoToJson(resp, rt.shorthand_payloads()));
    return 0;
  }
  p.Println(fmt::format("Total: {}", resp.count()));
  for (const auto& g : resp.groups()) {
    std::string values;
    for (const auto& v : g.group_values()) {
      if (!values.empty()) values += ", ";
      values += PayloadText(v);
    }
    p.Println(fmt::format("Group total: {}, values: {}", g.count(), values));
  }
  return 0;
}

// --workflow-id or --query (batch) for signal/cancel/terminate/delete.
struct SingleOrBatch {
  WorkflowRef ref;
  std::string query;
  std::string reason;
  bool yes = false;
  float rps = 0;
  void Add(CLI::App* cmd) {
    ref.Add(cmd, /*required=*/false);
    cmd->add_option("-q,--query", query, "List filter selecting Workflow Executions (batch)");
    cmd->add_option("--reason", reason, "Reason for the operation");
    cmd->add_flag("-y,--yes", yes, "Don't prompt to confirm a batch operation");
    cmd->add_option("--rps", rps, "Batch operations per second");
  }
  // True for a single workflow; false for a batch (query).
  bool Single() const {
    if (!ref.workflow_id.empty()) {
      if (!query.empty()) throw CliError("cannot set query when workflow ID is set");
      if (rps != 0) throw CliError("cannot set rps when workflow ID is set");
      return true;
    }
    if (query.empty()) throw CliError("must set either workflow ID or query");
    if (!ref.run_id.empty()) throw CliError("cannot set run ID when query is set");
    if (!yes) throw CliError("batch operations need --yes (no interactive confirmation)");
    return false;
  }
  ws::StartBatchOperationRequest Batch(Runtime& rt, const std::string& default_reason) const {
    ws::StartBatchOperationRequest req;
    req.set_namespace_(rt.namespace_());
    req.set_job_id(NewUuid());
    req.set_visibility_query(query);
    req.set_reason(reason.empty() ? default_reason : reason);
    req.set_max_operations_per_second(rps);
    return req;
  }
};

int StartBatch(Runtime& rt, const ws::StartBatchOperationRequest& req) {
  auto& conn = rt.connection();
  ws::StartBatchOperationResponse resp;
  conn.Check(conn.workflow().StartBatchOperation(conn.NewContext().get(), req, &resp),
             "batch operations");
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson({{"batchJobId", req.job_id()}});
  } else {
    p.Println(fmt::format("Started batch for job ID: {}", req.job_id()));
  }
  return 0;
}

int RunSignal(Runtime& rt, const SingleOrBatch& target, const std::string& name,
              const PayloadInput& input) {
  auto payloads = input.Build();
  auto& conn = rt.connection();
  if (!target.Single()) {
    auto req = target.Batch(rt, "Requested from CLI");
    auto* op = req.mutable_signal_operation();
    op->set_signal(name);
    if (payloads.payloads_size() > 0) *op->mutable_input() = payloads;
    op->set_identity(conn.identity());
    return StartBatch(rt, req);
  }
  ws::SignalWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_workflow_execution() = target.ref.Execution();
  req.set_signal_name(name);
  if (payloads.payloads_size() > 0) *req.mutable_input() = std::move(payloads);
  req.set_identity(conn.identity());
  req.set_request_id(NewUuid());
  ws::SignalWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().SignalWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed signalling workflow");
  rt.printer().Println("Signal workflow succeeded");
  return 0;
}

int RunCancel(Runtime& rt, const SingleOrBatch& target) {
  auto& conn = rt.connection();
  if (!target.Single()) {
    auto req = target.Batch(rt, "Requested from CLI");
    req.mutable_cancellation_operation()->set_identity(conn.identity());
    return StartBatch(rt, req);
  }
  ws::RequestCancelWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_workflow_execution() = target.ref.Execution();
  req.set_identity(conn.identity());
  req.set_request_id(NewUuid());
  req.set_reason(target.reason);
  ws::RequestCancelWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().RequestCancelWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed to cancel workflow");
  rt.printer().Println("Canceled workflow");
  return 0;
}

int RunTerminate(Runtime& rt, const SingleOrBatch& target) {
  auto& conn = rt.connection();
  if (!target.Single()) {
    auto req = target.Batch(rt, "Requested from CLI");
    req.mutable_termination_operation()->set_identity(conn.identity());
    return StartBatch(rt, req);
  }
  ws::TerminateWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_workflow_execution() = target.ref.Execution();
  req.set_identity(conn.identity());
  req.set_reason(target.reason.empty() ? "Requested from CLI" : target.reason);
  ws::TerminateWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().TerminateWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed to terminate workflow");
  rt.printer().Println("Workflow terminated");
  return 0;
}

int RunDelete(Runtime& rt, const SingleOrBatch& target) {
  auto& conn = rt.connection();
  if (!target.Single()) {
    auto req = target.Batch(rt, "Requested from CLI");
    req.mutable_deletion_operation()->set_identity(conn.identity());
    return StartBatch(rt, req);
  }
  ws::DeleteWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_workflow_execution() = target.ref.Execution();
  ws::DeleteWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().DeleteWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed deleting workflow");
  rt.printer().Println("Delete workflow succeeded");
  return 0;
}

int RunQuery(Runtime& rt, const WorkflowRef& ref, const std::string& query_type,
             const PayloadInput& input, const std::string& reject_condition) {
  auto& conn = rt.connection();
  ws::QueryWorkflowRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_execution() = ref.Execution();
  req.mutable_query()->set_query_type(query_type);
  auto payloads = input.Build();
  if (payloads.payloads_size() > 0) *req.mutable_query()->mutable_query_args() = payloads;
  if (reject_condition == "not_open") {
    req.set_query_reject_condition(enums::QUERY_REJECT_CONDITION_NOT_OPEN);
  } else if (reject_condition == "not_completed_cleanly") {
    req.set_query_reject_condition(enums::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY);
  } else if (!reject_condition.empty()) {
    throw CliError(fmt::format(
        "invalid query reject condition: {}, valid values are: 'not_open', 'not_completed_cleanly'",
        reject_condition));
  }
  ws::QueryWorkflowResponse resp;
  conn.Check(conn.workflow().QueryWorkflow(conn.NewContext().get(), req, &resp),
             "querying workflow failed");
  if (resp.has_query_rejected()) {
    throw CliError(fmt::format(
        "query was rejected, workflow has status: {}",
        CamelEnumName(enums::WorkflowExecutionStatus_Name(resp.query_rejected().status()),
                      "WORKFLOW_EXECUTION_STATUS_")));
  }
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(ProtoToJson(resp, rt.shorthand_payloads()));
    return 0;
  }
  p.Heading("Query result:");
  const auto& result = resp.query_result();
  std::string text =
      result.payloads_size() == 1 ? PayloadText(result.payloads(0)) : PayloadsJson(result).dump();
  if (query_type == "__stack_trace" && result.payloads_size() == 1) {
    auto j = nlohmann::ordered_json::parse(result.payloads(0).data(), nullptr, false);
    if (j.is_string()) text = j.get<std::string>();
  }
  p.PrintCard({{"QueryResult", text}});
  return 0;
}

int RunSignalWithStart(Runtime& rt, StartFlags& flags, const std::string& signal_name,
                       const PayloadInput& signal_input) {
  if (flags.workflow_id.empty()) throw CliError("--workflow-id flag must be provided");
  ws::SignalWithStartWorkflowExecutionRequest req;
  flags.Fill(rt, &req);
  req.set_signal_name(signal_name);
  auto signal_payloads = signal_input.Build();
  if (signal_payloads.payloads_size() > 0) *req.mutable_signal_input() = std::move(signal_payloads);
  auto& conn = rt.connection();
  ws::SignalWithStartWorkflowExecutionResponse resp;
  conn.Check(conn.workflow().SignalWithStartWorkflowExecution(conn.NewContext().get(), req, &resp),
             "failed signal-with-start");
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson({{"workflowId", flags.workflow_id},
                 {"runId", resp.run_id()},
                 {"type", flags.type},
                 {"namespace", rt.namespace_()}});
    return 0;
  }
  p.Heading("Running execution:");
  p.PrintCard({{"WorkflowId", flags.workflow_id},
               {"RunId", resp.run_id()},
               {"Type", flags.type},
               {"Namespace", rt.namespace_()}});
  return 0;
}

// --- update ------------------------------------------------------------------

// `workflow update execute|start|result|describe` flags.
struct UpdateFlags {
  WorkflowRef ref;
  std::string name;
  std::string update_id;
  std::string first_execution_run_id;
  std::vector<std::string> headers;
  std::string wait_for_stage;
  PayloadInput input;

  void AddTarget(CLI::App* cmd) {
    ref.Add(cmd);
    cmd->add_option("--update-id", update_id, "Update ID (default for a new Update: a UUID)");
  }
  void AddStarting(CLI::App* cmd) {
    AddTarget(cmd);
    cmd->add_option("--name,--type", name, "Update handler name")->required();
    cmd->add_option("--first-execution-run-id", first_execution_run_id,
                    "Send the Update to the last run of the chain started with this Run ID");
    cmd->add_option("--headers", headers, "Temporal workflow header KEY=JSON_VALUE (repeatable)");
    input.Add(cmd);
  }
};

std::string UpdateStageName(enums::UpdateWorkflowExecutionLifecycleStage stage) {
  return enums::UpdateWorkflowExecutionLifecycleStage_Name(stage);
}

// Polls until the Update reaches `stage` (COMPLETED: has an outcome).
ws::PollWorkflowExecutionUpdateResponse PollUpdate(
    Runtime& rt, const update::UpdateRef& ref,
    std::optional<enums::UpdateWorkflowExecutionLifecycleStage> stage) {
  auto& conn = rt.connection();
  for (;;) {
    ws::PollWorkflowExecutionUpdateRequest req;
    req.set_namespace_(rt.namespace_());
    *req.mutable_update_ref() = ref;
    req.set_identity(conn.identity());
    if (stage) req.mutable_wait_policy()->set_lifecycle_stage(*stage);
    ws::PollWorkflowExecutionUpdateResponse resp;
    // The server answers a long poll before its own deadline; keep polling.
    conn.Check(conn.workflow().PollWorkflowExecutionUpdate(
                   conn.NewContext(stage ? std::optional<std::chrono::milliseconds>(
                                               std::chrono::seconds(70))
                                         : std::chrono::seconds(30))
                       .get(),
                   req, &resp),
               "unable to poll update");
    if (!stage || resp.has_outcome() ||
        (*stage != enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED &&
         resp.stage() >= *stage)) {
      return resp;
    }
  }
}

// Adds the outcome to `out`: "result" (the value) or "failure" (the Failure
// in JSON, its message in text).
nlohmann::ordered_json UpdateOutcomeJson(Runtime& rt, const update::Outcome& outcome,
                                         nlohmann::ordered_json out) {
  if (outcome.has_success()) {
    const auto& payloads = outcome.success();
    out["result"] =
        payloads.payloads_size() == 1 ? PayloadJson(payloads.payloads(0)) : PayloadsJson(payloads);
  } else if (outcome.has_failure()) {
    out["failure"] = rt.printer().json() ? ProtoToJson(outcome.failure(), rt.shorthand_payloads())
                                         : nlohmann::ordered_json(outcome.failure().message());
  }
  return out;
}

void PrintUpdateJson(Runtime& rt, const nlohmann::ordered_json& value) {
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(value);
    return;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [k, v] : value.items()) {
    std::string key = k == "updateId" ? "UpdateId" : k;
    key[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(key[0])));
    rows.emplace_back(key, v.is_string() ? v.get<std::string>() : v.dump());
  }
  p.PrintCard(rows);
}

// execute (wait for COMPLETED) and start (wait for ACCEPTED).
int RunUpdateStart(Runtime& rt, UpdateFlags& flags, bool wait_completed) {
  using Stage = enums::UpdateWorkflowExecutionLifecycleStage;
  Stage stage = enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
  if (!wait_completed) {
    if (flags.wait_for_stage != "accepted") {
      throw CliError(fmt::format("invalid wait for stage: {}, valid values are: 'accepted'",
                                 flags.wait_for_stage));
    }
    stage = enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED;
  }
  if (flags.update_id.empty()) flags.update_id = NewUuid();
  auto& conn = rt.connection();
  ws::UpdateWorkflowExecutionRequest req;
  req.set_namespace_(rt.namespace_());
  *req.mutable_workflow_execution() = flags.ref.Execution();
  req.set_first_execution_run_id(flags.first_execution_run_id);
  req.mutable_wait_policy()->set_lifecycle_stage(stage);
  auto* request = req.mutable_request();
  request->mutable_meta()->set_update_id(flags.update_id);
  request->mutable_meta()->set_identity(conn.identity());
  request->mutable_input()->set_name(flags.name);
  auto args = flags.input.Build();
  if (args.payloads_size() > 0) *request->mutable_input()->mutable_args() = std::move(args);
  if (!flags.headers.empty()) {
    FillPayloadMap(flags.headers, "--headers",
                   request->mutable_input()->mutable_header()->mutable_fields());
  }
  ws::UpdateWorkflowExecutionResponse resp;
  // Until the Update is accepted the server may answer early with a lower
  // stage; send it again (same update id: the server deduplicates).
  for (;;) {
    resp.Clear();
    conn.Check(conn.workflow().UpdateWorkflowExecution(
                   conn.NewContext(std::chrono::seconds(70)).get(), req, &resp),
               "unable to update workflow");
    if (resp.has_outcome() ||
        resp.stage() >= enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED) {
      break;
    }
  }
  update::Outcome outcome = resp.outcome();
  if (wait_completed && !resp.has_outcome()) {
    update::UpdateRef ref = resp.update_ref();
    if (ref.update_id().empty()) {
      *ref.mutable_workflow_execution() = req.workflow_execution();
      ref.set_update_id(flags.update_id);
    }
    outcome = PollUpdate(rt, ref, stage).outcome();
  }
  if (outcome.has_failure()) {
    throw CliError(fmt::format("unable to update workflow: {}", outcome.failure().message()));
  }
  nlohmann::ordered_json out = {{"name", flags.name}, {"updateId", flags.update_id}};
  if (wait_completed) out = UpdateOutcomeJson(rt, outcome, out);
  PrintUpdateJson(rt, out);
  return 0;
}

update::UpdateRef TargetRef(const UpdateFlags& flags) {
  if (flags.update_id.empty()) throw CliError("--update-id flag must be provided");
  update::UpdateRef ref;
  *ref.mutable_workflow_execution() = flags.ref.Execution();
  ref.set_update_id(flags.update_id);
  return ref;
}

int RunUpdateResult(Runtime& rt, const UpdateFlags& flags) {
  auto resp =
      PollUpdate(rt, TargetRef(flags), enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED);
  PrintUpdateJson(rt, UpdateOutcomeJson(rt, resp.outcome(), {{"updateId", flags.update_id}}));
  if (resp.outcome().has_failure()) throw CliError("update is failed");
  return 0;
}

int RunUpdateDescribe(Runtime& rt, const UpdateFlags& flags) {
  auto resp = PollUpdate(rt, TargetRef(flags), std::nullopt);
  auto out = UpdateOutcomeJson(rt, resp.outcome(), {{"updateId", flags.update_id}});
  out["stage"] = UpdateStageName(resp.stage());
  PrintUpdateJson(rt, out);
  return 0;
}

}  // namespace

void AddWorkflowCommands(CLI::App& app, Action* action) {
  auto* wf = app.add_subcommand("workflow", "Start, list, and operate on Workflows");
  wf->require_subcommand(1);

  {
    auto* cmd = wf->add_subcommand("start", "Initiate a Workflow Execution");
    auto flags = std::make_shared<StartFlags>();
    flags->Add(cmd);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunStart(rt, *flags); }; });
  }
  {
    auto* cmd =
        wf->add_subcommand("execute", "Start new Workflow Execution and wait for its result");
    auto flags = std::make_shared<StartFlags>();
    auto detailed = std::make_shared<bool>(false);
    flags->Add(cmd);
    cmd->add_flag("--detailed", *detailed, "Include the history in the JSON output");
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunExecute(rt, *flags, *detailed); }; });
  }
  {
    auto* cmd = wf->add_subcommand(
        "signal-with-start", "Send a message to a Workflow Execution, start it if not running");
    auto flags = std::make_shared<StartFlags>();
    auto name = std::make_shared<std::string>();
    auto signal_input = std::make_shared<PayloadInput>();
    flags->Add(cmd);
    cmd->add_option("--signal-name,--signal-type", *name, "Signal name")->required();
    signal_input->Add(cmd, "signal-", "");
    cmd->callback([=] {
      *action = [=](Runtime& rt) { return RunSignalWithStart(rt, *flags, *name, *signal_input); };
    });
  }
  {
    auto* cmd = wf->add_subcommand("describe", "Show Workflow Execution info");
    auto ref = std::make_shared<WorkflowRef>();
    auto reset_points = std::make_shared<bool>(false);
    auto raw = std::make_shared<bool>(false);
    ref->Add(cmd);
    cmd->add_flag("--reset-points", *reset_points, "Show auto-reset points only");
    cmd->add_flag("--raw", *raw, "Print the raw response (JSON), payloads undecoded");
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunDescribe(rt, *ref, *reset_points, *raw); }; });
  }
  {
    auto* cmd = wf->add_subcommand("list", "Show Workflow Executions");
    auto flags = std::make_shared<ListFlags>();
    cmd->add_option("-q,--query", flags->query, "List filter (Temporal visibility query)");
    cmd->add_flag("--archived", flags->archived, "List archived executions");
    cmd->add_option("--limit", flags->limit, "Maximum number of executions to show");
    cmd->add_option("--page-size", flags->page_size, "Executions per request");
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunList(rt, *flags); }; });
  }
  {
    auto* cmd = wf->add_subcommand("count", "Number of Workflow Executions");
    auto query = std::make_shared<std::string>();
    cmd->add_option("-q,--query", *query, "List filter (Temporal visibility query)");
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunCount(rt, *query); }; });
  }
  {
    auto* cmd = wf->add_subcommand("show", "Display Event History");
    auto ref = std::make_shared<WorkflowRef>();
    auto follow = std::make_shared<bool>(false);
    auto detailed = std::make_shared<bool>(false);
    auto reverse = std::make_shared<bool>(false);
    ref->Add(cmd);
    cmd->add_flag("-f,--follow", *follow, "Follow as new events are added");
    cmd->add_flag("--detailed", *detailed, "Display events as detailed sections");
    cmd->add_flag("--reverse", *reverse, "Fetch events in reverse order (JSON output)");
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunShow(rt, *ref, *follow, *reverse); }; });
  }
  {
    auto* cmd =
        wf->add_subcommand("result", "Wait for and show the result of a Workflow Execution");
    auto ref = std::make_shared<WorkflowRef>();
    ref->Add(cmd);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunResult(rt, *ref); }; });
  }
  {
    auto* cmd = wf->add_subcommand("signal", "Send a message to a Workflow Execution");
    auto target = std::make_shared<SingleOrBatch>();
    auto name = std::make_shared<std::string>();
    auto input = std::make_shared<PayloadInput>();
    target->Add(cmd);
    cmd->add_option("--name,--type", *name, "Signal name")->required();
    input->Add(cmd);
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunSignal(rt, *target, *name, *input); }; });
  }
  for (const char* name : {"query", "stack"}) {
    bool stack = std::string_view(name) == "stack";
    auto* cmd = wf->add_subcommand(
        name, stack ? "Trace a Workflow Execution" : "Retrieve Workflow Execution state");
    auto ref = std::make_shared<WorkflowRef>();
    auto type = std::make_shared<std::string>(stack ? "__stack_trace" : "");
    auto input = std::make_shared<PayloadInput>();
    auto reject = std::make_shared<std::string>();
    ref->Add(cmd);
    if (!stack) {
      cmd->add_option("--name,--type", *type, "Query type")->required();
      input->Add(cmd);
    }
    cmd->add_option("--reject-condition", *reject,
                    "Reject the query when: not_open, not_completed_cleanly");
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunQuery(rt, *ref, *type, *input, *reject); }; });
  }
  {
    auto* cmd = wf->add_subcommand("cancel", "Send cancellation to Workflow Execution");
    auto target = std::make_shared<SingleOrBatch>();
    target->Add(cmd);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunCancel(rt, *target); }; });
  }
  {
    auto* cmd = wf->add_subcommand("terminate", "Forcefully end a Workflow Execution");
    auto target = std::make_shared<SingleOrBatch>();
    target->Add(cmd);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunTerminate(rt, *target); }; });
  }
  {
    auto* cmd = wf->add_subcommand("delete", "Remove Workflow Execution");
    auto target = std::make_shared<SingleOrBatch>();
    target->Add(cmd);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunDelete(rt, *target); }; });
  }
  {
    auto* upd = wf->add_subcommand("update", "Send and interact with Updates");
    upd->require_subcommand(1);
    {
      auto* cmd = upd->add_subcommand("execute", "Send an Update and wait for it to complete");
      auto flags = std::make_shared<UpdateFlags>();
      flags->AddStarting(cmd);
      cmd->callback(
          [=] { *action = [=](Runtime& rt) { return RunUpdateStart(rt, *flags, true); }; });
    }
    {
      auto* cmd =
          upd->add_subcommand("start", "Send an Update and wait for it to be accepted or rejected");
      auto flags = std::make_shared<UpdateFlags>();
      flags->AddStarting(cmd);
      cmd->add_option("--wait-for-stage", flags->wait_for_stage,
                      "Update stage to wait for: accepted (required)")
          ->required();
      cmd->callback(
          [=] { *action = [=](Runtime& rt) { return RunUpdateStart(rt, *flags, false); }; });
    }
    {
      auto* cmd = upd->add_subcommand("result", "Wait for a specific Update to complete");
      auto flags = std::make_shared<UpdateFlags>();
      flags->AddTarget(cmd);
      cmd->callback([=] { *action = [=](Runtime& rt) { return RunUpdateResult(rt, *flags); }; });
    }
    {
      auto* cmd = upd->add_subcommand("describe", "Obtain status info about a specific Update");
      auto flags = std::make_shared<UpdateFlags>();
      flags->AddTarget(cmd);
      cmd->callback([=] { *action = [=](Runtime& rt) { return RunUpdateDescribe(rt, *flags); }; });
    }
  }
}

}  // namespace temporalio::cli
