/**
 * One JSON value's fate (shared by the single-threaded reader and the workers), and parallel
 * NDJSON parsing: the main thread splits lines (physical line numbers, CR/CRLF, oversize lines:
 * LineSplitter, unchanged), copies them into batches of ~1 MiB and hands each batch to a worker
 * thread; workers decode, parse and canonicalise, and send back a flat list of what happened to
 * each line; the main thread applies those results to the sink strictly in input order, so
 * dedupe, first-seen and every count are exactly those of a single-threaded run.
 * BREACH_IMPACT_THREADS=N (N > 1) turns it on; the default is single-threaded, because on the
 * measured 2-core machine the main thread (matching, impact, outputs) is the bottleneck and the
 * workers only competed with it for the cores (README, Performance).
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { canonicalize, type CanonicalField, type CanonicalRecord, type Plan } from '../core/canonical.js';
import { checkRecord, jsonPlan, pageResults, parseJsonRecord, wrapJson, type JsonObject, type JsonRec } from './json-record.js';
import { excerptOf, replacedCount } from './text.js';

/** A blank NDJSON line holds only JSON white space (a lone BOM or NBSP is a record, and invalid). */
export const JSON_BLANK = /^[ \t\r\n]*$/;

export function shapeOf(obj: JsonObject): string {
  if (Object.hasOwn(obj, 'properties') || Object.hasOwn(obj, 'event')) return 'mixpanel-events';
  if (Object.hasOwn(obj, '$properties') || Object.hasOwn(obj, '$distinct_id')) return 'mixpanel-people';
  return 'json';
}

/** What happens to one JSON value (an NDJSON line or an array element), in order. */
export interface ValueSink {
  encodingErrors(n: number): void;
  reject(reason: string, excerpt: string): void;
  /** the shape of a record, for format detection (the first one in a file counts) */
  detect(shape: string): void;
  accept(rec: CanonicalRecord, source: JsonObject): void;
}

/** Decode, parse, check and canonicalise one JSON value. */
export function jsonValue(bytes: Buffer, ndjson: boolean, plan: Plan<JsonRec>, sink: ValueSink): void {
  const text = bytes.toString('utf8');
  const bad = replacedCount(bytes, text);
  if (bad > 0) sink.encodingErrors(bad);
  if (ndjson && JSON_BLANK.test(text)) return;
  const parsed = parseJsonRecord(text);
  if (typeof parsed === 'string') {
    sink.reject(parsed, excerptOf(text));
    return;
  }
  if (parsed.replaced > 0) sink.encodingErrors(parsed.replaced);
  const emit = (obj: JsonObject, secret: boolean) => {
    sink.detect(shapeOf(obj));
    const r = canonicalize<JsonRec>(plan, wrapJson(obj), secret);
    if (typeof r === 'string') sink.reject(r, excerptOf(text));
    else sink.accept(r, obj);
  };
  const page = pageResults(parsed.obj);
  if (page !== undefined) {
    sink.detect('mixpanel-people');
    for (const el of page) {
      const p = checkRecord(el, undefined);
      if (typeof p === 'string') sink.reject(p, '');
      else emit(p.obj, p.secret);
    }
    return;
  }
  emit(parsed.obj, parsed.secret);
}

// ---- the wire format of a batch's results: per line, ops until END

const END = 0;
const ENC = 1;
const REJ = 2;
const DET = 3;
const ACC = 4;
type Op = string | number | null | undefined | string[];

/** Parse one batch of lines (bytes[ends[i-1]..ends[i]]), writing ops. */
function parseBatch(buf: Uint8Array, ends: Int32Array, plan: Plan<JsonRec>): Op[] {
  const ops: Op[] = [];
  let detected = false;
  const sink: ValueSink = {
    encodingErrors: (n) => void ops.push(ENC, n),
    reject: (reason, excerpt) => void ops.push(REJ, reason, excerpt),
    detect: (shape) => {
      // Only the first record of a file decides; the first of each batch is enough.
      if (!detected) ops.push(DET, shape);
      detected = true;
    },
    accept: (r) => void ops.push(ACC, r.recordId, r.distinctId, r.userId, r.deviceId, r.email, r.orgIds, r.country, r.region, r.time, r.exposure),
  };
  const whole = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    jsonValue(whole.subarray(start, ends[i]), true, plan, sink);
    ops.push(END);
    start = ends[i];
  }
  return ops;
}

interface WorkerInit {
  kind: 'breach-impact-ndjson';
  columns: [CanonicalField, string[]][];
}

if (!isMainThread && (workerData as WorkerInit | undefined)?.kind === 'breach-impact-ndjson') {
  const plan = jsonPlan(new Map((workerData as WorkerInit).columns)) as Plan<JsonRec>;
  parentPort!.on('message', (m: { id: number; buf: Uint8Array; ends: Int32Array }) => {
    // As JSON text: one string crosses threads, and JSON.parse on the main thread is several
    // times faster than structured clone's deserialisation of the same values.
    parentPort!.postMessage({ id: m.id, ops: JSON.stringify(parseBatch(m.buf, m.ends, plan)) });
  });
}

// ---- the main thread's side

/** Worker threads for NDJSON parsing: BREACH_IMPACT_THREADS (0 = one per core), else 1 = none. */
export function parseThreads(): number {
  const v = process.env.BREACH_IMPACT_THREADS?.trim();
  const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : 1;
  return Math.max(1, Math.min(n === 0 ? availableParallelism() : n, 16));
}

const BATCH_BYTES = Number(process.env.BREACH_IMPACT_BATCH_BYTES ?? 1 << 20);
/** Lines handed out per worker and not yet applied: enough that no worker waits for the main thread. */
const IN_FLIGHT_PER_WORKER = 3;

interface Slot {
  worker: Worker;
  busy: number;
  columnsKey: string;
}

let pool: Slot[] = [];
let nextId = 1;
const waiting = new Map<number, { resolve: (ops: Op[]) => void; reject: (e: Error) => void }>();

function workerFor(columns: Map<CanonicalField, string[]>, threads: number): Slot {
  const key = JSON.stringify([...columns]);
  pool = pool.filter((s) => {
    if (s.columnsKey === key) return true;
    void s.worker.terminate();
    return false;
  });
  if (pool.length < threads) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind: 'breach-impact-ndjson', columns: [...columns] } satisfies WorkerInit });
    // Referenced only while it owes results: an idle worker never keeps the process alive.
    worker.unref();
    const slot: Slot = { worker, busy: 0, columnsKey: key };
    worker.on('message', (m: { id: number; ops: string }) => {
      if (--slot.busy === 0) worker.unref();
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      w?.resolve(JSON.parse(m.ops) as Op[]);
    });
    const fail = (e: Error) => {
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      pool = pool.filter((s) => s !== slot);
      if (waiting.size > 0) fail(new Error(`a parsing worker stopped (exit ${code})`));
    });
    pool.push(slot);
    return slot;
  }
  return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
}

/** Stop the parsing workers (between the reading and the matching, to free their memory). */
export async function closeWorkers(): Promise<void> {
  const all = pool;
  pool = [];
  await Promise.all(all.map((s) => s.worker.terminate()));
}

/** The sink a parallel NDJSON reader reports to, per line: read.ts's RecordSink, line-addressed. */
export interface LineSink {
  encodingErrors(n: number): void;
  reject(line: number, reason: string, excerpt: string): void;
  detect(shape: string): void;
  accept(line: number, rec: CanonicalRecord): void;
}

interface Batch {
  /** physical line numbers; negative: an oversize line, rejected on the main thread */
  lines: number[];
  ops?: Op[];
  done: Promise<Op[]>;
}

/** Lines in, results applied in input order. `line()`/`oversize()` follow LineSplitter's sink. */
export class ParallelLines {
  private buf: Buffer;
  private used = 0;
  private ends: number[] = [];
  private lines: number[] = [];
  private readonly queue: Batch[] = [];

  constructor(
    private readonly columns: Map<CanonicalField, string[]>,
    private readonly threads: number,
    private readonly sink: LineSink,
  ) {
    this.buf = Buffer.allocUnsafe(BATCH_BYTES);
  }

  line(lineNo: number, bytes: Buffer): void {
    if (this.used + bytes.length > this.buf.length && this.lines.length > 0) this.dispatch();
    if (bytes.length > this.buf.length) this.buf = Buffer.allocUnsafe(bytes.length);
    bytes.copy(this.buf, this.used);
    this.used += bytes.length;
    this.ends.push(this.used);
    this.lines.push(lineNo);
  }

  oversize(lineNo: number): void {
    this.lines.push(-lineNo);
  }

  /** Apply what is ready; resolves once few enough batches are outstanding. */
  async settle(limit = IN_FLIGHT_PER_WORKER * this.threads): Promise<void> {
    this.applyReady();
    while (this.queue.length > limit) {
      const head = this.queue[0];
      head.ops = await head.done;
      this.applyReady();
    }
  }

  /** Hand out the last partial batch and apply everything. */
  async end(): Promise<void> {
    if (this.lines.length > 0) this.dispatch();
    await this.settle(0);
  }

  private dispatch(): void {
    const lines = this.lines;
    let done: Promise<Op[]>;
    if (this.ends.length === 0) {
      done = Promise.resolve([]);
    } else {
      const slot = workerFor(this.columns, this.threads);
      const id = nextId++;
      const buf = this.buf.subarray(0, this.used);
      const ends = Int32Array.from(this.ends);
      done = new Promise<Op[]>((resolve, reject) => waiting.set(id, { resolve, reject }));
      if (slot.busy++ === 0) slot.worker.ref();
      // A copy of the batch moves to the worker; the buffer is reused for the next batch.
      const copy = new Uint8Array(buf);
      slot.worker.postMessage({ id, buf: copy, ends }, [copy.buffer, ends.buffer]);
    }
    const batch: Batch = { lines, done };
    void done.then((ops) => (batch.ops = ops), () => undefined);
    this.queue.push(batch);
    this.used = 0;
    this.ends = [];
    this.lines = [];
  }

  private applyReady(): void {
    while (this.queue.length > 0 && this.queue[0].ops !== undefined) this.apply(this.queue.shift()!);
  }

  private apply(batch: Batch): void {
    const ops = batch.ops!;
    const sink = this.sink;
    let k = 0;
    for (const l of batch.lines) {
      if (l < 0) {
        sink.reject(-l, 'record_too_large', '');
        continue;
      }
      for (;;) {
        const op = ops[k++];
        if (op === END) break;
        if (op === ACC) {
          // Same fields in the same order as canonicalize's records (JSON turned undefined into null).
          const rec: CanonicalRecord = {
            recordId: (ops[k] as string | null) ?? undefined,
            distinctId: (ops[k + 1] as string | null) ?? undefined,
            userId: (ops[k + 2] as string | null) ?? undefined,
            deviceId: (ops[k + 3] as string | null) ?? undefined,
            email: (ops[k + 4] as string | null) ?? undefined,
            orgIds: ops[k + 5] as string[],
            country: (ops[k + 6] as string | null) ?? undefined,
            region: (ops[k + 7] as string | null) ?? undefined,
            time: ops[k + 8] as number | null,
            exposure: ops[k + 9] as number,
          };
          k += 10;
          sink.accept(l, rec);
        } else if (op === REJ) {
          sink.reject(l, ops[k] as string, ops[k + 1] as string);
          k += 2;
        } else if (op === ENC) {
          sink.encodingErrors(ops[k++] as number);
        } else if (op === DET) {
          sink.detect(ops[k++] as string);
        } else {
          throw new Error(`parsing worker sent an unknown result (${String(op)})`);
        }
      }
    }
  }
}
