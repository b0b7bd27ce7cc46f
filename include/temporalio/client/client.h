// Client: a connection to a Temporal frontend (our dev server or a real
// server) in one namespace, and the typed workflow operations on it.
//
//   auto client = temporalio::client::Client::Connect({.target_host = "127.0.0.1:7233"});
//   auto handle = client.StartWorkflow<Result>("OrderWorkflow",
//                                              {.id = "order-1", .task_queue = "orders"}, order);
//   Result r = handle.GetResult();
//   // or typed (temporalio/workflow/definitions.h): argument and result types checked
//   auto typed = client.StartWorkflow(kOrderWorkflow, {.id = "order-2", .task_queue = "orders"},
//   order);
//
// Workflows are addressed by type name; R is the result type (void for none).
// Arguments are converted with the client's DataConverter, one payload each.
//
// Thread safety: a Client is a cheap, copyable value (copies share one gRPC
// channel); every method is thread-safe. Errors: RpcError (after retries of
// UNAVAILABLE / RESOURCE_EXHAUSTED with exponential backoff),
// WorkflowNotFoundError for NOT_FOUND, WorkflowAlreadyStartedError for an id
// conflict, converter::EncodeError/DecodeError for payloads.
//
// Async: StartWorkflowAsync/SignalWithStartAsync here and the *Async methods
// of WorkflowHandle return std::futures completed without blocking any thread
// while the RPC is in flight; errors (including std::invalid_argument for bad
// options) arrive through the future. Futures are completed on gRPC's callback
// threads. See workflow_handle.h for the full contract. The other methods
// (Connect, List/Count, async activity completion) are blocking.
#ifndef TEMPORALIO_CLIENT_CLIENT_H_
#define TEMPORALIO_CLIENT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "temporal/api/workflowservice/v1/service.grpc.pb.h"  // raw escape hatch only
#include "temporalio/client/async_activity_handle.h"
#include "temporalio/client/workflow_handle.h"
#include "temporalio/converter/data_converter.h"
#include "temporalio/errors.h"
#include "temporalio/retry_policy.h"

namespace temporalio::client {

struct TlsOptions {
  // PEM; empty = the system's roots.
  std::string server_root_ca_cert;
  // PEM client certificate and key for mTLS; both or neither.
  std::string client_cert;
  std::string client_private_key;
  // Overrides the name checked against the server certificate (SNI/authority).
  std::string server_name_override;
};

// Retries of UNAVAILABLE and RESOURCE_EXHAUSTED (never of a long poll's
// DEADLINE_EXCEEDED): delays initial_interval, x multiplier, capped at max_interval.
struct RpcRetryOptions {
  std::chrono::milliseconds initial_interval{100};
  std::chrono::milliseconds max_interval{5000};
  int max_attempts = 10;  // total attempts, including the first
  double multiplier = 2.0;
};

struct ClientOptions {
  std::string target_host = "127.0.0.1:7233";
  std::string namespace_ = "default";
  // Sent with requests; default "<pid>@<hostname>".
  std::string identity;
  // TLS when set (required by Temporal Cloud).
  std::optional<TlsOptions> tls;
  // Sent as "authorization: Bearer <api_key>" when not empty.
  std::string api_key;
  // Deadline of each ordinary (not long-poll) RPC attempt.
  std::chrono::milliseconds rpc_timeout{10000};
  // How long Connect tries to reach the server (GetSystemInfo).
  std::chrono::milliseconds connect_timeout{10000};
  RpcRetryOptions retry;
  converter::DataConverter data_converter = converter::DataConverter::Default();
  // Extra gRPC metadata sent with every call (keys lower case).
  std::vector<std::pair<std::string, std::string>> rpc_metadata;
};

// Mirrors temporal.api.enums.v1.WorkflowIdReusePolicy.
enum class WorkflowIdReusePolicy {
  kUnspecified = 0,
  kAllowDuplicate = 1,
  kAllowDuplicateFailedOnly = 2,
  kRejectDuplicate = 3,
  kTerminateIfRunning = 4,
};

// Mirrors temporal.api.enums.v1.WorkflowIdConflictPolicy.
enum class WorkflowIdConflictPolicy {
  kUnspecified = 0,
  kFail = 1,
  kUseExisting = 2,
  kTerminateExisting = 3,
};

// A memo value: any payload-convertible value, converted with the client's
// payload converter when the request is built.
class MemoValue {
 public:
  template <class T>
  MemoValue(const T& value)  // NOLINT(google-explicit-constructor): map literals
      : encode_([value](const converter::PayloadConverter& c) { return c.ToPayload(value); }) {}
  MemoValue(const char* value) : MemoValue(std::string(value)) {}  // NOLINT
  converter::Payload ToPayload(const converter::PayloadConverter& converter) const {
    return encode_(converter);
  }

 private:
  std::function<converter::Payload(const converter::PayloadConverter&)> encode_;
};

// A typed search attribute value (json/plain payload with the "type" metadata
// the server indexes by).
class SearchAttributeValue {
 public:
  SearchAttributeValue(std::string keyword);                         // NOLINT  Keyword
  SearchAttributeValue(const char* keyword);                         // NOLINT  Keyword
  SearchAttributeValue(int64_t value);                               // NOLINT  Int
  SearchAttributeValue(int value);                                   // NOLINT  Int
  SearchAttributeValue(double value);                                // NOLINT  Double
  SearchAttributeValue(bool value);                                  // NOLINT  Bool
  SearchAttributeValue(std::vector<std::string> keywords);           // NOLINT  KeywordList
  SearchAttributeValue(std::chrono::system_clock::time_point time);  // NOLINT  Datetime
  const converter::Payload& payload() const noexcept { return payload_; }

 private:
  converter::Payload payload_;
};

struct WorkflowOptions {
  // Required.
  std::string id;
  // Required.
  std::string task_queue;
  WorkflowIdReusePolicy id_reuse_policy = WorkflowIdReusePolicy::kUnspecified;
  WorkflowIdConflictPolicy id_conflict_policy = WorkflowIdConflictPolicy::kUnspecified;
  std::optional<std::chrono::milliseconds> execution_timeout;
  std::optional<std::chrono::milliseconds> run_timeout;
  std::optional<std::chrono::milliseconds> task_timeout;
  std::optional<RetryPolicy> retry_policy;
  std::string cron_schedule;
  std::map<std::string, MemoValue> memo;
  std::map<std::string, SearchAttributeValue> search_attributes;
  std::optional<std::chrono::milliseconds> start_delay;
  // Deduplicates retried starts; a random UUID when empty.
  std::string request_id;
};

// A lazily paged list of executions (ListWorkflowExecutions): pages are
// fetched while iterating. Single pass; not thread-safe. Iteration throws
// RpcError when a page fails.
class WorkflowExecutionList {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = WorkflowExecution;
    using difference_type = std::ptrdiff_t;
    using pointer = const WorkflowExecution*;
    using reference = const WorkflowExecution&;

    Iterator() = default;
    reference operator*() const;
    pointer operator->() const { return &**this; }
    Iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(const Iterator& other) const { return AtEnd() == other.AtEnd(); }

   private:
    friend class WorkflowExecutionList;
    explicit Iterator(WorkflowExecutionList* list) : list_(list) {}
    bool AtEnd() const;
    WorkflowExecutionList* list_ = nullptr;
  };

  WorkflowExecutionList(std::shared_ptr<internal::ClientCore> core, std::string query,
                        int page_size);
  Iterator begin();
  Iterator end() { return Iterator(); }

 private:
  void Advance();
  bool FetchPage();

  std::shared_ptr<internal::ClientCore> core_;
  std::string query_;
  int page_size_;
  std::string next_page_token_;
  bool started_ = false;
  bool last_page_ = false;
  std::vector<WorkflowExecution> page_;
  size_t index_ = 0;
};

class Client {
 public:
  // Dials target_host, then checks the server with GetSystemInfo until
  // connect_timeout; throws RpcError (UNAVAILABLE when unreachable).
  static Client Connect(ClientOptions options);

  const ClientOptions& options() const;
  const converter::DataConverter& data_converter() const { return options().data_converter; }

  // Starts a workflow by type name. Throws WorkflowAlreadyStartedError.
  template <class R, class... Args>
  WorkflowHandle<R> StartWorkflow(std::string_view workflow_type, const WorkflowOptions& options,
                                  const Args&... args) const {
    return StartWorkflowAsync<R>(workflow_type, options, args...).get();
  }
  // StartWorkflow without blocking; the arguments are converted before it returns.
  template <class R, class... Args>
  std::future<WorkflowHandle<R>> StartWorkflowAsync(std::string_view workflow_type,
                                                    const WorkflowOptions& options,
                                                    const Args&... args) const {
    converter::Payloads payloads;
    try {
      payloads = data_converter().ToPayloads(args...);
    } catch (...) {
      return internal::FailedFuture<WorkflowHandle<R>>(std::current_exception());
    }
    return StartAsync<R>(workflow_type, options, std::move(payloads), std::nullopt, true);
  }

  // StartWorkflow + GetResult.
  template <class R, class... Args>
  R ExecuteWorkflow(std::string_view workflow_type, const WorkflowOptions& options,
                    const Args&... args) const {
    return StartWorkflow<R>(workflow_type, options, args...).GetResult();
  }

  // Typed start: `client.StartWorkflow(kOrder, {.id = "o-1", .task_queue = "orders"}, order)`
  // returns a WorkflowHandle of the workflow's result type; the arguments are
  // checked against its Run parameters at compile time.
  template <auto F, class... Vs>
  WorkflowHandle<typename WorkflowDef<F>::Result> StartWorkflow(const WorkflowDef<F>& def,
                                                                const WorkflowOptions& options,
                                                                const Vs&... args) const {
    return StartWorkflowAsync(def, options, args...).get();
  }
  template <auto F, class... Vs>
  std::future<WorkflowHandle<typename WorkflowDef<F>::Result>> StartWorkflowAsync(
      const WorkflowDef<F>& def, const WorkflowOptions& options, const Vs&... args) const {
    using R = typename WorkflowDef<F>::Result;
    converter::Payloads payloads;
    try {
      payloads =
          internal::TypedArgs<typename WorkflowDef<F>::Args>::Encode(data_converter(), args...);
    } catch (...) {
      return internal::FailedFuture<WorkflowHandle<R>>(std::current_exception());
    }
    return StartAsync<R>(def.name, options, std::move(payloads), std::nullopt, true);
  }
  // Typed StartWorkflow + GetResult.
  template <auto F, class... Vs>
  typename WorkflowDef<F>::Result ExecuteWorkflow(const WorkflowDef<F>& def,
                                                  const WorkflowOptions& options,
                                                  const Vs&... args) const {
    return StartWorkflow(def, options, args...).GetResult();
  }

  // Signals the workflow, starting it first if it is not running.
  template <class R, class... SignalArgs, class... Args>
  WorkflowHandle<R> SignalWithStart(std::string_view workflow_type, const WorkflowOptions& options,
                                    std::string_view signal_name,
                                    const std::tuple<SignalArgs...>& signal_args,
                                    const Args&... args) const {
    return SignalWithStartAsync<R>(workflow_type, options, signal_name, signal_args, args...).get();
  }
  template <class R, class... SignalArgs, class... Args>
  std::future<WorkflowHandle<R>> SignalWithStartAsync(std::string_view workflow_type,
                                                      const WorkflowOptions& options,
                                                      std::string_view signal_name,
                                                      const std::tuple<SignalArgs...>& signal_args,
                                                      const Args&... args) const {
    SignalSpec spec;
    converter::Payloads payloads;
    try {
      spec.name = std::string(signal_name);
      spec.args = std::apply([this](const auto&... a) { return data_converter().ToPayloads(a...); },
                             signal_args);
      payloads = data_converter().ToPayloads(args...);
    } catch (...) {
      return internal::FailedFuture<WorkflowHandle<R>>(std::current_exception());
    }
    return StartAsync<R>(workflow_type, options, std::move(payloads), std::move(spec), false);
  }

  // A handle on an existing workflow; run_id "" addresses the latest run.
  template <class R = converter::Payload>
  WorkflowHandle<R> GetWorkflowHandle(std::string workflow_id, std::string run_id = "") const {
    std::string target = run_id;
    return WorkflowHandle<R>(core_, std::move(workflow_id), std::move(run_id), std::move(target),
                             "");
  }

  // Visibility queries, e.g. "WorkflowType = 'x' AND ExecutionStatus = 'Running'".
  WorkflowExecutionList ListWorkflows(std::string query = "", int page_size = 100) const;
  int64_t CountWorkflows(std::string query = "") const;

  // Completes, fails, heartbeats an activity that called activity::CompleteAsync().
  AsyncActivityHandle GetAsyncActivityHandle(std::string task_token) const;
  AsyncActivityHandle GetAsyncActivityHandle(std::string workflow_id, std::string run_id,
                                             std::string activity_id) const;

  // Raw escape hatch: the gRPC stub, for calls this API does not cover. The
  // caller sets namespace and metadata itself.
  temporal::api::workflowservice::v1::WorkflowService::StubInterface& WorkflowService() const;

  // For the SDK's worker.
  const std::shared_ptr<internal::ClientCore>& core() const noexcept { return core_; }

 private:
  struct SignalSpec {
    std::string name;
    converter::Payloads args;
  };
  explicit Client(std::shared_ptr<internal::ClientCore> core) : core_(std::move(core)) {}
  // Calls `done` with the run id; with `signal`, SignalWithStartWorkflowExecution.
  void StartWorkflowPayloadsAsync(std::string_view workflow_type, const WorkflowOptions& options,
                                  converter::Payloads args, std::optional<SignalSpec> signal,
                                  internal::AsyncCallback<std::string> done) const;
  // A handle pinned to the started run (first_execution_run_id set when
  // `pin_first_run`, as for StartWorkflow; SignalWithStart may hit an existing run).
  template <class R>
  std::future<WorkflowHandle<R>> StartAsync(std::string_view workflow_type,
                                            const WorkflowOptions& options,
                                            converter::Payloads args,
                                            std::optional<SignalSpec> signal,
                                            bool pin_first_run) const {
    auto promise = std::make_shared<std::promise<WorkflowHandle<R>>>();
    std::future<WorkflowHandle<R>> future = promise->get_future();
    StartWorkflowPayloadsAsync(
        workflow_type, options, std::move(args), std::move(signal),
        // `core` moves into the handle (or is dropped) before the promise
        // completes: no connection reference stays behind on the gRPC thread.
        [promise, core = core_, id = options.id, pin_first_run](std::exception_ptr error,
                                                                std::string run_id) mutable {
          if (error) {
            core.reset();
            promise->set_exception(std::move(error));
            return;
          }
          std::string first = pin_first_run ? run_id : std::string();
          promise->set_value(
              WorkflowHandle<R>(std::move(core), id, std::move(run_id), "", std::move(first)));
        });
    return future;
  }

  std::shared_ptr<internal::ClientCore> core_;
};

}  // namespace temporalio::client

#endif  // TEMPORALIO_CLIENT_CLIENT_H_
