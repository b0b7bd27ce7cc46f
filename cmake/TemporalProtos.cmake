# Temporal API protos -> static library `temporalio_api`.
#
# The .proto files are never committed: they come from the pinned npm package
# @temporalio/core-bridge (installed by `npm ci` in interop/), or from a
# user-supplied checkout via -DTEMPORAL_API_PROTO_DIR=/path (a directory that
# holds api_upstream/, testsrv_upstream/, grpc/ and google/rpc/, or a plain
# temporalio/api checkout holding temporal/ and google/api/).
#
# At configure time the files are copied into the build tree and patched:
#  - package temporal.api.namespace.v1 -> temporal.api.namespace_.v1
#    (`namespace` is a C++ keyword that protoc 3.21 does not escape; the package
#    never appears on the wire because no Any or service uses it);
#  - temporal/api/export/v1 is skipped (`export` is a keyword; nothing imports it);
#  - the bundled google/protobuf copies are dropped in favour of the system's.

set(_default_proto_dir
    "${PROJECT_SOURCE_DIR}/interop/node_modules/@temporalio/core-bridge/sdk-core/crates/protos/protos")
set(TEMPORAL_API_PROTO_DIR "${_default_proto_dir}" CACHE PATH
    "Directory holding the Temporal API protos (see cmake/TemporalProtos.cmake)")

if(NOT EXISTS "${TEMPORAL_API_PROTO_DIR}")
  message(FATAL_ERROR
    "Temporal API protos not found at ${TEMPORAL_API_PROTO_DIR}.\n"
    "Run scripts/setup.sh (it runs `npm ci` in interop/), or pass "
    "-DTEMPORAL_API_PROTO_DIR=/path/to/protos.")
endif()

# Roots to search, in the layout of @temporalio/core-bridge or of a plain checkout.
set(_roots)
foreach(sub api_upstream testsrv_upstream "")
  if(sub STREQUAL "")
    set(_r "${TEMPORAL_API_PROTO_DIR}")
  else()
    set(_r "${TEMPORAL_API_PROTO_DIR}/${sub}")
  endif()
  if(EXISTS "${_r}/temporal")
    list(APPEND _roots "${_r}")
  endif()
endforeach()
if(NOT _roots)
  message(FATAL_ERROR "No temporal/ proto tree under ${TEMPORAL_API_PROTO_DIR}")
endif()

set(_gen_src "${CMAKE_BINARY_DIR}/protos/src")   # patched .proto files
set(_gen_out "${CMAKE_BINARY_DIR}/protos/gen")   # generated C++
file(MAKE_DIRECTORY "${_gen_src}" "${_gen_out}")

set(_proto_rel_files)
function(_temporal_copy_proto root rel)
  file(READ "${root}/${rel}" _content)
  string(REPLACE "temporal.api.namespace.v1" "temporal.api.namespace_.v1" _content "${_content}")
  set(_dst "${_gen_src}/${rel}")
  # Only rewrite on change so that a re-configure does not rebuild everything.
  if(EXISTS "${_dst}")
    file(READ "${_dst}" _old)
    if(_old STREQUAL _content)
      return()
    endif()
  endif()
  file(WRITE "${_dst}" "${_content}")
endfunction()

foreach(root IN LISTS _roots)
  file(GLOB_RECURSE _files RELATIVE "${root}" "${root}/temporal/*.proto"
       "${root}/google/api/*.proto" "${root}/nexusannotations/*.proto")
  foreach(rel IN LISTS _files)
    if(rel MATCHES "^temporal/api/export/")
      continue()
    endif()
    _temporal_copy_proto("${root}" "${rel}")
    list(APPEND _proto_rel_files "${rel}")
  endforeach()
endforeach()
# grpc.health.v1 and google.rpc.Status (error details) sit beside api_upstream in core-bridge.
foreach(extra grpc/health/v1/health.proto google/rpc/status.proto)
  foreach(root "${TEMPORAL_API_PROTO_DIR}" "${TEMPORAL_API_PROTO_DIR}/..")
    if(EXISTS "${root}/${extra}")
      _temporal_copy_proto("${root}" "${extra}")
      list(APPEND _proto_rel_files "${extra}")
      break()
    endif()
  endforeach()
endforeach()
list(REMOVE_DUPLICATES _proto_rel_files)
list(SORT _proto_rel_files)

set(_grpc_services
    temporal/api/workflowservice/v1/service.proto
    temporal/api/operatorservice/v1/service.proto
    temporal/api/testservice/v1/service.proto
    grpc/health/v1/health.proto)

set(_srcs)
set(_hdrs)
set(_abs_protos)
foreach(rel IN LISTS _proto_rel_files)
  string(REGEX REPLACE "\\.proto$" "" _stem "${rel}")
  list(APPEND _srcs "${_gen_out}/${_stem}.pb.cc")
  list(APPEND _hdrs "${_gen_out}/${_stem}.pb.h")
  list(APPEND _abs_protos "${_gen_src}/${rel}")
endforeach()
set(_grpc_srcs)
set(_abs_grpc_protos)
foreach(rel IN LISTS _grpc_services)
  list(FIND _proto_rel_files "${rel}" _idx)
  if(_idx EQUAL -1)
    message(FATAL_ERROR "Service proto ${rel} not found under ${TEMPORAL_API_PROTO_DIR}")
  endif()
  string(REGEX REPLACE "\\.proto$" "" _stem "${rel}")
  list(APPEND _grpc_srcs "${_gen_out}/${_stem}.grpc.pb.cc")
  list(APPEND _hdrs "${_gen_out}/${_stem}.grpc.pb.h")
  list(APPEND _abs_grpc_protos "${_gen_src}/${rel}")
endforeach()

find_program(PROTOC protoc REQUIRED)
get_target_property(_grpc_plugin gRPC::grpc_cpp_plugin LOCATION)

add_custom_command(
  OUTPUT ${_srcs} ${_hdrs}
  COMMAND "${PROTOC}" -I "${_gen_src}" --cpp_out "${_gen_out}" ${_abs_protos}
  DEPENDS ${_abs_protos}
  COMMENT "Generating C++ for ${CMAKE_CURRENT_LIST_LENGTH} Temporal API protos"
  VERBATIM)
add_custom_command(
  OUTPUT ${_grpc_srcs}
  COMMAND "${PROTOC}" -I "${_gen_src}" --grpc_out "${_gen_out}"
          "--plugin=protoc-gen-grpc=${_grpc_plugin}" ${_abs_grpc_protos}
  DEPENDS ${_abs_grpc_protos}
  COMMENT "Generating gRPC stubs for WorkflowService, OperatorService, TestService, Health"
  VERBATIM)

add_library(temporalio_api STATIC ${_srcs} ${_grpc_srcs})
add_library(temporalio::api ALIAS temporalio_api)
# SYSTEM: generated code is not ours to warn about.
target_include_directories(temporalio_api SYSTEM PUBLIC "${_gen_out}")
target_link_libraries(temporalio_api PUBLIC protobuf::libprotobuf gRPC::grpc++)
set_target_properties(temporalio_api PROPERTIES POSITION_INDEPENDENT_CODE ON)
# Debug info for ~100 generated files is large and slow to write; the code is
# not ours to step through.
target_compile_options(temporalio_api PRIVATE -g0)
# Patched proto tree, for tools (protoc --decode) and tests that read fixtures.
set(TEMPORAL_PATCHED_PROTO_DIR "${_gen_src}" CACHE INTERNAL "")
