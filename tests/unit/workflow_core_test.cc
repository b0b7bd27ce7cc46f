// Core state machines, WorkflowMachines and the per-run executor, without gRPC.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <string>

#include "sdk/core/state_machine.h"
#include "sdk/core/workflow_machines.h"
#include "sdk/workflow/run.h"
#include "temporalio/workflow/definitions.h"
#include "temporalio/workflow/registry.h"
#include "temporalio/workflow/replayer.h"

namespace temporalio {
namespace {

namespace ev = temporal::api::enums::v1;
namespace wf = temporalio::workflow;
using core::HistoryEvent;
using namespace std::chrono_literals;

// --- Table-driven machines ---------------------------------------------------

TEST(TimerMachineTest, HappyPathAndCancel) {
  using E = core::TimerTraits::Event;
  using S = core::TimerTraits::State;
  core::TimerMachine m(1);
  EXPECT_EQ(m.Fire(E::kSchedule), S::kStartCommandCreated);
  EXPECT_EQ(m.Fire(E::kTimerStarted), S::kStarted);
  EXPECT_EQ(m.Fire(E::kTimerFired), S::kFired);
  EXPECT_FALSE(m.CanFire(E::kCancel));

  core::TimerMachine c(2);
  c.Fire(E::kSchedule);
  EXPECT_EQ(c.Fire(E::kCancelBeforeSent), S::kCanceled);

  core::TimerMachine d(3);
  d.Fire(E::kSchedule);
  d.Fire(E::kTimerStarted);
  EXPECT_EQ(d.Fire(E::kCancel), S::kCancelCommandCreated);
  EXPECT_EQ(d.Fire(E::kTimerCanceled), S::kCanceled);
}

TEST(TimerMachineTest, EveryTableRowIsReachableAndOthersThrow) {
  using Traits = core::TimerTraits;
  for (const auto& row : Traits::kTable) {
    EXPECT_NE(row.from, row.to);
  }
  core::TimerMachine m(7);
  try {
    m.Fire(Traits::Event::kTimerFired);
    FAIL() << "expected NondeterminismError";
  } catch (const wf::NondeterminismError& e) {
    EXPECT_NE(std::string(e.what()).find("TimerMachine (seq 7) got TimerFired in state Created"),
              std::string::npos)
        << e.what();
  }
}

TEST(ActivityMachineTest, Transitions) {
  using E = core::ActivityTraits::Event;
  using S = core::ActivityTraits::State;
  core::ActivityMachine a(1);
  a.Fire(E::kSchedule);
  a.Fire(E::kScheduledEvent);
  a.Fire(E::kStartedEvent);
  EXPECT_EQ(a.Fire(E::kCompletedEvent), S::kCompleted);

  core::ActivityMachine b(2);
  b.Fire(E::kSchedule);
  b.Fire(E::kScheduledEvent);
  EXPECT_EQ(b.Fire(E::kRequestCancel), S::kCancelCommandCreated);
  EXPECT_EQ(b.Fire(E::kCancelRequestedEvent), S::kCancelRequested);
  EXPECT_EQ(b.Fire(E::kStartedEvent), S::kCancelRequested);
  EXPECT_EQ(b.Fire(E::kCanceledEvent), S::kCanceled);

  core::ActivityMachine c(3);
  c.Fire(E::kSchedule);
  EXPECT_EQ(c.Fire(E::kCancelBeforeSent), S::kCanceled);
  EXPECT_THROW(c.Fire(E::kScheduledEvent), wf::NondeterminismError);

  core::ActivityMachine d(4);
  d.Fire(E::kSchedule);
  d.Fire(E::kScheduledEvent);
  EXPECT_EQ(d.Fire(E::kAbandon), S::kAbandoned);
  EXPECT_EQ(d.Fire(E::kCompletedEvent), S::kAbandoned);

  core::ActivityMachine f(5);
  f.Fire(E::kSchedule);
  f.Fire(E::kScheduledEvent);
  EXPECT_EQ(f.Fire(E::kTimedOutEvent), S::kTimedOut);
  EXPECT_THROW(f.Fire(E::kCompletedEvent), wf::NondeterminismError);
}

TEST(CloseWorkflowMachineTest, Transitions) {
  using E = core::CloseWorkflowTraits::Event;
  using S = core::CloseWorkflowTraits::State;
  core::CloseWorkflowMachine m(0);
  EXPECT_THROW(m.Fire(E::kRecordedEvent), wf::NondeterminismError);
  EXPECT_EQ(m.Fire(E::kSchedule), S::kCommandCreated);
  EXPECT_EQ(m.Fire(E::kRecordedEvent), S::kRecorded);
}

// --- History builder ---------------------------------------------------------

class History {
 public:
  HistoryEvent& Add(ev::EventType type) {
    HistoryEvent& e = events_.emplace_back();
    e.set_event_id(static_cast<int64_t>(events_.size()));
    e.set_event_type(type);
    *e.mutable_event_time() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(1000 + e.event_id());
    return e;
  }
  void Start(const std::string& type, converter::Payloads input = {}) {
    auto& a = *Add(ev::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
                   .mutable_workflow_execution_started_event_attributes();
    a.mutable_workflow_type()->set_name(type);
    a.mutable_task_queue()->set_name("tq");
    a.set_original_execution_run_id("run-1");
    *a.mutable_input() = std::move(input);
    Wft();
  }
  // WorkflowTaskScheduled + Started.
  void Wft() {
    Add(ev::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    Add(ev::EVENT_TYPE_WORKFLOW_TASK_STARTED)
        .mutable_workflow_task_started_event_attributes()
        ->set_scheduled_event_id(Last() - 1);
  }
  int64_t Completed() {
    Add(ev::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    return Last();
  }
  int64_t TimerStarted(const std::string& id) {
    Add(ev::EVENT_TYPE_TIMER_STARTED).mutable_timer_started_event_attributes()->set_timer_id(id);
    return Last();
  }
  void TimerFired(const std::string& id) {
    Add(ev::EVENT_TYPE_TIMER_FIRED).mutable_timer_fired_event_attributes()->set_timer_id(id);
  }
  int64_t ActivityScheduled(const std::string& type) {
    Add(ev::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        .mutable_activity_task_scheduled_event_attributes()
        ->mutable_activity_type()
        ->set_name(type);
    return Last();
  }
  void ActivityCompleted(int64_t scheduled, const converter::Payload& result) {
    auto& a = *Add(ev::EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
                   .mutable_activity_task_completed_event_attributes();
    a.set_scheduled_event_id(scheduled);
    *a.mutable_result()->add_payloads() = result;
  }
  void ActivityFailed(int64_t scheduled, const std::string& message) {
    auto& a =
        *Add(ev::EVENT_TYPE_ACTIVITY_TASK_FAILED).mutable_activity_task_failed_event_attributes();
    a.set_scheduled_event_id(scheduled);
    *a.mutable_failure() = converter::ToFailure(std::make_exception_ptr(ApplicationError(message)));
  }
  void Signal(const std::string& name, converter::Payloads input) {
    auto& a = *Add(ev::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
                   .mutable_workflow_execution_signaled_event_attributes();
    a.set_signal_name(name);
    *a.mutable_input() = std::move(input);
  }
  void CancelRequested() { Add(ev::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED); }
  // The events after index `from` (0-based count of events already fed).
  std::vector<HistoryEvent> Since(size_t from) const {
    return std::vector<HistoryEvent>(events_.begin() + static_cast<long>(from), events_.end());
  }
  size_t size() const { return events_.size(); }
  int64_t Last() const { return static_cast<int64_t>(events_.size()); }

 private:
  std::vector<HistoryEvent> events_;
};

// --- Workflows under test ----------------------------------------------------

class TimerWorkflow {
 public:
  wf::Task<std::string> Run() {
    co_await wf::Sleep(1s);
    co_return "done";
  }
};

std::string Greet(const std::string& name) { return "Hello " + name; }  // activity
inline constexpr ActivityDef<&Greet> kGreet{"Greet"};

class ActivityWorkflow {
 public:
  wf::Task<std::string> Run(std::string name) {
    std::string greeting = co_await ExecuteActivity(kGreet, name, {.start_to_close_timeout = 10s});
    co_return greeting + "!";
  }
};

class SignalWorkflow {
 public:
  wf::Task<int> Run() {
    co_await wf::WaitCondition([this] { return total_ >= 3; });
    co_return total_;
  }
  void Add(int n) { total_ += n; }
  int Total() const { return total_; }

 private:
  int total_ = 0;
};

class CancelWorkflow {
 public:
  wf::Task<void> Run() {
    try {
      co_await wf::Sleep(1h);
    } catch (const CanceledError&) {
      cleaned_up_ = true;
      throw;
    }
  }
  bool CleanedUp() const { return cleaned_up_; }

 private:
  bool cleaned_up_ = false;
};

class ThrowingWorkflow {
 public:
  wf::Task<void> Run() {
    throw std::runtime_error("bug in workflow");
    co_return;
  }
};

class FailingWorkflow {
 public:
  wf::Task<void> Run() {
    throw ApplicationError("business failure", {.type = "MyError"});
    co_return;
  }
};

class ConcurrentWorkflow {
 public:
  wf::Task<std::vector<std::string>> Run() {
    std::vector<wf::Task<std::string>> tasks;
    tasks.push_back(ExecuteActivity(kGreet, "a", {.start_to_close_timeout = 10s}));
    tasks.push_back(ExecuteActivity(kGreet, "b", {.start_to_close_timeout = 10s}));
    auto results = co_await wf::WhenAll(std::move(tasks));
    size_t winner = co_await wf::WhenAny(wf::Sleep(1s), wf::Sleep(2s));
    results.push_back(std::to_string(winner));
    results.push_back(wf::Uuid4());
    co_return results;
  }
};

inline constexpr WorkflowDef<&TimerWorkflow::Run> kTimerWf{"TimerWorkflow"};
inline constexpr WorkflowDef<&ActivityWorkflow::Run> kActivityWf{"ActivityWorkflow"};
inline constexpr WorkflowDef<&SignalWorkflow::Run> kSignalWf{"SignalWorkflow"};
inline constexpr SignalDef<&SignalWorkflow::Add> kAdd{"add"};
inline constexpr QueryDef<&SignalWorkflow::Total> kTotal{"total"};
inline constexpr WorkflowDef<&CancelWorkflow::Run> kCancelWf{"CancelWorkflow"};
inline constexpr QueryDef<&CancelWorkflow::CleanedUp> kCleanedUp{"cleaned_up"};
inline constexpr WorkflowDef<&ThrowingWorkflow::Run> kThrowingWf{"ThrowingWorkflow"};
inline constexpr WorkflowDef<&FailingWorkflow::Run> kFailingWf{"FailingWorkflow"};
inline constexpr WorkflowDef<&ConcurrentWorkflow::Run> kConcurrentWf{"ConcurrentWorkflow"};

// Typed definitions: wrong argument types do not compile.
template <class... A>
concept CanExecuteGreet = requires(A... a) {
  ExecuteActivity(kGreet, a..., wf::ActivityOptions{});
};
static_assert(CanExecuteGreet<std::string>);
static_assert(CanExecuteGreet<const char*>);  // converts to the parameter type
static_assert(!CanExecuteGreet<int>);
static_assert(!CanExecuteGreet<std::string, std::string>);
static_assert(!CanExecuteGreet<>);
static_assert(
    std::is_same_v<decltype(ExecuteActivity(kGreet, std::string(), {})), wf::Task<std::string>>);
static_assert(std::is_same_v<WorkflowDef<&SignalWorkflow::Run>::Result, int>);

std::shared_ptr<const wf::WorkflowRegistry> Registry() {
  auto r = std::make_shared<wf::WorkflowRegistry>();
  r->Register(kTimerWf);
  r->Register(kActivityWf);
  r->Register(kSignalWf, kAdd, kTotal);
  r->Register(kCancelWf, kCleanedUp);
  r->Register(kThrowingWf);
  r->Register(kFailingWf);
  r->Register(kConcurrentWf);
  return r;
}

std::unique_ptr<wf::internal::WorkflowRun> NewRun() {
  wf::internal::RunParams p;
  p.workflow_id = "wf-1";
  p.run_id = "run-1";
  p.registry = Registry();
  return std::make_unique<wf::internal::WorkflowRun>(std::move(p));
}

// Feeds the events added since the last call; takes the commands as the
// worker does (the run keeps only what matching needs).
class Driver {
 public:
  explicit Driver(History* h) : h_(h), run_(NewRun()) {}
  std::vector<core::Command> Step() {
    run_->Feed(h_->Since(fed_));
    fed_ = h_->size();
    return run_->TakeCommands();
  }
  wf::internal::WorkflowRun& run() { return *run_; }

 private:
  History* h_;
  size_t fed_ = 0;
  std::unique_ptr<wf::internal::WorkflowRun> run_;
};

// --- Executor tests ----------------------------------------------------------

TEST(WorkflowRunTest, TimerThenComplete) {
  History h;
  h.Start("TimerWorkflow");
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_START_TIMER);
  EXPECT_EQ(cmds[0].start_timer_command_attributes().timer_id(), "1");
  EXPECT_EQ(cmds[0].start_timer_command_attributes().start_to_fire_timeout().seconds(), 1);
  h.Completed();
  h.TimerStarted("1");
  h.TimerFired("1");
  h.Wft();
  cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  EXPECT_EQ(converter::FromPayload<std::string>(
                cmds[0].complete_workflow_execution_command_attributes().result().payloads(0)),
            "done");
}

TEST(WorkflowRunTest, TimerIdsThatAreNotTheSeqAndUnknownTimersInHistory) {
  // A history whose TimerStarted carries another id (other code recorded it):
  // the fired event is matched by that id.
  History h;
  h.Start("TimerWorkflow");
  Driver d(&h);
  d.Step();
  h.Completed();
  h.TimerStarted("t-one");
  h.TimerFired("t-one");
  h.Wft();
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);

  // A timer fired that was never started, or fired twice: nondeterminism.
  for (const char* fired : {"2", "1 ", "x"}) {
    History bad;
    bad.Start("TimerWorkflow");
    Driver run(&bad);
    run.Step();
    bad.Completed();
    bad.TimerStarted("1");
    bad.TimerFired(fired);
    bad.Wft();
    EXPECT_THROW(run.Step(), wf::NondeterminismError) << fired;
  }
  History twice;
  twice.Start("TimerWorkflow");
  Driver run(&twice);
  run.Step();
  twice.Completed();
  twice.TimerStarted("1");
  twice.TimerFired("1");
  twice.TimerFired("1");
  twice.Wft();
  EXPECT_THROW(run.Step(), wf::NondeterminismError);
}

TEST(WorkflowRunTest, ActivityResultAndFullReplayGiveSameCommands) {
  History h;
  h.Start("ActivityWorkflow", converter::ToPayloads(std::string("Ann")));
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  const auto& a = cmds[0].schedule_activity_task_command_attributes();
  EXPECT_EQ(a.activity_type().name(), "Greet");
  EXPECT_EQ(a.activity_id(), "1");
  EXPECT_EQ(a.task_queue().name(), "tq");
  EXPECT_EQ(converter::FromPayload<std::string>(a.input().payloads(0)), "Ann");
  h.Completed();
  int64_t scheduled = h.ActivityScheduled("Greet");
  h.ActivityCompleted(scheduled, converter::ToPayload(std::string("Hello Ann")));
  h.Wft();
  cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(converter::FromPayload<std::string>(
                cmds[0].complete_workflow_execution_command_attributes().result().payloads(0)),
            "Hello Ann!");
  // A fresh run fed the whole history at once (cache miss) produces the same.
  auto fresh = NewRun();
  fresh->Feed(h.Since(0));
  auto again = fresh->Commands();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].SerializeAsString(), cmds[0].SerializeAsString());
}

TEST(WorkflowRunTest, TakenCommandsAreStillNamedInNondeterminismErrors) {
  History h;
  h.Start("ActivityWorkflow", converter::ToPayloads(std::string("Ann")));
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(converter::FromPayload<std::string>(
                cmds[0].schedule_activity_task_command_attributes().input().payloads(0)),
            "Ann");  // taken whole
  EXPECT_TRUE(
      d.run().Commands()[0].schedule_activity_task_command_attributes().input().payloads().empty());
  h.Completed();
  h.TimerStarted("1");  // history disagrees with the command sent
  h.Wft();
  try {
    d.Step();
    FAIL() << "expected a NondeterminismError";
  } catch (const wf::NondeterminismError& e) {
    EXPECT_NE(std::string(e.what()).find("ScheduleActivityTask(seq=1, activity_type=Greet"),
              std::string::npos)
        << e.what();
  }
}

TEST(WorkflowRunTest, ActivityFailureFailsWorkflow) {
  History h;
  h.Start("ActivityWorkflow", converter::ToPayloads(std::string("Ann")));
  Driver d(&h);
  d.Step();
  h.Completed();
  int64_t scheduled = h.ActivityScheduled("Greet");
  h.ActivityFailed(scheduled, "boom");
  h.Wft();
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
  const auto& f = cmds[0].fail_workflow_execution_command_attributes().failure();
  EXPECT_EQ(f.message(), "Activity task failed");
  EXPECT_TRUE(f.has_activity_failure_info());
  EXPECT_EQ(f.cause().message(), "boom");
}

TEST(WorkflowRunTest, SignalsConditionAndQuery) {
  History h;
  h.Start("SignalWorkflow");
  Driver d(&h);
  EXPECT_TRUE(d.Step().empty());
  EXPECT_EQ(converter::FromPayload<int>(d.run().Query("total", {})), 0);
  h.Completed();
  h.Signal("add", converter::ToPayloads(1));
  h.Wft();
  EXPECT_TRUE(d.Step().empty());
  EXPECT_EQ(converter::FromPayload<int>(d.run().Query("total", {})), 1);
  h.Completed();
  h.Signal("add", converter::ToPayloads(2));
  h.Signal("unknown", {});
  h.Wft();
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(converter::FromPayload<int>(
                cmds[0].complete_workflow_execution_command_attributes().result().payloads(0)),
            3);
  EXPECT_THROW(d.run().Query("nope", {}), ApplicationError);
}

TEST(WorkflowRunTest, CancellationCancelsTimerAndCancelsWorkflow) {
  History h;
  h.Start("CancelWorkflow");
  Driver d(&h);
  d.Step();
  h.Completed();
  h.TimerStarted("1");
  h.CancelRequested();
  h.Wft();
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_CANCEL_TIMER);
  EXPECT_EQ(cmds[1].command_type(), ev::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION);
  EXPECT_TRUE(converter::FromPayload<bool>(d.run().Query("cleaned_up", {})));
}

TEST(WorkflowRunTest, ApplicationErrorFailsWorkflowOtherExceptionFailsTask) {
  History h;
  h.Start("FailingWorkflow");
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command_type(), ev::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
  EXPECT_EQ(cmds[0]
                .fail_workflow_execution_command_attributes()
                .failure()
                .application_failure_info()
                .type(),
            "MyError");

  History h2;
  h2.Start("ThrowingWorkflow");
  Driver d2(&h2);
  EXPECT_THROW(d2.Step(), wf::WorkflowTaskError);

  History h3;
  h3.Start("Unregistered");
  Driver d3(&h3);
  EXPECT_THROW(d3.Step(), wf::WorkflowTaskError);
}

TEST(WorkflowRunTest, WhenAllWhenAnyAndDeterministicUuid) {
  History h;
  h.Start("ConcurrentWorkflow");
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 2u);
  h.Completed();
  int64_t s1 = h.ActivityScheduled("Greet");
  int64_t s2 = h.ActivityScheduled("Greet");
  h.ActivityCompleted(s2, converter::ToPayload(std::string("B")));
  h.ActivityCompleted(s1, converter::ToPayload(std::string("A")));
  h.Wft();
  cmds = d.Step();
  ASSERT_EQ(cmds.size(), 2u);  // two timers
  h.Completed();
  h.TimerStarted("1");
  h.TimerStarted("2");
  h.TimerFired("2");
  h.Wft();
  cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  auto result = converter::FromPayload<std::vector<std::string>>(
      cmds[0].complete_workflow_execution_command_attributes().result().payloads(0));
  ASSERT_EQ(result.size(), 4u);
  EXPECT_EQ(result[0], "A");
  EXPECT_EQ(result[1], "B");
  EXPECT_EQ(result[2], "1");
  EXPECT_EQ(result[3].size(), 36u);
  // Same seed on replay -> same UUID.
  auto fresh = NewRun();
  fresh->Feed(h.Since(0));
  EXPECT_EQ(fresh->Commands()[0].SerializeAsString(), cmds[0].SerializeAsString());
}

TEST(WorkflowRunTest, NondeterminismNamesBothSides) {
  History h;
  h.Start("TimerWorkflow");
  h.Completed();
  h.ActivityScheduled("Greet");  // recorded by "old code"
  h.Wft();
  auto run = NewRun();
  try {
    run->Feed(h.Since(0));
    FAIL() << "expected NondeterminismError";
  } catch (const wf::NondeterminismError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("ActivityTaskScheduled"), std::string::npos) << msg;
    EXPECT_NE(msg.find("StartTimer"), std::string::npos) << msg;
  }
}

TEST(WorkflowRunTest, MissingCommandEventIsNondeterminism) {
  History h;
  h.Start("TimerWorkflow");
  h.Completed();  // no TimerStarted recorded
  h.Signal("x", {});
  h.Wft();
  auto run = NewRun();
  EXPECT_THROW(run->Feed(h.Since(0)), wf::NondeterminismError);
}

TEST(WorkflowRunTest, FailedWorkflowTaskAttemptIsSkipped) {
  History h;
  h.Start("TimerWorkflow");
  h.Add(ev::EVENT_TYPE_WORKFLOW_TASK_FAILED);
  h.Wft();
  Driver d(&h);
  auto cmds = d.Step();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(d.run().last_event_id(), 6);
}

// --- Replay of real-server histories -----------------------------------------

temporal::api::history::v1::History LoadHistory(const std::string& name) {
  std::ifstream in(std::string(TEMPORALIO_HISTORIES_DIR) + "/" + name, std::ios::binary);
  temporal::api::history::v1::History history;
  EXPECT_TRUE(history.ParseFromIstream(&in)) << name;
  return history;
}

class SleepOneSecond {
 public:
  wf::Task<void> Run() { co_await wf::Sleep(1s); }
};
class ActivityInstead {
 public:
  wf::Task<void> Run() { co_await ExecuteActivity(kGreet, "x", {}); }
};
class TwoTimers {
 public:
  wf::Task<void> Run() {
    co_await wf::Sleep(1s);
    co_await wf::Sleep(1s);
  }
};

TEST(ReplayTest, RealTimerHistoriesReplay) {
  for (const char* file : {"timer_workflow_history.bin", "fail_wf_task.bin"}) {
    auto history = LoadHistory(file);
    std::string type =
        history.events(0).workflow_execution_started_event_attributes().workflow_type().name();
    wf::WorkflowRegistry ok;
    ok.Register(WorkflowDef<&SleepOneSecond::Run>{type});
    EXPECT_NO_THROW(wf::Replayer(std::move(ok)).ReplayWorkflow(history)) << file;

    wf::WorkflowRegistry changed;
    changed.Register(WorkflowDef<&ActivityInstead::Run>{type});
    try {
      wf::Replayer(std::move(changed)).ReplayWorkflow(history);
      ADD_FAILURE() << "expected NondeterminismError for " << file;
    } catch (const wf::NondeterminismError& e) {
      EXPECT_NE(std::string(e.what()).find("TimerStarted"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("ScheduleActivityTask"), std::string::npos);
    }

    wf::WorkflowRegistry extra;
    extra.Register(WorkflowDef<&TwoTimers::Run>{type});
    EXPECT_THROW(wf::Replayer(std::move(extra)).ReplayWorkflow(history), wf::NondeterminismError)
        << file;
  }
}

class SayHello {
 public:
  wf::Task<void> Run() {
    co_await wf::ExecuteActivity<std::string>("say_hello", {.start_to_close_timeout = 60s}, "x");
    co_await wf::WaitCondition([] { return false; });  // the recorded run kept waiting
  }
};

TEST(ReplayTest, TsSdkHistoryWithFlagsReplays) {
  // Recorded by an SDK that writes sdk_metadata core_used_flags; ends with an
  // empty workflow task completion.
  auto history = LoadHistory("ends_empty_wft_complete.bin");
  wf::WorkflowRegistry r;
  r.Register(WorkflowDef<&SayHello::Run>{"SayHelloWorkflow"});
  EXPECT_NO_THROW(wf::Replayer(std::move(r)).ReplayWorkflow(history));
}

}  // namespace
}  // namespace temporalio
