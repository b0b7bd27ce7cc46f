'use strict';
// Checks the harness itself against a fake server (test/fixtures/fake-server.js), so that it runs
// without our real server: free ports, spawn + wait-until-serving, early exit, stop and kill -9,
// restart on the same port, and that workflows.js bundles.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const h = require('../harness');

const FAKE = path.join(__dirname, 'fixtures', 'fake-server.js');
const TEST = { timeout: 60_000 };

// Every test here uses the fake, whatever TEMPORAL_BIN says.
process.env.TEMPORAL_BIN = FAKE;

after(() => h.cleanup());

function withEnv(vars, fn) {
  const saved = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  return Promise.resolve()
    .then(fn)
    .finally(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function argvOf(server) {
  return JSON.parse(server.process.stdout.toString().split('\n')[0]).argv;
}

test('getFreePort returns a bindable loopback port', TEST, async () => {
  const port = await h.getFreePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port }, resolve);
  });
  await new Promise((resolve) => srv.close(resolve));
});

test('uniqueId is unique', () => {
  assert.notEqual(h.uniqueId('x'), h.uniqueId('x'));
  assert.match(h.uniqueId('tq'), /^tq-[0-9a-f-]{36}$/);
});

test('startServer passes the start-dev flags, waits until serving, and stop() ends it with SIGTERM', TEST, async () => {
  const server = await h.startServer({ dbFilename: '/tmp/x.db' });
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(argvOf(server), [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(server.port),
    '--db-filename', '/tmp/x.db', '--namespace', 'default', '--log-level', 'warn', '--headless',
  ]);
  const { client, connection } = await h.connectClient(server.address);
  await client.workflowService.getSystemInfo({});
  await connection.close();
  const pid = server.process.child.pid;
  const status = await server.stop();
  assert.deepEqual(status, { code: 0, signal: null });
  assert.equal(isAlive(pid), false);
});

test('kill9 kills, and a new server starts on the same port', TEST, async () => {
  const first = await h.startServer();
  const status = await first.kill9();
  assert.equal(status.signal, 'SIGKILL');
  const second = await h.startServer({ port: first.port });
  assert.equal(second.address, first.address);
  await second.stop();
});

test('startServer rejects at once, with stderr, when the server exits early', TEST, async () => {
  await withEnv({ FAKE_MODE: 'exit-early' }, () =>
    assert.rejects(h.startServer({ readyTimeoutMs: 50_000 }), (err) => {
      assert.match(err.message, /exited with code 3 before serving/);
      assert.match(err.message, /disk on fire/);
      assert.match(err.message, /server start-dev/);
      return true;
    })
  );
});

test('startServer rejects when the binary does not exist', TEST, async () => {
  await withEnv({ TEMPORAL_BIN: path.join(__dirname, 'no-such-binary') }, () =>
    assert.rejects(h.startServer(), /failed to start: .*ENOENT/)
  );
});

test('startServer gives up after readyTimeoutMs and kills a server that never serves', TEST, async () => {
  await withEnv({ FAKE_MODE: 'never-serve' }, () =>
    assert.rejects(h.startServer({ readyTimeoutMs: 1_500 }), (err) => {
      assert.match(err.message, /did not serve GetSystemInfo on 127\.0\.0\.1:\d+ within 1500 ms/);
      return true;
    })
  );
  // startServer killed it before rejecting.
  await h.waitFor('no fake server left', () => countFakeServers() === 0, { timeoutMs: 5_000 });
});

test('stop() falls back to SIGKILL and rejects when SIGTERM is ignored', TEST, async () => {
  await withEnv({ FAKE_MODE: 'ignore-sigterm' }, async () => {
    const server = await h.startServer();
    await assert.rejects(server.stop({ timeoutMs: 500 }), /did not|timed out/);
    assert.equal(server.process.exitStatus.signal, 'SIGKILL');
  });
});

test('waitFor polls until true, and times out with a clear message', TEST, async () => {
  let n = 0;
  assert.equal(await h.waitFor('n to reach 3', () => ++n >= 3 && n, { intervalMs: 1 }), 3);
  await assert.rejects(
    h.waitFor('never', () => { throw new Error('nope'); }, { timeoutMs: 50, intervalMs: 5 }),
    /timed out after 50 ms waiting for never \(last: Error: nope\)/
  );
});

test('workflows.js bundles with the TS SDK bundler', { timeout: 120_000 }, async () => {
  const bundle = await h.workflowBundle();
  for (const name of [
    'activityRoundTrip', 'sleepWorkflow', 'waitForSignal', 'flakyActivityWorkflow',
    'activityTimeoutWorkflow', 'longSleepWorkflow', 'queryWorkflow', 'failingWorkflow', 'crashWorkflow',
  ]) {
    assert.ok(bundle.code.includes(name), `bundle lacks ${name}`);
  }
});

test('activities.js exports only functions as activities', () => {
  const { activities } = require('../activities');
  for (const [name, fn] of Object.entries(activities)) assert.equal(typeof fn, 'function', name);
});

test('activities behave as the workflows expect (MockActivityEnvironment)', TEST, async () => {
  const { MockActivityEnvironment: Mock } = require('@temporalio/testing');
  const { DefaultLogger } = require('@temporalio/worker');
  const quiet = { logger: new DefaultLogger('ERROR') };
  class MockActivityEnvironment extends Mock {
    constructor(info) {
      super(info, quiet);
    }
  }
  const { activities, gate } = require('../activities');
  const input = { name: 'x', b: [1] };
  assert.deepEqual(await new MockActivityEnvironment().run(activities.echo, input), {
    received: input,
    keys: ['b', 'name'],
    greeting: 'hello x',
  });
  await assert.rejects(
    new MockActivityEnvironment({ attempt: 2 }).run(activities.failUntilAttempt, 3),
    /deliberate failure on attempt 2/
  );
  assert.equal(await new MockActivityEnvironment({ attempt: 3 }).run(activities.failUntilAttempt, 3), 3);

  const sleeping = new MockActivityEnvironment();
  const slept = sleeping.run(activities.sleepFor, 60_000);
  sleeping.cancel();
  await assert.rejects(slept, (err) => err.name === 'CancelledFailure');

  const key = h.uniqueId('gate');
  const g = gate(key);
  const blocked = new MockActivityEnvironment({ attempt: 1 }).run(activities.blockUntilReleased, key);
  assert.equal((await g.started).attempt, 1);
  g.release('go');
  assert.deepEqual(await blocked, { released: 'go', attempt: 1 });
  assert.deepEqual(g.attempts, [1]);
});

function countFakeServers() {
  // Children of this process still running the fake.
  const fs = require('node:fs');
  let count = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fake-server.js')) count++;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}
