'use strict';
// Test harness for the interop suite: runs our `temporal server start-dev` on a free loopback port
// and drives it with the official Temporal TypeScript SDK (client + worker).
//
// Conventions (see /DESIGN.md): loopback only, free ports, no fixed sleeps (poll a condition with a
// deadline), no timing assertions, and no process left behind after a failure.

const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');

const LOOPBACK = '127.0.0.1';
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
const POLL_INTERVAL_MS = 100;
const OUTPUT_LIMIT = 64 * 1024; // bytes of server output kept for error messages

// ---------------------------------------------------------------------------------------------
// Cleanup of everything we start, even when a test fails or the runner kills us.

const liveChildren = new Set(); // ChildProcess
const liveWorkers = new Map(); // Worker -> promise settled when its run ends

function killAllChildren() {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAllChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllChildren();
    process.exit(128 + (require('node:os').constants.signals[sig] ?? 1));
  });
}

/** Asks every worker still running to shut down and waits (at most timeoutMs) for them. Never throws. */
async function shutdownWorkers({ timeoutMs = 15_000 } = {}) {
  const runs = [...liveWorkers].map(([worker, done]) => {
    shutdownWorker(worker);
    return done;
  });
  await withTimeout('workers to shut down', Promise.allSettled(runs), timeoutMs).catch((err) =>
    process.stderr.write(`interop harness: ${err.message}\n`)
  );
}

/**
 * Shuts down every worker still running and kills every server still alive. Call from `after`.
 * Never throws. If anything still holds the event loop afterwards (e.g. a native handle of a
 * worker that failed to shut down), the process exits anyway `graceMs` later so that a broken
 * server makes the suite fail rather than hang.
 */
async function cleanup({ graceMs = 15_000 } = {}) {
  await shutdownWorkers({ timeoutMs: graceMs });
  killAllChildren();
  setTimeout(() => {
    process.stderr.write(`interop harness: something still holds the event loop ${graceMs} ms after cleanup; exiting\n`);
    process.exit(process.exitCode || 1);
  }, graceMs).unref();
}

function shutdownWorker(worker) {
  try {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  } catch {
    // already stopping
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities.

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
function getFreePort(host = LOOPBACK) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** A unique id for task queues and workflow ids. */
function uniqueId(prefix = 'interop') {
  return `${prefix}-${crypto.randomUUID()}`;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `fn` until it returns a truthy value (which is returned) or `timeoutMs` passes (then
 * rejects with `what` and the last error/value). `fn` may be async and may throw (= not yet).
 */
async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = POLL_INTERVAL_MS } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(intervalMs);
  }
}

/** Rejects with a clear message if `promise` does not settle within `ms`. */
function withTimeout(what, promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function serverBin() {
  const bin = process.env.TEMPORAL_BIN;
  if (!bin) {
    throw new Error(
      'TEMPORAL_BIN is not set: point it at the `temporal` binary (e.g. build/dev/src/cli/temporal)'
    );
  }
  return path.resolve(bin);
}

// ---------------------------------------------------------------------------------------------
// Server process.

class OutputBuffer {
  constructor() {
    this.chunks = [];
    this.size = 0;
  }
  push(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) this.size -= this.chunks.shift().length;
  }
  toString() {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return s.length > OUTPUT_LIMIT ? s.slice(-OUTPUT_LIMIT) : s;
  }
}

/**
 * Spawns a process and returns a handle; `exited` resolves ({code, signal}) when it exits or fails
 * to spawn (then `spawnError` is set). Output is kept (bounded) in `stdout`/`stderr`; set
 * INTEROP_SERVER_OUTPUT=1 to also forward it to our stderr.
 */
function spawnTracked(command, args, { env } = {}) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ?? process.env,
  });
  liveChildren.add(child);
  const stdout = new OutputBuffer();
  const stderr = new OutputBuffer();
  const forward = process.env.INTEROP_SERVER_OUTPUT === '1';
  child.stdout.on('data', (d) => {
    stdout.push(d);
    if (forward) process.stderr.write(d);
  });
  child.stderr.on('data', (d) => {
    stderr.push(d);
    if (forward) process.stderr.write(d);
  });
  const handle = {
    child,
    stdout,
    stderr,
    spawnError: undefined,
    exitStatus: undefined,
    exited: undefined,
  };
  handle.exited = new Promise((resolve) => {
    child.once('error', (err) => {
      // ENOENT/EACCES: no 'exit' follows.
      handle.spawnError = err;
      if (child.pid === undefined) {
        liveChildren.delete(child);
        handle.exitStatus = { code: null, signal: null, error: err };
        resolve(handle.exitStatus);
      }
    });
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      handle.exitStatus = { code, signal };
      resolve(handle.exitStatus);
    });
  });
  return handle;
}

function describeExit(status) {
  if (status.error) return `failed to start: ${status.error.message}`;
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

function outputForError(proc) {
  const err = proc.stderr.toString().trim();
  const out = proc.stdout.toString().trim();
  let s = `\n--- server stderr ---\n${err || '(empty)'}`;
  if (out) s += `\n--- server stdout ---\n${out}`;
  return s;
}

/** Resolves once `address` answers WorkflowService.GetSystemInfo (a new connection per attempt). */
async function probeOnce(address, timeoutMs) {
  const { Connection } = require('@temporalio/client');
  // A private subchannel pool: grpc-js otherwise shares (and backs off) one per address, which
  // would slow down noticing a server restarted on the same port.
  const connection = Connection.lazy({
    address,
    connectTimeout: timeoutMs,
    channelArgs: { 'grpc.use_local_subchannel_pool': 1 },
  });
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection.workflowService.getSystemInfo({})
    );
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Polls `address` until it serves GetSystemInfo, until `timeoutMs` passes, or until `proc` exits
 * (then rejects at once with its exit status and stderr).
 */
async function waitUntilServing(address, proc, { timeoutMs = DEFAULT_READY_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  let exited = false;
  const exitedEarly = proc.exited.then((status) => {
    exited = true;
    return status;
  });
  for (;;) {
    if (exited) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const attempt = probeOnce(address, Math.min(2_000, remaining)).then(
      () => 'ok',
      (err) => {
        lastError = err;
        return 'retry';
      }
    );
    const outcome = await Promise.race([attempt, exitedEarly.then(() => 'exited')]);
    if (outcome === 'ok') return;
    if (outcome === 'exited') break;
    await Promise.race([delay(POLL_INTERVAL_MS), exitedEarly]);
  }
  if (exited) {
    throw new Error(
      `server ${describeExit(proc.exitStatus)} before serving on ${address}` +
        `\n  command: ${proc.command}${outputForError(proc)}`
    );
  }
  throw new Error(
    `server did not serve GetSystemInfo on ${address} within ${timeoutMs} ms` +
      ` (last error: ${lastError ? lastError.message : 'none'})\n  command: ${proc.command}${outputForError(proc)}`
  );
}

/**
 * Starts `$TEMPORAL_BIN server start-dev` on 127.0.0.1 and waits until it serves.
 *
 * @param {object} [opts]
 * @param {number} [opts.port] port to use (default: a free one)
 * @param {string} [opts.dbFilename] SQLite file (default: in-memory server)
 * @param {string[]} [opts.extraArgs]
 * @param {number} [opts.readyTimeoutMs]
 * @returns {Promise<{address: string, port: number, process: object,
 *   stop: (opts?: {timeoutMs?: number}) => Promise<object>, kill9: () => Promise<object>,
 *   output: () => string}>}
 */
async function startServer({ port, dbFilename, extraArgs = [], readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS } = {}) {
  const bin = serverBin();
  port = port ?? (await getFreePort());
  const args = ['server', 'start-dev', '--ip', LOOPBACK, '--port', String(port)];
  if (dbFilename) args.push('--db-filename', dbFilename);
  args.push('--namespace', 'default', '--log-level', 'warn', '--headless', ...extraArgs);
  const address = `${LOOPBACK}:${port}`;

  const proc = spawnTracked(bin, args);
  proc.command = [bin, ...args].join(' ');
  try {
    await waitUntilServing(address, proc, { timeoutMs: readyTimeoutMs });
  } catch (err) {
    await killAndWait(proc, 'SIGKILL');
    throw err;
  }

  return {
    address,
    port,
    process: proc,
    output: () => outputForError(proc),
    /** SIGTERM, then wait for exit; SIGKILL and reject if it does not exit within timeoutMs. */
    async stop({ timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
      if (proc.exitStatus) return proc.exitStatus;
      proc.child.kill('SIGTERM');
      try {
        return await withTimeout('server exit after SIGTERM', proc.exited, timeoutMs);
      } catch (err) {
        await killAndWait(proc, 'SIGKILL');
        throw new Error(`${err.message}; killed it with SIGKILL${outputForError(proc)}`);
      }
    },
    /** SIGKILL (a crash), and wait for the process to be gone. */
    kill9: () => killAndWait(proc, 'SIGKILL'),
  };
}

async function killAndWait(proc, signal) {
  if (proc.exitStatus) return proc.exitStatus;
  try {
    proc.child.kill(signal);
  } catch {
    // gone
  }
  return proc.exited;
}

// ---------------------------------------------------------------------------------------------
// SDK side: runtime, bundle, client, worker.

let runtimeInstalled = false;
/** Installs the SDK's Rust runtime once per process with WARN logging. */
function installRuntime() {
  if (runtimeInstalled) return;
  const { Runtime, DefaultLogger } = require('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger(process.env.INTEROP_SDK_LOG_LEVEL || 'WARN') });
  runtimeInstalled = true;
}

let bundlePromise;
/** Bundles interop/workflows.js once per process (slow: several seconds). */
function workflowBundle() {
  if (!bundlePromise) {
    const { bundleWorkflowCode, DefaultLogger } = require('@temporalio/worker');
    installRuntime();
    bundlePromise = bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: new DefaultLogger('WARN'),
    });
  }
  return bundlePromise;
}

/** A connected Client for `address` (namespace default); close with `connection.close()`. */
async function connectClient(address) {
  const { Client, Connection } = require('@temporalio/client');
  const connection = await Connection.connect({ address, connectTimeout: 10_000 });
  const client = new Client({ connection, namespace: 'default' });
  return { client, connection };
}

/** A NativeConnection (for workers) to `address`. */
async function connectNative(address) {
  installRuntime();
  const { NativeConnection } = require('@temporalio/worker');
  return NativeConnection.connect({ address });
}

/**
 * Creates a worker on a task queue and runs it while `fn(worker)` runs; resolves to fn's result.
 * The worker shuts down when fn settles, when `signal` aborts (e.g. the test's `t.signal` on a
 * test timeout) or in `cleanup()`.
 *
 * @param {object} opts
 * @param {import('@temporalio/worker').NativeConnection} opts.connection
 * @param {string} opts.taskQueue
 * @param {object} [opts.activities]
 * @param {object} [opts.workflowBundle] default: workflowBundle()
 * @param {AbortSignal} [opts.signal]
 * @param {object} [opts.workerOptions] extra WorkerOptions
 * @param {(worker) => Promise<T>} fn
 */
async function withWorker(opts, fn) {
  const worker = await createWorker(opts);
  return runWorker(worker, opts.signal, fn);
}

async function createWorker({ connection, taskQueue, activities, workflowBundle: bundle, workerOptions }) {
  installRuntime();
  const { Worker } = require('@temporalio/worker');
  return Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowBundle: bundle ?? (await workflowBundle()),
    activities: activities ?? require('./activities').activities,
    ...workerOptions,
  });
}

/** Runs an existing worker until fn(worker) settles (see withWorker). */
async function runWorker(worker, signal, fn) {
  const onAbort = () => shutdownWorker(worker);
  signal?.addEventListener('abort', onAbort, { once: true });
  const run = worker.runUntil(() => fn(worker));
  liveWorkers.set(worker, run.then(() => {}, () => {}));
  if (signal?.aborted) onAbort();
  try {
    return await run;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    liveWorkers.delete(worker);
  }
}

/**
 * Creates a worker and runs it in the background (for tests that must outlive one worker, e.g. a
 * server crash). Returns {worker, done, stop}: `done` resolves to {error} when the run ends (never
 * rejects); `stop()` shuts the worker down and waits for `done`.
 */
async function startWorker(opts) {
  const worker = await createWorker(opts);
  const done = worker.run().then(
    () => ({ error: undefined }),
    (error) => ({ error })
  );
  liveWorkers.set(worker, done);
  done.then(() => liveWorkers.delete(worker));
  const onAbort = () => shutdownWorker(worker);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  done.then(() => opts.signal?.removeEventListener('abort', onAbort));
  if (opts.signal?.aborted) onAbort();
  return {
    worker,
    done,
    async stop() {
      shutdownWorker(worker);
      return done;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// History helpers.

let eventTypeEnum;
/** 'WORKFLOW_EXECUTION_STARTED' etc. for a history event (eventType may be a number or a name). */
function eventTypeName(event) {
  if (!eventTypeEnum) eventTypeEnum = require('@temporalio/proto').temporal.api.enums.v1.EventType;
  const t = event.eventType;
  const name = typeof t === 'number' ? eventTypeEnum[t] : String(t);
  return name.replace(/^EVENT_TYPE_/, '');
}

/** Event type names of a workflow's history, in order. */
async function historyEventTypes(handle) {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map(eventTypeName);
}

/** Polls the history of `handle` until it contains an event of type `type` (e.g. 'TIMER_STARTED'). */
function waitForEvent(handle, type, { timeoutMs = 30_000 } = {}) {
  return waitFor(`${type} in the history of ${handle.workflowId}`, async () =>
    (await historyEventTypes(handle)).includes(type)
  , { timeoutMs });
}

module.exports = {
  LOOPBACK,
  getFreePort,
  uniqueId,
  waitFor,
  withTimeout,
  serverBin,
  spawnTracked,
  waitUntilServing,
  startServer,
  installRuntime,
  workflowBundle,
  connectClient,
  connectNative,
  withWorker,
  createWorker,
  runWorker,
  startWorker,
  shutdownWorkers,
  cleanup,
  eventTypeName,
  historyEventTypes,
  waitForEvent,
};
