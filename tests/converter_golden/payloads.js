// Prints the payloads the official TypeScript SDK (@temporalio/common) produces
// for a set of values; the C++ converter tests hard-code these as golden bytes.
// Run: NODE_PATH=<repo>/interop/node_modules node tests/converter_golden/payloads.js
const common = require('@temporalio/common');
const { DefaultPayloadConverterWithProtobufs } = require('@temporalio/common/lib/protobufs');
// @temporalio/proto is built with another protobufjs copy than the converter's,
// so declare the message (same name and fields as the Temporal API) inline.
const protobufjs = require('@temporalio/common/node_modules/protobufjs');

const version = require('@temporalio/common/package.json').version;
console.log(`# @temporalio/common ${version}`);

function show(name, p) {
  const meta = Object.keys(p.metadata)
    .sort()
    .map((k) => `${k}=${Buffer.from(p.metadata[k]).toString()}`)
    .join(' ');
  const data = p.data ? Buffer.from(p.data) : Buffer.alloc(0);
  console.log(`${name}: [${meta}] data=${JSON.stringify(data.toString('latin1'))} hex=${data.toString('hex')}`);
}

const c = common.defaultPayloadConverter;
show('string', c.toPayload('hello'));
show('string_unicode', c.toPayload('h\u00e9llo \u{1F600} "q" \\ \n\t\u0001'));
show('int', c.toPayload(42));
show('negative', c.toPayload(-7));
show('double', c.toPayload(1.5));
show('double_integral', c.toPayload(3.0));
show('double_small', c.toPayload(0.1));
show('exp_small', c.toPayload(1e-7));
show('exp_small2', c.toPayload(1.5e-7));
show('tiny', c.toPayload(0.000001));
show('exp_large', c.toPayload(1e21));
show('exp_huge', c.toPayload(-1.5e300));
show('int_1e20', c.toPayload(1e20));
show('frac', c.toPayload(123456789.125));
show('neg_zero', c.toPayload(-0));
show('string_misc', c.toPayload('a/b\x7f\u2028\x1f\b\f\r'));
show('large', c.toPayload(9007199254740991));
show('bool', c.toPayload(true));
show('object', c.toPayload({ id: 'o-1', qty: 2 }));
show('nested', c.toPayload({ a: [1, 2, 3], b: { c: null, d: 'x' } }));
show('array', c.toPayload([1, 'two', false]));
show('empty_array', c.toPayload([]));
show('null', c.toPayload(null));
show('undefined', c.toPayload(undefined));
show('bytes', c.toPayload(new Uint8Array([0, 1, 2, 0xff])));
show('empty_string', c.toPayload(''));

const { root } = protobufjs.parse(
  'syntax = "proto3"; package temporal.api.common.v1;' +
    'message WorkflowExecution { string workflow_id = 1; string run_id = 2; }'
);
const pc = new DefaultPayloadConverterWithProtobufs({ protobufRoot: root });
const we = root.lookupType('temporal.api.common.v1.WorkflowExecution').create({ workflowId: 'wf-1', runId: 'run-1' });
show('proto_json', pc.toPayload(we));
