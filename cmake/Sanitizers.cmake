# TEMPORALIO_SANITIZE=address (ASan+UBSan) or thread (TSan). Applied to every
# target so instrumented and uninstrumented code never mix in one binary.
set(TEMPORALIO_SANITIZE "" CACHE STRING "Sanitizer build: '', 'address' or 'thread'")
if(TEMPORALIO_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(TEMPORALIO_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TEMPORALIO_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TEMPORALIO_SANITIZE must be '', 'address' or 'thread'")
endif()
