/**
 * One JSON value's fate (shared by the single-threaded reader and the workers), and the worker
 * threads: one module, one message format (ToWorker, FromWorker) for all of their jobs.
 *
 * Reading NDJSON in parallel: the main thread cuts the input into blocks of whole lines
 * (ParallelLines, BlockCutter: no work per line) and hands each block to a worker. A worker
 * splits its block into lines as the single-threaded reader splits the whole input
 * (LineSplitter), decodes, parses, canonicalises and applies the --since/--until window, and
 * aggregates the records into identities itself, in a window of a bounded number of identities
 * (the same IdentityWindow and bound as the single-threaded path) kept across its blocks. Per
 * block it sends back what the main thread must take in input order: its lines, the rejected
 * ones (numbered in the block), the counts, and for every accepted record with a record key, its
 * entry for the dedupe (core/tally.ts writeEntry: the hashes of its record key and identity
 * key). The main thread takes the blocks in input order, as a single-threaded run would, numbers
 * their lines, and offers the entries to the tally, which decides the duplicates when the
 * reading ends (core/dedupe.ts). When a worker's window is full, and at the end of a file, the
 * worker hands its aggregates over with a block's results and starts an empty window; the main
 * thread merges them into the tally's sink, part by part as packed (core/stage.ts). So every
 * count and every identity is exactly that of a single-threaded run, and no thread holds every
 * identity.
 *
 * Hashing an input (SHA-256 for the manifest) on a worker of the same kind: see hasher.ts.
 */
import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { canonicalize, canonicalizeUnlessNumeric, type CanonicalField, type CanonicalRecord, type CanonicalResult } from '../core/canonical.js';
import { ENTRY_WORDS } from '../core/dedupe.js';
import type { ListName } from '../core/rows.js';
import { IdentityWindow, type RecordIdKey } from '../core/identity.js';
import { packParts } from '../core/stage.js';
import { inWindow, writeEntry, type Tally, type Window } from '../core/tally.js';
import { checkRecord, LOSSY_NUMBER_HINT, pageResults, parseJsonRecord, type JsonObject } from './json-record.js';
import { JsonPlans } from './plan.js';
import { PROFILES, type ProfileName } from './profiles/index.js';
import { hashFile, type Digest } from '../case/files.js';
import { InputError } from '../errors.js';
import { HOOKS } from '../test-hooks.js';
import { excerptOf, replacedCount } from './text.js';
import { BlockCutter, LineSplitter } from './lines.js';

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

// ---- the protocol

/** What a worker needs to read a file's lines (sent with the first batch of a file it is given). */
export interface ReadSetup {
  profile: ProfileName;
  columns: [CanonicalField, string[]][];
  window: Window;
  /** the record-id hash key (a copy travels to each worker) */
  recordIdKey: RecordIdKey;
  /** identities a worker aggregates before it hands them on */
  windowKeys: number;
}

/** Every message the main thread sends a worker. */
export type ToWorker =
  /**
   * A block of whole lines (`buf`: from a line's start to a line's end, or to the end of the
   * input) to split and read; the buffer comes back with the results, to be filled again.
   * `flush`: hand the window's aggregates over after it, whether full or not.
   */
  | { type: 'read'; id: number; setup?: ReadSetup; buf: Uint8Array; flush: boolean }
  /** bytes of the input being hashed, in order; the buffer comes back */
  | { type: 'hash'; chunk: Uint8Array }
  /** the input's SHA-256, and the worker's hash starts afresh */
  | { type: 'digest' }
  /**
   * The rows of the internal database at `path` (with the --map SQL) the join reads ahead, each
   * table into the SQLite file `into` names for it (case/join.ts readAdminRows, readMemberships,
   * readOrgs), on a read-only connection of the worker's own: a `ready` for each once it is
   * committed, in the order of INTERNAL_TABLES, each unless the main thread claimed it first
   * (`claims`: an Int32Array of a CLAIM per table).
   */
  | { type: 'internal'; path: string; map: string | undefined; roles: string[]; into: Record<InternalTable, string>; claims: SharedArrayBuffer }
  /**
   * The roster of the affected orgs `orgs` (their ids, in JSON arrays) from the admin rows in the
   * SQLite file `admins` (the worker's own 'internal' work) into the file `into`, its tables made
   * already (case/join.ts buildRoster), on a connection of the worker's own.
   */
  | { type: 'roster'; admins: string; into: string; orgs: string[] }
  /**
   * The list files `lists` (each a list's name and the descriptor of its staged file, open in this
   * process) written from the case.sqlite at `path` (case/writer.ts), on a read-only connection.
   */
  | { type: 'lists'; path: string; lists: [ListName, number][] };

/** Every message a worker sends the main thread. */
export type FromWorker =
  | { type: 'read'; id: number; buf: Uint8Array; result: ReadResult }
  | { type: 'hashed'; chunk: Uint8Array }
  | { type: 'digest'; hex: string }
  /**
   * a table of the internal rows is written (`ready`); the internal database is hashed (`hashed`:
   * its SHA-256 and size, once the tables are read); or the name of the error that stopped the
   * worker (`failed`: never its message, which may quote data)
   */
  | { type: 'internal'; ready?: InternalTable; hashed?: Digest; failed?: string }
  /** the roster is written, or the name of the error that stopped it (`failed`) */
  | { type: 'roster'; failed?: string }
  /** the list files are written, with their rows (`failed`: the code of the error that stopped it, never its message) */
  | { type: 'lists'; rows?: number[]; failed?: string };

/** What became of a block's lines. */
export interface ReadResult {
  /** the block's physical lines */
  lines: number;
  /** per rejected record, in order: [its line's number in the block (from 1), reason, excerpt], as JSON (one string crosses threads) */
  rejects: string;
  encodingErrors: number;
  /** records outside --since/--until */
  filtered: number;
  /** accepted records without a record key (never duplicates), and how many of them carry a time */
  unkeyed: number;
  unkeyedTimed: number;
  /** the accepted records with a record key, in input order: their entries for the dedupe (writeEntry), ENTRY_WORDS each */
  entries: Uint32Array;
  /** the window's identities, when it was handed over after this block (core/stage.ts packParts) */
  identities?: string;
}

const WORKER_KIND = 'breach-impact-worker';

/** A worker thread (referenced only while it owes a reply: an idle worker never keeps the process alive). */
export function startWorker(): Worker {
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: WORKER_KIND }, resourceLimits: workerLimits() });
  worker.unref();
  return worker;
}

/** A worker's young generation, smaller than V8's own. */
const WORKER_YOUNG_MB = 12;

/**
 * Each worker's heap: a small young generation (WORKER_YOUNG_MB): a worker's garbage is a batch's
 * parsed records and its short aggregation windows, dead soon after, so a smaller one costs no
 * time and the reading peaks lower (docs/performance.md). HOOKS.workerHeapMb caps the old
 * generation.
 */
function workerLimits(): { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb: number } {
  return { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, ...(HOOKS.workerHeapMb !== undefined ? { maxOldGenerationSizeMb: HOOKS.workerHeapMb } : {}) };
}

// ---- the worker's side

interface Reader {
  setup: ReadSetup;
  plans: JsonPlans;
  identities: IdentityWindow;
}

function runWorker(): void {
  let reader: Reader | undefined;
  let hash: Hash | undefined;
  /** hashing messages left before the injected failure (HOOKS.hashThreadFailAfter) */
  let hashLeft = HOOKS.hashThreadFailAfter;
  parentPort!.on('message', (m: ToWorker) => {
    if (m.type === 'read') {
      if (m.setup !== undefined) reader = { setup: m.setup, plans: new JsonPlans(PROFILES[m.setup.profile], new Map(m.setup.columns)), identities: new IdentityWindow(m.setup.windowKeys) };
      if (reader === undefined) throw new Error('a batch came before its setup');
      const result = readBatch(reader, m);
      const reply: FromWorker = { type: 'read', id: m.id, buf: m.buf, result };
      parentPort!.postMessage(reply, [m.buf.buffer as ArrayBuffer, result.entries.buffer as ArrayBuffer]);
      return;
    }
    if (m.type === 'lists') {
      writeListsFrom(m).then(
        (rows) => parentPort!.postMessage({ type: 'lists', rows } satisfies FromWorker),
        (e: unknown) => parentPort!.postMessage({ type: 'lists', failed: (e as { code?: string }).code ?? (e as Error).name ?? 'error' } satisfies FromWorker),
      );
      return;
    }
    if (m.type === 'roster') {
      buildRosterInto(m).then(
        () => parentPort!.postMessage({ type: 'roster' } satisfies FromWorker),
        (e: unknown) => parentPort!.postMessage({ type: 'roster', failed: (e as { code?: string }).code ?? (e as Error).name ?? 'error' } satisfies FromWorker),
      );
      return;
    }
    if (m.type === 'internal') {
      readInternalInto(m, (ready) => parentPort!.postMessage({ type: 'internal', ready } satisfies FromWorker)).then(
        (hashed) => parentPort!.postMessage({ type: 'internal', hashed } satisfies FromWorker),
        (e: unknown) => parentPort!.postMessage({ type: 'internal', failed: (e as { code?: string }).code ?? (e as Error).name ?? 'error' } satisfies FromWorker),
      );
      return;
    }
    if (hashLeft-- <= 0) throw new Error('hashing failure injected by BREACH_IMPACT_HASH_THREAD_FAIL_AFTER');
    if (m.type === 'hash') {
      (hash ??= createHash('sha256')).update(m.chunk);
      const reply: FromWorker = { type: 'hashed', chunk: m.chunk };
      parentPort!.postMessage(reply, [m.chunk.buffer as ArrayBuffer]);
    } else {
      const reply: FromWorker = { type: 'digest', hex: (hash ?? createHash('sha256')).digest('hex') };
      hash = undefined;
      parentPort!.postMessage(reply);
    }
  });
}

/**
 * The internal rows the join reads ahead: each table the main thread has not claimed, in
 * INTERNAL_TABLES order, read and committed in a transaction of a connection of this worker's
 * own, then `ready`. Then the database's SHA-256 and size, for the manifest: the main connection's
 * shared lock still keeps writers out, so they are those of the data the join reads.
 */
async function readInternalInto(m: Extract<ToWorker, { type: 'internal' }>, ready: (table: InternalTable) => void): Promise<Digest> {
  // (loaded here: the reading workers never need SQLite)
  const [{ InternalDb }, join] = await Promise.all([import('../internal/db.js'), import('../case/join.js')]);
  const fill: Record<InternalTable, (db: import('../sqlite.js').DB) => void> = {
    admins: (db) => join.readAdminRows(db, 'x', m.roles),
    members: (db) => join.readMemberships(db, 'x'),
    orgs: (db) => join.readOrgs(db, 'x'),
  };
  const claims = new Int32Array(m.claims);
  const internal = new InternalDb(m.path, m.map);
  try {
    const db = internal.db;
    for (const [i, table] of INTERNAL_TABLES.entries()) {
      if (Atomics.compareExchange(claims, i, CLAIM.none, CLAIM.worker) !== CLAIM.none) continue;
      if (table === 'members' && HOOKS.internalThreadFail !== undefined) throw Object.assign(new Error('internal rows thread failure injected by BREACH_IMPACT_INTERNAL_THREAD_FAIL'), { code: HOOKS.internalThreadFail });
      db.prepare('ATTACH ? AS x').run(m.into[table]);
      db.pragma('x.journal_mode = OFF');
      db.pragma('x.synchronous = OFF');
      // (a transaction per table: the main connection's shared lock keeps the snapshot the same)
      db.exec('BEGIN');
      fill[table](db);
      db.exec('COMMIT');
      db.exec('DETACH x');
      ready(table);
    }
  } finally {
    internal.close();
  }
  const { sha256, bytes } = hashFile(m.path);
  return { sha256, bytes };
}

/** KiB of page cache for the roster's working tables (and its sorts) on the worker. */
const ROSTER_CACHE_KIB = 8 * 1024;
/** KiB of page cache for a database read or written in key order. */
const SEQUENTIAL_CACHE_KIB = 1024;

/** The roster of the orgs `m.orgs` from the admin rows in `m.admins` into `m.into`, in a transaction of a connection of this worker's own. */
async function buildRosterInto(m: Extract<ToWorker, { type: 'roster' }>): Promise<void> {
  // (loaded here: the reading workers never need SQLite)
  const [{ openDatabase }, join] = await Promise.all([import('../sqlite.js'), import('../case/join.js')]);
  if (HOOKS.rosterThreadFail !== undefined) throw Object.assign(new Error('roster thread failure injected by BREACH_IMPACT_ROSTER_THREAD_FAIL'), { code: HOOKS.rosterThreadFail });
  // A private temporary database of SQLite's own for the orgs and the working tables. Its page
  // cache (which also bounds each sort's memory) is kept small, for this runs beside the main
  // connection's at its fullest; the files read and written in order need only a few pages.
  const db = openDatabase('');
  try {
    db.pragma('journal_mode = OFF');
    db.pragma(`cache_size = -${ROSTER_CACHE_KIB}`);
    join.registerFunctions(db);
    db.prepare('ATTACH ? AS a').run(m.admins);
    db.prepare('ATTACH ? AS r').run(m.into);
    db.pragma('r.journal_mode = OFF');
    db.pragma('r.synchronous = OFF');
    for (const schema of ['a', 'r']) db.pragma(`${schema}.cache_size = -${SEQUENTIAL_CACHE_KIB}`);
    db.exec('BEGIN');
    db.exec('CREATE TABLE main.affected (org TEXT PRIMARY KEY) WITHOUT ROWID');
    const affected = db.prepare('INSERT OR IGNORE INTO main.affected SELECT value FROM json_each(?)');
    for (const chunk of m.orgs) affected.run(chunk);
    join.buildRoster(db, 'a', 'SELECT org FROM main.affected', 'r', 'main');
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

/** The list files, each written to its descriptor from case.sqlite; their rows. */
async function writeListsFrom(m: Extract<ToWorker, { type: 'lists' }>): Promise<number[]> {
  // (loaded here: the reading workers never need SQLite)
  const [{ openReadOnly }, { writeListCsv }] = await Promise.all([import('../sqlite.js'), import('../case/writer.js')]);
  const db = openReadOnly(m.path);
  try {
    let writes = 0;
    return m.lists.map(([name, fd]) =>
      writeListCsv(db, 'main', name, {
        write: (text) => {
          if (HOOKS.listThreadFail !== undefined && ++writes > 1) throw Object.assign(new Error('list thread failure injected by BREACH_IMPACT_LIST_THREAD_FAIL'), { code: HOOKS.listThreadFail });
          writeSync(fd, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
        },
      }),
    );
  } finally {
    db.close();
  }
}

function readBatch(reader: Reader, m: Extract<ToWorker, { type: 'read' }>): ReadResult {
  const { setup, plans, identities } = reader;
  const rejects: [number, string, string][] = [];
  // the entries of the keyed records, written as they come (a batch's records die young)
  let entries = new Uint32Array(256 * ENTRY_WORDS);
  let keyed = 0;
  let encodingErrors = 0;
  let filtered = 0;
  let unkeyed = 0;
  let unkeyedTimed = 0;
  let line = 0;
  const sink: ValueSink = {
    encodingErrors: (n) => (encodingErrors += n),
    reject: (reason, excerpt) => void rejects.push([line, reason, excerpt]),
    plans: () => plans,
    accept: (r) => {
      if (!inWindow(setup.window, r.time)) {
        filtered++;
        return;
      }
      // counted as an event here; taken back when the reading ends if the record is a duplicate
      identities.add(r);
      if (r.recordId === undefined) {
        unkeyed++;
        if (r.time !== null) unkeyedTimed++;
      } else {
        if ((keyed + 1) * ENTRY_WORDS > entries.length) {
          const more = new Uint32Array(entries.length * 2);
          more.set(entries);
          entries = more;
        }
        writeEntry(r, setup.recordIdKey, entries, ENTRY_WORDS * keyed++);
      }
    },
  };
  // the block's lines as a whole input's: the same splitter, numbering them from 1 (line)
  const splitter = new LineSplitter({
    line: (no, bytes) => {
      line = no;
      jsonValue(bytes, true, sink);
    },
    oversize: (no) => void rejects.push([no, 'record_too_large', '']),
  });
  splitter.push(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength));
  splitter.end();
  const result: ReadResult = { lines: splitter.lines, rejects: JSON.stringify(rejects), encodingErrors, filtered, unkeyed, unkeyedTimed, entries: entries.slice(0, keyed * ENTRY_WORDS) };
  if (m.flush || identities.full) result.identities = packParts(identities.take());
  return result;
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === WORKER_KIND) runWorker();

// ---- the main thread's side of reading

/** Batches handed out per worker and not yet applied: enough that no worker waits for the main thread. */
const IN_FLIGHT_PER_WORKER = 3;

interface Slot {
  worker: Worker;
  busy: number;
  /** the setup the worker reads with (ReadSetup as JSON); undefined until its first batch */
  setup?: string;
  /** terminated by closeWorkers, not lost */
  closing?: boolean;
}

let pool: Slot[] = [];
let nextId = 1;
/**
 * Why a worker stopped unasked (an error, running out of memory). The records of its batches
 * are gone with it, so the reading cannot be completed: every later step throws this.
 */
let lost: Error | undefined;
const replies = new Map<number, { resolve: (m: Extract<FromWorker, { type: 'read' }>) => void; reject: (e: Error) => void }>();

function request(slot: Slot, m: ToWorker, transfer: ArrayBuffer[]): Promise<Extract<FromWorker, { type: 'read' }>> {
  const id = (m as { id: number }).id;
  const done = new Promise<Extract<FromWorker, { type: 'read' }>>((resolve, reject) => replies.set(id, { resolve, reject }));
  if (slot.busy++ === 0) slot.worker.ref();
  slot.worker.postMessage(m, transfer);
  return done;
}

/** A worker for the next batch: a new one while fewer than `threads` run, else the least busy. */
function workerFor(threads: number): Slot {
  if (pool.length < threads) {
    const worker = startWorker();
    const slot: Slot = { worker, busy: 0 };
    worker.on('message', (m: FromWorker) => {
      if (m.type !== 'read') return;
      // Once closing, the worker stays referenced: terminate() refs it so that the process lives
      // until its 'exit' event; a reply delivered in between must not undo that, or the process
      // may end while closeWorkers still awaits it (the run's result never printed, exit 0).
      if (--slot.busy === 0 && !slot.closing) worker.unref();
      const w = replies.get(m.id);
      replies.delete(m.id);
      w?.resolve(m);
    });
    const fail = (cause: Error) => {
      // The worker's own error may quote a record: only its code is shown.
      const code = (cause as { code?: string }).code;
      const e =
        code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new InputError('a parsing worker ran out of memory; the reading is incomplete and no case was written', 'read with one thread: --threads 1')
          : new InputError(`a parsing worker stopped (${code ?? cause.name}); the reading is incomplete and no case was written`, 'run again; if it repeats, try --threads 1 and report it with the command you ran (not the data)');
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
  for (const slot of all) slot.closing = true;
  await Promise.all(all.map((slot) => slot.worker.terminate()));
  if (failure !== undefined && complete) throw failure;
}

/** The sink a parallel NDJSON reader reports to, per line: read.ts's RecordSink, line-addressed. */
export interface LineSink {
  encodingErrors(n: number): void;
  reject(line: number, reason: string, excerpt: string): void;
  /** after each block's records were counted (for progress): `lines`, the lines read so far */
  counted(lines: number): void;
}

interface Batch {
  /** an over-long line the cutter dropped (no block): one line, rejected as record_too_large */
  oversize?: true;
  result?: ReadResult;
  done: Promise<unknown>;
}

const NO_RESULT: ReadResult = { lines: 0, rejects: '[]', encodingErrors: 0, filtered: 0, unkeyed: 0, unkeyedTimed: 0, entries: new Uint32Array(0) };

/**
 * An NDJSON input's bytes in, results applied in input order: usable records counted in
 * `tally`, their workers' aggregates handed to its sink, the rest reported to the line sink.
 *
 * The bytes are cut into blocks of whole lines of about HOOKS.batchBytes (BlockCutter), and each
 * block goes to a worker, which splits it into lines as the single-threaded reader splits the
 * whole input (LineSplitter, numbering from 1 in the block); the block's lines are numbered in
 * the input when its results are applied, in order. So this thread does no work per line. An
 * oversize line (dropped by the cutter) is rejected here as record_too_large, in its place.
 */
export class ParallelLines {
  private readonly cutter: BlockCutter;
  /** block buffers back from the workers */
  private readonly free: ArrayBuffer[] = [];
  /** lines of the blocks applied */
  private linesRead = 0;
  private readonly queue: Batch[] = [];
  private readonly setup: ReadSetup;
  private readonly setupKey: string;
  /** the workers given blocks of this file (their windows are handed over at its end) */
  private readonly slots = new Set<Slot>();

  constructor(
    profile: ProfileName,
    columns: Map<CanonicalField, string[]>,
    private readonly threads: number,
    private readonly tally: Tally,
    private readonly sink: LineSink,
  ) {
    this.setup = { profile, columns: [...columns], window: tally.window, recordIdKey: tally.recordIdKey, windowKeys: tally.windowKeys };
    this.setupKey = JSON.stringify([profile, this.setup.columns, this.setup.window, Buffer.from(tally.recordIdKey).toString('hex'), tally.windowKeys]);
    this.cutter = new BlockCutter(
      {
        // a buffer of its own (never a pool's slice), for it moves to the worker
        buffer: (min) => {
          const back = this.free.pop();
          return Buffer.from(back !== undefined && back.byteLength >= min ? back : new ArrayBuffer(min));
        },
        block: (buf, end) => this.send(workerFor(this.threads), buf, end, false),
        oversize: () => void this.queue.push({ oversize: true, result: NO_RESULT, done: Promise.resolve() }),
      },
      HOOKS.batchBytes,
    );
  }

  /** The input's next bytes (only read during the call). */
  push(chunk: Buffer): void {
    this.cutter.push(chunk);
  }

  /** Apply what is ready; resolves once few enough blocks are outstanding. */
  async settle(limit = IN_FLIGHT_PER_WORKER * this.threads): Promise<void> {
    if (lost !== undefined) throw lost;
    this.applyReady();
    while (this.queue.length > limit) {
      await this.queue[0].done;
      this.applyReady();
    }
  }

  /**
   * Hand out the last block, have every worker hand its window over, and apply everything.
   * `complete`: the input ended (its last line may have no line end); else it stopped, and a
   * line it ended inside is not a line.
   */
  async end(complete = true): Promise<void> {
    this.cutter.end(complete);
    for (const slot of this.slots) this.send(slot, Buffer.from(new ArrayBuffer(0)), 0, true);
    this.slots.clear();
    await this.settle(0);
  }

  /** `buf[0, end)` to `slot` (its buffer moves to the worker, and comes back with the results to be filled again). */
  private send(slot: Slot, buf: Buffer, end: number, flush: boolean): void {
    this.slots.add(slot);
    const batch: Batch = { done: Promise.resolve() };
    const m: ToWorker = { type: 'read', id: nextId++, buf: new Uint8Array(buf.buffer, buf.byteOffset, end), flush };
    if (slot.setup !== this.setupKey) {
      m.setup = this.setup;
      slot.setup = this.setupKey;
    }
    batch.done = request(slot, m, [buf.buffer as ArrayBuffer]).then((reply) => {
      this.free.push(reply.buf.buffer as ArrayBuffer);
      batch.result = reply.result;
    });
    batch.done.catch(() => undefined);
    this.queue.push(batch);
  }

  private applyReady(): void {
    while (this.queue.length > 0 && this.queue[0].result !== undefined) this.apply(this.queue.shift()!);
  }

  private apply(batch: Batch): void {
    const r = batch.result!;
    const { sink, tally } = this;
    const first = this.linesRead;
    if (batch.oversize) {
      this.linesRead++;
      sink.reject(this.linesRead, 'record_too_large', '');
      sink.counted(this.linesRead);
      return;
    }
    this.linesRead += r.lines;
    for (const [i, reason, excerpt] of JSON.parse(r.rejects) as [number, string, string][]) sink.reject(first + i, reason, excerpt);
    if (r.encodingErrors > 0) sink.encodingErrors(r.encodingErrors);
    tally.offerFiltered(r.filtered);
    tally.offerUnkeyed(r.unkeyed, r.unkeyedTimed);
    tally.offerKeyed(r.entries);
    if (r.identities !== undefined) tally.putParts(r.identities);
    sink.counted(this.linesRead);
  }
}

// ---- one-job workers: the list files

/**
 * A worker of its own for one job: `m` is sent to it, and `reply` resolves with its reply of type
 * `m.type`, or with `{ failed }` naming what stopped it (an error's code or name, never its
 * message, which may quote data).
 */
function oneJob<T extends 'lists'>(m: Extract<ToWorker, { type: T }>): { reply: Promise<Extract<FromWorker, { type: T }> | { failed: string }>; stop(): Promise<number> } {
  const worker = startWorker();
  worker.ref();
  const type: string = (m as { type: T }).type;
  const reply = new Promise<Extract<FromWorker, { type: T }> | { failed: string }>((resolve) => {
    worker.on('message', (r: FromWorker) => {
      if (r.type === type) resolve(r as Extract<FromWorker, { type: T }>);
    });
    worker.on('error', (e) => resolve({ failed: (e as { code?: string }).code ?? e.name }));
    worker.on('exit', (code) => resolve({ failed: `exit ${code}` }));
  });
  worker.postMessage(m);
  return { reply, stop: () => worker.terminate() };
}

// ---- the internal side's rows on a worker (case/join.ts readAdminRows, readMemberships, readOrgs)

/**
 * The tables of internal rows a worker reads ahead of the join, in the order it reads them: the
 * admin rows first (a join of memberships with users, the slowest where users has no index on
 * id, and the one the join needs last), then the memberships and the orgs, in the order the join
 * needs them. The join claims, and reads itself, any table the worker has not begun when it
 * needs it.
 */
export const INTERNAL_TABLES = ['admins', 'members', 'orgs'] as const;
export type InternalTable = (typeof INTERNAL_TABLES)[number];
/** Who reads a table of internal rows: whichever thread claims it first. */
const CLAIM = { none: 0, worker: 1, main: 2 } as const;

/**
 * Has a worker read the internal database at `path` into the SQLite files `into` names (their
 * tables made already), each table unless this thread claims it first: `claim(table)` is true
 * when this thread got it (it reads the table itself; the worker skips it), false when the worker
 * has it, and then `ready(table)` resolves when the worker has committed it, or with the name of
 * the error that stopped the worker before that. `failed()`: that name, once known.
 */
export function readInternalOnWorker(
  path: string,
  map: string | undefined,
  roles: readonly string[],
  into: Record<InternalTable, string>,
): {
  claim(table: InternalTable): boolean;
  ready(table: InternalTable): Promise<string | undefined>;
  roster(admins: string, into: string, orgs: string[]): Promise<string | undefined>;
  hash(): Promise<Digest | undefined>;
  failed(): string | undefined;
  stop(): Promise<number>;
} {
  const claims = new Int32Array(new SharedArrayBuffer(INTERNAL_TABLES.length * Int32Array.BYTES_PER_ELEMENT));
  const worker = startWorker();
  worker.ref();
  // a promise per table, settled once: undefined when the worker has committed it, else why it stopped first
  const settle = new Map<InternalTable, (failed: string | undefined) => void>();
  const readies = new Map(INTERNAL_TABLES.map((t) => [t, new Promise<string | undefined>((resolve) => settle.set(t, resolve))]));
  let failed: string | undefined;
  // the roster, once asked for: settled as the tables are
  let settleRoster: ((failed: string | undefined) => void) | undefined;
  // the database's hash, once the worker has taken it (undefined if it stopped first)
  let settleHash: (hashed: Digest | undefined) => void = () => undefined;
  const hashed = new Promise<Digest | undefined>((resolve) => (settleHash = resolve));
  const fail = (why: string) => {
    failed ??= why;
    for (const resolve of settle.values()) resolve(failed);
    settleRoster?.(failed);
    settleHash(undefined);
  };
  worker.on('message', (r: FromWorker) => {
    if (r.type === 'roster') return settleRoster?.(r.failed);
    if (r.type !== 'internal') return;
    if (r.ready !== undefined) settle.get(r.ready)!(undefined);
    if (r.hashed !== undefined) settleHash(r.hashed);
    if (r.failed !== undefined) fail(r.failed);
  });
  worker.on('error', (e) => fail((e as { code?: string }).code ?? e.name));
  worker.on('exit', (code) => fail(`exit ${code}`));
  worker.postMessage({ type: 'internal', path, map, roles: [...roles], into, claims: claims.buffer as SharedArrayBuffer } satisfies ToWorker);
  return {
    claim: (table) => Atomics.compareExchange(claims, INTERNAL_TABLES.indexOf(table), CLAIM.none, CLAIM.main) === CLAIM.none,
    ready: (table) => readies.get(table)!,
    roster: (admins, into, orgs) => {
      if (failed !== undefined) return Promise.resolve(failed);
      const built = new Promise<string | undefined>((resolve) => (settleRoster = resolve));
      worker.postMessage({ type: 'roster', admins, into, orgs } satisfies ToWorker);
      return built;
    },
    hash: () => hashed,
    failed: () => failed,
    stop: () => worker.terminate(),
  };
}

// ---- list files on a worker (case/writer.ts writeListCsv)

/**
 * Has a worker write the list files `lists` (name, descriptor) from the case.sqlite at `path`;
 * resolves with their rows, or with the code of the error that stopped it.
 */
export function writeListsOnWorker(path: string, lists: [ListName, number][]): Promise<{ rows?: number[]; failed?: string }> {
  const job = oneJob({ type: 'lists', path, lists });
  return job.reply.finally(() => void job.stop());
}
