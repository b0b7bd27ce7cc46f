'use strict';
// Workflows for the interop suite. Runs inside the TS SDK's workflow sandbox: only
// @temporalio/workflow may be used here (bundled by the worker's webpack bundler).

const {
  proxyActivities,
  sleep,
  condition,
  defineSignal,
  defineQuery,
  setHandler,
  defineUpdate,
  continueAsNew,
  workflowInfo,
  ApplicationFailure,
  ActivityFailure,
  TimeoutFailure,
} = require('@temporalio/workflow');

// Names shared with the tests (which use plain strings so they need not load this file).
const unblockSignal = defineSignal('unblock');
const finishSignal = defineSignal('finish');
const stateQuery = defineQuery('state');

const { echo } = proxyActivities({ startToCloseTimeout: '30s' });

/** (a) One activity; the object argument round-trips through it. */
async function activityRoundTrip(input) {
  const out = await echo(input);
  return { fromActivity: out };
}

/** (b) Sleeps on a durable timer. */
async function sleepWorkflow(ms) {
  await sleep(ms);
  return `slept ${ms}`;
}

/** (c), (i) Waits for the `unblock` signal and returns its payload. */
async function waitForSignal() {
  let payload;
  let received = false;
  setHandler(unblockSignal, (p) => {
    payload = p;
    received = true;
  });
  await condition(() => received);
  return payload;
}

/** (d) Retried activity: fails on attempts 1 and 2; returns the attempt that succeeded. */
async function flakyActivityWorkflow() {
  const { failUntilAttempt } = proxyActivities({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 5 },
  });
  return await failUntilAttempt(3);
}

/** (e) Activity that outlives its 1 s start-to-close timeout, no retries. */
async function activityTimeoutWorkflow() {
  const { sleepFor } = proxyActivities({
    startToCloseTimeout: '1s',
    retry: { maximumAttempts: 1 },
  });
  try {
    await sleepFor(5000);
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
      return {
        caught: 'ActivityFailure',
        cause: 'TimeoutFailure',
        timeoutType: err.cause.timeoutType,
      };
    }
    throw err;
  }
  return { caught: null };
}

/** (f), (g), (k) Blocks on a long timer. */
async function longSleepWorkflow() {
  await sleep('1 day');
  return 'woke up';
}

/** (h) Answers the `state` query while waiting for `finish`, and after completing. */
async function queryWorkflow(name) {
  const state = { name, phase: 'waiting', signals: [] };
  setHandler(stateQuery, () => state);
  setHandler(finishSignal, (value) => {
    state.signals.push(value);
  });
  await condition(() => state.signals.length > 0);
  state.phase = 'done';
  return `finished with ${state.signals[0]}`;
}

/** (j) Fails with a non-retryable application failure. */
async function failingWorkflow(message) {
  throw ApplicationFailure.nonRetryable(message, 'InteropError', { detail: 42 });
}

/**
 * crash test: a blocking activity in parallel with a timer; completes when both are done.
 * Attempt 1 is expected to complete (the worker survives the server restart); the second attempt
 * only exists so that the test can go on with a new worker if the first one died.
 */
async function crashWorkflow(key, timerMs) {
  const { blockUntilReleased } = proxyActivities({
    startToCloseTimeout: '60s',
    retry: { maximumAttempts: 2, initialInterval: '100ms' },
  });
  const [activityResult] = await Promise.all([blockUntilReleased(key), sleep(timerMs)]);
  return { activityResult, timerFired: true };
}

/** (m) Fails on its first attempt; the workflow retry policy starts a second run that succeeds. */
async function retryingWorkflow() {
  const { attempt } = workflowInfo();
  if (attempt < 2) throw ApplicationFailure.retryable(`attempt ${attempt} fails`, 'Flaky');
  return attempt;
}

/**
 * C++ SDK interop: calls activities that a C++ activity worker runs on `taskQueue`
 * and reports what it saw, so the C++ test can assert it.
 */
async function callCppActivities(taskQueue) {
  const fast = { initialInterval: '50ms', backoffCoefficient: 1 };
  const acts = proxyActivities({ taskQueue, startToCloseTimeout: '30s', retry: { ...fast, maximumAttempts: 5 } });
  const report = {};
  report.greeting = await acts.CppGreet({ name: 'TypeScript', times: 2 });
  report.flakyAttempt = await acts.CppFlaky(3);
  try {
    await acts.CppFatal('bad input');
    report.fatal = 'no error';
  } catch (err) {
    report.fatal = {
      activityFailure: err instanceof ActivityFailure,
      type: err.cause && err.cause.type,
      message: err.cause && err.cause.message,
      nonRetryable: err.cause && err.cause.nonRetryable,
    };
  }
  const hb = proxyActivities({
    taskQueue,
    startToCloseTimeout: '30s',
    heartbeatTimeout: '10s',
    retry: { ...fast, maximumAttempts: 3 },
  });
  report.heartbeatResume = await hb.CppHeartbeatResume(5);
  report.asyncResult = await acts.CppAsync('done later');
  return report;
}

/** C++ SDK interop: cancels a C++ activity that heartbeats until cancelled. */
async function cancelCppActivity(taskQueue) {
  const { CppWaitForCancel } = proxyActivities({
    taskQueue,
    startToCloseTimeout: '60s',
    heartbeatTimeout: '5s',
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  });
  const { CancellationScope, isCancellation } = require('@temporalio/workflow');
  const scope = new CancellationScope();
  const promise = scope.run(() => CppWaitForCancel());
  await sleep(500);
  scope.cancel();
  try {
    await promise;
    return 'not cancelled';
  } catch (err) {
    return isCancellation(err) ? 'cancelled' : `unexpected: ${err}`;
  }
}

/**
 * Workflow updates: `add` (validator rejects negatives; the handler fails on 13) adds to a counter
 * and returns it; `addWhenReleased` is accepted at once and completes after the `release` signal;
 * the `finish` signal ends the run with the counter.
 */
const addUpdate = defineUpdate('add');
const addWhenReleasedUpdate = defineUpdate('addWhenReleased');
const releaseSignal = defineSignal('release');
async function updateCounter() {
  let counter = 0;
  let released = false;
  let finished = false;
  setHandler(
    addUpdate,
    (n) => {
      if (n === 13) throw ApplicationFailure.create({ message: 'unlucky', type: 'Unlucky' });
      counter += n;
      return counter;
    },
    {
      validator: (n) => {
        if (typeof n !== 'number' || n < 0) throw new Error(`rejected: ${n}`);
      },
    }
  );
  setHandler(addWhenReleasedUpdate, async (n) => {
    await condition(() => released);
    counter += n;
    return counter;
  });
  setHandler(releaseSignal, () => {
    released = true;
  });
  setHandler(finishSignal, () => {
    finished = true;
  });
  setHandler(stateQuery, () => counter);
  await condition(() => finished);
  return counter;
}

/** Continues as new until `n` reaches `until`, carrying a running total; returns it with the run count. */
async function continueAsNewChain(n, until, total = 0) {
  await sleep(10);
  if (n < until) await continueAsNew(n + 1, until, total + n);
  return { total: total + n, runs: n, continued: workflowInfo().continuedFromExecutionRunId !== undefined };
}

/**
 * The same logic as `SameLogicWorkflow` in tests/integration/workflow_process_test.cc, for
 * comparing the histories the two SDKs produce: an activity (served by the C++ worker on
 * `activityTaskQueue`), a 10 ms timer, then a wait for `add` signals to reach 2; `count` query.
 */
async function sameLogic(name, activityTaskQueue) {
  let count = 0;
  setHandler(defineSignal('add'), (n) => {
    count += n;
  });
  setHandler(defineQuery('count'), () => count);
  const { Compose } = proxyActivities({ startToCloseTimeout: '10s', taskQueue: activityTaskQueue });
  const greeting = await Compose('Hello', name);
  await sleep(10);
  await condition(() => count >= 2);
  return `${greeting} ${count}`;
}

module.exports = {
  continueAsNewChain,
  updateCounter,
  sameLogic,
  callCppActivities,
  cancelCppActivity,
  retryingWorkflow,
  unblockSignal,
  finishSignal,
  stateQuery,
  activityRoundTrip,
  sleepWorkflow,
  waitForSignal,
  flakyActivityWorkflow,
  activityTimeoutWorkflow,
  longSleepWorkflow,
  queryWorkflow,
  failingWorkflow,
  crashWorkflow,
};
