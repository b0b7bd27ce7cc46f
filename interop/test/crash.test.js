'use strict';
// Durability: kill -9 the dev server while a workflow has a running activity and a pending timer,
// restart it on the same SQLite file and port, and check that the workflow completes exactly once.
// Run: TEMPORAL_BIN=build/dev/src/cli/temporal node --test interop/test/crash.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../harness');
const { gate } = require('../activities');

let bundle;
const connections = [];

before(async () => {
  bundle = await h.workflowBundle();
}, { timeout: 120_000 });

after(async () => {
  try {
    await h.shutdownWorkers();
    for (const c of connections) await c.close().catch(() => {});
  } finally {
    await h.cleanup();
  }
});

function count(types, type) {
  return types.filter((x) => x === type).length;
}

test('kill -9 during an activity and a timer; restart on the same db and port; completes once', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-interop-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dbFilename = path.join(dir, 'temporal.db');

  let server = await h.startServer({ dbFilename });
  const { port, address } = server;
  const { client, connection } = await h.connectClient(address);
  connections.push(connection);
  const nativeConnection = await h.connectNative(address);
  connections.push(nativeConnection);

  const taskQueue = h.uniqueId('tq-crash');
  const workflowId = h.uniqueId('crash');
  const key = h.uniqueId('gate');
  const g = gate(key);
  const workerOpts = { connection: nativeConnection, taskQueue, workflowBundle: bundle, signal: t.signal };
  const first = await h.startWorker(workerOpts);

  const handle = await client.workflow.start('crashWorkflow', { taskQueue, workflowId, args: [key, 3000] });
  const startedInfo = await h.withTimeout('the activity to start', g.started, 60_000);
  assert.equal(startedInfo.attempt, 1);
  const beforeCrash = await h.historyEventTypes(handle);
  assert.ok(beforeCrash.includes('ACTIVITY_TASK_SCHEDULED'), beforeCrash.join(' '));
  assert.ok(beforeCrash.includes('TIMER_STARTED'), beforeCrash.join(' '));

  const killed = await server.kill9();
  assert.equal(killed.signal, 'SIGKILL');
  server = await h.startServer({ dbFilename, port });
  assert.equal(server.address, address);

  // Same run, still running, after the restart.
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'RUNNING');
  assert.equal(desc.runId, handle.firstExecutionRunId);

  // The worker is expected to ride out the restart by itself (its polls retry UNAVAILABLE).
  const firstOutcome = await Promise.race([first.done, Promise.resolve('running')]);
  let second;
  if (firstOutcome !== 'running') {
    t.diagnostic(`the worker stopped during the restart (${firstOutcome.error}); continuing with a new worker`);
    const nc2 = await h.connectNative(address);
    connections.push(nc2);
    second = await h.startWorker({ ...workerOpts, connection: nc2 });
  }

  g.release('released after restart');
  const result = await h.withTimeout('the workflow result', handle.result(), 180_000);
  assert.deepEqual(result, {
    activityResult: { released: 'released after restart', attempt: second ? 2 : 1 },
    timerFired: true,
  });
  assert.equal((await handle.describe()).status.name, 'COMPLETED');

  const history = await handle.fetchHistory();
  const types = history.events.map(h.eventTypeName);
  const ids = history.events.map((e) => Number(e.eventId));
  assert.deepEqual(ids, types.map((_, i) => i + 1), 'event ids are 1..n');
  assert.equal(types[0], 'WORKFLOW_EXECUTION_STARTED');
  assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_COMPLETED');
  const expectOnce = [
    'WORKFLOW_EXECUTION_STARTED',
    'ACTIVITY_TASK_SCHEDULED',
    'ACTIVITY_TASK_STARTED',
    'ACTIVITY_TASK_COMPLETED',
    'TIMER_STARTED',
    'TIMER_FIRED',
    'WORKFLOW_EXECUTION_COMPLETED',
  ];
  for (const type of expectOnce) assert.equal(count(types, type), 1, `${type} x1 in: ${types.join(' ')}`);
  assert.equal(count(types, 'WORKFLOW_TASK_FAILED'), 0, types.join(' '));
  assert.equal(count(types, 'ACTIVITY_TASK_FAILED'), 0, types.join(' '));
  if (!second) {
    // The activity ran once, and its completion after the restart was accepted.
    const started = history.events.find((e) => h.eventTypeName(e) === 'ACTIVITY_TASK_STARTED');
    assert.equal(started.activityTaskStartedEventAttributes.attempt, 1);
    assert.deepEqual(g.attempts, [1]);
  }

  await first.stop();
  if (second) await second.stop();
  // A clean shutdown after recovery.
  await server.stop();
});
