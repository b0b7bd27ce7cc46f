// C++ exceptions <-> temporal.api.failure.v1.Failure, compatible with the
// other SDKs' default failure converters.
//
// ToFailure maps the FailureError hierarchy (temporalio/errors.h) to the
// matching *_failure_info, with source "CppSDK" and the cause chain
// (FailureError::cause(), or std::nested_exception for other exceptions).
// An error that was itself decoded from a Failure converts back to that exact
// Failure. Any other std::exception becomes an application failure whose type
// is the exception's demangled dynamic type name (e.g. "std::out_of_range")
// and whose message is what(); a non-std exception becomes type "UnknownError".
//
// FromFailure returns a std::exception_ptr (never null) holding the matching
// FailureError subclass with the decoded cause chain; a failure without a
// known info (e.g. Nexus) becomes a plain FailureError, a reset-workflow
// failure an ApplicationError of type "ResetWorkflow" (as in the TS SDK).
//
// With encode_common_attributes, ToFailure moves each level's message and
// stack trace into encoded_attributes as a json/plain payload
// {"message":...,"stack_trace":...} and sets message to "Encoded failure"
// (encrypt it with a PayloadCodec). FromFailure always honours
// encoded_attributes when they are a decodable JSON object.
//
// Neither direction applies payload codecs: DataConverter::EncodeFailure /
// DecodeFailure do that. Thread safety: immutable; safe from any thread.
#ifndef TEMPORALIO_CONVERTER_FAILURE_CONVERTER_H_
#define TEMPORALIO_CONVERTER_FAILURE_CONVERTER_H_

#include <exception>

#include "temporal/api/failure/v1/message.pb.h"
#include "temporalio/errors.h"

namespace temporalio::converter {

using Failure = temporal::api::failure::v1::Failure;

inline constexpr char kFailureSource[] = "CppSDK";
inline constexpr char kEncodedFailureMessage[] = "Encoded failure";

struct FailureConverterOptions {
  bool encode_common_attributes = false;
};

// Subclass and override to customize; the defaults are what other SDKs expect.
class FailureConverter {
 public:
  explicit FailureConverter(FailureConverterOptions options = {}) : options_(options) {}
  virtual ~FailureConverter() = default;

  // Never throws for a non-null error; a null error gives an application
  // failure of type "UnknownError".
  virtual Failure ToFailure(std::exception_ptr error) const;

  // Never returns null; does not throw on malformed input (missing fields
  // decode as defaults).
  virtual std::exception_ptr FromFailure(const Failure& failure) const;

  const FailureConverterOptions& options() const noexcept { return options_; }

 private:
  FailureConverterOptions options_;
};

const FailureConverter& DefaultFailureConverter();

// Shorthands using DefaultFailureConverter().
Failure ToFailure(std::exception_ptr error);
std::exception_ptr FromFailure(const Failure& failure);

}  // namespace temporalio::converter

#endif  // TEMPORALIO_CONVERTER_FAILURE_CONVERTER_H_
