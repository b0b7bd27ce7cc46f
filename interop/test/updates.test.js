'use strict';
// Workflow updates and continue-as-new: the official TS SDK (client + worker) against our dev server. Checks the
// wire protocol (protocol messages, speculative workflow tasks, update events) end to end.
// Run: TEMPORAL_BIN=build/dev/src/cli/temporal node --test interop/test/updates.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  WorkflowNotFoundError,
  ApplicationFailure,
} = require('@temporalio/client');
const h = require('../harness');

const TEST = { timeout: 120_000 };

let server;
let client;
let connection;
let nativeConnection;
let bundle;
const extraConnections = [];

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
    for (const c of extraConnections) await c.close().catch(() => {});
    if (server) await server.stop();
  } finally {
    await h.cleanup();
  }
});

function withTestWorker(t, fn) {
  const taskQueue = h.uniqueId('tq-upd');
  return h.withWorker(
    { connection: nativeConnection, taskQueue, workflowBundle: bundle, signal: t.signal },
    () => fn(taskQueue)
  );
}

function startCounter(taskQueue) {
  return client.workflow.start('updateCounter', { taskQueue, workflowId: h.uniqueId('upd') });
}

function count(types, type) {
  return types.filter((x) => x === type).length;
}

async function assertUpdateFails(promise, message) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${err?.name}: ${err?.message}`);
    assert.ok(err.cause instanceof ApplicationFailure, `cause: ${err.cause?.name}`);
    assert.match(err.cause.message, message);
    return true;
  });
}

test('executeUpdate: accepted and completed in one task; events in history; result counts it', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    assert.equal(await handle.executeUpdate('add', { args: [5] }), 5);
    assert.equal(await handle.executeUpdate('add', { args: [2] }), 7);
    const types = await h.historyEventTypes(handle);
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 2, types.join(' '));
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_COMPLETED'), 2, types.join(' '));
    assert.equal(await handle.query('state'), 7);
    await handle.signal('finish');
    assert.equal(await handle.result(), 7);
  });
});

test('a validator rejection fails the update and leaves no trace in history', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    assert.equal(await handle.executeUpdate('add', { args: [1] }), 1);
    const before = await h.historyEventTypes(handle);
    await assertUpdateFails(handle.executeUpdate('add', { args: [-1] }), /rejected: -1/);
    await assertUpdateFails(handle.executeUpdate('add', { args: [-2] }), /rejected: -2/);
    // The speculative workflow tasks that carried the rejected updates were discarded.
    assert.deepEqual(await h.historyEventTypes(handle), before);
    // The workflow carries on normally afterwards.
    assert.equal(await handle.executeUpdate('add', { args: [3] }), 4);
    await handle.signal('finish');
    assert.equal(await handle.result(), 4);
  });
});

test('an update handler failure completes the update with the failure', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    await assertUpdateFails(handle.executeUpdate('add', { args: [13] }), /unlucky/);
    const types = await h.historyEventTypes(handle);
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 1, types.join(' '));
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_COMPLETED'), 1, types.join(' '));
    await handle.signal('finish');
    assert.equal(await handle.result(), 0);
  });
});

test('an unknown update name is rejected', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    await assert.rejects(handle.executeUpdate('noSuchUpdate', { args: [] }), WorkflowUpdateFailedError);
    await handle.signal('finish');
    assert.equal(await handle.result(), 0);
  });
});

test('startUpdate waits for ACCEPTED; the result arrives after a signal; getUpdateHandle finds it', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    const upd = await handle.startUpdate('addWhenReleased', {
      args: [10],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      updateId: 'release-me',
    });
    assert.equal(upd.updateId, 'release-me');
    let types = await h.historyEventTypes(handle);
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 1, types.join(' '));
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_COMPLETED'), 0, types.join(' '));
    await handle.signal('release');
    assert.equal(await upd.result(), 10);
    assert.equal(await handle.getUpdateHandle('release-me').result(), 10);
    // Same update id again: deduplicated, same result, no new events.
    assert.equal(await handle.executeUpdate('addWhenReleased', { args: [10], updateId: 'release-me' }), 10);
    types = await h.historyEventTypes(handle);
    assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 1, types.join(' '));
    await handle.signal('finish');
    assert.equal(await handle.result(), 10);
    // After the run closed its update results are still there; new updates are refused.
    assert.equal(await handle.getUpdateHandle('release-me').result(), 10);
    await assert.rejects(handle.executeUpdate('add', { args: [1] }), WorkflowNotFoundError);
  });
});

test('concurrent updates all complete, in one or several workflow tasks', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await startCounter(taskQueue);
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => handle.executeUpdate('add', { args: [n] })));
    assert.equal(Math.max(...results), 36);
    assert.equal(new Set(results).size, 8);
    await handle.signal('finish');
    assert.equal(await handle.result(), 36);
  });
});

test('an accepted update survives a server restart and completes afterwards', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-interop-upd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dbFilename = path.join(dir, 'temporal.db');
  let own = await h.startServer({ dbFilename });
  const { port, address } = own;
  const c = await h.connectClient(address);
  extraConnections.push(c.connection);
  const native = await h.connectNative(address);
  extraConnections.push(native);
  const taskQueue = h.uniqueId('tq-upd-restart');
  const workerOpts = { connection: native, taskQueue, workflowBundle: bundle, signal: t.signal };
  await h.startWorker(workerOpts);

  const handle = await c.client.workflow.start('updateCounter', { taskQueue, workflowId: h.uniqueId('upd-restart') });
  await handle.startUpdate('addWhenReleased', { args: [4], waitForStage: WorkflowUpdateStage.ACCEPTED, updateId: 'u1' });

  await own.kill9();
  own = await h.startServer({ dbFilename, port });
  t.after(() => own.stop());

  await handle.signal('release');
  assert.equal(await handle.getUpdateHandle('u1').result(), 4);
  await handle.signal('finish');
  assert.equal(await handle.result(), 4);
  const types = await h.historyEventTypes(handle);
  assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 1, types.join(' '));
  assert.equal(count(types, 'WORKFLOW_EXECUTION_UPDATE_COMPLETED'), 1, types.join(' '));
});

test('continueAsNew: the chain runs to the end; result() follows it; each run closes as CONTINUED_AS_NEW', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const handle = await client.workflow.start('continueAsNewChain', {
      taskQueue,
      workflowId: h.uniqueId('can'),
      args: [1, 4],
      memo: { owner: 'interop' },
    });
    assert.deepEqual(await handle.result(), { total: 10, runs: 4, continued: true });
    const first = client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    const desc = await first.describe();
    assert.equal(desc.status.name, 'CONTINUED_AS_NEW');
    const types = await h.historyEventTypes(first);
    assert.equal(types.at(-1), 'WORKFLOW_EXECUTION_CONTINUED_AS_NEW', types.join(' '));
    const last = await client.workflow.getHandle(handle.workflowId).describe();
    assert.equal(last.status.name, 'COMPLETED');
    assert.notEqual(last.runId, handle.firstExecutionRunId);
    assert.deepEqual(last.memo, { owner: 'interop' });
  });
});
