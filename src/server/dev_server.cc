#include "server/dev_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "common/grpc_util.h"
#include "server/frontend/health_service.h"
#include "server/frontend/operator_service.h"
#include "server/frontend/workflow_service.h"
#include "server/history/engine.h"
#include "server/metrics.h"
#include "server/persistence/store.h"
#include "server/visibility/search_attributes.h"
#include "temporalio/version.h"

namespace temporalio::server {

class DevServerImpl {
 public:
  common::SystemClock clock;
  Metrics metrics;
  std::unique_ptr<persistence::Store> store;
  std::unique_ptr<history::Engine> engine;
  std::unique_ptr<frontend::WorkflowService> workflow_service;
  std::unique_ptr<frontend::OperatorService> operator_service;
  std::unique_ptr<frontend::HealthService> health_service;
  std::unique_ptr<grpc::Server> server;
  std::string ip;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<DevServer>> DevServer::Start(const DevServerOptions& options) {
  common::DisableMutexDeadlockDetection();
  auto impl = std::make_unique<DevServerImpl>();
  history::EngineOptions engine_options;
  engine_options.namespaces = options.namespaces;
  engine_options.idle_sweep_interval = options.idle_sweep_interval;
  engine_options.idle_sweep_ticks = options.idle_sweep_ticks;
  for (const auto& [name, type_name] : options.search_attributes) {
    auto type = visibility::ParseTypeName(type_name);
    if (!type) {
      return absl::InvalidArgumentError("invalid search attribute type '" + type_name + "' for " +
                                        name +
                                        " (Text, Keyword, Int, Double, Bool, Datetime, "
                                        "KeywordList)");
    }
    engine_options.search_attributes.emplace_back(name, *type);
  }
  persistence::SqliteOptions sqlite;
  sqlite.path = options.db_filename;
  sqlite.pragmas = options.sqlite_pragmas;
  auto store = persistence::OpenSqliteStore(sqlite);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  if (options.store_opened_for_testing) options.store_opened_for_testing(*impl->store);
  impl->engine = std::make_unique<history::Engine>(impl->store.get(), &impl->clock, engine_options);
  absl::Status started = impl->engine->Start();
  if (!started.ok()) return started;
  // Reported to clients as the server version; matches the API generation.
  impl->workflow_service = std::make_unique<frontend::WorkflowService>(
      impl->engine.get(), std::string("1.29.0-cpp-") + std::string(Version()), &impl->metrics);
  impl->operator_service =
      std::make_unique<frontend::OperatorService>(impl->engine.get(), &impl->metrics);
  impl->health_service = std::make_unique<frontend::HealthService>(
      std::vector<std::string>{"temporal.api.workflowservice.v1.WorkflowService",
                               "temporal.api.operatorservice.v1.OperatorService"});

  if (options.metrics_port >= 0) {
    absl::Status serving = impl->metrics.Serve(options.ip, options.metrics_port);
    if (!serving.ok()) return serving;
  }
  grpc::ServerBuilder builder;
  impl->ip = options.ip;
  builder.AddListeningPort(common::JoinHostPort(options.ip, options.port),
                           grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->workflow_service.get());
  builder.RegisterService(impl->operator_service.get());
  builder.RegisterService(impl->health_service.get());
  // Histories and payloads can be large; the real frontend accepts up to 128 MiB.
  builder.SetMaxReceiveMessageSize(128 * 1024 * 1024);
  builder.SetMaxSendMessageSize(128 * 1024 * 1024);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return absl::UnavailableError("could not listen on " +
                                  common::JoinHostPort(options.ip, options.port));
  }
  return std::unique_ptr<DevServer>(new DevServer(std::move(impl)));
}

DevServer::DevServer(std::unique_ptr<DevServerImpl> impl) : impl_(std::move(impl)) {}

DevServer::~DevServer() { Shutdown(); }

int DevServer::port() const { return impl_->port; }

std::string DevServer::address() const { return common::JoinHostPort(impl_->ip, impl_->port); }

int DevServer::metrics_port() const { return impl_->metrics.port(); }

std::string DevServer::MetricsText() const { return impl_->metrics.Text(); }

DevServerStats DevServer::GetStats() const {
  std::lock_guard lock(impl_->mu);
  DevServerStats out;
  if (impl_->stopped || !impl_->store) return out;
  persistence::Store::Stats stats = impl_->store->GetStats();
  out.batches = stats.batches;
  out.transactions = stats.transactions;
  out.synced_commits = stats.synced_commits;
  out.sync_micros = stats.sync_micros;
  out.slow_syncs = stats.slow_syncs;
  out.slow_sync_micros = stats.slow_sync_micros;
  out.events = stats.events;
  out.max_group_batches = stats.max_group_batches;
  out.failed_batches = stats.failed_batches;
  out.frozen_runs = impl_->engine->FrozenRuns();
  out.thawed_runs = impl_->engine->ThawedRuns();
  out.eager_activities = impl_->engine->EagerActivities();
  return out;
}

void DevServer::Shutdown() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->health_service->SetServing(false);
  // Parked polls first, so the gRPC shutdown does not wait for them. Calls
  // waiting on a commit finish as the store still runs; then the store drains
  // (its callbacks still reach the engine) before the engine goes away.
  impl_->engine->Shutdown();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->store.reset();
  impl_->engine.reset();
  impl_->cv.notify_all();
}

void DevServer::Wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopped; });
}

}  // namespace temporalio::server
