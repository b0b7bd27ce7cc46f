'use strict';
// The official TypeScript SDK's hello world: one workflow, one activity.
const { proxyActivities } = require('@temporalio/workflow');

const { greet } = proxyActivities({ startToCloseTimeout: '10 seconds' });

async function helloWorkflow(name) {
  return await greet(name);
}

module.exports = { helloWorkflow };
