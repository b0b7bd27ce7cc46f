'use strict';
// Workflow lifecycle scenarios: the official TS SDK (client + worker) against our dev server.
// Run: TEMPORAL_BIN=build/dev/src/cli/temporal node --test interop/test/lifecycle.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
} = require('@temporalio/client');
const h = require('../harness');

const TEST = { timeout: 120_000 };

let server;
let client;
let connection;
let nativeConnection;
let bundle;

before(
  async () => {
    server = await h.startServer();
    ({ client, connection } = await h.connectClient(server.address));
    nativeConnection = await h.connectNative(server.address);
    bundle = await h.workflowBundle();
  },
  { timeout: 120_000 }
);

after(async () => {
  try {
    await h.shutdownWorkers();
    await connection?.close().catch(() => {});
    await nativeConnection?.close().catch(() => {});
    // A clean SIGTERM shutdown is part of what we check.
    if (server) await server.stop();
  } finally {
    await h.cleanup();
  }
});

/** Runs fn(taskQueue) with a worker polling a fresh task queue; the worker stops afterwards. */
function withTestWorker(t, fn) {
  const taskQueue = h.uniqueId('tq');
  return h.withWorker(
    { connection: nativeConnection, taskQueue, workflowBundle: bundle, signal: t.signal },
    () => fn(taskQueue)
  );
}

function start(workflowType, taskQueue, args = [], options = {}) {
  return client.workflow.start(workflowType, {
    taskQueue,
    workflowId: h.uniqueId(workflowType),
    args,
    ...options,
  });
}

async function assertStatus(handle, name) {
  const desc = await handle.describe();
  assert.equal(desc.status.name, name, `describe(${handle.workflowId}).status`);
  return desc;
}

/** Asserts that `promise` rejects with WorkflowFailedError whose cause is a `causeClass`. */
async function assertWorkflowFails(promise, causeClass) {
  let error;
  await assert.rejects(promise, (err) => {
    error = err;
    assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${err?.name}: ${err?.message}`);
    assert.ok(
      err.cause instanceof causeClass,
      `expected cause ${causeClass.name}, got ${err.cause?.name}: ${err.cause?.message}`
    );
    return true;
  });
  return error;
}

function historyEvents(history) {
  return history.events.map((e) => ({ type: h.eventTypeName(e), event: e }));
}

test('(a) a workflow runs one activity; an object argument round-trips', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const input = {
      name: 'interop',
      n: 7,
      pi: 3.25,
      flag: true,
      none: null,
      nested: { list: [1, 'two', null, false], empty: {} },
      unicode: 'héllo ✓ 日本',
    };
    const handle = await start('activityRoundTrip', tq, [input]);
    const result = await handle.result();
    assert.deepEqual(result, {
      fromActivity: {
        received: input,
        keys: Object.keys(input).sort(),
        greeting: 'hello interop',
      },
    });
    await assertStatus(handle, 'COMPLETED');
    assert.deepEqual(await h.historyEventTypes(handle), [
      'WORKFLOW_EXECUTION_STARTED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'ACTIVITY_TASK_SCHEDULED',
      'ACTIVITY_TASK_STARTED',
      'ACTIVITY_TASK_COMPLETED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'WORKFLOW_EXECUTION_COMPLETED',
    ]);
  })
);

test('(b) a workflow sleeps on a timer and returns', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('sleepWorkflow', tq, [1000]);
    assert.equal(await handle.result(), 'slept 1000');
    await assertStatus(handle, 'COMPLETED');
    const events = historyEvents(await handle.fetchHistory());
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'WORKFLOW_EXECUTION_STARTED',
        'WORKFLOW_TASK_SCHEDULED',
        'WORKFLOW_TASK_STARTED',
        'WORKFLOW_TASK_COMPLETED',
        'TIMER_STARTED',
        'TIMER_FIRED',
        'WORKFLOW_TASK_SCHEDULED',
        'WORKFLOW_TASK_STARTED',
        'WORKFLOW_TASK_COMPLETED',
        'WORKFLOW_EXECUTION_COMPLETED',
      ]
    );
    const started = events.find((e) => e.type === 'TIMER_STARTED').event.timerStartedEventAttributes;
    const fired = events.find((e) => e.type === 'TIMER_FIRED').event.timerFiredEventAttributes;
    assert.equal(fired.timerId, started.timerId);
  })
);

test('(c) a workflow waits for a signal and returns its payload', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('waitForSignal', tq);
    await h.waitForEvent(handle, 'WORKFLOW_TASK_COMPLETED');
    await assertStatus(handle, 'RUNNING');
    const payload = { approved: true, by: 'interop', items: [1, 2, 3] };
    await handle.signal('unblock', payload);
    assert.deepEqual(await handle.result(), payload);
    await assertStatus(handle, 'COMPLETED');
    const types = await h.historyEventTypes(handle);
    assert.equal(types.filter((x) => x === 'WORKFLOW_EXECUTION_SIGNALED').length, 1);
    assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_COMPLETED');
  })
);

test('(d) a failing activity is retried and succeeds on attempt 3', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('flakyActivityWorkflow', tq);
    assert.equal(await handle.result(), 3);
    await assertStatus(handle, 'COMPLETED');
    const events = historyEvents(await handle.fetchHistory());
    // Retries are not in the history: one scheduled, one started (the last attempt), one completed.
    assert.equal(events.filter((e) => e.type === 'ACTIVITY_TASK_SCHEDULED').length, 1);
    const startedEvents = events.filter((e) => e.type === 'ACTIVITY_TASK_STARTED');
    assert.equal(startedEvents.length, 1);
    assert.equal(startedEvents[0].event.activityTaskStartedEventAttributes.attempt, 3);
    assert.equal(events.filter((e) => e.type === 'ACTIVITY_TASK_COMPLETED').length, 1);
    assert.equal(events.filter((e) => e.type === 'ACTIVITY_TASK_FAILED').length, 0);
  })
);

test('(e) an activity exceeding startToCloseTimeout fails with TimeoutFailure START_TO_CLOSE', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('activityTimeoutWorkflow', tq);
    assert.deepEqual(await handle.result(), {
      caught: 'ActivityFailure',
      cause: 'TimeoutFailure',
      timeoutType: 'START_TO_CLOSE',
    });
    await assertStatus(handle, 'COMPLETED');
    const events = historyEvents(await handle.fetchHistory());
    const timedOut = events.filter((e) => e.type === 'ACTIVITY_TASK_TIMED_OUT');
    assert.equal(timedOut.length, 1);
    assert.equal(events.filter((e) => e.type === 'ACTIVITY_TASK_COMPLETED').length, 0);
  })
);

test('(f) a workflow blocked on a long timer is cancelled', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('longSleepWorkflow', tq);
    await h.waitForEvent(handle, 'TIMER_STARTED');
    await handle.cancel();
    await assertWorkflowFails(handle.result(), CancelledFailure);
    await assertStatus(handle, 'CANCELLED');
    const types = await h.historyEventTypes(handle);
    assert.ok(types.includes('WORKFLOW_EXECUTION_CANCEL_REQUESTED'), types.join(' '));
    assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_CANCELED');
  })
);

test('(g) a workflow is terminated', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('longSleepWorkflow', tq);
    await h.waitForEvent(handle, 'TIMER_STARTED');
    await handle.terminate('interop says stop');
    const err = await assertWorkflowFails(handle.result(), TerminatedFailure);
    assert.equal(err.cause.message, 'interop says stop');
    await assertStatus(handle, 'TERMINATED');
    const types = await h.historyEventTypes(handle);
    assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_TERMINATED');
  })
);

test('(h) a query is answered while the workflow waits and after it completed', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('queryWorkflow', tq, ['q1']);
    // The workflow is blocked in condition() once its first workflow task completed.
    await h.waitForEvent(handle, 'WORKFLOW_TASK_COMPLETED');
    assert.deepEqual(await handle.query('state'), { name: 'q1', phase: 'waiting', signals: [] });
    await assertStatus(handle, 'RUNNING');
    await handle.signal('finish', 'go');
    assert.equal(await handle.result(), 'finished with go');
    await assertStatus(handle, 'COMPLETED');
    // Query on a closed workflow: the worker replays the history to answer it.
    assert.deepEqual(await handle.query('state'), { name: 'q1', phase: 'done', signals: ['go'] });
  })
);

test('(i) a workflow started by signalWithStart sees the signal', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await client.workflow.signalWithStart('waitForSignal', {
      taskQueue: tq,
      workflowId: h.uniqueId('signalWithStart'),
      signal: 'unblock',
      signalArgs: [{ via: 'signalWithStart' }],
    });
    assert.ok(handle.signaledRunId, 'signalWithStart returns the run id');
    assert.deepEqual(await handle.result(), { via: 'signalWithStart' });
    const desc = await assertStatus(handle, 'COMPLETED');
    assert.equal(desc.runId, handle.signaledRunId);
    const types = await h.historyEventTypes(handle);
    assert.deepEqual(types.slice(0, 2), ['WORKFLOW_EXECUTION_STARTED', 'WORKFLOW_EXECUTION_SIGNALED']);
  })
);

test('(j) a workflow throwing ApplicationFailure.nonRetryable fails', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('failingWorkflow', tq, ['boom']);
    const err = await assertWorkflowFails(handle.result(), ApplicationFailure);
    assert.equal(err.cause.message, 'boom');
    assert.equal(err.cause.type, 'InteropError');
    assert.equal(err.cause.nonRetryable, true);
    assert.deepEqual(err.cause.details, [{ detail: 42 }]);
    await assertStatus(handle, 'FAILED');
    const types = await h.historyEventTypes(handle);
    assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_FAILED');
  })
);

test('(k) starting a running workflow id again fails with WorkflowExecutionAlreadyStartedError', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const workflowId = h.uniqueId('dup');
    const handle = await client.workflow.start('longSleepWorkflow', { taskQueue: tq, workflowId });
    await assert.rejects(
      client.workflow.start('longSleepWorkflow', { taskQueue: tq, workflowId }),
      (err) => {
        assert.ok(
          err instanceof WorkflowExecutionAlreadyStartedError,
          `expected WorkflowExecutionAlreadyStartedError, got ${err?.name}: ${err?.message}`
        );
        assert.equal(err.workflowId, workflowId);
        return true;
      }
    );
    // The first run is untouched.
    const desc = await assertStatus(handle, 'RUNNING');
    assert.equal(desc.runId, handle.firstExecutionRunId);
    await handle.terminate('cleanup');
    await assertStatus(handle, 'TERMINATED');
  })
);

test('(l) describe on an unknown workflow id fails with WorkflowNotFoundError', TEST, async () => {
  const handle = client.workflow.getHandle(h.uniqueId('unknown'));
  await assert.rejects(handle.describe(), (err) => {
    assert.ok(err instanceof WorkflowNotFoundError, `expected WorkflowNotFoundError, got ${err?.name}: ${err?.message}`);
    return true;
  });
});

test('(m) a failed run is retried by the workflow retry policy; result() follows to the new run', TEST, (t) =>
  withTestWorker(t, async (tq) => {
    const handle = await start('retryingWorkflow', tq, [], {
      retry: { maximumAttempts: 2, initialInterval: '100ms' },
    });
    assert.equal(await handle.result(), 2);
    // The first run failed with retry state IN_PROGRESS and points at the second.
    const first = client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    const history = await first.fetchHistory();
    const last = history.events[history.events.length - 1];
    assert.equal(h.eventTypeName(last), 'WORKFLOW_EXECUTION_FAILED');
    const attrs = last.workflowExecutionFailedEventAttributes;
    assert.ok(attrs.newExecutionRunId, 'new_execution_run_id is set');
    const second = client.workflow.getHandle(handle.workflowId, attrs.newExecutionRunId);
    const desc = await second.describe();
    assert.equal(desc.status.name, 'COMPLETED');
    const started = (await second.fetchHistory()).events[0].workflowExecutionStartedEventAttributes;
    assert.equal(started.attempt, 2);
    assert.equal(started.continuedExecutionRunId, handle.firstExecutionRunId);
  })
);
