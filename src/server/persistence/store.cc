#include "server/persistence/store.h"

#include <future>
#include <memory>
#include <utility>

namespace temporalio::server::persistence {
namespace {

// The store whose writer thread this is, if any.
thread_local const Store* current_writer_store = nullptr;

}  // namespace

void Store::MarkCurrentThreadAsWriter() const { current_writer_store = this; }

Store::WriterScope::WriterScope(const Store* store) : previous_(current_writer_store) {
  current_writer_store = store;
}

Store::WriterScope::~WriterScope() { current_writer_store = previous_; }

absl::Status Store::CommitSync(WriteBatch batch) {
  if (current_writer_store == this) {
    return absl::FailedPreconditionError(
        "Store::CommitSync called on the store's writer thread (from a Commit callback); "
        "it would deadlock. Use Commit with a callback instead.");
  }
  // Shared so the callback never touches a promise its waiter already destroyed.
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = promise->get_future();
  Commit(std::move(batch),
         [promise](absl::Status status) { promise->set_value(std::move(status)); });
  return result.get();
}

}  // namespace temporalio::server::persistence
