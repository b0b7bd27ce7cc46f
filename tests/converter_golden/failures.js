// Prints the Failure protos the official TypeScript SDK (@temporalio/common)
// produces; the C++ failure converter tests hard-code these fields.
// Run: NODE_PATH=<repo>/interop/node_modules node tests/converter_golden/failures.js
const common = require('@temporalio/common');
const version = require('@temporalio/common/package.json').version;
console.log(`# @temporalio/common ${version}`);

// Bytes as latin1 strings, undefined fields dropped.
function plain(x) {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('latin1');
  if (Array.isArray(x)) return x.map(plain);
  if (x && typeof x === 'object') {
    const o = {};
    for (const [k, v] of Object.entries(x)) if (v !== undefined) o[k] = plain(v);
    return o;
  }
  return x;
}

const pc = common.defaultPayloadConverter;
const cause = common.ApplicationFailure.create({ message: 'inner', type: 'InnerType' });
const err = common.ApplicationFailure.create({
  message: 'card declined',
  type: 'PaymentError',
  nonRetryable: true,
  details: ['order-1', 42, { reason: 'limit' }],
  nextRetryDelay: '5s',
  cause,
});
cause.stack = 'ApplicationFailure: inner\n    at inner (a.js:1:1)';
err.stack = 'ApplicationFailure: card declined\n    at outer (b.js:2:2)';
const f1 = new common.DefaultFailureConverter().errorToFailure(err, pc);
console.log(`application: ${JSON.stringify(plain(f1))}`);
// Wire bytes of the same Failure, for the C++ test to parse and decode.
const proto = require('@temporalio/proto');
const wire = proto.temporal.api.failure.v1.Failure.encode(f1).finish();
console.log(`application_wire_base64: ${Buffer.from(wire).toString('base64')}`);
const encoded = new common.DefaultFailureConverter({ encodeCommonAttributes: true });
const e2 = common.ApplicationFailure.create({ message: 'secret message', type: 'T' });
e2.stack = 'Error: secret message\n    at foo (bar.js:1:2)';
const f2 = encoded.errorToFailure(e2, pc);
console.log(`encoded: ${JSON.stringify(plain(f2))}`);
// And decoding it restores message and stack.
const back = encoded.failureToError(f2, pc);
console.log(`decoded: message=${JSON.stringify(back.message)} stack=${JSON.stringify(back.stack)}`);
