/**
 * One JSON value's fate (shared by the single-threaded reader and the workers), and parallel
 * NDJSON reading: the main thread splits lines (physical line numbers, CR/CRLF, oversize lines:
 * LineSplitter, unchanged), copies them into batches of ~1 MiB and hands each batch to a worker
 * thread. A worker decodes, parses, canonicalises and applies the --since/--until window, and
 * sends back what happened to each line: for a usable record, the few fields identities are
 * made of and the 64-bit hash of its record id. The main thread takes those in input order, as a
 * single-threaded run would: it counts every record, drops the ones whose record id was already
 * accepted (the dedupe is global and order-dependent) and groups the rest into identities. So
 * every count and every list is exactly that of a single-threaded run, the parsing runs on every
 * core, and the identities exist once, on the main thread, as the records arrive.
 * BREACH_IMPACT_THREADS=N sets the number of workers (0 = one per core, 1 = single-threaded); the
 * default is one per core.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { canonicalize, canonicalizeUnlessNumeric, type CanonicalField, type CanonicalRecord, type CanonicalResult } from '../core/canonical.js';
import { groupingKey, hashRecordId, HASH_WORDS, placeOf, type Identity, type RecordIdKey } from '../core/identity.js';
import { inWindow, type Tally, type Window } from '../core/tally.js';
import { checkRecord, LOSSY_NUMBER_HINT, pageResults, parseJsonRecord, type JsonObject } from './json-record.js';
import { JsonPlans } from './plan.js';
import { PROFILES, type ProfileName } from './profiles/index.js';
import { InputError } from '../errors.js';
import { excerptOf, replacedCount } from './text.js';

/** A blank NDJSON line holds only JSON white space (a lone BOM or NBSP is a record, and invalid). */
export const JSON_BLANK = /^[ \t\r\n]*$/;

/** What happens to one JSON value (an NDJSON line or an array element), in order. */
export interface ValueSink {
  encodingErrors(n: number): void;
  reject(reason: string, excerpt: string): void;
  /** The plans of the file's profile; the first record's call may choose the profile (detection). */
  plans(first: JsonObject): JsonPlans;
  accept(rec: CanonicalRecord, source: JsonObject, addresses: ReadonlyMap<string, readonly CanonicalField[]>): void;
}

/**
 * Decode, parse, check and canonicalise one JSON value. It is parsed as JSON.parse reads it; a
 * record whose text may hold a number literal a double does not keep (LOSSY_NUMBER_HINT) and whose
 * kept fields hold a JSON number, and a page of profiles, are parsed again with number literals
 * kept exact (quoteLongNumbers).
 */
export function jsonValue(bytes: Buffer, ndjson: boolean, sink: ValueSink): void {
  const text = bytes.toString('utf8');
  const bad = replacedCount(bytes, text);
  if (bad > 0) sink.encodingErrors(bad);
  if (ndjson && JSON_BLANK.test(text)) return;
  const parsed = parseJsonRecord(text, bytes, false);
  if (typeof parsed === 'string') {
    sink.reject(parsed, excerptOf(text));
    return;
  }
  if (parsed.replaced > 0) sink.encodingErrors(parsed.replaced);
  const page = pageResults(parsed.obj);
  if (page !== undefined) {
    // the same structure (quoting changes literals only), with its numbers' exact text
    const exact = parseJsonRecord(text, bytes, true);
    if (typeof exact === 'string') return sink.reject(exact, excerptOf(text));
    for (const el of pageResults(exact.obj) ?? []) {
      const p = checkRecord(el, undefined);
      if (typeof p === 'string') sink.reject(p, '');
      else settleRecord(p.obj, p.secret, true, text, sink);
    }
    return;
  }
  // a kept field holds a JSON number: it kept its text unless the line holds a lossy literal
  if (settleRecord(parsed.obj, parsed.secret, false, text, sink)) return;
  if (!LOSSY_NUMBER_HINT.test(text)) {
    settleRecord(parsed.obj, parsed.secret, true, text, sink);
    return;
  }
  const exact = parseJsonRecord(text, bytes, true);
  if (typeof exact === 'string') return sink.reject(exact, excerptOf(text));
  settleRecord(exact.obj, exact.secret, true, text, sink);
}

/**
 * One parsed record's fate; false when it must be read again: `numbersExact` false, when a kept
 * field holds a JSON number (which JSON.parse may have changed), true only when none can have.
 */
function settleRecord(obj: JsonObject, secret: boolean, numbersExact: boolean, text: string, sink: ValueSink): boolean {
  const plans = sink.plans(obj);
  const skip = plans.profile.skip?.(obj);
  if (skip !== undefined) {
    sink.reject(skip, excerptOf(text));
    return true;
  }
  const { plan, addresses } = plans.forRecord(obj);
  const r: CanonicalResult | undefined = numbersExact ? canonicalize(plan, obj, secret) : canonicalizeUnlessNumeric(plan, obj, secret);
  if (r === undefined) return false;
  if (typeof r === 'string') sink.reject(r, excerptOf(text));
  else sink.accept(r, obj, addresses);
  return true;
}

// ---- the wire format of a batch's results: per line, ops until END, as numbers in one typed
// array; the texts (ids, emails, places, reasons, excerpts) in a string table per batch, named by
// their index (-1: absent). The main thread then parses one array of strings per batch instead of
// every record's values; a record's grouping key travels as the worker's number for it (its text
// only the first time), and the texts that repeat within a batch (a place, a reason) once.

const END = 0;
const ENC = 1;
const REJ = 2;
/** accepted unless a duplicate: its record id's hash is the batch's next pair; the record follows (see BatchResults.record) */
const ACC_ID = 4;
/** accepted: no record id, so never a duplicate; the record follows */
const ACC = 5;
/** outside --since/--until */
const FIL = 6;
const ABSENT = -1;
/** a record's field that holds its grouping key's text */
const IS_KEY = -2;

/** A batch's results as the worker writes them. */
class BatchResults {
  nums: Float64Array;
  length = 0;
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();

  /** `spare`: an array of an earlier batch, handed back by the main thread (see Slot.spare) */
  constructor(spare: ArrayBuffer | undefined) {
    this.nums = spare !== undefined ? new Float64Array(spare) : new Float64Array(1 << 15);
  }

  num(x: number): void {
    if (this.length === this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
    }
    this.nums[this.length++] = x;
  }

  /** A text as the next entry of the table (texts that rarely repeat: hashing them costs more than it saves). */
  text(s: string | undefined): void {
    if (s === undefined) return this.num(ABSENT);
    this.num(this.strings.length);
    this.strings.push(s);
  }

  /** A text that often repeats within a batch (a place, a reason), once in the table. */
  sharedText(s: string | undefined): void {
    if (s === undefined) return this.num(ABSENT);
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    this.num(i);
  }

  /**
   * A record as identities need it (IdentityGroups.addTo): its grouping key by this worker's
   * number for it (`keys`: every key the worker has sent since it last started afresh) and, the first time,
   * the key's text; then distinct_id, user_id, email and device_id, each absent, the key itself
   * (IS_KEY) or a text; the orgs (count first), time (NaN: none), exposure and place. The main
   * thread finds a known key's identity by that number, without hashing and comparing the text.
   */
  record(r: CanonicalRecord, keys: Map<string, number>): void {
    const key = groupingKey(r.distinctId, r.userId, r.email, r.deviceId);
    const known = keys.get(key);
    if (known !== undefined) {
      this.num(known);
      this.num(ABSENT);
    } else {
      this.num(keys.size);
      keys.set(key, keys.size);
      this.text(key);
    }
    this.field(r.distinctId, key);
    this.field(r.userId, key);
    this.field(r.email, key);
    this.field(r.deviceId, key);
    this.num(r.orgIds.length);
    for (const o of r.orgIds) this.text(o);
    this.num(r.linkedIds.length);
    for (const l of r.linkedIds) this.text(l);
    this.num(r.time ?? NaN);
    this.num(r.exposure);
    this.sharedText(placeOf(r));
  }

  private field(v: string | undefined, key: string): void {
    if (v === key) this.num(IS_KEY);
    else this.text(v);
  }
}

const NO_TEXTS: readonly string[] = Object.freeze([]);

/** A list of texts as BatchResults.record writes it (its length, then each text's index), and where the next field starts. */
function textList(nums: Float64Array, k: number, strings: readonly string[]): [readonly string[], number] {
  const n = nums[k];
  if (n === 0) return [NO_TEXTS, k + 1];
  const list: string[] = [];
  for (let j = 1; j <= n; j++) list.push(strings[nums[k + j]]);
  return [list, k + 1 + n];
}

/** A record's text back from BatchResults (field, text, sharedText): absent, the grouping key, or a text. */
function fieldText(i: number, key: string, strings: readonly string[]): string | undefined {
  return i === IS_KEY ? key : i === ABSENT ? undefined : strings[i];
}

interface WorkerInit {
  kind: 'breach-impact-ndjson';
  profile: ProfileName;
  columns: [CanonicalField, string[]][];
  window: Window;
  /** the record-id hash key (a copy travels to each worker) */
  recordIdKey: RecordIdKey;
}

/**
 * A batch's lines (`buf`, cut at `ends`), and maybe an array of an earlier batch's results for
 * this batch's (`spare`). Both travel back with the reply, to be used again: a new buffer per
 * batch would go through the allocator hundreds of times, and C's allocator keeps much of what it
 * is given back that way (measured at 1M events: 25–45 MB more resident memory at the peak).
 */
type ToWorker = { type: 'batch'; id: number; buf: Uint8Array; ends: Int32Array; spare?: ArrayBuffer };
/** `nums`: each line's results up to its END, then whatever an earlier batch left there */
/** `fresh`: the worker numbered its keys afresh from this batch on (see WORKER_KEYS) */
type FromWorker = { id: number; strings: string; nums: Float64Array; hashes: Uint32Array; buf?: Uint8Array; fresh?: true };

/**
 * Grouping keys a worker numbers before it starts afresh (BREACH_IMPACT_WORKER_KEYS, for tests):
 * its table of them, and the main thread's for it (Slot.keys), grow with the identities it has
 * seen, which are most of the export's. Over this many, the next batch begins a new table; a key
 * seen again then travels as text once more. At 1M events a worker numbers ~230k keys, under it;
 * at 5M ~410k, which held ~27 MB a worker (the Map and the keys' texts) at the reading's peak.
 */
const WORKER_KEYS = Number(process.env.BREACH_IMPACT_WORKER_KEYS ?? 250_000);

function runWorker(init: WorkerInit): void {
  const plans = new JsonPlans(PROFILES[init.profile], new Map(init.columns));
  /** the grouping keys this worker has sent, by number (see BatchResults.record), since it last started afresh */
  let keys = new Map<string, number>();
  parentPort!.on('message', (m: ToWorker) => {
    const fresh = keys.size >= WORKER_KEYS;
    if (fresh) keys = new Map();
    const out = new BatchResults(m.spare);
    const withId: string[] = [];
    const sink: ValueSink = {
      encodingErrors: (n) => {
        out.num(ENC);
        out.num(n);
      },
      reject: (reason, excerpt) => {
        out.num(REJ);
        out.sharedText(reason);
        out.text(excerpt);
      },
      plans: () => plans,
      accept: (r) => {
        if (!inWindow(init.window, r.time)) return out.num(FIL);
        if (r.recordId === undefined) out.num(ACC);
        else {
          out.num(ACC_ID);
          withId.push(r.recordId);
        }
        out.record(r, keys);
      },
    };
    const whole = Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
    let start = 0;
    for (let i = 0; i < m.ends.length; i++) {
      jsonValue(whole.subarray(start, m.ends[i]), true, sink);
      out.num(END);
      start = m.ends[i];
    }
    const hashes = new Uint32Array(withId.length * HASH_WORDS);
    withId.forEach((id, k) => hashRecordId(id, init.recordIdKey, hashes, HASH_WORDS * k));
    const nums = out.nums;
    // The strings as JSON text: one string crosses threads, and JSON.parse is several times
    // faster than structured clone's deserialisation of the same values.
    const reply: FromWorker = { id: m.id, strings: JSON.stringify(out.strings), nums, hashes, buf: m.buf };
    if (fresh) reply.fresh = true;
    parentPort!.postMessage(reply, [nums.buffer as ArrayBuffer, hashes.buffer, m.buf.buffer as ArrayBuffer]);
  });
}

if (!isMainThread && (workerData as WorkerInit | undefined)?.kind === 'breach-impact-ndjson') runWorker(workerData as WorkerInit);

// ---- the main thread's side

/** Worker threads for NDJSON: BREACH_IMPACT_THREADS (0 or unset = one per core; 1 = none). */
export function parseThreads(): number {
  const v = process.env.BREACH_IMPACT_THREADS?.trim();
  const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : 0;
  return Math.max(1, Math.min(n === 0 ? availableParallelism() : n, 16));
}

/**
 * Each worker's heap: a young generation of 12 MB (V8's default is 48 MB, two 16 MB halves): a
 * worker's garbage is a batch's parsed records, dead before the next batch, so a smaller one
 * costs no time and the reading peaks lower (1M events: 403 -> 357-373 MB). BREACH_IMPACT_WORKER_HEAP_MB
 * caps the old generation (a worker over it stops the run, exit 1).
 */
function workerLimits(): { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb: number } {
  const mb = Number(process.env.BREACH_IMPACT_WORKER_HEAP_MB);
  return { maxYoungGenerationSizeMb: 12, ...(Number.isFinite(mb) && mb > 0 ? { maxOldGenerationSizeMb: mb } : {}) };
}

const BATCH_BYTES = Number(process.env.BREACH_IMPACT_BATCH_BYTES ?? 1 << 20);
/** Batches handed out per worker and not yet applied: enough that no worker waits for the main thread. */
const IN_FLIGHT_PER_WORKER = 3;

interface Slot {
  worker: Worker;
  busy: number;
  key: string;
  /**
   * The grouping keys the worker numbered (BatchResults.record) since it last started afresh
   * (WORKER_KEYS), by number: the key's text until a record of it is accepted, then its
   * identity (whose key is that text). One entry a key, and no second copy of a key's text
   * beside its identity's.
   */
  keys: (string | Identity)[];
  /** terminated by closeWorkers, not lost */
  closing?: boolean;
  /** result arrays applied and free for the worker's next batches (see ToWorker) */
  spare: ArrayBuffer[];
}

let pool: Slot[] = [];
let nextId = 1;
/**
 * Why a worker stopped unasked (an error, running out of memory). The records of its batches
 * are gone with it, so the reading cannot be completed: every later step throws this.
 */
let lost: Error | undefined;
const replies = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();

function request(slot: Slot, m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
  const done = new Promise<FromWorker>((resolve, reject) => replies.set(m.id, { resolve, reject }));
  if (slot.busy++ === 0) slot.worker.ref();
  const spare = slot.spare.pop();
  if (spare !== undefined) {
    m.spare = spare;
    transfer.push(spare);
  }
  slot.worker.postMessage(m, transfer);
  return done;
}

function workerFor(init: WorkerInit, threads: number): Slot {
  const key = JSON.stringify([init.profile, init.columns, init.window, Buffer.from(init.recordIdKey).toString('hex')]);
  if (pool.length > 0 && pool[0].key !== key) throw new Error('parsing workers are set up for another configuration: close them first');
  if (pool.length < threads) {
    const worker = new Worker(new URL(import.meta.url), { workerData: init, resourceLimits: workerLimits() });
    // Referenced only while it owes a reply: an idle worker never keeps the process alive.
    worker.unref();
    const slot: Slot = { worker, busy: 0, key, keys: [], spare: [] };
    worker.on('message', (m: FromWorker) => {
      if (--slot.busy === 0) worker.unref();
      const w = replies.get(m.id);
      replies.delete(m.id);
      w?.resolve(m);
    });
    const fail = (cause: Error) => {
      // The worker's own error may quote a record: only its code is shown.
      const code = (cause as { code?: string }).code;
      const e =
        code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new InputError('a parsing worker ran out of memory; the reading is incomplete and no case was written', 'raise BREACH_IMPACT_WORKER_HEAP_MB, or read with one thread: BREACH_IMPACT_THREADS=1')
          : new InputError(`a parsing worker stopped (${code ?? cause.name}); the reading is incomplete and no case was written`, 'run again; if it repeats, try BREACH_IMPACT_THREADS=1 and report it with the command you ran (not the data)');
      lost ??= e;
      for (const w of replies.values()) w.reject(e);
      replies.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      pool = pool.filter((s) => s !== slot);
      if (!slot.closing) fail(Object.assign(new Error('exit'), { code: `exit ${code}` }));
    });
    pool.push(slot);
    return slot;
  }
  return pool.reduce((a, b) => (b.busy < a.busy ? b : a));
}

/**
 * Stop the workers (after the reading, to free their memory). With `complete`, throws if one of
 * them stopped unasked during the reading: the caller was about to use the reading as whole.
 */
export async function closeWorkers(complete = false): Promise<void> {
  const all = pool;
  pool = [];
  const failure = lost;
  lost = undefined;
  for (const slot of all) {
    slot.closing = true;
    await slot.worker.terminate();
  }
  if (failure !== undefined && complete) throw failure;
}

/** The sink a parallel NDJSON reader reports to, per line: read.ts's RecordSink, line-addressed. */
export interface LineSink {
  encodingErrors(n: number): void;
  reject(line: number, reason: string, excerpt: string): void;
  /** after each batch's records were counted (for progress) */
  counted(): void;
}

interface Batch {
  /** physical line numbers; negative: an oversize line, rejected on the main thread */
  lines: number[];
  slot?: Slot;
  id: number;
  result?: { strings: string[]; nums: Float64Array; hashes: Uint32Array; fresh?: boolean };
  done: Promise<FromWorker>;
}

/**
 * Lines in, results applied in input order: usable records counted in `tally` and the accepted
 * ones grouped into its identities, the rest reported to the sink.
 * `line()`/`oversize()` follow LineSplitter's sink.
 */
export class ParallelLines {
  /** the batch being filled: a buffer of its own (never a pool's slice), for it moves to the worker */
  private buf: Buffer;
  /** batch buffers back from the workers (see ToWorker) */
  private readonly free: ArrayBuffer[] = [];
  private used = 0;
  private ends: number[] = [];
  private lines: number[] = [];
  private readonly queue: Batch[] = [];
  private readonly init: WorkerInit;

  constructor(
    profile: ProfileName,
    columns: Map<CanonicalField, string[]>,
    private readonly threads: number,
    private readonly tally: Tally,
    private readonly sink: LineSink,
  ) {
    this.buf = Buffer.from(new ArrayBuffer(BATCH_BYTES));
    this.init = { kind: 'breach-impact-ndjson', profile, columns: [...columns], window: tally.window, recordIdKey: tally.recordIdKey };
  }

  line(lineNo: number, bytes: Buffer): void {
    if (this.used + bytes.length > this.buf.length && this.lines.length > 0) this.dispatch();
    if (bytes.length > this.buf.length) this.buf = Buffer.from(new ArrayBuffer(bytes.length));
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
    if (lost !== undefined) throw lost;
    this.applyReady();
    while (this.queue.length > limit) {
      await this.queue[0].done;
      this.applyReady();
    }
  }

  /** Hand out the last partial batch and apply everything. */
  async end(): Promise<void> {
    if (this.lines.length > 0) this.dispatch();
    await this.settle(0);
  }

  private dispatch(): void {
    const batch: Batch = { lines: this.lines, id: nextId++, done: Promise.resolve({ id: 0, strings: '[]', nums: new Float64Array(0), hashes: new Uint32Array(0) }) };
    if (this.ends.length === 0) {
      batch.result = { strings: [], nums: new Float64Array(0), hashes: new Uint32Array(0) };
    } else {
      batch.slot = workerFor(this.init, this.threads);
      // The batch's buffer moves to the worker and comes back with the results; the next batch
      // is filled in one that came back (or a new one while too few are back).
      const sent = this.buf.buffer as ArrayBuffer;
      const ends = Int32Array.from(this.ends);
      batch.done = request(batch.slot, { type: 'batch', id: batch.id, buf: new Uint8Array(sent, 0, this.used), ends }, [sent, ends.buffer]);
      void batch.done.then((m) => {
        if (m.buf !== undefined) this.free.push(m.buf.buffer as ArrayBuffer);
        if ('nums' in m) batch.result = { strings: JSON.parse(m.strings) as string[], nums: m.nums, hashes: m.hashes, fresh: m.fresh === true };
      }, () => undefined);
      const next = this.free.pop();
      this.buf = Buffer.from(next !== undefined && next.byteLength >= BATCH_BYTES ? next : new ArrayBuffer(BATCH_BYTES));
    }
    this.queue.push(batch);
    this.used = 0;
    this.ends = [];
    this.lines = [];
  }

  private applyReady(): void {
    while (this.queue.length > 0 && this.queue[0].result !== undefined) this.apply(this.queue.shift()!);
  }

  private apply(batch: Batch): void {
    const { strings, nums, hashes, fresh } = batch.result!;
    const { sink, tally } = this;
    const slot = batch.slot!;
    // The worker's numbers from here on are of its new table, each sent with its text before it
    // is used alone (so an old entry is never read): the old table is let go.
    if (fresh === true) slot.keys = [];
    let k = 0;
    let h = 0;
    for (const l of batch.lines) {
      if (l < 0) {
        sink.reject(-l, 'record_too_large', '');
        continue;
      }
      for (;;) {
        const op = nums[k++];
        if (op === END) break;
        if (op === ACC_ID || op === ACC) {
          const accepted = op === ACC ? tally.offerParsed(false) : tally.offerParsed(false, hashes.subarray(HASH_WORDS * h, HASH_WORDS * h + HASH_WORDS));
          if (op === ACC_ID) h++;
          // the record (BatchResults.record), grouped unless a duplicate
          const keyNo = nums[k];
          if (nums[k + 1] !== ABSENT) slot.keys[keyNo] = strings[nums[k + 1]];
          const known = slot.keys[keyNo];
          const key = typeof known === 'string' ? known : known.key;
          const distinctId = fieldText(nums[k + 2], key, strings);
          const userId = fieldText(nums[k + 3], key, strings);
          const email = fieldText(nums[k + 4], key, strings);
          const deviceId = fieldText(nums[k + 5], key, strings);
          const [orgIds, afterOrgs] = textList(nums, k + 6, strings);
          const [linkedIds, afterLinked] = textList(nums, afterOrgs, strings);
          k = afterLinked;
          const time = nums[k];
          const exposure = nums[k + 1];
          const place = nums[k + 2];
          k += 3;
          tally.timed(!Number.isNaN(time), accepted);
          // a duplicate is grouped too, as not counted (IdentityGroups.add)
          let id = known;
          if (typeof id === 'string') slot.keys[keyNo] = id = tally.groups.identity(key);
          tally.groups.addTo(id, distinctId, userId, email, deviceId, orgIds, linkedIds, Number.isNaN(time) ? null : time, exposure, fieldText(place, key, strings), accepted);
        } else if (op === FIL) {
          tally.offerParsed(true);
          tally.timed(true, false);
        } else if (op === REJ) {
          sink.reject(l, strings[nums[k]], strings[nums[k + 1]]);
          k += 2;
        } else if (op === ENC) {
          sink.encodingErrors(nums[k++]);
        } else {
          throw new Error(`parsing worker sent an unknown result (${String(op)})`);
        }
      }
    }
    // the results' array goes back with the worker's next batch, for that batch's results
    if (slot !== undefined && nums.byteLength > 0) slot.spare.push(nums.buffer as ArrayBuffer);
    sink.counted();
  }
}
