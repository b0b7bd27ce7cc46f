// The workflow API (issue 4's list) end to end: a Client and a Worker
// (workflows + activities) against the in-process dev server on a free
// loopback port. Event sequences are read from the history the server
// recorded.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "server/dev_server.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporalio/activity/context.h"
#include "temporalio/client/client.h"
#include "temporalio/worker/worker.h"
#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/replayer.h"

namespace temporalio {
namespace {

namespace wf = temporalio::workflow;
namespace ev = temporal::api::enums::v1;
using History = temporal::api::history::v1::History;
using HistoryEvent = temporal::api::history::v1::HistoryEvent;
using namespace std::chrono_literals;

// The test's client, for activities that signal their workflow.
client::Client* g_client = nullptr;

std::string Compose(const std::string& greeting, const std::string& name) {
  return greeting + ", " + name + "!";
}
inline constexpr ActivityDef<&Compose> kCompose{"Compose"};

// Tells its workflow it is running (signal "activity_started"), then
// heartbeats until cancelled (by the server, or by worker shutdown).
void WaitForCancel() {
  const auto& info = activity::Info();
  g_client->GetWorkflowHandle(info.workflow_id).Signal("activity_started");
  while (!activity::IsCancelled()) {
    activity::Heartbeat();
    std::this_thread::sleep_for(20ms);
  }
  throw CanceledError("activity saw the cancellation");
}
inline constexpr ActivityDef<&WaitForCancel> kWaitForCancel{"WaitForCancel"};

// --- StartActivity + Cancel with each cancellation type ---------------------
class ActivityCancelWorkflow {
 public:
  wf::Task<std::string> Run(int cancellation_type) {
    auto handle = StartActivity(
        kWaitForCancel,
        {.start_to_close_timeout = 60s,
         .heartbeat_timeout = 2s,
         .cancellation_type = static_cast<wf::ActivityCancellationType>(cancellation_type)});
    auto started = wf::WaitCondition([this] { return started_; });
    co_await std::move(started);
    handle.Cancel();
    std::string outcome = "completed";
    try {
      co_await handle.Result();
    } catch (const ActivityError&) {
      outcome = wf::IsCancellation(std::current_exception()) ? "canceled" : "failed";
    }
    co_return outcome;
  }
  void ActivityStarted() { started_ = true; }

 private:
  bool started_ = false;
};
inline constexpr WorkflowDef<&ActivityCancelWorkflow::Run> kActivityCancel{"ActivityCancel"};
inline constexpr SignalDef<&ActivityCancelWorkflow::ActivityStarted> kActivityStarted{
    "activity_started"};

// --- Timers and conditions ---------------------------------------------------
class TimersWorkflow {
 public:
  wf::Task<std::string> Run() {
    std::string out;
    wf::Timer timer(1h);
    co_await wf::Sleep(1ms);  // the timer is started on the server first
    timer.Cancel();
    try {
      co_await timer.Wait();
      out += "fired;";
    } catch (const CanceledError&) {
      out += "timer-canceled;";
    }
    co_await wf::Sleep(5ms);
    out += "slept;";
    auto never = wf::WaitCondition([] { return false; }, 5ms);
    bool satisfied = co_await std::move(never);
    out += satisfied ? "never-true;" : "timed-out;";
    auto first = wf::WaitCondition([this] { return go_ >= 1; }, 1h);
    satisfied = co_await std::move(first);
    out += satisfied ? "go1;" : "timeout1;";
    auto second = wf::WaitCondition([this] { return go_ >= 2; });
    co_await std::move(second);
    out += "go2";
    co_return out;
  }
  void Go() { ++go_; }

 private:
  int go_ = 0;
};
inline constexpr WorkflowDef<&TimersWorkflow::Run> kTimers{"Timers"};
inline constexpr SignalDef<&TimersWorkflow::Go> kGo{"go"};

// --- Signals and queries -----------------------------------------------------
class CounterWorkflow {
 public:
  wf::Task<int> Run(int target) {
    auto reached = wf::WaitCondition([this, target] { return total_ >= target; });
    co_await std::move(reached);
    co_return total_;
  }
  void Add(int n) { total_ += n; }
  // An async signal handler (runs concurrently with Run).
  wf::Task<void> AddLater(int n) {
    co_await wf::Sleep(1ms);
    total_ += n;
  }
  int Total() const { return total_; }
  std::string Describe(std::string prefix) const { return prefix + std::to_string(total_); }

 private:
  int total_ = 0;
};
inline constexpr WorkflowDef<&CounterWorkflow::Run> kCounter{"Counter"};
inline constexpr SignalDef<&CounterWorkflow::Add> kCounterAdd{"add"};
inline constexpr SignalDef<&CounterWorkflow::AddLater> kCounterAddLater{"add_later"};
inline constexpr QueryDef<&CounterWorkflow::Total> kCounterTotal{"total"};
inline constexpr QueryDef<&CounterWorkflow::Describe> kCounterDescribe{"describe"};

// --- Deterministic info / now / random / uuid4 / logger ----------------------
struct Snapshot {
  std::string workflow_id;
  std::string workflow_type;
  std::string task_queue;
  std::string run_id;
  int attempt = 0;
  int64_t now_before_ms = 0;
  int64_t now_after_ms = 0;
  int64_t start_ms = 0;
  double random = 0;
  std::string uuid;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Snapshot, workflow_id, workflow_type, task_queue, run_id,
                                   attempt, now_before_ms, now_after_ms, start_ms, random, uuid)

int64_t Ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class DeterminismWorkflow {
 public:
  wf::Task<Snapshot> Run() {
    const wf::WorkflowInfo& info = wf::Info();
    s_.workflow_id = info.workflow_id;
    s_.workflow_type = info.workflow_type;
    s_.task_queue = info.task_queue;
    s_.run_id = info.run_id;
    s_.attempt = info.attempt;
    s_.start_ms = Ms(info.start_time);
    s_.now_before_ms = Ms(wf::Now());
    wf::Logger().Info("determinism step 1");
    co_await wf::Sleep(50ms);
    wf::Logger().Info("determinism step 2");
    s_.now_after_ms = Ms(wf::Now());
    s_.random = wf::Random();
    s_.uuid = wf::Uuid4();
    co_await wf::Sleep(1ms);
    wf::Logger().Info("determinism step 3");
    co_return s_;
  }
  // Recomputed by replay when queried after the workflow closed.
  Snapshot Get() const { return s_; }

 private:
  Snapshot s_;
};
inline constexpr WorkflowDef<&DeterminismWorkflow::Run> kDeterminism{"Determinism"};
inline constexpr QueryDef<&DeterminismWorkflow::Get> kSnapshot{"snapshot"};

// --- Combinators ---------------------------------------------------------------
class CombinatorsWorkflow {
 public:
  wf::Task<std::string> Run() {
    std::vector<std::string> names = {"a", "b", "c"};
    std::vector<wf::Task<std::string>> calls;
    for (const auto& name : names) {
      calls.push_back(ExecuteActivity(kCompose, "Hi", name, {.start_to_close_timeout = 10s}));
    }
    auto all = wf::WhenAll(std::move(calls));
    std::vector<std::string> results = co_await std::move(all);
    auto any = wf::WhenAny(wf::Sleep(1h), wf::Sleep(1ms));
    size_t winner = co_await std::move(any);
    std::string out;
    for (const auto& r : results) out += r;
    co_return out + "|" + std::to_string(winner);
  }
};
inline constexpr WorkflowDef<&CombinatorsWorkflow::Run> kCombinators{"Combinators"};

// --- Failures ------------------------------------------------------------------
std::atomic<int> g_throw_once_attempts{0};
class ThrowOnceWorkflow {
 public:
  wf::Task<std::string> Run() {
    co_await wf::Sleep(1ms);
    // Workflow code throwing a non-Temporal exception fails the workflow
    // task, not the workflow; the retried task runs the code again.
    if (g_throw_once_attempts.fetch_add(1) == 0) throw std::runtime_error("boom on first try");
    co_return "recovered";
  }
};
inline constexpr WorkflowDef<&ThrowOnceWorkflow::Run> kThrowOnce{"ThrowOnce"};

class AppFailureWorkflow {
 public:
  wf::Task<void> Run() {
    co_await wf::Sleep(1ms);
    throw ApplicationError("business rule broken", {.type = "Rule", .non_retryable = true});
  }
};
inline constexpr WorkflowDef<&AppFailureWorkflow::Run> kAppFailure{"AppFailure"};

// --- Cancellation with cleanup -------------------------------------------------
class CleanupWorkflow {
 public:
  wf::Task<void> Run() {
    bool canceled = false;
    try {
      co_await wf::Sleep(1h);
    } catch (const CanceledError&) {
      canceled = true;
    }
    if (canceled) {
      // The cancellation was delivered once: this activity runs normally.
      std::string bye =
          co_await ExecuteActivity(kCompose, "Bye", "cleanup", {.start_to_close_timeout = 10s});
      (void)bye;
      throw CanceledError("canceled after cleanup");
    }
  }
};
inline constexpr WorkflowDef<&CleanupWorkflow::Run> kCleanup{"Cleanup"};

// --- Dynamic workflow, signal and query -----------------------------------------
class DynamicWorkflow {
 public:
  wf::Task<std::string> Run(converter::Payloads args) {
    std::string arg = wf::PayloadConverter().FromPayload<std::string>(args.payloads(0));
    auto signalled = wf::WaitCondition([this] { return !signals_.empty(); });
    co_await std::move(signalled);
    co_return wf::Info().workflow_type + "(" + arg + ")+" + signals_;
  }
  void OnSignal(std::string name, converter::Payloads args) {
    signals_ +=
        name + "=" + std::to_string(wf::PayloadConverter().FromPayload<int>(args.payloads(0)));
  }
  std::string OnQuery(std::string name, converter::Payloads) const {
    return "query " + name + " sees [" + signals_ + "]";
  }

 private:
  std::string signals_;
};
inline constexpr DynamicWorkflowDef<&DynamicWorkflow::Run> kDynamic{};
inline constexpr DynamicSignalDef<&DynamicWorkflow::OnSignal> kDynamicSignal{};
inline constexpr DynamicQueryDef<&DynamicWorkflow::OnQuery> kDynamicQuery{};

// --- Non-determinism in a live worker --------------------------------------------
class VersionOne {
 public:
  wf::Task<int> Run() {
    co_await wf::Sleep(1ms);
    auto go = wf::WaitCondition([this] { return go_; });
    co_await std::move(go);
    co_return 1;
  }
  void Go() { go_ = true; }

 private:
  bool go_ = false;
};
class VersionTwo {  // same workflow type, incompatible: an activity instead of the timer
 public:
  wf::Task<int> Run() {
    std::string r = co_await ExecuteActivity(kCompose, "v", "2", {.start_to_close_timeout = 10s});
    (void)r;
    auto go = wf::WaitCondition([this] { return go_; });
    co_await std::move(go);
    co_return 2;
  }
  void Go() { go_ = true; }

 private:
  bool go_ = false;
};
inline constexpr WorkflowDef<&VersionOne::Run> kVersionOne{"Versioned"};
inline constexpr WorkflowDef<&VersionTwo::Run> kVersionTwo{"Versioned"};
inline constexpr SignalDef<&VersionOne::Go> kGoOne{"go"};
inline constexpr SignalDef<&VersionTwo::Go> kGoTwo{"go"};

// --- 100 timers + activities + signals ------------------------------------------
class HundredStepsWorkflow {
 public:
  wf::Task<std::string> Run() {
    std::string out;
    for (int i = 1; i <= 100; ++i) {
      co_await wf::Sleep(1ms);
      if (i % 10 == 0) {
        std::string n = std::to_string(i);
        std::string r =
            co_await ExecuteActivity(kCompose, "Step", n, {.start_to_close_timeout = 10s});
        out += r;
      }
      if (i % 33 == 0) {
        waiting_for_ = i / 33;
        auto signalled = wf::WaitCondition([this, i] { return signals_ >= i / 33; });
        co_await std::move(signalled);
        waiting_for_ = 0;
        out += "[signal " + std::to_string(i / 33) + "]";
      }
    }
    co_return out + " random=" + std::to_string(wf::Random());
  }
  void Signal() { ++signals_; }
  // The signal number the workflow is blocked on (0 = not blocked on one).
  int WaitingFor() const { return waiting_for_; }

 private:
  int signals_ = 0;
  int waiting_for_ = 0;
};
inline constexpr WorkflowDef<&HundredStepsWorkflow::Run> kHundred{"HundredSteps"};
inline constexpr SignalDef<&HundredStepsWorkflow::Signal> kHundredSignal{"signal"};
inline constexpr QueryDef<&HundredStepsWorkflow::WaitingFor> kWaitingFor{"waiting_for"};

// Same code, changed: one more timer in front.
class HundredStepsChanged {
 public:
  wf::Task<std::string> Run() {
    co_await wf::Sleep(1ms);
    co_await wf::Sleep(1ms);
    co_return "changed";
  }
};

// --- Fixture -----------------------------------------------------------------------

std::vector<ev::EventType> Types(const History& h) {
  std::vector<ev::EventType> types;
  for (const auto& e : h.events()) types.push_back(e.event_type());
  return types;
}
int Count(const History& h, ev::EventType type) {
  int n = 0;
  for (const auto& e : h.events()) n += e.event_type() == type;
  return n;
}
std::string Dump(const History& h) {
  std::string out;
  for (const auto& e : h.events()) out += ev::EventType_Name(e.event_type()) + "\n";
  return out;
}

class WorkflowFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = server::DevServer::Start({.port = 0});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<client::Client>(
        client::Client::Connect({.target_host = server_->address()}));
    g_client = client_.get();
  }
  void TearDown() override {
    for (auto& w : workers_) w->Shutdown();
    workers_.clear();
    g_client = nullptr;
    server_->Shutdown();
  }

  // A worker for `tq` with every workflow and activity of this file.
  worker::Worker& StartWorker(const std::string& tq, worker::WorkerOptions options = {}) {
    options.task_queue = tq;
    workers_.push_back(std::make_unique<worker::Worker>(*client_, std::move(options)));
    worker::Worker& w = *workers_.back();
    w.RegisterWorkflow(kActivityCancel, kActivityStarted)
        .RegisterWorkflow(kTimers, kGo)
        .RegisterWorkflow(kCounter, kCounterAdd, kCounterAddLater, kCounterTotal, kCounterDescribe)
        .RegisterWorkflow(kDeterminism, kSnapshot)
        .RegisterWorkflow(kCombinators)
        .RegisterWorkflow(kThrowOnce)
        .RegisterWorkflow(kAppFailure)
        .RegisterWorkflow(kCleanup)
        .RegisterWorkflow(kHundred, kHundredSignal, kWaitingFor)
        .RegisterWorkflow(kDynamic, kDynamicSignal, kDynamicQuery);
    w.RegisterActivity(kCompose).RegisterActivity(kWaitForCancel);
    w.Start();
    return w;
  }

  // Polls `probe` until it returns true (deadline 30 s).
  static bool Eventually(const std::function<bool()>& probe) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(20ms);  // polling interval, not a wait for an outcome
    }
    return false;
  }
  template <class R>
  static bool HasEvent(const client::WorkflowHandle<R>& handle, ev::EventType type) {
    return Count(handle.FetchHistory(), type) > 0;
  }

  std::unique_ptr<server::DevServer> server_;
  std::unique_ptr<client::Client> client_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
};

TEST_F(WorkflowFeaturesTest, StartActivityCancellationTypes) {
  StartWorker("tq-act-cancel");
  struct Case {
    wf::ActivityCancellationType type;
    const char* id;
  };
  for (Case c : {Case{wf::ActivityCancellationType::kTryCancel, "try-cancel"},
                 Case{wf::ActivityCancellationType::kWaitCancellationCompleted, "wait-cancel"},
                 Case{wf::ActivityCancellationType::kAbandon, "abandon"}}) {
    SCOPED_TRACE(c.id);
    auto handle = client_->StartWorkflow(
        kActivityCancel, {.id = c.id, .task_queue = "tq-act-cancel"}, static_cast<int>(c.type));
    EXPECT_EQ(handle.GetResult(), "canceled");
    History h = handle.FetchHistory();
    int close_index = -1, canceled_index = -1;
    for (int i = 0; i < h.events_size(); ++i) {
      if (h.events(i).event_type() == ev::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) close_index = i;
      if (h.events(i).event_type() == ev::EVENT_TYPE_ACTIVITY_TASK_CANCELED) canceled_index = i;
    }
    ASSERT_GE(close_index, 0) << Dump(h);
    switch (c.type) {
      case wf::ActivityCancellationType::kTryCancel:
        EXPECT_EQ(Count(h, ev::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), 1) << Dump(h);
        // Resolved at once: the workflow did not wait for ActivityTaskCanceled.
        EXPECT_TRUE(canceled_index == -1 || canceled_index > close_index) << Dump(h);
        break;
      case wf::ActivityCancellationType::kWaitCancellationCompleted:
        EXPECT_EQ(Count(h, ev::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), 1) << Dump(h);
        // Resolved only once the activity reported the cancellation.
        EXPECT_GE(canceled_index, 0) << Dump(h);
        EXPECT_LT(canceled_index, close_index) << Dump(h);
        break;
      case wf::ActivityCancellationType::kAbandon:
        // The server is never told.
        EXPECT_EQ(Count(h, ev::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED), 0) << Dump(h);
        break;
    }
  }
}

TEST_F(WorkflowFeaturesTest, TimersAndConditions) {
  StartWorker("tq-timers");
  auto handle = client_->StartWorkflow(kTimers, {.id = "timers", .task_queue = "tq-timers"});
  handle.Signal(kGo);
  handle.Signal(kGo);
  EXPECT_EQ(handle.GetResult(), "timer-canceled;slept;timed-out;go1;go2");
  History h = handle.FetchHistory();
  EXPECT_EQ(Count(h, ev::EVENT_TYPE_TIMER_CANCELED), 1) << Dump(h);
  // Sleep(1ms), Sleep(5ms) and the condition's 5 ms timeout fired; `first` started no
  // timer or cancelled it when the condition held.
  EXPECT_GE(Count(h, ev::EVENT_TYPE_TIMER_FIRED), 3) << Dump(h);
}

TEST_F(WorkflowFeaturesTest, SignalsAndQueriesLegacyAndAttached) {
  // No worker yet: the first workflow task waits, so this query is attached
  // to it (answered in RespondWorkflowTaskCompleted.query_results).
  auto handle = client_->StartWorkflow(kCounter, {.id = "counter", .task_queue = "tq-counter"}, 10);
  auto attached = handle.QueryAsync(kCounterTotal);
  StartWorker("tq-counter");
  EXPECT_EQ(attached.get(), 0);
  handle.Signal(kCounterAdd, 3);
  handle.Signal(kCounterAddLater, 4);
  // Once idle, queries go out as legacy query tasks.
  EXPECT_TRUE(Eventually([&] { return handle.Query(kCounterTotal) == 7; }));
  EXPECT_EQ(handle.Query(kCounterDescribe, std::string("total=")), "total=7");
  // Untyped by name works too.
  EXPECT_EQ(handle.Query<int>("total"), 7);
  try {
    (void)handle.Query<int>("no_such_query");
    ADD_FAILURE() << "expected a query failure";
  } catch (const TemporalError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_query"), std::string::npos) << e.what();
  }
  handle.Signal(kCounterAdd, 3);
  EXPECT_EQ(handle.GetResult(), 10);
  // After close, a query replays the run from history.
  EXPECT_EQ(handle.Query(kCounterTotal), 10);
}

TEST_F(WorkflowFeaturesTest, InfoNowRandomUuidAreDeterministicAndLoggerSilentOnReplay) {
  std::ostringstream captured;
  std::streambuf* old = std::clog.rdbuf(captured.rdbuf());
  // Cache 0: every task replays the run from the start.
  StartWorker(
      "tq-determinism",
      {.max_cached_workflows = 0, .max_concurrent_workflow_tasks = 1, .workflow_pollers = 1});
  auto handle =
      client_->StartWorkflow(kDeterminism, {.id = "determinism", .task_queue = "tq-determinism"});
  Snapshot result = handle.GetResult();
  // The query answer comes from a fresh replay of the closed run.
  Snapshot replayed = handle.Query(kSnapshot);
  workers_.back()->Shutdown();
  std::clog.rdbuf(old);

  EXPECT_EQ(result.workflow_id, "determinism");
  EXPECT_EQ(result.workflow_type, "Determinism");
  EXPECT_EQ(result.task_queue, "tq-determinism");
  EXPECT_EQ(result.run_id, handle.run_id());
  EXPECT_EQ(result.attempt, 1);
  EXPECT_GE(result.now_before_ms, result.start_ms);
  EXPECT_GE(result.now_after_ms - result.now_before_ms, 50);  // a 50 ms timer in between
  EXPECT_GE(result.random, 0.0);
  EXPECT_LT(result.random, 1.0);
  EXPECT_EQ(result.uuid.size(), 36u);
  EXPECT_EQ(result.uuid[14], '4');
  EXPECT_EQ(replayed.now_before_ms, result.now_before_ms);
  EXPECT_EQ(replayed.now_after_ms, result.now_after_ms);
  EXPECT_EQ(replayed.random, result.random);
  EXPECT_EQ(replayed.uuid, result.uuid);

  std::string log = captured.str();
  for (const char* line : {"determinism step 1", "determinism step 2", "determinism step 3"}) {
    size_t first = log.find(line);
    ASSERT_NE(first, std::string::npos) << line << " missing from:\n" << log;
    EXPECT_EQ(log.find(line, first + 1), std::string::npos) << line << " logged twice:\n" << log;
  }
}

TEST_F(WorkflowFeaturesTest, WhenAllAndWhenAny) {
  StartWorker("tq-comb");
  EXPECT_EQ(client_->ExecuteWorkflow(kCombinators, {.id = "comb", .task_queue = "tq-comb"}),
            "Hi, a!Hi, b!Hi, c!|1");
}

TEST_F(WorkflowFeaturesTest, ApplicationErrorFailsWorkflowOtherExceptionRetriesTask) {
  StartWorker("tq-fail");
  auto failing = client_->StartWorkflow(kAppFailure, {.id = "app-fail", .task_queue = "tq-fail"});
  try {
    failing.GetResult();
    ADD_FAILURE() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    try {
      std::rethrow_exception(e.cause());
    } catch (const ApplicationError& app) {
      EXPECT_EQ(std::string(app.what()), "business rule broken");
      EXPECT_EQ(app.type(), "Rule");
    }
  }

  g_throw_once_attempts = 0;
  auto retried = client_->StartWorkflow(kThrowOnce, {.id = "throw-once", .task_queue = "tq-fail"});
  EXPECT_EQ(retried.GetResult(), "recovered");
  History h = retried.FetchHistory();
  ASSERT_EQ(Count(h, ev::EVENT_TYPE_WORKFLOW_TASK_FAILED), 1) << Dump(h);
  for (const auto& e : h.events()) {
    if (e.event_type() != ev::EVENT_TYPE_WORKFLOW_TASK_FAILED) continue;
    EXPECT_NE(e.workflow_task_failed_event_attributes().failure().message().find("boom"),
              std::string::npos);
  }
  EXPECT_EQ(Count(h, ev::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED), 0);
}

TEST_F(WorkflowFeaturesTest, CancellationRaisesAtAwaitAndAllowsCleanup) {
  StartWorker("tq-cleanup");
  auto handle = client_->StartWorkflow(kCleanup, {.id = "cleanup", .task_queue = "tq-cleanup"});
  ASSERT_TRUE(Eventually([&] { return HasEvent(handle, ev::EVENT_TYPE_TIMER_STARTED); }));
  handle.Cancel();
  try {
    handle.GetResult();
    ADD_FAILURE() << "expected WorkflowFailedError";
  } catch (const WorkflowFailedError& e) {
    EXPECT_TRUE(wf::IsCancellation(e.cause()));
  }
  History h = handle.FetchHistory();
  std::vector<ev::EventType> types = Types(h);
  auto at = [&](ev::EventType t) {
    return std::find(types.begin(), types.end(), t) - types.begin();
  };
  EXPECT_LT(at(ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED),
            at(ev::EVENT_TYPE_TIMER_CANCELED))
      << Dump(h);
  EXPECT_LT(at(ev::EVENT_TYPE_TIMER_CANCELED), at(ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED))
      << Dump(h);
  EXPECT_EQ(types.back(), ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED) << Dump(h);
}

TEST_F(WorkflowFeaturesTest, DynamicWorkflowSignalAndQuery) {
  StartWorker("tq-dynamic");
  auto handle = client_->StartWorkflow<std::string>(
      "AnyTypeAtAll", {.id = "dynamic", .task_queue = "tq-dynamic"}, std::string("x"));
  handle.Signal("whatever", 5);
  EXPECT_EQ(handle.GetResult(), "AnyTypeAtAll(x)+whatever=5");
  EXPECT_EQ(handle.Query<std::string>("anything"), "query anything sees [whatever=5]");
}

TEST_F(WorkflowFeaturesTest, NondeterminismInLiveWorkerFailsTaskNamingBothSides) {
  {
    worker::Worker one(*client_, {.task_queue = "tq-nd"});
    one.RegisterWorkflow(kVersionOne, kGoOne);
    one.Start();
    auto handle = client_->StartWorkflow(kVersionOne, {.id = "nd", .task_queue = "tq-nd"});
    ASSERT_TRUE(Eventually([&] {
      History h = handle.FetchHistory();
      return Count(h, ev::EVENT_TYPE_TIMER_FIRED) == 1 &&
             h.events(h.events_size() - 1).event_type() == ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
    }));
    one.Shutdown();
  }
  worker::Worker two(*client_, {.task_queue = "tq-nd", .max_cached_workflows = 0});
  two.RegisterWorkflow(kVersionTwo, kGoTwo).RegisterActivity(kCompose);
  two.Start();
  auto handle = client_->GetWorkflowHandle<int>("nd");
  handle.Signal(kGoTwo);
  std::string message;
  ASSERT_TRUE(Eventually([&] {
    History h = handle.FetchHistory();
    for (const auto& e : h.events()) {
      if (e.event_type() != ev::EVENT_TYPE_WORKFLOW_TASK_FAILED) continue;
      EXPECT_EQ(e.workflow_task_failed_event_attributes().cause(),
                ev::WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR);
      message = e.workflow_task_failed_event_attributes().failure().message();
      return true;
    }
    return false;
  }));
  EXPECT_NE(message.find("ScheduleActivityTask"), std::string::npos) << message;
  EXPECT_NE(message.find("TimerStarted"), std::string::npos) << message;
  handle.Terminate("test done");
  two.Shutdown();
}

// Runs HundredSteps on a worker with the given cache size; returns the result
// and the history. Signals are sent only while the workflow is blocked on
// them (nothing else pending), so the event sequence is deterministic.
std::pair<std::string, History> RunHundred(client::Client& client, worker::Worker& worker,
                                           const std::string& id, const std::string& tq) {
  (void)worker;
  auto handle = client.StartWorkflow(kHundred, {.id = id, .task_queue = tq});
  for (int k = 1; k <= 3; ++k) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (handle.Query(kWaitingFor) != k && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // polling interval
    }
    handle.Signal(kHundredSignal);
  }
  std::string result = handle.GetResult();
  return {result, handle.FetchHistory()};
}

TEST_F(WorkflowFeaturesTest, CacheSizeZeroAndDefaultAreIdenticalOverHundredTimers) {
  auto& no_cache = StartWorker("tq-hundred-0", {.max_cached_workflows = 0});
  auto [result0, history0] = RunHundred(*client_, no_cache, "hundred-0", "tq-hundred-0");
  auto& cached = StartWorker("tq-hundred-1000");
  auto [result1, history1] = RunHundred(*client_, cached, "hundred-1000", "tq-hundred-1000");
  EXPECT_EQ(result0.substr(0, result0.find(" random=")),
            result1.substr(0, result1.find(" random=")));
  EXPECT_NE(result0.find("Step, 100!"), std::string::npos) << result0;
  EXPECT_EQ(Types(history0), Types(history1)) << Dump(history0) << "----\n" << Dump(history1);
  EXPECT_EQ(Count(history0, ev::EVENT_TYPE_TIMER_FIRED), 100);
  EXPECT_EQ(Count(history0, ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED), 10);
  EXPECT_EQ(Count(history0, ev::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED), 3);
  // No workflow task failed or timed out in either run.
  EXPECT_EQ(Count(history0, ev::EVENT_TYPE_WORKFLOW_TASK_FAILED), 0);
  EXPECT_EQ(Count(history1, ev::EVENT_TYPE_WORKFLOW_TASK_FAILED), 0);
}

TEST_F(WorkflowFeaturesTest, ReplayerAcceptsSameCodeAndRejectsChangedCode) {
  StartWorker("tq-replay");
  auto handle = client_->StartWorkflow(kCombinators, {.id = "replay", .task_queue = "tq-replay"});
  handle.GetResult();
  History history = handle.FetchHistory();

  wf::WorkflowRegistry same;
  same.Register(kCombinators);
  EXPECT_NO_THROW(wf::Replayer(std::move(same)).ReplayWorkflow(history));

  wf::WorkflowRegistry changed;
  changed.Register(WorkflowDef<&HundredStepsChanged::Run>{"Combinators"});
  try {
    wf::Replayer(std::move(changed)).ReplayWorkflow(history);
    ADD_FAILURE() << "expected NondeterminismError";
  } catch (const wf::NondeterminismError& e) {
    // The changed code starts a timer where history scheduled an activity.
    EXPECT_NE(std::string(e.what()).find("StartTimer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ActivityTaskScheduled"), std::string::npos) << e.what();
  }
}

TEST_F(WorkflowFeaturesTest, PayloadCodecsApplyToWorkflowTaskInputsAndOutputs) {
  client::ClientOptions options{.target_host = server_->address()};
  options.data_converter.codecs.push_back(
      std::make_shared<converter::ZlibCodec>(converter::ZlibCodecOptions{.always_encode = true}));
  client::Client coded = client::Client::Connect(std::move(options));
  worker::Worker w(coded, {.task_queue = "tq-codec"});
  w.RegisterWorkflow(kCombinators).RegisterWorkflow(kCounter, kCounterAdd, kCounterTotal);
  w.RegisterActivity(kCompose);
  w.Start();

  auto combined = coded.StartWorkflow(kCombinators, {.id = "codec-comb", .task_queue = "tq-codec"});
  EXPECT_EQ(combined.GetResult(), "Hi, a!Hi, b!Hi, c!|1");
  auto counter =
      coded.StartWorkflow(kCounter, {.id = "codec-counter", .task_queue = "tq-codec"}, 5);
  counter.Signal(kCounterAdd, 5);
  EXPECT_EQ(counter.GetResult(), 5);
  EXPECT_EQ(counter.Query(kCounterTotal), 5);  // legacy query: args and answer coded
  w.Shutdown();

  // On the wire (history), every payload the workflow produced or received is
  // encoded by the codec.
  auto encoding = [](const converter::Payload& p) {
    auto it = p.metadata().find("encoding");
    return it == p.metadata().end() ? std::string() : it->second;
  };
  int checked = 0;
  for (const History& h : {combined.FetchHistory(), counter.FetchHistory()}) {
    for (const auto& e : h.events()) {
      const converter::Payloads* payloads = nullptr;
      if (e.has_activity_task_scheduled_event_attributes()) {
        payloads = &e.activity_task_scheduled_event_attributes().input();
      } else if (e.has_workflow_execution_completed_event_attributes()) {
        payloads = &e.workflow_execution_completed_event_attributes().result();
      } else if (e.has_workflow_execution_signaled_event_attributes()) {
        payloads = &e.workflow_execution_signaled_event_attributes().input();
      }
      if (payloads == nullptr) continue;
      for (const auto& p : payloads->payloads()) {
        EXPECT_EQ(encoding(p), converter::kEncodingZlib) << e.ShortDebugString();
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 3 * 2 + 2 + 1);

  // The replayer decodes the coded history with the same converter (it
  // copies the events to decode them; without codecs it reads them in place).
  converter::DataConverter with_codec;
  with_codec.codecs.push_back(
      std::make_shared<converter::ZlibCodec>(converter::ZlibCodecOptions{.always_encode = true}));
  for (const History& h : {combined.FetchHistory(), counter.FetchHistory()}) {
    wf::WorkflowRegistry registry;
    registry.Register(kCombinators).Register(kCounter, kCounterAdd, kCounterTotal);
    EXPECT_NO_THROW(wf::Replayer(std::move(registry), with_codec).ReplayWorkflow(h));
  }
  wf::WorkflowRegistry plain;
  plain.Register(kCombinators);
  // Without the codec the zlib payloads cannot be decoded: replay fails.
  EXPECT_ANY_THROW(wf::Replayer(std::move(plain)).ReplayWorkflow(combined.FetchHistory()));
}

TEST_F(WorkflowFeaturesTest, SmallCacheEvictsRunsAndReplaysThem) {
  // Cache of 2 for 5 live runs: signals in round robin keep evicting the
  // least recently used run, whose next task replays it from its history.
  StartWorker("tq-small-cache", {.max_cached_workflows = 2});
  std::vector<client::WorkflowHandle<int>> handles;
  for (int i = 0; i < 5; ++i) {
    handles.push_back(client_->StartWorkflow(
        kCounter, {.id = "small-cache-" + std::to_string(i), .task_queue = "tq-small-cache"}, 3));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& h : handles) h.Signal(kCounterAdd, 1);
  }
  for (auto& h : handles) {
    EXPECT_EQ(h.GetResult(), 3);
    const History history = h.FetchHistory();
    EXPECT_EQ(Count(history, ev::EVENT_TYPE_WORKFLOW_TASK_FAILED), 0) << Dump(history);
  }
}

TEST_F(WorkflowFeaturesTest, UndecodableWorkflowInputFailsTheWorkflowTask) {
  // The arguments are decoded before the root task is created: a DecodeError
  // still fails the workflow task (retried), not the workflow.
  StartWorker("tq-undecodable");
  auto handle =
      client_->StartWorkflow<int>("Counter", {.id = "undecodable", .task_queue = "tq-undecodable"},
                                  std::string("not a number"));
  EXPECT_TRUE(Eventually(
      [&] { return Count(handle.FetchHistory(), ev::EVENT_TYPE_WORKFLOW_TASK_FAILED) >= 1; }));
  const History history = handle.FetchHistory();
  EXPECT_EQ(Count(history, ev::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED), 0) << Dump(history);
  EXPECT_EQ(Count(history, ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED), 0) << Dump(history);
  handle.Terminate("test done");
}

}  // namespace
}  // namespace temporalio
