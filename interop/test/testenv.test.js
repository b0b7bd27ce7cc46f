'use strict';
// The TS SDK's own test environment launching our binary as its dev server:
// TestWorkflowEnvironment.createLocal with executable {type: 'existing-path'}. sdk-core runs
//   <path> server start-dev --port P --namespace default --ip 127.0.0.1 --log-format pretty
//     --log-level warn --dynamic-config-value K=V (x3) --headless
// and gives it 5 s to answer a connection (GetSystemInfo).
// Run: TEMPORAL_BIN=build/dev/src/cli/temporal node --test interop/test/testenv.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { TestWorkflowEnvironment } = require('@temporalio/testing');
const h = require('../harness');

let bundle;

before(async () => {
  h.installRuntime();
  bundle = await h.workflowBundle();
}, { timeout: 120_000 });

after(() => h.cleanup());

test('TestWorkflowEnvironment.createLocal runs our server; a workflow with an activity completes', { timeout: 120_000 }, async (t) => {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: h.serverBin() } },
  });
  try {
    assert.equal(env.supportsTimeSkipping, false);
    const taskQueue = h.uniqueId('tq-testenv');
    const workflowId = h.uniqueId('testenv');
    await h.withWorker({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, signal: t.signal }, async () => {
      const input = { name: 'testenv', n: 1 };
      const result = await env.client.workflow.execute('activityRoundTrip', { taskQueue, workflowId, args: [input] });
      assert.deepEqual(result, {
        fromActivity: { received: input, keys: ['n', 'name'], greeting: 'hello testenv' },
      });
      const desc = await env.client.workflow.getHandle(workflowId).describe();
      assert.equal(desc.status.name, 'COMPLETED');
    });
  } finally {
    await env.teardown();
  }
});
