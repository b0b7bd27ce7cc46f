#ifndef TEMPORALIO_TESTS_TESTUTIL_PORTS_H_
#define TEMPORALIO_TESTS_TESTUTIL_PORTS_H_

namespace temporalio::testutil {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it
// back, close). Prefer binding servers to port 0 directly; this is for child
// processes that must be told a port on their command line.
int PickFreeLoopbackPort();

}  // namespace temporalio::testutil

#endif  // TEMPORALIO_TESTS_TESTUTIL_PORTS_H_
