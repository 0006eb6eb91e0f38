/**
 * Reading one export: detect the container (NDJSON, JSON array/document, CSV) from its first
 * bytes, split it into records with their physical line, parse and canonicalise each one, and
 * report every record's fate to the sink. Nothing here throws for bad records; a file that cannot
 * be read to its end reports a stop.
 */
import { StringDecoder } from 'node:string_decoder';
import { canonicalize, type CanonicalField, type CanonicalRecord } from '../core/canonical.js';
import type { Tally } from '../core/tally.js';
import { looksLikeSecret } from '../core/secrets.js';
import { CsvSplitter } from './csv.js';
import { headerMayBeData } from './csv-plan.js';
import { JsonStreamSplitter } from './json-stream.js';
import { pageResults, type JsonObject } from './json-record.js';
import { LineSplitter, MAX_RECORD_BYTES } from './lines.js';
import { CsvColumns, csvPlanOf, JsonPlans, uniqueHeader, type Columns } from './plan.js';
import { detectCsv, detectJson, forced, PROFILE_NAMES, PROFILES, type Detection, type ProfileName } from './profiles/index.js';
import { openInput, type InputFile } from './source.js';
import { csvExcerptOf, nameForMessage, replacedCount } from './text.js';
import { jsonValue, ParallelLines, type ValueSink } from './workers.js';

export type Vendor = ProfileName;
export const VENDORS: readonly Vendor[] = PROFILE_NAMES;
export type Container = 'ndjson' | 'json' | 'csv' | 'empty';

export interface ReadOptions {
  vendor?: Vendor;
  columns: Columns;
  /** Worker threads for NDJSON (workers.ts), used when the sink has a tally; absent or 1: none. */
  threads?: number;
}

export interface RecordSink {
  /**
   * A usable record, with its source (the parsed JSON object, or the CSV cells: see `header`) and
   * the fields each address in it feeds.
   */
  accept(line: number, rec: CanonicalRecord, source: JsonObject | string[], addresses: ReadonlyMap<string, readonly CanonicalField[]>): void;
  /**
   * With a tally, NDJSON may be read by worker threads: their usable records are then counted
   * in the tally, and aggregated into identities that reach its sink, instead of reaching `accept`.
   */
  tally?: Tally;
  /** Called now and then while a parallel read counts records into the tally. */
  progress?(): void;
  /** A CSV file's header row, its names made unique. */
  header?(names: string[]): void;
  reject(line: number, reason: string, excerpt: string): void;
  /** Reading stopped early at this line: counted as one read and rejected record. */
  stop(line: number, reason: string): void;
  encodingErrors(n: number): void;
  warn(message: string): void;
}

export interface FileResult {
  container: Container;
  /** The profile the file was read with ('' for an empty file), and why it was chosen. */
  profile: ProfileName | '';
  reason: string;
  /** Does the file start like a SQLite database? (the internal database passed as an export) */
  sqlite: boolean;
}

const PEEK_LIMIT = MAX_RECORD_BYTES + 1;

export async function readExport(file: InputFile, opts: ReadOptions, sink: RecordSink): Promise<FileResult> {
  const chunks = openInput(file, (s) => stopReason = s.reason);
  let stopReason: string | undefined;
  const it = chunks[Symbol.asyncIterator]();

  // Peek until the first line is complete (or the peek limit) to choose the container.
  const peek: Buffer[] = [];
  let peekBytes = 0;
  let done = false;
  for (;;) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    peek.push(r.value);
    peekBytes += r.value.length;
    if (peekBytes >= PEEK_LIMIT || firstLineComplete(Buffer.concat(peek))) break;
  }
  const head = Buffer.concat(peek);
  const container = chooseContainer(head, done, opts.vendor);
  const result: FileResult = { container, profile: '', reason: container === 'empty' ? 'the file holds no record' : '', sqlite: head.subarray(0, 16).toString('latin1') === 'SQLite format 3\u0000' };

  let lastLine = 0;
  const feed = makeFeeder(container, opts, file, sink, result, (l) => (lastLine = Math.max(lastLine, l)));
  if (container !== 'empty') await feed.push(head);
  if (!done) {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      if (container !== 'empty') await feed.push(r.value);
    }
  }
  if (stopReason !== undefined) {
    // Records before the break are kept; the stop is one rejected row after the last line seen.
    await feed.settle?.();
    sink.stop(lastLine + 1, stopReason);
  } else {
    await feed.end();
  }
  return result;
}

function firstLineComplete(b: Buffer): boolean {
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  return i < b.length && (b.indexOf(0x0a, i) !== -1 || b.indexOf(0x0d, i) !== -1);
}

export function chooseContainer(head: Buffer, complete: boolean, vendor: Vendor | undefined): Container {
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  if (i === head.length) return 'empty';
  const c = head[i];
  if (vendor === 'csv' || (c !== 0x5b && c !== 0x7b && (vendor === undefined || PROFILES[vendor].csv))) return 'csv';
  if (c !== 0x5b && c !== 0x7b) return 'ndjson';
  let end = i;
  while (end < head.length && head[end] !== 0x0a && head[end] !== 0x0d) end++;
  const lineComplete = end < head.length || complete;
  if (!lineComplete) return 'json';
  const first = head.subarray(i, end).toString('utf8').trim();
  let parses = true;
  try {
    JSON.parse(first);
  } catch {
    parses = false;
  }
  const rest = head.subarray(end).toString('utf8').trim();
  if (c === 0x5b) return parses && rest !== '' ? 'ndjson' : 'json';
  if (parses) return 'ndjson';
  return /[{[,:]$/.test(first) ? 'json' : 'ndjson';
}

interface Feeder {
  /** A promise when the caller must wait (parallel parsing: too many batches outstanding). */
  push(b: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
  /** Apply every record split so far (before a stop row). */
  settle?(): Promise<void>;
}

/** Chooses the file's profile once: --vendor, else from the first record (detectJson). */
function chooser(opts: ReadOptions, result: FileResult): (first: JsonObject | undefined) => JsonPlans {
  let plans: JsonPlans | undefined;
  return (first) => {
    if (plans === undefined) {
      const d: Detection = opts.vendor !== undefined ? forced(opts.vendor) : detectJson(first);
      result.profile = d.profile.name;
      result.reason = d.reason;
      plans = new JsonPlans(d.profile, opts.columns);
    }
    return plans;
  };
}

/** The first record a line holds (a page's first profile), for detection; parsed as is. */
function firstRecordOf(bytes: Buffer): JsonObject | undefined {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const page = pageResults(v as JsonObject);
  if (page === undefined) return v as JsonObject;
  const el = page[0];
  return typeof el === 'object' && el !== null && !Array.isArray(el) ? (el as JsonObject) : undefined;
}

/** Lines, and their bytes, held on the main thread while looking for a first record to detect the profile from. */
const DETECT_MAX_LINES = 1000;
const DETECT_MAX_BYTES = 4 * MAX_RECORD_BYTES;

function makeFeeder(container: Container, opts: ReadOptions, file: InputFile, sink: RecordSink, result: FileResult, seen: (line: number) => void): Feeder {
  if (container === 'csv') return csvFeeder(opts, file, sink, result, seen);
  const choose = chooser(opts, result);
  let current = 0;
  const valueSink: ValueSink = {
    encodingErrors: (n) => sink.encodingErrors(n),
    reject: (reason, excerpt) => sink.reject(current, reason, excerpt),
    plans: choose,
    accept: (rec, obj, addresses) => sink.accept(current, rec, obj, addresses),
  };
  const handleValue = (line: number, bytes: Buffer) => {
    seen(line);
    current = line;
    jsonValue(bytes, container === 'ndjson', valueSink);
  };
  if (container === 'ndjson' && (opts.threads ?? 1) > 1 && sink.tally !== undefined) {
    const tally = sink.tally;
    // The workers need the profile: the input's bytes wait here until a line holds a record to
    // detect it from (a splitter of their own finds the lines; the workers split them again).
    let parallel: ParallelLines | undefined;
    const held: Buffer[] = [];
    let heldLines = 0;
    let heldBytes = 0;
    let first: JsonObject | undefined;
    const start = () => {
      parallel = new ParallelLines(choose(first).profile.name, opts.columns, opts.threads!, tally, {
        encodingErrors: (n) => sink.encodingErrors(n),
        reject: (line, reason, excerpt) => sink.reject(line, reason, excerpt),
        counted: (lines) => {
          seen(lines);
          sink.progress?.();
        },
      });
      for (const b of held) parallel.push(b);
      held.length = 0;
    };
    const detect = new LineSplitter({
      line: (_line, bytes) => {
        heldLines++;
        first ??= firstRecordOf(bytes);
      },
      oversize: () => void heldLines++,
    });
    if (opts.vendor !== undefined) start();
    const started = () => {
      if (parallel === undefined) start();
      return parallel!;
    };
    return {
      push: (b) => {
        if (parallel !== undefined) {
          parallel.push(b);
          return parallel.settle();
        }
        held.push(Buffer.from(b));
        heldBytes += b.length;
        detect.push(b);
        if (first === undefined && heldLines < DETECT_MAX_LINES && heldBytes < DETECT_MAX_BYTES) return undefined;
        start();
        return (parallel as ParallelLines | undefined)?.settle();
      },
      end: () => started().end(true),
      settle: () => started().end(false),
    };
  }
  const finish = () => {
    // a file of no record still names the profile it would have been read with
    if (result.profile === '' && container !== 'empty') choose(undefined);
  };
  if (container === 'ndjson') {
    const splitter = new LineSplitter({
      line: handleValue,
      oversize: (line) => {
        seen(line);
        sink.reject(line, 'record_too_large', '');
      },
    });
    return { push: (b) => splitter.push(b), end: () => (splitter.end(), finish()), settle: async () => finish() };
  }
  const splitter = new JsonStreamSplitter({
    value: handleValue,
    reject: (line, reason) => {
      seen(line);
      sink.reject(line, reason, '');
    },
    stop: (line, reason) => sink.stop(line, reason),
  });
  return { push: (b) => splitter.push(b), end: () => (splitter.end(), finish()), settle: async () => finish() };
}

function csvFeeder(opts: ReadOptions, file: InputFile, sink: RecordSink, result: FileResult, seen: (line: number) => void): Feeder {
  const decoder = new StringDecoder('utf8');
  let header: string[] | undefined;
  let read: ReturnType<typeof csvPlanOf> | undefined;
  const splitter = new CsvSplitter({
    record(line, cells) {
      seen(line);
      if (header === undefined) {
        // The row's names are not shown when they may be data: in a file without a header they are personal.
        const mayBeData = headerMayBeData(cells, opts.columns);
        header = uniqueHeader(cells, file.label, sink.warn, (n) => (mayBeData ? '…' : nameForMessage(n)));
        const cols = new CsvColumns(header);
        const d = opts.vendor !== undefined ? forced(opts.vendor) : detectCsv(cols.keys);
        result.profile = d.profile.name;
        result.reason = d.reason;
        read = csvPlanOf(d.profile, cols, opts.columns, sink.warn, file.label);
        if (mayBeData) {
          sink.warn(`${file.label}: no name in the CSV's first row is a column this tool knows by default: if the file has no header row, that row was read as the header (not counted as a record, and never shown); give the file a header row, or map its columns by name with --column FIELD=NAME`);
        }
        sink.header?.(header);
        return;
      }
      if (cells.length < header.length) return sink.reject(line, 'missing_columns', csvExcerptOf(cells));
      if (cells.length > header.length) return sink.reject(line, 'too_many_columns', csvExcerptOf(cells));
      const secret = cells.some((c) => c.length >= 12 && looksLikeSecret(c));
      const r = canonicalize(read!.plan, cells, secret);
      if (typeof r === 'string') sink.reject(line, r, csvExcerptOf(cells));
      else sink.accept(line, r, cells, read!.addresses);
    },
    reject(line, reason) {
      seen(line);
      sink.reject(line, reason, '');
    },
    stop(line, reason) {
      sink.stop(line, reason);
    },
  });
  return {
    push(b) {
      const text = decoder.write(b);
      const bad = replacedCount(b, text);
      if (bad > 0) sink.encodingErrors(bad);
      splitter.push(text);
    },
    end() {
      const tail = decoder.end();
      if (tail.length > 0) {
        sink.encodingErrors(1);
        splitter.push(tail);
      }
      splitter.end();
    },
  };
}
