// WorkflowRegistry: the workflow types a worker (or replayer) can run, with
// their signal and query handlers, type-erased for the runtime.
//
//   temporalio::workflow::WorkflowRegistry registry;
//   registry.Register(kGreeter, kSetGreeting, kGreeting);  // signals/queries of Greeter
//
// Registering the same workflow name twice throws std::invalid_argument.
// Not thread-safe while registering; read-only (and shareable) afterwards.
#ifndef TEMPORALIO_WORKFLOW_REGISTRY_H_
#define TEMPORALIO_WORKFLOW_REGISTRY_H_

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "temporalio/workflow/definitions.h"

namespace temporalio::workflow {

struct WorkflowRegistration {
  using Instance = std::shared_ptr<void>;
  std::string name;
  std::function<Instance()> create;
  // Decodes the arguments (throws DecodeError) and runs the workflow; the
  // result is the encoded return value.
  std::function<Task<converter::Payload>(void* instance, const converter::Payloads& args)> run;
  // Synchronous handlers run inline; Task<void> handlers are spawned.
  std::map<std::string, std::function<void(void* instance, const converter::Payloads& args)>,
           std::less<>>
      signals;
  std::map<std::string,
           std::function<converter::Payload(const void* instance, const converter::Payloads&)>,
           std::less<>>
      queries;
  // Optional (DynamicSignalDef / DynamicQueryDef): names without a handler above.
  std::function<void(void* instance, const std::string& name, const converter::Payloads& args)>
      dynamic_signal;
  std::function<converter::Payload(const void* instance, const std::string& name,
                                   const converter::Payloads& args)>
      dynamic_query;
};

namespace detail {
template <class Tuple>
struct TupleDecoder;
template <class... A>
struct TupleDecoder<std::tuple<A...>> {
  static std::tuple<A...> Decode(const converter::Payloads& payloads) {
    return Current().Converter().template FromPayloads<A...>(payloads);
  }
};

// Awaits the workflow's own task and encodes its result. A coroutine of its
// own, apart from the decoding in RunWorkflow, so the frame that lives as long
// as the workflow holds neither the input payloads nor the decoded arguments
// (a cached run is mostly idle frames).
template <class R>
Task<converter::Payload> EncodeResult(Task<R> task) {
  if constexpr (std::is_void_v<R>) {
    co_await std::move(task);
    co_return Current().Converter().ToPayload(nullptr);
  } else {
    co_return Current().Converter().ToPayload(co_await std::move(task));
  }
}

// A root task that fails when first run: decoding errors surface where the
// workflow starts running, as if the decoding were part of it.
inline Task<converter::Payload> FailOnStart(std::exception_ptr error) {
  std::rethrow_exception(error);
  co_return converter::Payload();
}

// Decodes the arguments and creates the workflow's task (which does not run
// until the runtime resumes the returned root task).
template <auto F, class Class, class R, bool kRaw = false>
Task<converter::Payload> RunWorkflow(void* instance, const converter::Payloads& args) {
  using Args = typename temporalio::detail::FunctionTraits<decltype(F)>::Args;
  Task<R> task;
  try {
    if constexpr (kRaw) {
      task = (static_cast<Class*>(instance)->*F)(args);
    } else {
      auto decoded = TupleDecoder<Args>::Decode(args);
      task = std::apply(
          [instance](auto&&... a) { return (static_cast<Class*>(instance)->*F)(std::move(a)...); },
          std::move(decoded));
    }
  } catch (...) {
    return FailOnStart(std::current_exception());
  }
  return EncodeResult<R>(std::move(task));
}
}  // namespace detail

class WorkflowRegistry {
 public:
  template <auto Run, class... Handlers>
  WorkflowRegistry& Register(const WorkflowDef<Run>& def, const Handlers&... handlers) {
    using Def = WorkflowDef<Run>;
    using Class = typename Def::Class;
    static_assert(std::is_default_constructible_v<Class>,
                  "a workflow class must be default constructible");
    WorkflowRegistration reg;
    reg.name = std::string(def.name);
    reg.create = [] { return std::shared_ptr<void>(std::make_shared<Class>()); };
    reg.run = [](void* instance, const converter::Payloads& args) {
      return detail::RunWorkflow<Run, Class, typename Def::Result>(instance, args);
    };
    (AddHandler<Class>(&reg, handlers), ...);
    Add(std::move(reg));
    return *this;
  }

  // The dynamic workflow: runs workflow types without a registration.
  template <auto Run, class... Handlers>
  WorkflowRegistry& Register(const DynamicWorkflowDef<Run>&, const Handlers&... handlers) {
    using Def = DynamicWorkflowDef<Run>;
    using Class = typename Def::Class;
    static_assert(std::is_default_constructible_v<Class>,
                  "a workflow class must be default constructible");
    if (dynamic_) throw std::invalid_argument("dynamic workflow registered twice");
    WorkflowRegistration reg;
    reg.create = [] { return std::shared_ptr<void>(std::make_shared<Class>()); };
    reg.run = [](void* instance, const converter::Payloads& args) {
      return detail::RunWorkflow<Run, Class, typename Def::Result, true>(instance, args);
    };
    (AddHandler<Class>(&reg, handlers), ...);
    dynamic_ = std::make_shared<const WorkflowRegistration>(std::move(reg));
    return *this;
  }

  // Adds a hand-built registration (tests).
  void Add(WorkflowRegistration registration) {
    std::string name = registration.name;
    if (!workflows_
             .emplace(name, std::make_shared<const WorkflowRegistration>(std::move(registration)))
             .second) {
      throw std::invalid_argument("workflow type registered twice: " + name);
    }
  }

  // The registration for `name`, else the dynamic workflow, else null.
  std::shared_ptr<const WorkflowRegistration> Find(std::string_view name) const {
    auto it = workflows_.find(name);
    return it == workflows_.end() ? dynamic_ : it->second;
  }
  bool empty() const { return workflows_.empty() && !dynamic_; }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& [name, reg] : workflows_) names.push_back(name);
    return names;
  }

 private:
  template <class Class, auto F>
  static void AddHandler(WorkflowRegistration* reg, const SignalDef<F>& def) {
    static_assert(std::is_same_v<typename SignalDef<F>::Class, Class>,
                  "signal handler belongs to another workflow class");
    using Args = typename SignalDef<F>::Args;
    reg->signals[std::string(def.name)] = [](void* instance, const converter::Payloads& p) {
      auto args = detail::TupleDecoder<Args>::Decode(p);
      auto call = [instance](auto&&... a) {
        return (static_cast<Class*>(instance)->*F)(std::move(a)...);
      };
      if constexpr (std::is_void_v<typename SignalDef<F>::Traits::Result>) {
        std::apply(call, std::move(args));
      } else {
        detail::Current().Spawn(std::apply(call, std::move(args)));
      }
    };
  }
  template <class Class, auto F>
  static void AddHandler(WorkflowRegistration* reg, const QueryDef<F>& def) {
    static_assert(std::is_same_v<typename QueryDef<F>::Class, Class>,
                  "query handler belongs to another workflow class");
    using Args = typename QueryDef<F>::Args;
    reg->queries[std::string(def.name)] = [](const void* instance, const converter::Payloads& p) {
      auto args = detail::TupleDecoder<Args>::Decode(p);
      auto result = std::apply(
          [instance](auto&&... a) {
            return (static_cast<const Class*>(instance)->*F)(std::move(a)...);
          },
          std::move(args));
      return detail::Current().Converter().ToPayload(result);
    };
  }

  template <class Class, auto F>
  static void AddHandler(WorkflowRegistration* reg, const DynamicSignalDef<F>&) {
    static_assert(std::is_same_v<typename DynamicSignalDef<F>::Class, Class>,
                  "signal handler belongs to another workflow class");
    reg->dynamic_signal = [](void* instance, const std::string& name,
                             const converter::Payloads& p) {
      if constexpr (std::is_void_v<typename DynamicSignalDef<F>::Traits::Result>) {
        (static_cast<Class*>(instance)->*F)(name, p);
      } else {
        detail::Current().Spawn((static_cast<Class*>(instance)->*F)(name, p));
      }
    };
  }
  template <class Class, auto F>
  static void AddHandler(WorkflowRegistration* reg, const DynamicQueryDef<F>&) {
    static_assert(std::is_same_v<typename DynamicQueryDef<F>::Class, Class>,
                  "query handler belongs to another workflow class");
    reg->dynamic_query = [](const void* instance, const std::string& name,
                            const converter::Payloads& p) {
      auto result = (static_cast<const Class*>(instance)->*F)(name, p);
      return detail::Current().Converter().ToPayload(result);
    };
  }

  std::map<std::string, std::shared_ptr<const WorkflowRegistration>, std::less<>> workflows_;
  std::shared_ptr<const WorkflowRegistration> dynamic_;
};

}  // namespace temporalio::workflow

#endif  // TEMPORALIO_WORKFLOW_REGISTRY_H_
