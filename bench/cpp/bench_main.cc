// temporal_bench: the C++ side of bench/ (driven by bench/bench.js).
//
//   temporal_bench worker --address A --task-queue Q [--max-cached N] [--wft-slots N]
//                         [--activity-pollers N]
//       Runs the C++ worker (bench_worker.h); prints "ready"; stops when stdin closes.
//   temporal_bench load --address A --task-queue Q --mode closed|open
//                       [--concurrency C] [--rate R] [--warmup S] [--duration S] [--payload B]
//                       [--latency-log F] [--stall-probe 0|1]
//       Starts BenchHello workflows and waits for their results with raw gRPC callback
//       calls (the same load for the C++ and the TS worker). Closed loop: C in flight.
//       Open loop: starts at R/s on a fixed schedule; latency runs from the scheduled
//       start to the result (no coordinated omission). Prints "mark start" / "mark end"
//       around the measured window, then one JSON line. --latency-log writes one line per
//       completed workflow (id, scheduled start, start reply, result; wall-clock unix
//       microseconds) to F, to line a slow one up with its history's event times.
//       --stall-probe 1 (open loop): also reports how often a CPU stopped running during the
//       window (StallProbe below).
//   temporal_bench gen-history --address A --task-queue Q --kind hello|activities|timer-signal
//                              --out F [--timers N] [--signals N] [--activities N]
//       Runs one workflow to completion and writes its history (binary History proto).
//   temporal_bench replay --history F [--seconds S] [--min-count N]
//       Replays the history with the C++ Replayer in a loop on this thread; prints JSON.
//   temporal_bench start-sleepers --address A --task-queue Q --count N [--concurrency C]
//       Starts N BenchSleep workflows (1 h timer each); prints JSON.
//   temporal_bench signal-load --address A --task-queue Q [--workflows K] [--concurrency C]
//                              [--warmup S] [--duration S] [--payload B]
//       Server capacity without a worker: starts K workflows on a queue nobody polls, then
//       keeps C SignalWorkflowExecution calls in flight round robin over them (each one a
//       durable write batch with one history event). Prints "mark start" / "mark end"
//       around the measured window, then one JSON line.
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_worker.h"
#include "bench_workflows.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "temporalio/converter/payload_converter.h"
#include "temporalio/workflow/replayer.h"

namespace temporalio::bench {
namespace {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace hv1 = temporal::api::history::v1;
namespace ev = temporal::api::enums::v1;
using Clock = std::chrono::steady_clock;

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc) {
        throw std::invalid_argument("expected --key value, got " + key);
      }
      values_[key.substr(2)] = argv[++i];
    }
  }
  bool Has(const std::string& key) const { return values_.contains(key); }
  std::string Str(const std::string& key, const std::string& def = "") const {
    auto it = values_.find(key);
    if (it != values_.end()) return it->second;
    if (def.empty()) throw std::invalid_argument("missing --" + key);
    return def;
  }
  double Num(const std::string& key, double def) const {
    auto it = values_.find(key);
    return it == values_.end() ? def : std::stod(it->second);
  }

 private:
  std::map<std::string, std::string> values_;
};

std::string RandomTag() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration FromSeconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// CPU time of the whole process (all threads).
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---------------------------------------------------------------------------
// worker

int RunWorker(const Args& args) {
  BenchWorkerOptions options;
  options.address = args.Str("address");
  options.task_queue = args.Str("task-queue");
  options.max_cached_workflows = static_cast<size_t>(args.Num("max-cached", 1000));
  options.workflow_task_slots = static_cast<int>(args.Num("wft-slots", 64));
  options.activity_pollers = static_cast<int>(args.Num("activity-pollers", 4));
  BenchWorker worker(options);
  std::printf("ready\n");
  std::fflush(stdout);
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {
  }
  worker.Shutdown();
  return 0;
}

// ---------------------------------------------------------------------------
// load

// Starts workflows and waits for their close events with gRPC callback calls.
class LoadGen {
 public:
  LoadGen(const std::string& address, std::string task_queue, std::string workflow_type,
          converter::Payloads input)
      : task_queue_(std::move(task_queue)),
        workflow_type_(std::move(workflow_type)),
        input_(std::move(input)),
        tag_(RandomTag()) {
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channel_args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);  // as the SDK's client channel
    stub_ = wsv1::WorkflowService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), channel_args));
  }

  // `done(ok, latency_from_t0)` runs on a gRPC thread.
  using DoneFn = std::function<void(bool ok, Clock::time_point t0)>;

  // Records every completed workflow's timeline for WriteLatencyLog.
  void EnableLatencyLog() { log_enabled_ = true; }
  // A header line, then one tab-separated line per completed workflow.
  bool WriteLatencyLog(const std::string& path) {
    std::lock_guard lock(log_mu_);
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const auto us = [](std::chrono::system_clock::time_point t) {
      return static_cast<long long>(
          std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
    };
    std::fprintf(f, "workflow_id\tscheduled_us\tstart_reply_us\tresult_us\n");
    for (const LatencyRecord& r : log_) {
      std::fprintf(f, "%s\t%lld\t%lld\t%lld\n", r.workflow_id.c_str(), us(r.scheduled),
                   us(r.start_reply), us(r.result));
    }
    return std::fclose(f) == 0;
  }

  void Launch(Clock::time_point t0, DoneFn done) {
    auto* op = new Op;
    op->t0 = t0;
    if (log_enabled_) op->scheduled_wall = WallClockAt(t0);
    op->done = std::move(done);
    op->workflow_id = "bench-" + tag_ + "-" + std::to_string(next_id_.fetch_add(1));
    auto& req = op->start_req;
    req.set_namespace_("default");
    req.set_workflow_id(op->workflow_id);
    req.mutable_workflow_type()->set_name(workflow_type_);
    req.mutable_task_queue()->set_name(task_queue_);
    *req.mutable_input() = input_;
    req.set_request_id(op->workflow_id);
    req.set_identity("temporal_bench");
    op->start_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub_->async()->StartWorkflowExecution(
        &op->start_ctx, &op->start_req, &op->start_resp, [this, op](grpc::Status status) {
          if (!status.ok()) {
            LogError("start", status);
            return Finish(op, false);
          }
          if (log_enabled_) op->start_reply_wall = std::chrono::system_clock::now();
          op->hist_req.set_namespace_("default");
          auto* ex = op->hist_req.mutable_execution();
          ex->set_workflow_id(op->workflow_id);
          ex->set_run_id(op->start_resp.run_id());
          op->hist_req.set_wait_new_event(true);
          op->hist_req.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
          PollResult(op);
        });
  }

 private:
  struct Op {
    Clock::time_point t0;
    std::chrono::system_clock::time_point scheduled_wall;
    std::chrono::system_clock::time_point start_reply_wall;
    DoneFn done;
    std::string workflow_id;
    grpc::ClientContext start_ctx;
    wsv1::StartWorkflowExecutionRequest start_req;
    wsv1::StartWorkflowExecutionResponse start_resp;
    std::unique_ptr<grpc::ClientContext> hist_ctx;
    wsv1::GetWorkflowExecutionHistoryRequest hist_req;
    wsv1::GetWorkflowExecutionHistoryResponse hist_resp;
  };

  void PollResult(Op* op) {
    op->hist_ctx = std::make_unique<grpc::ClientContext>();
    op->hist_ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    op->hist_resp.Clear();
    stub_->async()->GetWorkflowExecutionHistory(
        op->hist_ctx.get(), &op->hist_req, &op->hist_resp, [this, op](grpc::Status status) {
          if (!status.ok()) {
            LogError("result", status);
            return Finish(op, false);
          }
          if (op->hist_resp.history().events_size() == 0) {
            op->hist_req.set_next_page_token(op->hist_resp.next_page_token());
            return PollResult(op);
          }
          const auto& event = op->hist_resp.history().events(0);
          bool ok = event.has_workflow_execution_completed_event_attributes();
          if (!ok) std::cerr << "workflow did not complete: " << event.ShortDebugString() << "\n";
          Finish(op, ok);
        });
  }

  static std::chrono::system_clock::time_point WallClockAt(Clock::time_point t) {
    return std::chrono::system_clock::now() -
           std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - t);
  }

  void Finish(Op* op, bool ok) {
    if (log_enabled_ && ok) {
      const auto result_wall = std::chrono::system_clock::now();
      std::lock_guard lock(log_mu_);
      log_.push_back(
          LatencyRecord{op->workflow_id, op->scheduled_wall, op->start_reply_wall, result_wall});
    }
    DoneFn done = std::move(op->done);
    Clock::time_point t0 = op->t0;
    delete op;
    done(ok, t0);
  }

  void LogError(const char* what, const grpc::Status& status) {
    if (errors_logged_.fetch_add(1) < 5) {
      std::cerr << what << ": " << status.error_code() << " " << status.error_message() << "\n";
    }
  }

  struct LatencyRecord {
    std::string workflow_id;
    std::chrono::system_clock::time_point scheduled, start_reply, result;
  };

  bool log_enabled_ = false;
  std::mutex log_mu_;
  std::vector<LatencyRecord> log_;
  std::unique_ptr<wsv1::WorkflowService::Stub> stub_;
  const std::string task_queue_;
  const std::string workflow_type_;
  const converter::Payloads input_;
  const std::string tag_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<int> errors_logged_{0};
};

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

void Mark(const char* what) {
  std::printf("mark %s\n", what);
  std::fflush(stdout);
}

// One thread per CPU the process may run on, each pinned there and woken every
// kTick; a wake-up at least kStall late during the window counts as a stall of
// that CPU. At low load none of the benchmark's threads holds a CPU for
// milliseconds, so such a gap means the CPU itself did not run: on a VM, the
// host descheduled that vCPU, and every thread woken onto it waited as well.
// Costs ~1,000 wake-ups per second per CPU, so only the latency runs use it.
class StallProbe {
 public:
  static constexpr std::chrono::microseconds kTick{1000};
  static constexpr std::chrono::microseconds kStall{5000};

  struct Result {
    uint64_t stalls = 0;
    double total_ms = 0;
    double max_ms = 0;
  };

  StallProbe(Clock::time_point window_start, Clock::time_point window_end)
      : window_start_(window_start), window_end_(window_end) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) threads_.emplace_back([this, cpu] { Run(cpu); });
    }
  }
  ~StallProbe() { Stop(); }
  StallProbe(const StallProbe&) = delete;
  StallProbe& operator=(const StallProbe&) = delete;

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  Result result() {
    std::lock_guard lock(mu_);
    return result_;
  }

 private:
  void Run(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0) return;
    Clock::time_point due = Clock::now() + kTick;
    while (!stop_) {
      std::this_thread::sleep_until(due);
      const Clock::time_point woke = Clock::now();
      const Clock::duration late = woke - due;
      if (late >= kStall && due >= window_start_ && due < window_end_) {
        const double ms = std::chrono::duration<double, std::milli>(late).count();
        std::lock_guard lock(mu_);
        ++result_.stalls;
        result_.total_ms += ms;
        result_.max_ms = std::max(result_.max_ms, ms);
      }
      // After a late wake-up, tick from now: one stall is counted once.
      due = std::max(due, woke) + kTick;
    }
  }

  const Clock::time_point window_start_;
  const Clock::time_point window_end_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Result result_;
  std::vector<std::thread> threads_;
};

int RunLoad(const Args& args) {
  const std::string mode = args.Str("mode", "closed");
  const double warmup = args.Num("warmup", 2);
  const double duration = args.Num("duration", 30);
  const int concurrency = static_cast<int>(args.Num("concurrency", 200));
  const double rate = args.Num("rate", 100);
  const size_t payload_bytes = static_cast<size_t>(args.Num("payload", 1024));
  LoadGen gen(args.Str("address"), args.Str("task-queue"), "BenchHello",
              converter::ToPayloads(std::string(payload_bytes, 'x')));
  if (args.Has("latency-log")) gen.EnableLatencyLog();

  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0;
  uint64_t launched = 0;
  uint64_t completed_in_window = 0;
  uint64_t failed = 0;
  uint64_t completed = 0;
  std::vector<double> latencies_ms;  // of workflows started (scheduled) in the window
  const Clock::time_point begin = Clock::now();
  const Clock::time_point window_start = begin + FromSeconds(warmup);
  const Clock::time_point window_end = window_start + FromSeconds(duration);
  bool stop_launching = false;
  std::unique_ptr<StallProbe> probe;

  std::function<void(bool, Clock::time_point)> on_done;
  std::function<void()> launch_one = [&] { gen.Launch(Clock::now(), on_done); };
  on_done = [&](bool ok, Clock::time_point t0) {
    const Clock::time_point now = Clock::now();
    bool relaunch = false;
    {
      std::lock_guard lock(mu);
      --in_flight;
      if (!ok) ++failed;
      if (ok) ++completed;
      if (ok && now >= window_start && now < window_end) ++completed_in_window;
      if (ok && t0 >= window_start && t0 < window_end) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - t0).count());
      }
      if (mode == "closed" && !stop_launching) {
        ++in_flight;
        ++launched;
        relaunch = true;
      }
    }
    cv.notify_all();
    if (relaunch) launch_one();
  };

  if (mode == "closed") {
    {
      std::lock_guard lock(mu);
      in_flight = launched = concurrency;
    }
    for (int i = 0; i < concurrency; ++i) launch_one();
    std::this_thread::sleep_until(window_start);
    Mark("start");
    std::this_thread::sleep_until(window_end);
    Mark("end");
  } else {
    if (args.Num("stall-probe", 0) != 0)
      probe = std::make_unique<StallProbe>(window_start, window_end);
    const Clock::duration interval = FromSeconds(1.0 / rate);
    bool marked_start = false;
    for (uint64_t i = 0;; ++i) {
      Clock::time_point t = begin + interval * static_cast<int64_t>(i);
      if (t >= window_end) break;
      std::this_thread::sleep_until(t);
      if (!marked_start && t >= window_start) {
        Mark("start");
        marked_start = true;
      }
      {
        std::lock_guard lock(mu);
        ++in_flight;
        ++launched;
      }
      gen.Launch(t, on_done);
    }
    std::this_thread::sleep_until(window_end);
    Mark("end");
  }
  {
    std::unique_lock lock(mu);
    stop_launching = true;
    if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return in_flight == 0; })) {
      std::cerr << in_flight << " workflows still in flight after 60 s\n";
      failed += in_flight;
    }
  }
  std::string probe_json;
  if (probe) {
    probe->Stop();
    const StallProbe::Result stalls = probe->result();
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  ",\"cpu_stalls\":%llu,\"cpu_stall_ms\":%.3f,\"max_cpu_stall_ms\":%.3f",
                  static_cast<unsigned long long>(stalls.stalls), stalls.total_ms, stalls.max_ms);
    probe_json = buf;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  if (args.Has("latency-log") && !gen.WriteLatencyLog(args.Str("latency-log"))) {
    std::cerr << "cannot write " << args.Str("latency-log") << "\n";
    return 1;
  }
  std::printf(
      "{\"mode\":\"%s\",\"concurrency\":%d,\"target_rate\":%.1f,\"duration_s\":%.3f,"
      "\"launched\":%llu,\"completed\":%llu,\"failed\":%llu,\"completed_in_window\":%llu,"
      "\"throughput\":%.2f,\"samples\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f%s}\n",
      mode.c_str(), concurrency, rate, duration, static_cast<unsigned long long>(launched),
      static_cast<unsigned long long>(completed), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(completed_in_window),
      static_cast<double>(completed_in_window) / duration, latencies_ms.size(),
      Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.9), Percentile(latencies_ms, 0.99),
      latencies_ms.empty() ? 0.0 : latencies_ms.back(), probe_json.c_str());
  std::fflush(stdout);
  return failed == 0 ? 0 : 2;
}

// ---------------------------------------------------------------------------
// gen-history

int RunGenHistory(const Args& args) {
  const std::string kind = args.Str("kind");
  const std::string task_queue = args.Str("task-queue");
  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(args.Str("address"), grpc::InsecureChannelCredentials()));
  const std::string payload(static_cast<size_t>(args.Num("payload", 1024)), 'x');
  const int signals = static_cast<int>(args.Num("signals", 400));

  wsv1::StartWorkflowExecutionRequest start;
  start.set_namespace_("default");
  const std::string workflow_id = "bench-history-" + kind + "-" + RandomTag();
  start.set_workflow_id(workflow_id);
  start.set_request_id(workflow_id);
  start.mutable_task_queue()->set_name(task_queue);
  if (kind == "hello") {
    start.mutable_workflow_type()->set_name("BenchHello");
    *start.mutable_input() = converter::ToPayloads(payload);
  } else if (kind == "activities") {
    start.mutable_workflow_type()->set_name("BenchActivities");
    *start.mutable_input() =
        converter::ToPayloads(static_cast<int>(args.Num("activities", 100)), payload);
  } else if (kind == "timer-signal") {
    start.mutable_workflow_type()->set_name("BenchTimerSignal");
    *start.mutable_input() =
        converter::ToPayloads(static_cast<int>(args.Num("timers", 1800)), signals);
  } else {
    throw std::invalid_argument("unknown --kind " + kind);
  }
  wsv1::StartWorkflowExecutionResponse started;
  {
    grpc::ClientContext ctx;
    grpc::Status status = stub->StartWorkflowExecution(&ctx, start, &started);
    if (!status.ok()) throw std::runtime_error("start: " + status.error_message());
  }
  if (kind == "timer-signal") {
    for (int i = 0; i < signals; ++i) {
      wsv1::SignalWorkflowExecutionRequest req;
      req.set_namespace_("default");
      req.mutable_workflow_execution()->set_workflow_id(workflow_id);
      req.set_signal_name("poke");
      req.set_request_id(workflow_id + "-signal-" + std::to_string(i));
      wsv1::SignalWorkflowExecutionResponse resp;
      grpc::ClientContext ctx;
      grpc::Status status = stub->SignalWorkflowExecution(&ctx, req, &resp);
      if (!status.ok()) throw std::runtime_error("signal: " + status.error_message());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  // Wait for the close event, then read the whole history.
  hv1::History history;
  std::string token;
  bool closed = false;
  while (!closed) {
    wsv1::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(workflow_id);
    req.mutable_execution()->set_run_id(started.run_id());
    req.set_wait_new_event(true);
    req.set_history_event_filter_type(ev::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    req.set_next_page_token(token);
    wsv1::GetWorkflowExecutionHistoryResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    grpc::Status status = stub->GetWorkflowExecutionHistory(&ctx, req, &resp);
    if (!status.ok()) throw std::runtime_error("wait: " + status.error_message());
    if (resp.history().events_size() > 0) {
      if (!resp.history().events(0).has_workflow_execution_completed_event_attributes()) {
        throw std::runtime_error("workflow did not complete: " +
                                 resp.history().events(0).ShortDebugString());
      }
      closed = true;
    }
    token = resp.next_page_token();
  }
  token.clear();
  do {
    wsv1::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(workflow_id);
    req.mutable_execution()->set_run_id(started.run_id());
    req.set_next_page_token(token);
    wsv1::GetWorkflowExecutionHistoryResponse resp;
    grpc::ClientContext ctx;
    grpc::Status status = stub->GetWorkflowExecutionHistory(&ctx, req, &resp);
    if (!status.ok()) throw std::runtime_error("history: " + status.error_message());
    for (auto& e : *resp.mutable_history()->mutable_events()) *history.add_events() = std::move(e);
    token = resp.next_page_token();
  } while (!token.empty());
  std::ofstream out(args.Str("out"), std::ios::binary);
  if (!history.SerializeToOstream(&out))
    throw std::runtime_error("cannot write " + args.Str("out"));
  std::printf("{\"kind\":\"%s\",\"events\":%d,\"bytes\":%zu}\n", kind.c_str(),
              history.events_size(), history.ByteSizeLong());
  return 0;
}

// ---------------------------------------------------------------------------
// replay

int RunReplay(const Args& args) {
  hv1::History history;
  {
    std::ifstream in(args.Str("history"), std::ios::binary);
    if (!history.ParseFromIstream(&in)) throw std::runtime_error("cannot parse history");
  }
  const double seconds = args.Num("seconds", 3);
  const auto min_count = static_cast<uint64_t>(args.Num("min-count", 3));
  workflow::Replayer replayer(BenchRegistry());
  replayer.ReplayWorkflow(history);  // warm-up (and a check that it replays at all)
  uint64_t count = 0;
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  Clock::time_point now = start;
  while (count < min_count || Seconds(now - start) < seconds) {
    replayer.ReplayWorkflow(history);
    ++count;
    now = Clock::now();
  }
  const double elapsed = Seconds(now - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const double events = static_cast<double>(count) * history.events_size();
  std::printf(
      "{\"histories\":%llu,\"events_per_history\":%d,\"seconds\":%.4f,\"cpu_seconds\":%.4f,"
      "\"histories_per_s\":%.2f,\"events_per_s\":%.1f,\"events_per_cpu_s\":%.1f}\n",
      static_cast<unsigned long long>(count), history.events_size(), elapsed, cpu,
      static_cast<double>(count) / elapsed, events / elapsed, events / cpu);
  return 0;
}

// ---------------------------------------------------------------------------
// start-sleepers

int RunStartSleepers(const Args& args) {
  const auto count = static_cast<uint64_t>(args.Num("count", 1000));
  const auto concurrency = static_cast<uint64_t>(args.Num("concurrency", 200));
  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(args.Str("address"), grpc::InsecureChannelCredentials()));
  const std::string task_queue = args.Str("task-queue");
  const std::string tag = RandomTag();
  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0;
  uint64_t failed = 0;
  struct Op {
    grpc::ClientContext ctx;
    wsv1::StartWorkflowExecutionRequest req;
    wsv1::StartWorkflowExecutionResponse resp;
  };
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < concurrency; });
      ++in_flight;
    }
    auto* op = new Op;
    op->req.set_namespace_("default");
    op->req.set_workflow_id("bench-sleep-" + tag + "-" + std::to_string(i));
    op->req.set_request_id(op->req.workflow_id());
    op->req.mutable_workflow_type()->set_name("BenchSleep");
    op->req.mutable_task_queue()->set_name(task_queue);
    op->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stub->async()->StartWorkflowExecution(&op->ctx, &op->req, &op->resp,
                                          [&, op](grpc::Status status) {
                                            delete op;
                                            std::lock_guard lock(mu);
                                            --in_flight;
                                            if (!status.ok()) ++failed;
                                            cv.notify_all();
                                          });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  std::printf("{\"started\":%llu,\"failed\":%llu,\"seconds\":%.3f}\n",
              static_cast<unsigned long long>(count - failed),
              static_cast<unsigned long long>(failed), Seconds(Clock::now() - start));
  return failed == 0 ? 0 : 2;
}

// ---------------------------------------------------------------------------
// signal-load

int RunSignalLoad(const Args& args) {
  const auto workflows = static_cast<uint64_t>(args.Num("workflows", 1000));
  const auto concurrency = static_cast<uint64_t>(args.Num("concurrency", 200));
  const double warmup = args.Num("warmup", 2);
  const double duration = args.Num("duration", 20);
  const converter::Payloads input =
      converter::ToPayloads(std::string(static_cast<size_t>(args.Num("payload", 1024)), 'x'));
  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(args.Str("address"), grpc::InsecureChannelCredentials()));
  const std::string task_queue = args.Str("task-queue");
  const std::string tag = RandomTag();
  std::vector<std::string> ids;
  for (uint64_t i = 0; i < workflows; ++i) {
    wsv1::StartWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.set_workflow_id("bench-signal-" + tag + "-" + std::to_string(i));
    req.set_request_id(req.workflow_id());
    req.mutable_workflow_type()->set_name("BenchSignalSink");
    req.mutable_task_queue()->set_name(task_queue);
    wsv1::StartWorkflowExecutionResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = stub->StartWorkflowExecution(&ctx, req, &resp);
    if (!status.ok()) throw std::runtime_error("start: " + status.error_message());
    ids.push_back(req.workflow_id());
  }

  struct Op {
    grpc::ClientContext ctx;
    wsv1::SignalWorkflowExecutionRequest req;
    wsv1::SignalWorkflowExecutionResponse resp;
  };
  std::mutex mu;
  std::condition_variable cv;
  uint64_t in_flight = 0;
  uint64_t sent = 0;
  uint64_t ok_in_window = 0;
  uint64_t failed = 0;
  bool stop = false;
  const Clock::time_point window_start = Clock::now() + FromSeconds(warmup);
  const Clock::time_point window_end = window_start + FromSeconds(duration);
  std::function<void()> send = [&] {
    uint64_t n;
    {
      std::lock_guard lock(mu);
      n = sent++;
    }
    auto* op = new Op;
    op->req.set_namespace_("default");
    op->req.mutable_workflow_execution()->set_workflow_id(ids[n % ids.size()]);
    op->req.set_signal_name("bench");
    *op->req.mutable_input() = input;
    op->req.set_request_id(tag + "-" + std::to_string(n));
    op->req.set_identity("temporal_bench");
    op->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub->async()->SignalWorkflowExecution(
        &op->ctx, &op->req, &op->resp, [&, op](grpc::Status status) {
          delete op;
          const Clock::time_point now = Clock::now();
          bool again;
          {
            std::lock_guard lock(mu);
            if (!status.ok() && failed++ < 5) {
              std::cerr << "signal: " << status.error_code() << " " << status.error_message()
                        << "\n";
            }
            if (status.ok() && now >= window_start && now < window_end) ++ok_in_window;
            again = !stop;
            if (!again) --in_flight;
          }
          cv.notify_all();
          if (again) send();
        });
  };
  {
    std::lock_guard lock(mu);
    in_flight = concurrency;
  }
  for (uint64_t i = 0; i < concurrency; ++i) send();
  std::this_thread::sleep_until(window_start);
  Mark("start");
  std::this_thread::sleep_until(window_end);
  Mark("end");
  {
    std::unique_lock lock(mu);
    stop = true;
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  std::printf(
      "{\"workflows\":%llu,\"concurrency\":%llu,\"duration_s\":%.3f,\"signals\":%llu,"
      "\"failed\":%llu,\"signals_per_s\":%.2f}\n",
      static_cast<unsigned long long>(workflows), static_cast<unsigned long long>(concurrency),
      duration, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(failed),
      static_cast<double>(ok_in_window) / duration);
  std::fflush(stdout);
  return failed == 0 ? 0 : 2;
}

}  // namespace
}  // namespace temporalio::bench

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detection on (a global lock and a graph update per lock); gRPC's mutexes
  // are absl::Mutex. Measured ~3% of hello throughput.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using namespace temporalio::bench;
  if (argc < 2) {
    std::cerr << "usage: temporal_bench worker|load|gen-history|replay|start-sleepers|signal-load "
                 "--key value...\n";
    return 1;
  }
  const std::string command = argv[1];
  try {
    Args args(argc, argv);
    if (command == "worker") return RunWorker(args);
    if (command == "load") return RunLoad(args);
    if (command == "gen-history") return RunGenHistory(args);
    if (command == "replay") return RunReplay(args);
    if (command == "start-sleepers") return RunStartSleepers(args);
    if (command == "signal-load") return RunSignalLoad(args);
    std::cerr << "unknown command " << command << "\n";
  } catch (const std::exception& e) {
    std::cerr << "temporal_bench " << command << ": " << e.what() << "\n";
  }
  return 1;
}
