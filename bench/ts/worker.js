'use strict';
// The TypeScript peer worker for bench/: the official SDK's Worker with the
// benchmark workflows and the BenchEcho activity.
//   node bench/ts/worker.js <address> <task-queue> [maxCachedWorkflows]
// Prints "ready" once polling; stops when stdin closes (or SIGTERM/SIGINT).
// Everything else is the SDK's defaults (what a user gets).
const { Worker, NativeConnection, Runtime, DefaultLogger } = require('@temporalio/worker');

const activities = {
  async BenchEcho(payload) {
    return payload;
  },
};

async function main() {
  const [address, taskQueue, maxCached] = process.argv.slice(2);
  if (!address || !taskQueue) throw new Error('usage: worker.js <address> <task-queue> [maxCachedWorkflows]');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const options = {
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities,
  };
  if (maxCached) options.maxCachedWorkflows = Number(maxCached);
  const worker = await Worker.create(options);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    worker.shutdown();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  }
);
