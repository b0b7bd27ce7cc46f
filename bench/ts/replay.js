'use strict';
// Replays one history (binary temporal.api.history.v1.History, as written by
// `temporal_bench gen-history`) with the official SDK's Worker.runReplayHistories,
// in a loop for at least `seconds`; prints JSON like `temporal_bench replay`.
//   node bench/ts/replay.js <history.bin> [seconds] [minCount]
// The workflow bundle is built once beforehand and one warm-up call is not timed.
const fs = require('node:fs');
const { Worker, bundleWorkflowCode, Runtime, DefaultLogger } = require('@temporalio/worker');
const { temporal } = require('@temporalio/proto');

async function replayBatch(options, history, batch, tag) {
  const inputs = [];
  for (let i = 0; i < batch; i++) inputs.push({ workflowId: `replay-${tag}-${i}`, history });
  let n = 0;
  for await (const result of Worker.runReplayHistories(options, inputs)) {
    if (result.error) throw result.error;
    n++;
  }
  return n;
}

async function main() {
  const [file, secondsArg, minCountArg] = process.argv.slice(2);
  const seconds = Number(secondsArg ?? 3);
  const minCount = Number(minCountArg ?? 3);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const history = temporal.api.history.v1.History.decode(fs.readFileSync(file));
  const events = history.events.length;
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const options = { workflowBundle: bundle };
  await replayBatch(options, history, 1, 'warmup');
  // One call replays `batch` copies; the batch grows until one call lasts `seconds`, so the
  // replay worker's start-up inside each call is amortized. Only the last call is reported.
  let batch = 4;
  let count = 0;
  let elapsed = 0;
  let cpu = 0;
  for (let round = 0; ; round++) {
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    count = await replayBatch(options, history, batch, String(round));
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu0);
    cpu = (used.user + used.system) / 1e6; // all threads of the process (incl. sdk-core's)
    if ((elapsed >= seconds && count >= minCount) || batch >= 200_000) break;
    batch = Math.ceil(batch * Math.min(10, Math.max(2, (seconds * 1.2) / Math.max(elapsed, 1e-3))));
  }
  process.stdout.write(
    JSON.stringify({
      histories: count,
      events_per_history: events,
      seconds: elapsed,
      cpu_seconds: cpu,
      histories_per_s: count / elapsed,
      events_per_s: (count * events) / elapsed,
      events_per_cpu_s: (count * events) / cpu,
      batch,
    }) + '\n'
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  }
);
