'use strict';
// Runs the TypeScript SDK's hello world against a running server:
//   temporal server start-dev &   then   node interop/examples/hello.js
// Address from TEMPORAL_ADDRESS (default 127.0.0.1:7233), as the official CLI and SDKs.
const { Connection, Client } = require('@temporalio/client');
const { Worker, NativeConnection, Runtime, DefaultLogger } = require('@temporalio/worker');

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  const taskQueue = 'hello-world';
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('./hello-workflows'),
    activities: { greet: async (name) => `Hello, ${name}!` },
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const result = await worker.runUntil(
    client.workflow.execute('helloWorkflow', {
      taskQueue,
      workflowId: `hello-${Date.now()}`,
      args: ['Temporal'],
    })
  );
  console.log(`Workflow result: ${result}`);
  await connection.close();
  await nativeConnection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
