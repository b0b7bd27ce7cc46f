'use strict';
// The `temporal` CLI (ours) against our dev server with TS SDK workers: workflows started,
// signalled, queried and inspected through the CLI, and `workflow show -o json` output replayed by
// the official TypeScript SDK (Worker.runReplayHistory via historyFromJSON).
// Run: TEMPORAL_BIN=build/dev/src/cli/temporal node --test interop/test/cli.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const h = require('../harness');

const TEST = { timeout: 120_000 };

let server;
let nativeConnection;
let bundle;

before(
  async () => {
    server = await h.startServer();
    nativeConnection = await h.connectNative(server.address);
    bundle = await h.workflowBundle();
  },
  { timeout: 120_000 }
);

after(async () => {
  try {
    await h.shutdownWorkers();
    await nativeConnection?.close().catch(() => {});
    if (server) await server.stop();
  } finally {
    await h.cleanup();
  }
});

/** Runs `temporal <args> --address <server>`; resolves to {code, stdout, stderr}. */
function cli(args) {
  return new Promise((resolve) => {
    execFile(
      process.env.TEMPORAL_BIN,
      [...args, '--address', server.address],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr })
    );
  });
}

async function cliJson(args) {
  const r = await cli([...args, '-o', 'json']);
  assert.equal(r.code, 0, `temporal ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function withTestWorker(t, fn) {
  const taskQueue = h.uniqueId('tq-cli');
  return h.withWorker(
    { connection: nativeConnection, taskQueue, workflowBundle: bundle, signal: t.signal },
    () => fn(taskQueue)
  );
}

/**
 * History JSON (as `temporal workflow show -o json` prints it) -> History object, with the TS SDK's
 * own historyFromJSON. In this install @temporalio/common and @temporalio/proto each carry their
 * own copy of protobufjs 8 (not deduplicated), so historyFromJSON can fail with "type must be a
 * Type" before looking at the input; then the same conversion is done with @temporalio/proto's copy.
 */
function historyFromCliJson(json) {
  const { historyFromJSON } = require('@temporalio/common/lib/proto-utils');
  try {
    return historyFromJSON(json);
  } catch (err) {
    if (!/type must be a Type/.test(String(err?.message))) throw err;
    const proto = require('@temporalio/proto');
    const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root');
    const protojson = require(
      require.resolve('protobufjs/ext/protojson', { paths: [require.resolve('@temporalio/proto')] })
    );
    const type = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');
    const history = protojson.fromJson(type, json);  // strict: unknown fields are errors
    assert.ok(history, 'history JSON did not parse');
    return history;
  }
}

async function replay(json, workflowId) {
  const { Worker } = require('@temporalio/worker');
  await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromCliJson(json), workflowId);
}

test('start + result + describe + list + show -o json replays in the TS SDK', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const workflowId = h.uniqueId('cli-activity');
    const started = await cliJson([
      'workflow', 'start', '--type', 'activityRoundTrip', '-t', taskQueue, '-w', workflowId,
      '-i', '{"greeting":"hi","n":[1,2]}',
    ]);
    assert.equal(started.workflowId, workflowId);
    assert.equal(started.taskQueue, taskQueue);

    const result = await cliJson(['workflow', 'result', '-w', workflowId]);
    assert.equal(result.status, 'COMPLETED');
    assert.deepEqual(result.result.fromActivity.received, { greeting: 'hi', n: [1, 2] });

    const desc = await cliJson(['workflow', 'describe', '-w', workflowId]);
    assert.equal(desc.workflowExecutionInfo.execution.workflowId, workflowId);
    assert.equal(desc.workflowExecutionInfo.execution.runId, started.runId);
    assert.equal(desc.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    assert.equal(desc.workflowExecutionInfo.type.name, 'activityRoundTrip');
    assert.deepEqual(desc.result, result.result);

    const list = await cliJson(['workflow', 'list', '-q', `WorkflowId = '${workflowId}'`]);
    assert.ok(Array.isArray(list));
    assert.equal(list.length, 1);
    assert.equal(list[0].execution.workflowId, workflowId);
    assert.equal(list[0].status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');

    const history = await cliJson(['workflow', 'show', '-w', workflowId]);
    assert.deepEqual(Object.keys(history), ['events']);
    assert.equal(history.events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    await replay(history, workflowId);
  });
});

test('signal, query, stack and text output through the CLI', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const workflowId = h.uniqueId('cli-query');
    await cliJson(['workflow', 'start', '--type', 'queryWorkflow', '-t', taskQueue, '-w', workflowId,
      '-i', '"alice"']);

    const q = await cliJson(['workflow', 'query', '-w', workflowId, '--name', 'state']);
    assert.deepEqual(q.queryResult, [{ name: 'alice', phase: 'waiting', signals: [] }]);

    const stack = await cli(['workflow', 'stack', '-w', workflowId]);
    assert.equal(stack.code, 0, stack.stderr);
    assert.match(stack.stdout, /Query result:/);

    const signal = await cli(['workflow', 'signal', '-w', workflowId, '--name', 'finish', '-i', '"go"']);
    assert.equal(signal.code, 0, signal.stderr);
    assert.equal(signal.stdout, 'Signal workflow succeeded\n');

    const result = await cli(['workflow', 'result', '-w', workflowId]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Status\s+COMPLETED/);
    assert.match(result.stdout, /Result\s+"finished with go"/);

    const history = await cliJson(['workflow', 'show', '-w', workflowId]);
    await replay(history, workflowId);
  });
});

test('a failed workflow: result exits 1, history still replays', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const workflowId = h.uniqueId('cli-fail');
    const exec = await cli(['workflow', 'execute', '--type', 'failingWorkflow', '-t', taskQueue,
      '-w', workflowId, '-i', '"boom"', '-o', 'json']);
    assert.equal(exec.code, 1);
    assert.equal(exec.stderr, 'Error: workflow failed\n');
    assert.equal(JSON.parse(exec.stdout).status, 'FAILED');
    const history = await cliJson(['workflow', 'show', '-w', workflowId]);
    await replay(history, workflowId);
  });
});

test('reset points, search attributes and delete with a TS SDK worker', TEST, async (t) => {
  await withTestWorker(t, async (taskQueue) => {
    const sa = await cli(['operator', 'search-attribute', 'create', '--name', 'CliInteropScore',
      '--type', 'Int']);
    assert.equal(sa.code, 0, sa.stderr);
    const workflowId = h.uniqueId('cli-delete');
    await cliJson(['workflow', 'start', '--type', 'queryWorkflow', '-t', taskQueue, '-w', workflowId,
      '-i', '"bob"', '--search-attribute', 'CliInteropScore=7']);
    // The worker has completed a workflow task once the query is answered.
    await cliJson(['workflow', 'query', '-w', workflowId, '--name', 'state']);
    const points = await cliJson(['workflow', 'describe', '-w', workflowId, '--reset-points']);
    assert.ok(points.length >= 1, JSON.stringify(points));
    assert.deepEqual(Object.keys(points[0]), ['BinaryChecksum', 'CreateTime', 'RunId', 'EventId']);

    const list = await cliJson(['workflow', 'list', '-q', 'CliInteropScore >= 7']);
    assert.deepEqual(list.map((e) => e.execution.workflowId), [workflowId]);

    const del = await cli(['workflow', 'delete', '-w', workflowId]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'Delete workflow succeeded\n');
    const gone = await cli(['workflow', 'describe', '-w', workflowId]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^Error: failed describing workflow: /);
  });
});
