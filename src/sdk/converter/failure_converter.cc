#include "temporalio/converter/failure_converter.h"

#include <cxxabi.h>

#include <chrono>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>

#include "temporal/api/enums/v1/common.pb.h"
#include "temporal/api/enums/v1/workflow.pb.h"
#include "temporalio/converter/payload_converter.h"

namespace temporalio::converter {
namespace {

namespace enums = temporal::api::enums::v1;
namespace failure_v1 = temporal::api::failure::v1;

static_assert(static_cast<int>(RetryState::kCancelRequested) ==
              enums::RETRY_STATE_CANCEL_REQUESTED);
static_assert(static_cast<int>(RetryState::kMaximumAttemptsReached) ==
              enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
static_assert(static_cast<int>(TimeoutType::kHeartbeat) == enums::TIMEOUT_TYPE_HEARTBEAT);
static_assert(static_cast<int>(TimeoutType::kScheduleToClose) ==
              enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
static_assert(static_cast<int>(ApplicationErrorCategory::kBenign) ==
              enums::APPLICATION_ERROR_CATEGORY_BENIGN);

enums::RetryState ToProto(RetryState state) {
  const int value = static_cast<int>(state);
  return enums::RetryState_IsValid(value) ? static_cast<enums::RetryState>(value)
                                          : enums::RETRY_STATE_UNSPECIFIED;
}
RetryState FromProto(enums::RetryState state) { return static_cast<RetryState>(state); }

void SetDuration(std::chrono::milliseconds ms, google::protobuf::Duration* out) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(ms);
  out->set_seconds(seconds.count());
  out->set_nanos(static_cast<int32_t>((ms - seconds).count() * 1000000));
}

std::chrono::milliseconds GetDuration(const google::protobuf::Duration& d) {
  return std::chrono::seconds(d.seconds()) +
         std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(d.nanos()));
}

std::string CurrentExceptionTypeName() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  return type ? detail::TypeName(*type) : std::string("unknown");
}

// Fills `out` from a FailureError raised in C++ (no original Failure).
void FillFromFailureError(const FailureError& error, Failure* out) {
  out->set_message(error.what());
  out->set_stack_trace(error.stack_trace());
  if (const auto* app = dynamic_cast<const ApplicationError*>(&error)) {
    auto* info = out->mutable_application_failure_info();
    info->set_type(app->type());
    info->set_non_retryable(app->non_retryable());
    if (app->details().payloads_size() > 0) *info->mutable_details() = app->details();
    if (app->next_retry_delay())
      SetDuration(*app->next_retry_delay(), info->mutable_next_retry_delay());
    info->set_category(static_cast<enums::ApplicationErrorCategory>(app->category()));
  } else if (const auto* canceled = dynamic_cast<const CanceledError*>(&error)) {
    auto* info = out->mutable_canceled_failure_info();
    if (canceled->details().payloads_size() > 0) *info->mutable_details() = canceled->details();
  } else if (dynamic_cast<const TerminatedError*>(&error) != nullptr) {
    out->mutable_terminated_failure_info();
  } else if (const auto* timeout = dynamic_cast<const TimeoutError*>(&error)) {
    auto* info = out->mutable_timeout_failure_info();
    info->set_timeout_type(static_cast<enums::TimeoutType>(timeout->type()));
    if (timeout->last_heartbeat_details().payloads_size() > 0) {
      *info->mutable_last_heartbeat_details() = timeout->last_heartbeat_details();
    }
  } else if (const auto* server = dynamic_cast<const ServerError*>(&error)) {
    out->mutable_server_failure_info()->set_non_retryable(server->non_retryable());
  } else if (const auto* activity = dynamic_cast<const ActivityError*>(&error)) {
    const ActivityErrorInfo& in = activity->info();
    auto* info = out->mutable_activity_failure_info();
    info->set_scheduled_event_id(in.scheduled_event_id);
    info->set_started_event_id(in.started_event_id);
    info->set_identity(in.identity);
    info->mutable_activity_type()->set_name(in.activity_type);
    info->set_activity_id(in.activity_id);
    info->set_retry_state(ToProto(in.retry_state));
  } else if (const auto* child = dynamic_cast<const ChildWorkflowError*>(&error)) {
    const ChildWorkflowErrorInfo& in = child->info();
    auto* info = out->mutable_child_workflow_execution_failure_info();
    info->set_namespace_(in.namespace_);
    info->mutable_workflow_execution()->set_workflow_id(in.workflow_id);
    info->mutable_workflow_execution()->set_run_id(in.run_id);
    info->mutable_workflow_type()->set_name(in.workflow_type);
    info->set_initiated_event_id(in.initiated_event_id);
    info->set_started_event_id(in.started_event_id);
    info->set_retry_state(ToProto(in.retry_state));
  }
  // A plain FailureError carries no failure info.
}

void EncodeCommonAttributes(Failure* failure) {
  nlohmann::json attrs = {{"message", failure->message()}, {"stack_trace", failure->stack_trace()}};
  try {
    *failure->mutable_encoded_attributes() = detail::JsonToPayload(attrs);
  } catch (const EncodeError&) {
    return;  // not valid UTF-8: leave the attributes in the clear rather than fail
  }
  failure->set_message(kEncodedFailureMessage);
  failure->clear_stack_trace();
}

// Applies encoded_attributes (message, stack_trace) to `failure` when they
// are a JSON object; anything else is left alone, as the TS SDK does.
void DecodeCommonAttributes(Failure* failure) {
  if (!failure->has_encoded_attributes()) return;
  const Payload& payload = failure->encoded_attributes();
  if (EncodingOf(payload) != kEncodingJson) return;
  nlohmann::json attrs = nlohmann::json::parse(payload.data(), nullptr, false);
  if (!attrs.is_object()) return;
  if (auto it = attrs.find("message"); it != attrs.end() && it->is_string()) {
    failure->set_message(it->get<std::string>());
  }
  if (auto it = attrs.find("stack_trace"); it != attrs.end() && it->is_string()) {
    failure->set_stack_trace(it->get<std::string>());
  }
}

template <class E>
std::exception_ptr Finish(E error, const Failure& decoded, const Failure& original) {
  error.set_stack_trace(decoded.stack_trace());
  error.set_failure(std::make_shared<const Failure>(original));
  return std::make_exception_ptr(std::move(error));
}

}  // namespace

Failure FailureConverter::ToFailure(std::exception_ptr error) const {
  Failure out;
  if (!error) {
    out.set_source(kFailureSource);
    out.set_message("no exception");
    out.mutable_application_failure_info()->set_type("UnknownError");
    return out;
  }
  std::exception_ptr cause;
  try {
    std::rethrow_exception(error);
  } catch (const FailureError& e) {
    if (e.failure()) return *e.failure();  // decoded from the wire: send it back unchanged
    out.set_source(kFailureSource);
    FillFromFailureError(e, &out);
    cause = e.cause();
  } catch (const std::exception& e) {
    out.set_source(kFailureSource);
    out.set_message(e.what());
    out.mutable_application_failure_info()->set_type(detail::TypeName(typeid(e)));
    if (const auto* nested = dynamic_cast<const std::nested_exception*>(&e)) {
      cause = nested->nested_ptr();
    }
  } catch (...) {
    out.set_source(kFailureSource);
    out.set_message("unknown exception of type " + CurrentExceptionTypeName());
    out.mutable_application_failure_info()->set_type("UnknownError");
  }
  if (cause) *out.mutable_cause() = ToFailure(cause);
  if (options_.encode_common_attributes) EncodeCommonAttributes(&out);
  return out;
}

std::exception_ptr FailureConverter::FromFailure(const Failure& original) const {
  Failure failure = original;
  DecodeCommonAttributes(&failure);
  const std::string& message = failure.message();
  std::exception_ptr cause = failure.has_cause() ? FromFailure(failure.cause()) : nullptr;

  switch (failure.failure_info_case()) {
    case failure_v1::Failure::kApplicationFailureInfo: {
      const auto& info = failure.application_failure_info();
      ApplicationErrorOptions options{
          .type = info.type(),
          .non_retryable = info.non_retryable(),
          .details = info.details(),
          .next_retry_delay = std::nullopt,
          .category = static_cast<ApplicationErrorCategory>(info.category()),
          .cause = cause,
      };
      if (info.has_next_retry_delay())
        options.next_retry_delay = GetDuration(info.next_retry_delay());
      return Finish(ApplicationError(message, std::move(options)), failure, original);
    }
    case failure_v1::Failure::kTimeoutFailureInfo: {
      const auto& info = failure.timeout_failure_info();
      return Finish(TimeoutError(message, static_cast<TimeoutType>(info.timeout_type()),
                                 info.last_heartbeat_details(), cause),
                    failure, original);
    }
    case failure_v1::Failure::kCanceledFailureInfo:
      return Finish(CanceledError(message, failure.canceled_failure_info().details(), cause),
                    failure, original);
    case failure_v1::Failure::kTerminatedFailureInfo:
      return Finish(TerminatedError(message, cause), failure, original);
    case failure_v1::Failure::kServerFailureInfo:
      return Finish(ServerError(message, failure.server_failure_info().non_retryable(), cause),
                    failure, original);
    case failure_v1::Failure::kResetWorkflowFailureInfo:
      return Finish(
          ApplicationError(
              message, {.type = "ResetWorkflow",
                        .details = failure.reset_workflow_failure_info().last_heartbeat_details(),
                        .cause = cause}),
          failure, original);
    case failure_v1::Failure::kActivityFailureInfo: {
      const auto& info = failure.activity_failure_info();
      return Finish(ActivityError(message,
                                  {.scheduled_event_id = info.scheduled_event_id(),
                                   .started_event_id = info.started_event_id(),
                                   .identity = info.identity(),
                                   .activity_type = info.activity_type().name(),
                                   .activity_id = info.activity_id(),
                                   .retry_state = FromProto(info.retry_state())},
                                  cause),
                    failure, original);
    }
    case failure_v1::Failure::kChildWorkflowExecutionFailureInfo: {
      const auto& info = failure.child_workflow_execution_failure_info();
      return Finish(ChildWorkflowError(message,
                                       {.namespace_ = info.namespace_(),
                                        .workflow_id = info.workflow_execution().workflow_id(),
                                        .run_id = info.workflow_execution().run_id(),
                                        .workflow_type = info.workflow_type().name(),
                                        .initiated_event_id = info.initiated_event_id(),
                                        .started_event_id = info.started_event_id(),
                                        .retry_state = FromProto(info.retry_state())},
                                       cause),
                    failure, original);
    }
    default:
      return Finish(FailureError(message, cause), failure, original);
  }
}

const FailureConverter& DefaultFailureConverter() {
  static const FailureConverter* const kConverter = new FailureConverter();
  return *kConverter;
}

Failure ToFailure(std::exception_ptr error) {
  return DefaultFailureConverter().ToFailure(std::move(error));
}

std::exception_ptr FromFailure(const Failure& failure) {
  return DefaultFailureConverter().FromFailure(failure);
}

}  // namespace temporalio::converter
