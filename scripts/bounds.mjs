#!/usr/bin/env node
/**
 * What the parts of correlate's work cost at the least, on this machine, for one NDJSON export and
 * its internal database: the numbers behind "Issue 25: what the targets need" in
 * docs/performance.md. Run after `npm run build`:
 *
 *   node scripts/bounds.mjs EVENTS.ndjson INTERNAL.sqlite [--lines N] [--threads N]
 *
 * It prints, one line each (JSON):
 * - floor: the bench's parse floor (scripts/bench.mjs --floor: node:readline + JSON.parse per
 *   line, one thread), timed from the outside as the bench times it;
 * - parse: the lines decoded and JSON.parsed on --threads workers (default 2), blocks of whole lines
 *   cut by the main thread: what any reading that parses every record costs at the least;
 * - record: per record, on one thread, over the first --lines lines (default 200,000), each step
 *   adding to the one before: decoded and parsed; checked and made a canonical record (the
 *   reader's own jsonValue); aggregated in a window and packed for the main thread; the dedupe
 *   entry (two 128-bit keyed hashes). The best of five passes, the steps taken in turn;
 * - internal: one scan of each internal table in SQLite (ids as texts, emails trimmed and in
 *   lower case), nothing written.
 * Only timings: nothing here is an output of the tool, and no test depends on a timing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { jsonValue } from '../dist/ingest/workers.js';
import { LineSplitter } from '../dist/ingest/lines.js';
import { JsonPlans } from '../dist/ingest/plan.js';
import { PROFILES } from '../dist/ingest/profiles/index.js';
import { IdentityWindow } from '../dist/core/identity.js';
import { packParts } from '../dist/core/stage.js';
import { writeEntry } from '../dist/core/tally.js';
import { ENTRY_WORDS } from '../dist/core/dedupe.js';

const BLOCK_BYTES = 1 << 20;
const BENCH = fileURLToPath(new URL('./bench.mjs', import.meta.url));

/** Parses every line of each block it is sent; answers with the (non-empty) lines it saw. */
function parseWorker() {
  parentPort.on('message', (block) => {
    const b = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    let lines = 0;
    for (let s = 0, i = b.indexOf(10); i !== -1; s = i + 1, i = b.indexOf(10, s)) {
      // (an empty line is no record, as for the floor)
      if (i === s) continue;
      lines++;
      try {
        JSON.parse(b.toString('utf8', s, i));
      } catch {
        // a malformed line costs what it costs
      }
    }
    parentPort.postMessage(lines);
  });
}

const seconds = (t0) => Number(((performance.now() - t0) / 1000).toFixed(3));

/** The bench's own parse floor (scripts/bench.mjs --floor), timed from the outside as the bench times it. */
function floor(path) {
  const t0 = performance.now();
  const { lines } = JSON.parse(execFileSync(process.execPath, [BENCH, '--floor', path], { encoding: 'utf8' }));
  return { step: 'floor', lines, seconds: seconds(t0) };
}

async function parseOnWorkers(path, threads) {
  const t0 = performance.now();
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url)));
  const inFlight = workers.map(() => 0);
  let lines = 0;
  let wake;
  for (const [i, w] of workers.entries()) {
    w.on('message', (n) => {
      lines += n;
      inFlight[i]--;
      wake?.();
    });
  }
  const idle = () => inFlight.indexOf(Math.min(...inFlight));
  const send = async (bytes) => {
    while (Math.min(...inFlight) >= 3) await new Promise((r) => (wake = r));
    const i = idle();
    inFlight[i]++;
    const block = new Uint8Array(bytes);
    workers[i].postMessage(block, [block.buffer]);
  };
  const fd = openSync(path, 'r');
  let carry = Buffer.alloc(0);
  for (;;) {
    const buf = Buffer.allocUnsafe(BLOCK_BYTES);
    const n = readSync(fd, buf, 0, BLOCK_BYTES, null);
    if (n === 0) break;
    const all = carry.length === 0 ? buf.subarray(0, n) : Buffer.concat([carry, buf.subarray(0, n)]);
    const cut = all.lastIndexOf(10) + 1;
    carry = Buffer.from(all.subarray(cut));
    if (cut > 0) await send(all.subarray(0, cut));
  }
  closeSync(fd);
  if (carry.length > 0) await send(Buffer.concat([carry, Buffer.from('\n')]));
  while (inFlight.some((n) => n > 0)) await new Promise((r) => (wake = r));
  await Promise.all(workers.map((w) => w.terminate()));
  return { step: 'parse', threads, lines, seconds: seconds(t0) };
}

/** The first `max` lines of the file, split as the reader splits them (LineSplitter). */
function firstLines(path, max) {
  const lines = [];
  const splitter = new LineSplitter({ line: (_, bytes) => void (lines.length < max && lines.push(Buffer.from(bytes))), oversize: () => undefined });
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(BLOCK_BYTES);
  for (let n = readSync(fd, buf); n > 0 && lines.length < max; n = readSync(fd, buf)) splitter.push(buf.subarray(0, n));
  closeSync(fd);
  if (lines.length < max) splitter.end();
  return lines;
}

function perRecord(path, max) {
  const lines = firstLines(path, max);
  const plans = new JsonPlans(PROFILES['mixpanel-events'], new Map());
  const key = randomBytes(32);
  const entry = new Uint32Array(ENTRY_WORDS);
  const pass = (step) => {
    const window = new IdentityWindow(2_000);
    const sink = {
      encodingErrors() {},
      reject() {},
      plans: () => plans,
      accept(r) {
        if (step === 'canonical') return;
        window.add(r);
        if (window.full) packParts(window.take());
        if (step === 'window') return;
        if (r.recordId !== undefined) writeEntry(r, key, entry, 0);
      },
    };
    const t0 = performance.now();
    if (step === 'parse') {
      for (const l of lines) {
        try {
          JSON.parse(l.toString('utf8'));
        } catch {
          // as the reader: a reject
        }
      }
    } else for (const l of lines) jsonValue(l, true, sink);
    return ((performance.now() - t0) * 1000) / lines.length;
  };
  // the steps in turn, five times: a machine busy for a while slows every step alike
  const steps = ['parse', 'canonical', 'window', 'dedupe'];
  const best = Object.fromEntries(steps.map((step) => [step, Infinity]));
  for (let pass5 = 0; pass5 < 5; pass5++) for (const step of steps) best[step] = Math.min(best[step], pass(step));
  return { step: 'record', lines: lines.length, microseconds: Object.fromEntries(steps.map((step) => [step, Number(best[step].toFixed(2))])) };
}

function internal(path) {
  const db = new Database(path, { readonly: true });
  const scan = (sql) => {
    const t0 = performance.now();
    const rows = db.prepare(sql).pluck().get();
    return { rows, seconds: seconds(t0) };
  };
  const out = {
    step: 'internal',
    users: scan(`SELECT count(*) FROM (SELECT CAST(id AS TEXT) AS i, lower(trim(email)) AS e FROM users LIMIT -1) WHERE i IS NOT NULL`),
    memberships: scan(`SELECT count(*) FROM (SELECT CAST(user_id AS TEXT) AS u, CAST(org_id AS TEXT) AS o, role FROM memberships LIMIT -1) WHERE u IS NOT NULL AND o IS NOT NULL`),
    orgs: scan(`SELECT count(*) FROM (SELECT CAST(id AS TEXT) AS i, name FROM orgs LIMIT -1) WHERE i IS NOT NULL`),
  };
  db.close();
  return out;
}

if (!isMainThread) parseWorker();
else {
  // a closed pipe (| head) ends the script quietly
  process.stdout.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    if (at === -1) return fallback;
    const [, value] = args.splice(at, 2);
    if (!/^[1-9]\d*$/.test(value ?? '')) throw new Error(`${name} takes a positive whole number`);
    return Number(value);
  };
  const max = option('--lines', 200_000);
  const threads = option('--threads', 2);
  const [events, db] = args;
  if (events === undefined || db === undefined || args.length > 2) {
    process.stderr.write('usage: node scripts/bounds.mjs EVENTS.ndjson INTERNAL.sqlite [--lines N] [--threads N]\n');
    process.exit(2);
  }
  for (const step of [async () => floor(events), () => parseOnWorkers(events, threads), () => perRecord(events, max), () => internal(db)]) {
    process.stdout.write(JSON.stringify(await step()) + '\n');
  }
}
