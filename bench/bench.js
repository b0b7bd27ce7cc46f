'use strict';
// bench/: runs every benchmark against our dev server (its own process, loopback) with the C++
// worker and with the official TypeScript worker, and prints one table per benchmark: the C++
// figure, the TS figure measured in the same run, and their ratio. Medians of --runs runs.
// Started by scripts/bench.sh; see bench/README.md. No timing assertions: the exit status is
// non-zero only when something failed (a workflow, a process, a replay).
//
//   node bench/bench.js --bin-dir build/release [--smoke] [--runs N] [--duration S]
//                       [--only hello,latency,replay,memory,durability,transitions]
//                       [--concurrency C] [--memory-count N] [--ts-memory-count N] [--wft-slots N]
//                       [--latency-log-dir D]
// --latency-log-dir: the latency loads write each workflow's timeline there
// (temporal_bench load --latency-log; bench/README.md). --smoke writes them to a temporary
// directory and checks them.

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, spawnSync } = require('node:child_process');

// ---------------------------------------------------------------------------------------------
// Options.

function parseArgs(argv) {
  const opts = { smoke: false, binDir: 'build/release', only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--smoke') opts.smoke = true;
    else if (a === '--bin-dir') opts.binDir = next();
    else if (a === '--runs') opts.runs = Number(next());
    else if (a === '--duration') opts.duration = Number(next());
    else if (a === '--only') opts.only = new Set(next().split(','));
    else if (a === '--concurrency') opts.concurrency = Number(next());
    else if (a === '--memory-count') opts.memoryCount = Number(next());
    else if (a === '--ts-memory-count') opts.tsMemoryCount = Number(next());
    else if (a === '--wft-slots') opts.wftSlots = Number(next());
    else if (a === '--latency-log-dir') opts.latencyLogDir = next();
    else throw new Error(`unknown option ${a}`);
  }
  const d = opts.smoke
    ? { runs: 1, duration: 2, warmup: 0.5, memoryCount: 300, tsMemoryCount: 200, replaySeconds: 1, timers: 100, signals: 20 }
    : { runs: 3, duration: 30, warmup: 3, memoryCount: 100_000, tsMemoryCount: 2_000, replaySeconds: 3, timers: 1_800, signals: 400 };
  for (const [k, v] of Object.entries(d)) if (opts[k] === undefined) opts[k] = v;
  if (opts.concurrency === undefined) opts.concurrency = 200;
  if (opts.wftSlots === undefined) opts.wftSlots = 64;
  opts.latencyDuration = Math.min(opts.duration, 20);
  if (opts.smoke && opts.latencyLogDir === undefined) {
    opts.latencyLogDir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporalio-bench-latency-'));
    opts.latencyLogDirIsTemporary = true;
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const ROOT = path.resolve(__dirname, '..');
const BIN_DIR = path.resolve(ROOT, opts.binDir);
const TEMPORAL = path.join(BIN_DIR, 'src', 'cli', 'temporal');
const BENCH = path.join(BIN_DIR, 'bench', 'temporal_bench');
const TS_DIR = path.join(__dirname, 'ts');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-bench-'));
const TASKSET = spawnSync('taskset', ['--version']).status === 0 ? 'taskset' : null;
let failures = 0;

// ---------------------------------------------------------------------------------------------
// Processes.

const children = new Set();
function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', () => {
  killAll();
  fs.rmSync(WORK, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

/** Spawns a child; `onLine` sees each stdout line. Resolves `exited` with the exit code. */
function run(cmd, args, { onLine, stdin = 'ignore', name = path.basename(cmd) } = {}) {
  const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 16384) stderr = stderr.slice(-16384);
  });
  const lines = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    if (onLine) onLine(line);
  });
  child.exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 128 : 1));
    })
  );
  child.output = () => ({ lines, stderr });
  child.label = name;
  return child;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs to completion; returns the last stdout line parsed as JSON. */
async function runJson(cmd, args, { timeoutMs = 600_000, onLine } = {}) {
  const child = run(cmd, args, { onLine });
  const code = await withTimeout(child.exited, timeoutMs, `${path.basename(cmd)} ${args[0]}`);
  const { lines, stderr } = child.output();
  const last = [...lines].reverse().find((l) => l.startsWith('{'));
  if (code !== 0 || !last) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}\n${stderr}`);
  }
  return JSON.parse(last);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Server and workers.

let serverSeq = 0;
/** mode: 'FULL' | 'NORMAL' | 'memory'. */
async function startServer(mode = 'FULL') {
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'warn'];
  if (mode !== 'memory') {
    args.push('--db-filename', path.join(WORK, `server-${serverSeq++}.db`));
    args.push('--sqlite-pragma', `synchronous=${mode}`);
  }
  let ready;
  const readyP = new Promise((r) => (ready = r));
  const statsWaiters = [];
  const child = run(TEMPORAL, args, {
    name: 'server',
    onLine: (line) => {
      if (line.startsWith('Server:')) ready();
      if (line.startsWith('stats ')) statsWaiters.shift()?.(JSON.parse(line.slice(6)));
    },
  });
  await withTimeout(Promise.race([readyP, child.exited.then((c) => Promise.reject(new Error(`server exited ${c}: ${child.output().stderr}`)))]), 30_000, 'server');
  return {
    address: `127.0.0.1:${port}`,
    pid: child.pid,
    mode,
    /** Counters and the time they were read. */
    stats() {
      const p = new Promise((r) => statsWaiters.push(r));
      child.kill('SIGUSR1');
      return withTimeout(p, 10_000, 'server stats').then((s) => ({ ...s, t: performance.now() }));
    },
    async stop() {
      child.kill('SIGTERM');
      await withTimeout(child.exited, 30_000, 'server exit').catch(() => child.kill('SIGKILL'));
    },
  };
}

let queueSeq = 0;
async function startWorker(lang, server, { maxCached } = {}) {
  const taskQueue = `bench-${lang}-${process.pid}-${queueSeq++}`;
  let child;
  if (lang === 'cpp') {
    const args = ['worker', '--address', server.address, '--task-queue', taskQueue, '--wft-slots', String(opts.wftSlots),
      '--activity-pollers', '4'];
    if (maxCached) args.push('--max-cached', String(maxCached));
    child = run(BENCH, args, { stdin: 'pipe', name: 'cpp-worker' });
  } else {
    const args = [path.join(TS_DIR, 'worker.js'), server.address, taskQueue];
    if (maxCached) args.push(String(maxCached));
    child = run(process.execPath, args, { stdin: 'pipe', name: 'ts-worker' });
  }
  const readyP = new Promise((resolve) => {
    const check = setInterval(() => {
      if (child.output().lines.includes('ready')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.exited.then(() => clearInterval(check));
  });
  await withTimeout(
    Promise.race([readyP, child.exited.then((c) => Promise.reject(new Error(`${lang} worker exited ${c}: ${child.output().stderr}`)))]),
    120_000,
    `${lang} worker`
  );
  return {
    lang,
    taskQueue,
    pid: child.pid,
    async stop() {
      child.stdin.end();
      const code = await withTimeout(child.exited, 30_000, `${lang} worker exit`).catch(() => {
        child.kill('SIGKILL');
        return 'killed';
      });
      if (code !== 0) {
        process.stderr.write(`bench: ${lang} worker exited ${code}\n${child.output().stderr}\n`);
      }
    },
  };
}

/**
 * Runs a temporal_bench command that prints "mark start" / "mark end" around its measured
 * window; returns its JSON result and the server's counters at both marks.
 */
async function runMarked(server, args, timeoutMs) {
  const marks = {};
  const result = await runJson(BENCH, args, {
    timeoutMs,
    onLine: (line) => {
      if (line === 'mark start') marks.start = server.stats();
      if (line === 'mark end') marks.end = server.stats();
    },
  });
  const s0 = await marks.start;
  const s1 = await marks.end;
  return { result, s0, s1, dt: (s1.t - s0.t) / 1000 };
}

/** The store's rates between two stats snapshots dt seconds apart. */
function serverRates(s0, s1, dt) {
  return {
    events_per_s: (s1.events - s0.events) / dt,
    commits_per_s: (s1.transactions - s0.transactions) / dt,
    syncs_per_s: (s1.synced_commits - s0.synced_commits) / dt,
    // WAL fsyncs that took >= 10 ms in the window, and the time spent in them.
    slow_syncs: s1.slow_syncs - s0.slow_syncs,
    slow_sync_ms: (s1.slow_sync_micros - s0.slow_sync_micros) / 1000,
    batches_per_commit: (s1.batches - s0.batches) / Math.max(1, s1.transactions - s0.transactions),
  };
}

/** One load run; adds the server's counters over the measured window. */
async function load(server, worker, { mode, concurrency, rate, duration, warmup, latencyLog }) {
  const args = ['load', '--address', server.address, '--task-queue', worker.taskQueue, '--mode', mode,
    '--duration', String(duration), '--warmup', String(warmup), '--payload', '1024'];
  if (concurrency) args.push('--concurrency', String(concurrency));
  if (rate) args.push('--rate', String(rate));
  if (latencyLog) args.push('--latency-log', latencyLog);
  if (mode === 'open') args.push('--stall-probe', '1');
  const { result, s0, s1, dt } = await runMarked(server, args, (duration + warmup + 120) * 1000);
  if (latencyLog) {
    // A header, then one line per completed workflow, each with its three times in order.
    const lines = fs.readFileSync(latencyLog, 'utf8').trim().split('\n');
    const rows = lines.slice(1).map((l) => l.split('\t'));
    const ordered = rows.every((r) => r.length === 4 && Number(r[1]) <= Number(r[2]) && Number(r[2]) <= Number(r[3]));
    if (lines[0] !== 'workflow_id\tscheduled_us\tstart_reply_us\tresult_us' || rows.length !== result.completed || !ordered) {
      throw new Error(`${latencyLog}: expected ${result.completed} ordered timelines, got ${rows.length}`);
    }
  }
  result.server = {
    ...serverRates(s0, s1, dt),
    max_group_batches: s1.max_group_batches,
    eager_activities_per_wf: (s1.eager_activities - s0.eager_activities) / Math.max(1, result.throughput * dt),
  };
  if (result.failed > 0) {
    failures++;
    process.stderr.write(`bench: ${result.failed} workflows failed (${worker.lang}, ${mode})\n`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Output.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function fmt(x, digits) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return 'n/a';
  if (digits === undefined) digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
/** "median (run1, run2, ...)" */
function med(xs, digits) {
  return xs.length > 1 ? `${fmt(median(xs), digits)} (${xs.map((x) => fmt(x, digits)).join(', ')})` : fmt(xs[0], digits);
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${fmt(a / b, 2)}x` : 'n/a');

function table(title, note, header, rows) {
  const out = [`\n### ${title}`, note ? `${note}\n` : '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  console.log(out.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

const results = { hello: {}, latency: {}, replay: {}, memory: {}, durability: {}, transitions: {} };
const want = (name) => !opts.only || opts.only.has(name);

async function helloRuns(lang, mode) {
  const server = await startServer(mode);
  const worker = await startWorker(lang, server);
  const runs = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      runs.push(await load(server, worker, { mode: 'closed', concurrency: opts.concurrency, duration: opts.duration, warmup: opts.warmup }));
    }
  } finally {
    await worker.stop();
    await server.stop();
  }
  return runs;
}

async function benchHello() {
  for (const lang of ['cpp', 'ts']) results.hello[lang] = await helloRuns(lang, 'FULL');
  const c = results.hello.cpp;
  const t = results.hello.ts;
  const col = (runs, f) => runs.map(f);
  const row = (label, f, digits, withRatio = true) => {
    const a = col(c, f);
    const b = col(t, f);
    return [label, med(a, digits), med(b, digits), withRatio ? ratio(median(a), median(b)) : ''];
  };
  table(
    '1. Hello throughput',
    `BenchHello (1 activity, 1 KiB payload in and out), closed loop with ${opts.concurrency} workflows in flight, ` +
      `${opts.duration} s per run after ${opts.warmup} s warm-up, SQLite WAL synchronous=FULL; median (runs). ` +
      `C++ worker: ${opts.wftSlots} workflow-task slots, 4 activity pollers (activities start eagerly), jemalloc; TS worker: the SDK's defaults.`,
    ['metric', 'C++ worker', 'TS worker', 'C++/TS'],
    [
      row('completed workflows/s', (r) => r.throughput),
      row('failed workflows', (r) => r.failed, 0, false),
      row('server events committed/s', (r) => r.server.events_per_s),
      row('server commits (transactions)/s', (r) => r.server.commits_per_s),
      row('server WAL fsyncs/s', (r) => r.server.syncs_per_s),
      row('write batches per commit', (r) => r.server.batches_per_commit, 1),
      row('activities started eagerly per workflow', (r) => r.server.eager_activities_per_wf, 2, false),
      row('client p50 start-to-result ms', (r) => r.p50_ms, 1),
    ]
  );
}

async function benchLatency() {
  const sat = {};
  for (const lang of ['cpp', 'ts']) {
    sat[lang] = results.hello[lang] ? median(results.hello[lang].map((r) => r.throughput)) : null;
  }
  if (!sat.cpp || !sat.ts) {
    // Measure the saturating rates first (one short run each) when hello was skipped.
    for (const lang of ['cpp', 'ts']) {
      const server = await startServer('FULL');
      const worker = await startWorker(lang, server);
      try {
        sat[lang] = (await load(server, worker, { mode: 'closed', concurrency: opts.concurrency, duration: Math.min(opts.duration, 10), warmup: opts.warmup })).throughput;
      } finally {
        await worker.stop();
        await server.stop();
      }
    }
  }
  for (const lang of ['cpp', 'ts']) {
    results.latency[lang] = {};
    const server = await startServer('FULL');
    const worker = await startWorker(lang, server);
    try {
      for (const pct of [10, 50]) {
        const rate = Math.max(1, (sat[lang] * pct) / 100);
        const runs = [];
        for (let i = 0; i < opts.runs; i++) {
          const latencyLog = opts.latencyLogDir && path.join(opts.latencyLogDir, `latency-${lang}-${pct}pct-run${i + 1}.tsv`);
          runs.push(await load(server, worker, { mode: 'open', rate, duration: opts.latencyDuration, warmup: opts.warmup, latencyLog }));
        }
        results.latency[lang][pct] = { rate, runs };
      }
    } finally {
      await worker.stop();
      await server.stop();
    }
  }
  const rows = [];
  for (const pct of [10, 50]) {
    const c = results.latency.cpp[pct];
    const t = results.latency.ts[pct];
    rows.push([`${pct}% load: rate (wf/s)`, fmt(c.rate, 0), fmt(t.rate, 0), '']);
    for (const p of ['p50', 'p90', 'p99']) {
      const a = c.runs.map((r) => r[`${p}_ms`]);
      const b = t.runs.map((r) => r[`${p}_ms`]);
      rows.push([`${pct}% load: ${p} ms`, med(a, 1), med(b, 1), ratio(median(b), median(a)) + ' (TS/C++)']);
    }
    rows.push([`${pct}% load: failed`, med(c.runs.map((r) => r.failed), 0), med(t.runs.map((r) => r.failed), 0), '']);
    // What the host did to the window: a latency tail that these explain is not the server's.
    const pairs = (runs, n, ms) => runs.map((r) => `${fmt(n(r), 0)} / ${fmt(ms(r), 0)}`).join(', ');
    const slowSyncs = (runs) => pairs(runs, (r) => r.server.slow_syncs, (r) => r.server.slow_sync_ms);
    const cpuStalls = (runs) => pairs(runs, (r) => r.cpu_stalls, (r) => r.max_cpu_stall_ms);
    rows.push([`${pct}% load: WAL fsyncs >= 10 ms: count / ms in them (runs)`, slowSyncs(c.runs), slowSyncs(t.runs), '']);
    rows.push([`${pct}% load: CPU stalls >= 5 ms: count / longest ms (runs)`, cpuStalls(c.runs), cpuStalls(t.runs), '']);
  }
  table(
    '2. Latency (open loop)',
    `Client-measured start-to-result of BenchHello at 10% and 50% of each worker's own saturating rate (benchmark 1), ` +
      `fixed-interval starts, latency from the scheduled start; ${opts.latencyDuration} s per run, synchronous=FULL; median (runs). ` +
      `The last two rows per load say what the host did meanwhile: WAL fsyncs the disk held >= 10 ms (every commit waits for its fsync), ` +
      `and times a CPU stopped running >= 5 ms (the load's probe threads, one pinned per CPU, woke that late: on a VM, the host descheduled the vCPU).`,
    ['metric', 'C++ worker', 'TS worker', 'ratio'],
    rows
  );
}

async function benchReplay() {
  // Histories: each language's worker runs the workflows once against the server.
  const kinds = [
    ['hello', ['--kind', 'hello']],
    ['100 activities', ['--kind', 'activities', '--activities', '100']],
    ['timer+signal', ['--kind', 'timer-signal', '--timers', String(opts.timers), '--signals', String(opts.signals)]],
  ];
  const files = {};
  const server = await startServer('FULL');
  try {
    for (const lang of ['cpp', 'ts']) {
      const worker = await startWorker(lang, server);
      try {
        for (const [kind, extra] of kinds) {
          const out = path.join(WORK, `history-${lang}-${kind.replace(/\W+/g, '-')}.bin`);
          const gen = await runJson(BENCH, ['gen-history', '--address', server.address, '--task-queue', worker.taskQueue, '--out', out, ...extra]);
          files[`${lang}/${kind}`] = { out, events: gen.events };
        }
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await server.stop();
  }
  const pin = (cmd, args) => (TASKSET ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args]);
  const rows = [];
  for (const [kind] of kinds) {
    const r = { cpp: [], ts: [] };
    for (let i = 0; i < opts.runs; i++) {
      r.cpp.push(await runJson(...pin(BENCH, ['replay', '--history', files[`cpp/${kind}`].out, '--seconds', String(opts.replaySeconds)])));
      r.ts.push(await runJson(...pin(process.execPath, [path.join(TS_DIR, 'replay.js'), files[`ts/${kind}`].out, String(opts.replaySeconds)])));
    }
    results.replay[kind] = r;
    const ev = (x) => x.map((y) => y.events_per_s);
    const hs = (x) => x.map((y) => y.histories_per_s);
    rows.push([`${kind}: events per history`, fmt(files[`cpp/${kind}`].events, 0), fmt(files[`ts/${kind}`].events, 0), '']);
    rows.push([`${kind}: events/s`, med(ev(r.cpp), 0), med(ev(r.ts), 0), ratio(median(ev(r.cpp)), median(ev(r.ts)))]);
    rows.push([`${kind}: histories/s`, med(hs(r.cpp), 1), med(hs(r.ts), 1), ratio(median(hs(r.cpp)), median(hs(r.ts)))]);
    const cpu = (x) => x.map((y) => y.events_per_cpu_s);
    rows.push([`${kind}: events per CPU-second`, med(cpu(r.cpp), 0), med(cpu(r.ts), 0), ratio(median(cpu(r.cpp)), median(cpu(r.ts)))]);
  }
  table(
    '3. Replay (offline, one core)',
    `Each language replays the history its own worker produced for the same workflow logic ` +
      `(C++ workflow::Replayer; TS Worker.runReplayHistories with a pre-built bundle, one untimed warm-up call), ` +
      `${TASKSET ? 'pinned with taskset -c 0' : 'not pinned (no taskset)'}, >= ${opts.replaySeconds} s per run; median (runs). ` +
      `events/s is wall clock; events per CPU-second divides by the process's CPU time (all threads).`,
    ['metric', 'C++', 'TS', 'C++/TS'],
    rows
  );
}

async function waitForEvents(server, target, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await server.stats();
    if (s.events >= target) return s;
    if (Date.now() > deadline) throw new Error(`server has ${s.events} events, waited for ${target}`);
    await sleep(250);
  }
}

async function waitForFrozen(server, target, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await server.stats();
    if (s.frozen_runs === undefined || s.frozen_runs >= target) return s;
    if (Date.now() > deadline) throw new Error(`server has ${s.frozen_runs} idle runs frozen, waited for ${target}`);
    await sleep(250);
  }
}

async function memoryRun(lang, count) {
  const server = await startServer('FULL');
  const worker = await startWorker(lang, server, { maxCached: count + 1000 });
  try {
    // Warm-up: a few cached workflows, so one-time allocations are not counted.
    const warm = Math.min(100, count);
    const s0 = await server.stats();
    await runJson(BENCH, ['start-sleepers', '--address', server.address, '--task-queue', worker.taskQueue, '--count', String(warm)]);
    // Each BenchSleep that reached its timer has 5 events (started, WFT scheduled/started/completed, timer started).
    await waitForEvents(server, s0.events + 5 * warm, 120_000);
    await waitForFrozen(server, warm, 120_000);
    await sleep(1000);
    const before = { worker: rssKiB(worker.pid), server: rssKiB(server.pid), heap: (await server.stats()).heap_in_use_bytes };
    const s1 = await server.stats();
    const started = await runJson(BENCH, ['start-sleepers', '--address', server.address, '--task-queue', worker.taskQueue, '--count', String(count)], { timeoutMs: 1_800_000 });
    if (started.failed > 0) failures++;
    await waitForEvents(server, s1.events + 5 * count, 1_800_000);
    // The server keeps idle runs serialized once untouched for ~3 s: measure
    // that steady state (the runs wait an hour), not the moment they parked.
    await waitForFrozen(server, warm + count, 600_000);
    await sleep(1000);
    const after = { worker: rssKiB(worker.pid), server: rssKiB(server.pid), heap: (await server.stats()).heap_in_use_bytes };
    return {
      count,
      worker_bytes_per_wf: ((after.worker - before.worker) * 1024) / count,
      server_bytes_per_wf: ((after.server - before.server) * 1024) / count,
      server_heap_bytes_per_wf: (after.heap - before.heap) / count,
      before,
      after,
      start_seconds: started.seconds,
    };
  } finally {
    await worker.stop();
    await server.stop();
  }
}

async function benchMemory() {
  results.memory.cpp = await memoryRun('cpp', opts.memoryCount);
  results.memory.ts = await memoryRun('ts', opts.tsMemoryCount);
  const c = results.memory.cpp;
  const t = results.memory.ts;
  table(
    '4. Memory per cached workflow',
    `BenchSleep workflows blocked on a 1-hour timer, all in the worker's cache: (RSS after - RSS before) / N, ` +
      `after 100 warm-up workflows. One run (RSS growth is not noisy at this N). Server: measured once every ` +
      `parked run is idle (kept serialized), as it stays for the hour.`,
    ['metric', 'C++ worker', 'TS worker', 'TS/C++'],
    [
      ['cached workflows N', fmt(c.count, 0), fmt(t.count, 0), ''],
      ['worker bytes per cached workflow', fmt(c.worker_bytes_per_wf, 0), fmt(t.worker_bytes_per_wf, 0), ratio(t.worker_bytes_per_wf, c.worker_bytes_per_wf)],
      ['worker RSS before / after (MiB)', `${fmt(c.before.worker / 1024, 1)} / ${fmt(c.after.worker / 1024, 1)}`, `${fmt(t.before.worker / 1024, 1)} / ${fmt(t.after.worker / 1024, 1)}`, ''],
      ['server bytes per open workflow', fmt(c.server_bytes_per_wf, 0), fmt(t.server_bytes_per_wf, 0), ''],
      ['server heap in use per open workflow (malloc)', fmt(c.server_heap_bytes_per_wf, 0), fmt(t.server_heap_bytes_per_wf, 0), ''],
      ['server RSS before / after (MiB)', `${fmt(c.before.server / 1024, 1)} / ${fmt(c.after.server / 1024, 1)}`, `${fmt(t.before.server / 1024, 1)} / ${fmt(t.after.server / 1024, 1)}`, ''],
    ]
  );
}

async function benchDurability() {
  const modes = ['FULL', 'NORMAL', 'memory'];
  for (const mode of modes) {
    if (mode === 'FULL' && results.hello.cpp) results.durability.FULL = results.hello.cpp;
    else results.durability[mode] = await helloRuns('cpp', mode);
  }
  const tp = (m) => results.durability[m].map((r) => r.throughput);
  const full = median(tp('FULL'));
  table(
    '5. Durability cost (C++ worker)',
    `Benchmark 1's load with the server on SQLite WAL synchronous=FULL, synchronous=NORMAL, and in memory; median (runs).`,
    ['store', 'completed workflows/s', 'server events/s', 'commits/s', 'WAL fsyncs/s', 'vs FULL'],
    modes.map((m) => {
      const runs = results.durability[m];
      return [
        m === 'memory' ? 'in-memory' : `synchronous=${m}`,
        med(tp(m)),
        fmt(median(runs.map((r) => r.server.events_per_s))),
        fmt(median(runs.map((r) => r.server.commits_per_s))),
        fmt(median(runs.map((r) => r.server.syncs_per_s))),
        ratio(median(tp(m)), full),
      ];
    })
  );
}

/** Server capacity: durable state transitions/s with no worker in the way. */
async function benchTransitions() {
  const workflows = opts.smoke ? 50 : 1000;
  const server = await startServer('FULL');
  const runs = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const args = ['signal-load', '--address', server.address, '--task-queue', `bench-signal-${process.pid}-${i}`,
        '--workflows', String(workflows), '--concurrency', String(opts.concurrency), '--duration', String(opts.duration),
        '--warmup', String(opts.warmup), '--payload', '1024'];
      const { result: r, s0, s1, dt } = await runMarked(server, args, (opts.duration + opts.warmup + 180) * 1000);
      r.server = serverRates(s0, s1, dt);
      if (r.failed > 0) failures++;
      runs.push(r);
    }
  } finally {
    await server.stop();
  }
  results.transitions = runs;
  const col = (f) => med(runs.map(f));
  table(
    '6. Server durable state transitions (no worker)',
    `SignalWorkflowExecution (1 KiB input) closed loop, ${opts.concurrency} in flight round robin over ${fmt(workflows, 0)} ` +
      `workflows on a task queue nobody polls: every signal is one acknowledged, fsync-covered write batch ` +
      `with one history event. SQLite WAL synchronous=FULL, ${opts.duration} s per run; median (runs). The hello ` +
      `benchmark's "server events committed/s" is the same figure with a worker and the load sharing the CPUs.`,
    ['metric', 'value'],
    [
      ['signals acknowledged/s', col((r) => r.signals_per_s)],
      ['server events (state transitions) committed/s', col((r) => r.server.events_per_s)],
      ['server commits (transactions)/s', col((r) => r.server.commits_per_s)],
      ['server WAL fsyncs/s', col((r) => r.server.syncs_per_s)],
      ['write batches per commit', col((r) => r.server.batches_per_commit)],
      ['failed signals', col((r) => r.failed)],
    ]
  );
}

async function main() {
  for (const f of [TEMPORAL, BENCH]) {
    if (!fs.existsSync(f)) throw new Error(`${f} not found: build the 'temporal' and 'temporal_bench' targets`);
  }
  const load1 = os.loadavg()[0];
  console.log(
    `# temporalio-cpp benchmarks${opts.smoke ? ' (smoke: a few seconds each; figures not meaningful)' : ''}\n` +
      `${new Date().toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${fmt(load1, 2)} at start, ` +
      `node ${process.version}, runs=${opts.runs}`
  );
  if (want('hello')) await benchHello();
  if (want('latency')) await benchLatency();
  if (want('replay')) await benchReplay();
  if (want('memory')) await benchMemory();
  if (want('durability')) await benchDurability();
  if (want('transitions')) await benchTransitions();
  console.log(`\nload average at end: ${fmt(os.loadavg()[0], 2)}`);
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 1));
  if (failures > 0) {
    console.error(`bench: ${failures} failure(s)`);
    process.exitCode = 1;
  }
}

const removeTemporaryLogs = () => {
  if (opts.latencyLogDirIsTemporary) fs.rmSync(opts.latencyLogDir, { recursive: true, force: true });
};
main().then(
  () => {
    removeTemporaryLogs();
    process.exit(process.exitCode ?? 0);
  },
  (err) => {
    console.error(`bench: ${err.stack || err}`);
    removeTemporaryLogs();
    process.exit(1);
  }
);
