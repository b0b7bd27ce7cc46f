'use strict';
// The benchmark workflows for the TypeScript peer: the same logic, names and
// arguments as bench/cpp/bench_workflows.h.
const { proxyActivities, sleep, condition, defineSignal, setHandler } = require('@temporalio/workflow');

const { BenchEcho } = proxyActivities({ startToCloseTimeout: '30s' });
const poke = defineSignal('poke');

/** One activity round trip (1 KiB payload in and out). */
async function BenchHello(payload) {
  return await BenchEcho(payload);
}

/** n activities one after the other. */
async function BenchActivities(n, payload) {
  for (let i = 0; i < n; i++) await BenchEcho(payload);
  return n;
}

/** `timers` 1 ms timers one after the other, then waits for `signals` "poke" signals. */
async function BenchTimerSignal(timers, signals) {
  let received = 0;
  setHandler(poke, () => {
    received++;
  });
  for (let i = 0; i < timers; i++) await sleep(1);
  await condition(() => received >= signals);
  return received;
}

/** Blocks on a one-hour timer. */
async function BenchSleep() {
  await sleep('1 hour');
}

module.exports = { BenchHello, BenchActivities, BenchTimerSignal, BenchSleep };
