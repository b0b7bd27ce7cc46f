// `temporal operator namespace|search-attribute ...` and
// `temporal task-queue describe`.
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace temporalio::cli {
namespace {

namespace ws = temporal::api::workflowservice::v1;
namespace os = temporal::api::operatorservice::v1;
namespace enums = temporal::api::enums::v1;

struct NamespaceFlags {
  std::string name;  // positional; falls back to --namespace
  std::string active_cluster;
  std::vector<std::string> clusters;
  std::vector<std::string> data;
  std::string description;
  std::string email;
  bool global = false;
  bool promote_global = false;
  std::string history_archival_state;
  std::string history_uri;
  std::string retention;
  std::string visibility_archival_state;
  std::string visibility_uri;
  std::string replication_state;
  std::string namespace_id;
};

std::string NamespaceName(Runtime& rt, const NamespaceFlags& flags) {
  std::string name = flags.name.empty() ? rt.namespace_() : flags.name;
  if (name.empty()) throw CliError("namespace name required");
  return name;
}

enums::ArchivalState ArchivalState(const std::string& value, std::string_view flag) {
  if (value == "enabled") return enums::ARCHIVAL_STATE_ENABLED;
  if (value == "disabled") return enums::ARCHIVAL_STATE_DISABLED;
  throw CliError(fmt::format("invalid {} {:?} (enabled, disabled)", flag, value));
}

std::map<std::string, std::string> DataMap(const std::vector<std::string>& data) {
  std::map<std::string, std::string> out;
  for (const auto& kv : data) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CliError(fmt::format("--data wants KEY=VALUE, got {:?}", kv));
    }
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

void SetDurationProto(std::chrono::nanoseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1000000000);
  out->set_nanos(static_cast<int32_t>(d.count() % 1000000000));
}

std::string DurationText(const google::protobuf::Duration& d) {
  return FormatDuration(std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos()));
}

void PrintNamespace(Runtime& rt, const ws::DescribeNamespaceResponse& ns) {
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(ProtoToJson(ns, rt.shorthand_payloads()));
    return;
  }
  std::string data;
  std::map<std::string, std::string> sorted(ns.namespace_info().data().begin(),
                                            ns.namespace_info().data().end());
  for (const auto& [k, v] : sorted) data += (data.empty() ? "" : " ") + k + ":" + v;
  p.PrintCard({
      {"NamespaceInfo.Name", ns.namespace_info().name()},
      {"NamespaceInfo.Id", ns.namespace_info().id()},
      {"NamespaceInfo.Description", ns.namespace_info().description()},
      {"NamespaceInfo.OwnerEmail", ns.namespace_info().owner_email()},
      {"NamespaceInfo.State", enums::NamespaceState_Name(ns.namespace_info().state())},
      {"NamespaceInfo.Data", "map[" + data + "]"},
      {"Config.WorkflowExecutionRetentionTtl",
       DurationText(ns.config().workflow_execution_retention_ttl())},
      {"ReplicationConfig.ActiveClusterName", ns.replication_config().active_cluster_name()},
      {"ReplicationConfig.State", enums::ReplicationState_Name(ns.replication_config().state())},
      {"Config.HistoryArchivalState",
       enums::ArchivalState_Name(ns.config().history_archival_state())},
      {"Config.VisibilityArchivalState",
       enums::ArchivalState_Name(ns.config().visibility_archival_state())},
      {"IsGlobalNamespace", ns.is_global_namespace() ? "true" : "false"},
      {"FailoverVersion", std::to_string(ns.failover_version())},
  });
}

int RunNamespaceCreate(Runtime& rt, const NamespaceFlags& flags) {
  ws::RegisterNamespaceRequest req;
  req.set_namespace_(NamespaceName(rt, flags));
  req.set_description(flags.description);
  req.set_owner_email(flags.email);
  SetDurationProto(ParseDuration(flags.retention, "--retention"),
                   req.mutable_workflow_execution_retention_period());
  for (const auto& c : flags.clusters) req.add_clusters()->set_cluster_name(c);
  req.set_active_cluster_name(flags.active_cluster);
  for (const auto& [k, v] : DataMap(flags.data)) (*req.mutable_data())[k] = v;
  req.set_is_global_namespace(flags.global);
  req.set_history_archival_state(
      ArchivalState(flags.history_archival_state, "--history-archival-state"));
  req.set_history_archival_uri(flags.history_uri);
  req.set_visibility_archival_state(
      ArchivalState(flags.visibility_archival_state, "--visibility-archival-state"));
  req.set_visibility_archival_uri(flags.visibility_uri);
  auto& conn = rt.connection();
  ws::RegisterNamespaceResponse resp;
  conn.Check(conn.workflow().RegisterNamespace(conn.NewContext().get(), req, &resp),
             fmt::format("unable to create namespace {}", req.namespace_()));
  rt.printer().Println(fmt::format("Namespace {} successfully registered.", req.namespace_()));
  return 0;
}

int RunNamespaceDescribe(Runtime& rt, const NamespaceFlags& flags) {
  ws::DescribeNamespaceRequest req;
  if (!flags.namespace_id.empty()) {
    if (!flags.name.empty()) throw CliError("provide either the namespace name or --namespace-id");
    req.set_id(flags.namespace_id);
  } else {
    req.set_namespace_(NamespaceName(rt, flags));
  }
  auto& conn = rt.connection();
  ws::DescribeNamespaceResponse resp;
  conn.Check(conn.workflow().DescribeNamespace(conn.NewContext().get(), req, &resp),
             "unable to describe namespace");
  PrintNamespace(rt, resp);
  return 0;
}

int RunNamespaceList(Runtime& rt) {
  auto& conn = rt.connection();
  auto& p = rt.printer();
  p.StartList();
  std::string token;
  bool first = true;
  do {
    ws::ListNamespacesRequest req;
    req.set_page_size(100);
    req.set_next_page_token(token);
    ws::ListNamespacesResponse resp;
    conn.Check(conn.workflow().ListNamespaces(conn.NewContext().get(), req, &resp),
               "unable to list namespaces");
    for (const auto& ns : resp.namespaces()) {
      if (p.json()) {
        p.PrintJson(ProtoToJson(ns, rt.shorthand_payloads()));
      } else {
        if (!first) p.Println();
        first = false;
        PrintNamespace(rt, ns);
      }
    }
    token = resp.next_page_token();
  } while (!token.empty());
  p.EndList();
  return 0;
}

int RunNamespaceUpdate(Runtime& rt, const NamespaceFlags& flags) {
  ws::UpdateNamespaceRequest req;
  req.set_namespace_(NamespaceName(rt, flags));
  std::vector<std::string> mask;
  if (!flags.description.empty()) req.mutable_update_info()->set_description(flags.description);
  if (!flags.email.empty()) req.mutable_update_info()->set_owner_email(flags.email);
  for (const auto& [k, v] : DataMap(flags.data))
    (*req.mutable_update_info()->mutable_data())[k] = v;
  if (!flags.retention.empty()) {
    SetDurationProto(ParseDuration(flags.retention, "--retention"),
                     req.mutable_config()->mutable_workflow_execution_retention_ttl());
  }
  if (!flags.history_archival_state.empty()) {
    req.mutable_config()->set_history_archival_state(
        ArchivalState(flags.history_archival_state, "--history-archival-state"));
  }
  if (!flags.history_uri.empty()) req.mutable_config()->set_history_archival_uri(flags.history_uri);
  if (!flags.visibility_archival_state.empty()) {
    req.mutable_config()->set_visibility_archival_state(
        ArchivalState(flags.visibility_archival_state, "--visibility-archival-state"));
  }
  if (!flags.visibility_uri.empty()) {
    req.mutable_config()->set_visibility_archival_uri(flags.visibility_uri);
  }
  if (!flags.active_cluster.empty()) {
    req.mutable_replication_config()->set_active_cluster_name(flags.active_cluster);
  }
  for (const auto& c : flags.clusters) {
    req.mutable_replication_config()->add_clusters()->set_cluster_name(c);
  }
  if (!flags.replication_state.empty()) {
    if (flags.replication_state == "normal") {
      req.mutable_replication_config()->set_state(enums::REPLICATION_STATE_NORMAL);
    } else if (flags.replication_state == "handover") {
      req.mutable_replication_config()->set_state(enums::REPLICATION_STATE_HANDOVER);
    } else {
      throw CliError(fmt::format("invalid --replication-state {:?} (normal, handover)",
                                 flags.replication_state));
    }
  }
  req.set_promote_namespace(flags.promote_global);
  auto& conn = rt.connection();
  ws::UpdateNamespaceResponse resp;
  conn.Check(conn.workflow().UpdateNamespace(conn.NewContext().get(), req, &resp),
             fmt::format("unable to update namespace {}", req.namespace_()));
  rt.printer().Println(fmt::format("Namespace {} update succeeded.", req.namespace_()));
  return 0;
}

// --- search attributes (OperatorService) ----------------------------------

enums::IndexedValueType IndexedValueType(const std::string& name) {
  static const std::map<std::string, enums::IndexedValueType> kTypes = {
      {"text", enums::INDEXED_VALUE_TYPE_TEXT},
      {"keyword", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"int", enums::INDEXED_VALUE_TYPE_INT},
      {"double", enums::INDEXED_VALUE_TYPE_DOUBLE},
      {"bool", enums::INDEXED_VALUE_TYPE_BOOL},
      {"datetime", enums::INDEXED_VALUE_TYPE_DATETIME},
      {"keywordlist", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
  };
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = kTypes.find(lower);
  if (it == kTypes.end()) {
    throw CliError(fmt::format(
        "invalid --type {:?} (Text, Keyword, Int, Double, Bool, Datetime, KeywordList)", name));
  }
  return it->second;
}

int RunSearchAttributeCreate(Runtime& rt, const std::vector<std::string>& names,
                             const std::vector<std::string>& types) {
  if (names.size() != types.size()) {
    throw CliError("the number of --name and --type flags must match");
  }
  os::AddSearchAttributesRequest req;
  req.set_namespace_(rt.namespace_());
  for (size_t i = 0; i < names.size(); ++i) {
    (*req.mutable_search_attributes())[names[i]] = IndexedValueType(types[i]);
  }
  auto& conn = rt.connection();
  os::AddSearchAttributesResponse resp;
  conn.Check(conn.operator_service().AddSearchAttributes(conn.NewContext().get(), req, &resp),
             "unable to add search attributes");
  rt.printer().Println("Search attributes have been added");
  return 0;
}

int RunSearchAttributeList(Runtime& rt) {
  os::ListSearchAttributesRequest req;
  req.set_namespace_(rt.namespace_());
  auto& conn = rt.connection();
  os::ListSearchAttributesResponse resp;
  conn.Check(conn.operator_service().ListSearchAttributes(conn.NewContext().get(), req, &resp),
             "unable to list search attributes");
  auto& p = rt.printer();
  if (p.json()) {
    p.PrintJson(ProtoToJson(resp, rt.shorthand_payloads()));
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const auto& map) {
    std::map<std::string, enums::IndexedValueType> sorted(map.begin(), map.end());
    for (const auto& [name, type] : sorted) {
      rows.push_back(
          {name, CamelEnumName(enums::IndexedValueType_Name(type), "INDEXED_VALUE_TYPE_")});
    }
  };
  add(resp.system_attributes());
  add(resp.custom_attributes());
  p.PrintTable({"Name", "Type"}, rows);
  return 0;
}

int RunSearchAttributeRemove(Runtime& rt, const std::vector<std::string>& names, bool yes) {
  if (!yes) throw CliError("removing search attributes needs --yes (no interactive confirmation)");
  os::RemoveSearchAttributesRequest req;
  req.set_namespace_(rt.namespace_());
  for (const auto& n : names) req.add_search_attributes(n);
  auto& conn = rt.connection();
  os::RemoveSearchAttributesResponse resp;
  conn.Check(conn.operator_service().RemoveSearchAttributes(conn.NewContext().get(), req, &resp),
             "unable to remove search attributes");
  rt.printer().Println("Search attributes have been removed");
  return 0;
}

// --- task-queue describe ---------------------------------------------------

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
std::string PollerBuildId(const temporal::api::taskqueue::v1::PollerInfo& poller) {
  if (poller.has_deployment_options()) return poller.deployment_options().build_id();
  return poller.has_worker_version_capabilities() ? poller.worker_version_capabilities().build_id()
                                                  : "";
}
#pragma GCC diagnostic pop

struct TaskQueueFlags {
  std::string task_queue;
  std::vector<std::string> types;
  bool disable_stats = false;
};

int RunTaskQueueDescribe(Runtime& rt, const TaskQueueFlags& flags) {
  std::vector<std::string> types = flags.types;
  if (types.empty()) types = {"workflow", "activity"};
  auto& conn = rt.connection();
  auto& p = rt.printer();
  nlohmann::ordered_json pollers = nlohmann::ordered_json::array();
  nlohmann::ordered_json stats = nlohmann::ordered_json::array();
  std::vector<std::vector<std::string>> poller_rows;
  std::vector<std::vector<std::string>> stats_rows;
  for (const auto& type : types) {
    ws::DescribeTaskQueueRequest req;
    req.set_namespace_(rt.namespace_());
    req.mutable_task_queue()->set_name(flags.task_queue);
    req.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    if (type == "workflow") {
      req.set_task_queue_type(enums::TASK_QUEUE_TYPE_WORKFLOW);
    } else if (type == "activity") {
      req.set_task_queue_type(enums::TASK_QUEUE_TYPE_ACTIVITY);
    } else if (type == "nexus") {
      req.set_task_queue_type(enums::TASK_QUEUE_TYPE_NEXUS);
    } else {
      throw CliError(
          fmt::format("invalid --task-queue-type {:?} (workflow, activity, nexus)", type));
    }
    req.set_report_stats(!flags.disable_stats);
    ws::DescribeTaskQueueResponse resp;
    conn.Check(conn.workflow().DescribeTaskQueue(conn.NewContext().get(), req, &resp),
               "unable to describe task queue");
    for (const auto& poller : resp.pollers()) {
      std::string build_id = PollerBuildId(poller);
      pollers.push_back({{"buildId", build_id},
                         {"taskQueueType", type},
                         {"identity", poller.identity()},
                         {"lastAccessTime",
                          google::protobuf::util::TimeUtil::ToString(poller.last_access_time())},
                         {"ratePerSecond", poller.rate_per_second()}});
      poller_rows.push_back({build_id.empty() ? "UNVERSIONED" : build_id, type, poller.identity(),
                             p.Time(poller.last_access_time()),
                             fmt::format("{}", poller.rate_per_second())});
    }
    if (resp.has_stats()) {
      const auto& s = resp.stats();
      std::string age = DurationText(s.approximate_backlog_age());
      stats.push_back({{"buildId", ""},
                       {"taskQueueType", type},
                       {"approximateBacklogCount", s.approximate_backlog_count()},
                       {"approximateBacklogAge", age},
                       {"backlogIncreaseRate", s.tasks_add_rate() - s.tasks_dispatch_rate()},
                       {"tasksAddRate", s.tasks_add_rate()},
                       {"tasksDispatchRate", s.tasks_dispatch_rate()}});
      stats_rows.push_back({"UNVERSIONED", type, std::to_string(s.approximate_backlog_count()), age,
                            fmt::format("{}", s.tasks_add_rate() - s.tasks_dispatch_rate()),
                            fmt::format("{}", s.tasks_add_rate()),
                            fmt::format("{}", s.tasks_dispatch_rate())});
    }
  }
  if (p.json()) {
    p.PrintJson({{"reachability", nlohmann::ordered_json::array()},
                 {"pollers", pollers},
                 {"stats", stats}});
    return 0;
  }
  if (!stats_rows.empty()) {
    p.Heading("Task Queue Statistics:");
    p.PrintTable({"BuildID", "TaskQueueType", "ApproximateBacklogCount", "ApproximateBacklogAge",
                  "BacklogIncreaseRate", "TasksAddRate", "TasksDispatchRate"},
                 stats_rows);
  }
  p.Heading("Pollers:");
  p.PrintTable({"BuildID", "TaskQueueType", "Identity", "LastAccessTime", "RatePerSecond"},
               poller_rows);
  return 0;
}

void AddNamespaceFlags(CLI::App* cmd, NamespaceFlags& f, bool create) {
  cmd->add_option("--active-cluster", f.active_cluster, "Active Cluster name");
  cmd->add_option("--cluster", f.clusters, "Cluster names (repeatable)");
  cmd->add_option("--data", f.data, "Namespace data KEY=VALUE (repeatable)");
  cmd->add_option("--description", f.description, "Namespace description");
  cmd->add_option("--email", f.email, "Owner email");
  if (create) {
    cmd->add_flag("--global", f.global, "Enable cross-region replication");
  } else {
    cmd->add_flag("--promote-global", f.promote_global, "Promote local namespace to global");
    cmd->add_option("--replication-state", f.replication_state, "normal, handover");
  }
  cmd->add_option("--history-archival-state", f.history_archival_state,
                  "History archival: disabled, enabled");
  cmd->add_option("--history-uri", f.history_uri, "Archive history to this URI");
  cmd->add_option("--retention", f.retention, "Closed workflow retention (e.g. 72h)");
  cmd->add_option("--visibility-archival-state", f.visibility_archival_state,
                  "Visibility archival: disabled, enabled");
  cmd->add_option("--visibility-uri", f.visibility_uri, "Archive visibility data to this URI");
}

}  // namespace

void AddOperatorCommands(CLI::App& app, Action* action) {
  auto* op = app.add_subcommand("operator", "Manage Temporal deployments");
  op->require_subcommand(1);

  auto* ns = op->add_subcommand("namespace", "Namespace operations");
  ns->require_subcommand(1);
  {
    auto* cmd = ns->add_subcommand("create", "Register a new Namespace");
    auto f = std::make_shared<NamespaceFlags>();
    f->retention = "72h";
    f->history_archival_state = "disabled";
    f->visibility_archival_state = "disabled";
    cmd->add_option("name", f->name, "Namespace name (default: --namespace)");
    AddNamespaceFlags(cmd, *f, /*create=*/true);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunNamespaceCreate(rt, *f); }; });
  }
  {
    auto* cmd = ns->add_subcommand("describe", "Describe a Namespace");
    auto f = std::make_shared<NamespaceFlags>();
    cmd->add_option("name", f->name, "Namespace name (default: --namespace)");
    cmd->add_option("--namespace-id", f->namespace_id, "Namespace ID");
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunNamespaceDescribe(rt, *f); }; });
  }
  {
    auto* cmd = ns->add_subcommand("list", "List Namespaces");
    cmd->callback([=] { *action = [](Runtime& rt) { return RunNamespaceList(rt); }; });
  }
  {
    auto* cmd = ns->add_subcommand("update", "Update a Namespace");
    auto f = std::make_shared<NamespaceFlags>();
    cmd->add_option("name", f->name, "Namespace name (default: --namespace)");
    AddNamespaceFlags(cmd, *f, /*create=*/false);
    cmd->callback([=] { *action = [=](Runtime& rt) { return RunNamespaceUpdate(rt, *f); }; });
  }

  auto* sa = op->add_subcommand("search-attribute", "Search Attribute operations");
  sa->require_subcommand(1);
  {
    auto* cmd = sa->add_subcommand("create", "Add custom Search Attributes");
    auto names = std::make_shared<std::vector<std::string>>();
    auto types = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--name", *names, "Search Attribute name (repeatable)")->required();
    cmd->add_option(
           "--type", *types,
           "Search Attribute type: Text, Keyword, Int, Double, Bool, Datetime, KeywordList")
        ->required();
    cmd->callback([=] {
      *action = [=](Runtime& rt) { return RunSearchAttributeCreate(rt, *names, *types); };
    });
  }
  {
    auto* cmd = sa->add_subcommand("list", "List Search Attributes");
    cmd->callback([=] { *action = [](Runtime& rt) { return RunSearchAttributeList(rt); }; });
  }
  {
    auto* cmd = sa->add_subcommand("remove", "Remove custom Search Attributes");
    auto names = std::make_shared<std::vector<std::string>>();
    auto yes = std::make_shared<bool>(false);
    cmd->add_option("--name", *names, "Search Attribute name (repeatable)")->required();
    cmd->add_flag("-y,--yes", *yes, "Don't prompt to confirm removal");
    cmd->callback(
        [=] { *action = [=](Runtime& rt) { return RunSearchAttributeRemove(rt, *names, *yes); }; });
  }
}

void AddTaskQueueCommands(CLI::App& app, Action* action) {
  auto* tq = app.add_subcommand("task-queue", "Manage Task Queues");
  tq->require_subcommand(1);
  auto* cmd = tq->add_subcommand("describe", "Show active Workers");
  auto f = std::make_shared<TaskQueueFlags>();
  cmd->add_option("-t,--task-queue", f->task_queue, "Task Queue name")->required();
  cmd->add_option("--task-queue-type", f->types, "workflow, activity, nexus (repeatable)");
  cmd->add_flag("--disable-stats", f->disable_stats, "Disable task queue statistics");
  cmd->callback([=] { *action = [=](Runtime& rt) { return RunTaskQueueDescribe(rt, *f); }; });
}

}  // namespace temporalio::cli
