// Typed definitions: a wire name bound to a function, with argument and
// result types deduced from the function's signature at compile time.
//
//   class Greeter {
//    public:
//     workflow::Task<std::string> Run(std::string name);   // workflow
//     void SetGreeting(std::string g);                      // signal
//     std::string Greeting() const;                         // query
//   };
//   std::string Compose(std::string greeting, std::string name);  // activity
//
//   inline constexpr temporalio::WorkflowDef<&Greeter::Run> kGreeter{"Greeter"};
//   inline constexpr temporalio::SignalDef<&Greeter::SetGreeting> kSetGreeting{"set_greeting"};
//   inline constexpr temporalio::QueryDef<&Greeter::Greeting> kGreeting{"greeting"};
//   inline constexpr temporalio::ActivityDef<&Compose> kCompose{"Compose"};
//
// In workflow code, `co_await ExecuteActivity(kCompose, "Hello", name,
// {.start_to_close_timeout = 10s})` takes exactly the activity's argument
// types (found by argument-dependent lookup) and returns a Task of its result
// type; wrong argument types do not compile. One payload per argument.
#ifndef TEMPORALIO_WORKFLOW_DEFINITIONS_H_
#define TEMPORALIO_WORKFLOW_DEFINITIONS_H_

#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "temporalio/workflow/task.h"
#include "temporalio/workflow/workflow.h"

namespace temporalio {

namespace detail {

template <class F>
struct FunctionTraits;
template <class R, class... A>
struct FunctionTraits<R (*)(A...)> {
  using Result = R;
  using Class = void;
  using Args = std::tuple<std::decay_t<A>...>;
  static constexpr bool kConst = false;
};
template <class R, class... A>
struct FunctionTraits<R (*)(A...) noexcept> : FunctionTraits<R (*)(A...)> {};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...)> {
  using Result = R;
  using Class = C;
  using Args = std::tuple<std::decay_t<A>...>;
  static constexpr bool kConst = false;
};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) const> : FunctionTraits<R (C::*)(A...)> {
  static constexpr bool kConst = true;
};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) noexcept> : FunctionTraits<R (C::*)(A...)> {};
template <class R, class C, class... A>
struct FunctionTraits<R (C::*)(A...) const noexcept> : FunctionTraits<R (C::*)(A...) const> {};

template <class T>
struct TaskResult {
  static constexpr bool kIsTask = false;
};
template <class T>
struct TaskResult<workflow::Task<T>> {
  static constexpr bool kIsTask = true;
  using Type = T;
};

template <class Tuple>
struct ActivityBaseOf;

// Base of ActivityDef: holds the name and provides ExecuteActivity /
// StartActivity as hidden friends with exactly the activity's parameters.
template <class R, class... A>
struct ActivityDefBase {
  std::string_view name;

  friend workflow::Task<R> ExecuteActivity(const ActivityDefBase& def,
                                           workflow::detail::ArgRef<A>... args,
                                           const workflow::ActivityOptions& options) {
    auto& runtime = workflow::detail::Current();
    return workflow::detail::ScheduleActivity<R>(workflow::detail::MakeActivityRequest(
        def.name, workflow::detail::EncodeArgs<A...>(runtime.Converter(), args...), options));
  }
  friend workflow::ActivityHandle<R> StartActivity(const ActivityDefBase& def,
                                                   workflow::detail::ArgRef<A>... args,
                                                   const workflow::ActivityOptions& options) {
    int64_t seq = 0;
    auto& runtime = workflow::detail::Current();
    auto state = runtime.StartActivity(
        workflow::detail::MakeActivityRequest(
            def.name, workflow::detail::EncodeArgs<A...>(runtime.Converter(), args...), options),
        &seq);
    return workflow::ActivityHandle<R>(std::move(state), seq);
  }
};
template <class... A>
struct ActivityBaseOf<std::tuple<A...>> {
  template <class Res>
  using Type = ActivityDefBase<Res, A...>;
};

}  // namespace detail

// An activity: a free function or a member function (of an object the
// activity worker is given). Args/Result are the decayed parameter types and
// the return type.
template <auto F>
struct ActivityDef
    : detail::ActivityBaseOf<typename detail::FunctionTraits<decltype(F)>::Args>::template Type<
          typename detail::FunctionTraits<decltype(F)>::Result> {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Args = typename Traits::Args;
  using Result = typename Traits::Result;
  using Class = typename Traits::Class;
  static constexpr auto kFunction = F;
  constexpr ActivityDef(std::string_view name) { this->name = name; }  // NOLINT: implicit
};

// A workflow: `workflow::Task<R> Cls::Run(Args...)`; Cls must be default
// constructible (one instance per run).
template <auto F>
struct WorkflowDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  using Args = typename Traits::Args;
  static_assert(!std::is_void_v<Class>, "WorkflowDef takes a member function (&Cls::Run)");
  static_assert(detail::TaskResult<typename Traits::Result>::kIsTask,
                "a workflow's run method must return temporalio::workflow::Task<R>");
  using Result = typename detail::TaskResult<typename Traits::Result>::Type;
  static constexpr auto kFunction = F;
  constexpr WorkflowDef(std::string_view n) : name(n) {}  // NOLINT: implicit
  std::string_view name;
};

// A signal handler: `void Cls::Method(Args...)` (synchronous) or
// `workflow::Task<void> Cls::Method(Args...)` (may await; runs concurrently).
template <auto F>
struct SignalDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  using Args = typename Traits::Args;
  static_assert(!std::is_void_v<Class>, "SignalDef takes a member function");
  static_assert(std::is_void_v<typename Traits::Result> ||
                    std::is_same_v<typename Traits::Result, workflow::Task<void>>,
                "a signal handler returns void or workflow::Task<void>");
  static constexpr auto kFunction = F;
  constexpr SignalDef(std::string_view n) : name(n) {}  // NOLINT: implicit
  std::string_view name;
};

// A query handler: `R Cls::Method(Args...) const`, synchronous, must not
// change the workflow's state.
template <auto F>
struct QueryDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  using Args = typename Traits::Args;
  using Result = typename Traits::Result;
  static_assert(!std::is_void_v<Class>, "QueryDef takes a member function");
  static_assert(Traits::kConst, "a query handler must be a const member function");
  static_assert(!std::is_void_v<Result>, "a query handler must return a value");
  static constexpr auto kFunction = F;
  constexpr QueryDef(std::string_view n) : name(n) {}  // NOLINT: implicit
  std::string_view name;
};

// Dynamic definitions (opt-in): handlers for names that have no typed
// registration. Arguments arrive raw (payload codecs already applied); decode
// them with workflow::PayloadConverter().
//
// A dynamic workflow, `workflow::Task<R> Cls::Run(converter::Payloads args)`,
// runs every workflow type the worker has no WorkflowDef for
// (workflow::Info().workflow_type names it). At most one per worker.
template <auto F>
struct DynamicWorkflowDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  static_assert(!std::is_void_v<Class>, "DynamicWorkflowDef takes a member function");
  static_assert(std::is_same_v<typename Traits::Args, std::tuple<converter::Payloads>>,
                "a dynamic workflow's run method takes (converter::Payloads args)");
  static_assert(detail::TaskResult<typename Traits::Result>::kIsTask,
                "a workflow's run method must return temporalio::workflow::Task<R>");
  using Result = typename detail::TaskResult<typename Traits::Result>::Type;
  static constexpr auto kFunction = F;
};

// A dynamic signal handler: `void Cls::M(std::string name, converter::Payloads
// args)` or `workflow::Task<void> Cls::M(...)`; receives signals that have no
// SignalDef handler.
template <auto F>
struct DynamicSignalDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  static_assert(!std::is_void_v<Class>, "DynamicSignalDef takes a member function");
  static_assert(std::is_same_v<typename Traits::Args, std::tuple<std::string, converter::Payloads>>,
                "a dynamic signal handler takes (std::string name, converter::Payloads args)");
  static_assert(std::is_void_v<typename Traits::Result> ||
                    std::is_same_v<typename Traits::Result, workflow::Task<void>>,
                "a signal handler returns void or workflow::Task<void>");
  static constexpr auto kFunction = F;
};

// A dynamic query handler: `R Cls::M(std::string name, converter::Payloads
// args) const`; answers queries that have no QueryDef handler.
template <auto F>
struct DynamicQueryDef {
  using Traits = detail::FunctionTraits<decltype(F)>;
  using Class = typename Traits::Class;
  using Result = typename Traits::Result;
  static_assert(!std::is_void_v<Class>, "DynamicQueryDef takes a member function");
  static_assert(Traits::kConst, "a query handler must be a const member function");
  static_assert(std::is_same_v<typename Traits::Args, std::tuple<std::string, converter::Payloads>>,
                "a dynamic query handler takes (std::string name, converter::Payloads args)");
  static_assert(!std::is_void_v<Result>, "a query handler must return a value");
  static constexpr auto kFunction = F;
};

}  // namespace temporalio

#endif  // TEMPORALIO_WORKFLOW_DEFINITIONS_H_
