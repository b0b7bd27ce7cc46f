'use strict';
// Activities for the interop suite. They run in the test process, so tests can observe and steer
// them through `gate(key)`.

const { Context } = require('@temporalio/activity');

/** (a) Returns its object argument with a few derived fields. */
async function echo(input) {
  return { received: input, keys: Object.keys(input ?? {}).sort(), greeting: `hello ${input?.name}` };
}

/** (d) Throws (retryably) until attempt `n`; returns the attempt number. */
async function failUntilAttempt(n) {
  const { attempt } = Context.current().info;
  if (attempt < n) throw new Error(`deliberate failure on attempt ${attempt}`);
  return attempt;
}

/** (e) Sleeps `ms`, giving up when cancelled (Context.sleep rejects on cancellation). */
async function sleepFor(ms) {
  await Context.current().sleep(ms);
  return `slept ${ms}`;
}

// Gates: a test creates gate(key), waits on `started`, then calls release(value).
const gates = new Map();

function gate(key) {
  let g = gates.get(key);
  if (!g) {
    g = { attempts: [] };
    g.started = new Promise((resolve) => (g.markStarted = resolve));
    g.released = new Promise((resolve) => (g.release = resolve));
    gates.set(key, g);
  }
  return g;
}

/** Blocks until the test releases gate(key) (or the activity is cancelled); returns the value. */
async function blockUntilReleased(key) {
  const ctx = Context.current();
  const g = gate(key);
  g.attempts.push(ctx.info.attempt);
  g.markStarted(ctx.info);
  const value = await Promise.race([g.released, ctx.cancelled]);
  return { released: value, attempt: ctx.info.attempt };
}

// Only functions are registered as activities; `gate` is for the tests.
const activities = { echo, failUntilAttempt, sleepFor, blockUntilReleased };

module.exports = { ...activities, activities, gate };
