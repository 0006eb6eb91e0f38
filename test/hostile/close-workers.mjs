// Run by faults.test.ts: `node close-workers.mjs ROOT` (ROOT: the built project), with
// BREACH_IMPACT_BATCH_BYTES small enough to cut a few blocks per worker.
//
// Two parsing workers are given blocks and have replied, but this thread has not yet taken their
// replies when closeWorkers() stops them (as after a failure in the middle of a reading). The
// replies then arrive while the workers are being terminated. Prints "closed" once closeWorkers()
// has settled, with how many times a worker was unreferenced after its terminate() was called:
// that let the event loop run dry and the process end with exit 0 before "closed".
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = process.argv[2];
const terminated = new WeakSet();
let late = 0;
const { terminate, unref } = Worker.prototype;
Worker.prototype.terminate = function () {
  terminated.add(this);
  return terminate.call(this);
};
Worker.prototype.unref = function () {
  if (terminated.has(this)) late++;
  return unref.call(this);
};

const { ParallelLines, closeWorkers } = await import(pathToFileURL(`${root}/dist/ingest/workers.js`).href);
const { Tally } = await import(pathToFileURL(`${root}/dist/core/tally.js`).href);
const { RECORD_ID_KEY_BYTES } = await import(pathToFileURL(`${root}/dist/core/identity.js`).href);

const tally = new Tally({}, new Uint8Array(RECORD_ID_KEY_BYTES), { put() {}, putParts() {}, takeBack() {} });
const lines = new ParallelLines('mixpanel-events', new Map(), 2, tally, { encodingErrors() {}, reject() {}, counted() {} });
const text = (from) =>
  Buffer.from(Array.from({ length: 200 }, (_, i) => JSON.stringify({ event: 'e', properties: { distinct_id: `u${from + i}`, $insert_id: `i${from + i}`, time: 1762000000 } })).join('\n') + '\n');

// the workers started and warm: every block of a first part applied
lines.push(text(0));
await lines.settle(0);
// then more blocks, and this thread busy while the workers read them and reply
lines.push(text(200));
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
closeWorkers().then(() => process.stdout.write(`closed; unref after terminate: ${late}\n`));
