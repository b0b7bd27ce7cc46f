'use strict';
// A TypeScript SDK worker in its own process, for tests driven from C++:
//   node interop/ts-worker.js <address> <task-queue>
// Prints "ready" once polling; exits on SIGTERM/SIGINT or when stdin closes.
const { Worker, NativeConnection, Runtime, DefaultLogger } = require('@temporalio/worker');
const { activities } = require('./activities');

async function main() {
  const [address, taskQueue] = process.argv.slice(2);
  if (!address || !taskQueue) throw new Error('usage: ts-worker.js <address> <task-queue>');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities,
  });
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
