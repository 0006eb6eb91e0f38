/**
 * Reading one export: detect the container (NDJSON, JSON array/document, CSV) from its first
 * bytes, split it into records with their physical line, parse and canonicalise each one, and
 * report every record's fate to the sink. Nothing here throws for bad records; a file that cannot
 * be read to its end reports a stop.
 */
import { StringDecoder } from 'node:string_decoder';
import { canonicalize, type CanonicalField, type CanonicalRecord, type Plan } from '../core/canonical.js';
import type { Tally } from '../core/tally.js';
import { looksLikeSecret } from '../core/secrets.js';
import { csvPlan } from './csv-plan.js';
import { CsvSplitter } from './csv.js';
import { JsonStreamSplitter } from './json-stream.js';
import { jsonPlan, type JsonRec, type JsonObject } from './json-record.js';
import { LineSplitter, MAX_RECORD_BYTES } from './lines.js';
import { openInput, type InputFile } from './source.js';
import { csvExcerptOf, replacedCount } from './text.js';
import { jsonValue, ParallelLines, type ValueSink } from './workers.js';

export type Vendor = 'mixpanel-events' | 'mixpanel-people' | 'csv';
export const VENDORS: Vendor[] = ['mixpanel-events', 'mixpanel-people', 'csv'];
export type Container = 'ndjson' | 'json' | 'csv' | 'empty';

export interface ReadOptions {
  vendor?: Vendor;
  columns: Map<CanonicalField, string[]>;
  /** Worker threads for NDJSON (workers.ts), used when the sink has a tally; absent or 1: none. */
  threads?: number;
}

export interface RecordSink {
  /** A usable record, with its source: the parsed JSON object, or the CSV cells (see `header`). */
  accept(line: number, rec: CanonicalRecord, source: JsonObject | string[]): void;
  /**
   * With a tally, NDJSON may be read by worker threads: their usable records are then counted
   * in the tally and grouped into its identities instead of reaching `accept`.
   */
  tally?: Tally;
  /** Called now and then while a parallel read counts records into the tally. */
  progress?(): void;
  /** A CSV file's header row. */
  header?(cells: string[]): void;
  reject(line: number, reason: string, excerpt: string): void;
  /** Reading stopped early at this line: counted as one read and rejected record. */
  stop(line: number, reason: string): void;
  encodingErrors(n: number): void;
  warn(message: string): void;
}

export interface FileResult {
  container: Container;
  /** Shape of the first record: mixpanel-events, mixpanel-people, csv or json */
  detected: string;
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
  // --vendor names the format (and the vendor in notices) whatever the first record looks like
  const result: FileResult = { container, detected: container === 'csv' ? 'csv' : container === 'empty' ? 'empty' : (opts.vendor ?? '') };

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
  if (result.detected === '') result.detected = opts.vendor ?? 'json';
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
  if (vendor === 'csv') return 'csv';
  const c = head[i];
  if (vendor === undefined && c !== 0x5b && c !== 0x7b) return 'csv';
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

function makeFeeder(container: Container, opts: ReadOptions, file: InputFile, sink: RecordSink, result: FileResult, seen: (line: number) => void): Feeder {
  if (container === 'csv') return csvFeeder(opts, file, sink, seen);
  const plan = jsonPlan(opts.columns) as Plan<JsonRec>;
  let current = 0;
  const valueSink: ValueSink = {
    encodingErrors: (n) => sink.encodingErrors(n),
    reject: (reason, excerpt) => sink.reject(current, reason, excerpt),
    detect: (shape) => {
      if (result.detected === '') result.detected = shape;
    },
    accept: (rec, obj) => sink.accept(current, rec, obj),
  };
  const handleValue = (line: number, bytes: Buffer) => {
    seen(line);
    current = line;
    jsonValue(bytes, container === 'ndjson', plan, valueSink);
  };
  if (container === 'ndjson' && (opts.threads ?? 1) > 1 && sink.tally !== undefined) {
    const parallel = new ParallelLines(opts.columns, opts.threads!, sink.tally, {
      encodingErrors: (n) => sink.encodingErrors(n),
      reject: (line, reason, excerpt) => sink.reject(line, reason, excerpt),
      detect: valueSink.detect,
      counted: () => sink.progress?.(),
    });
    const splitter = new LineSplitter({
      line: (line, bytes) => {
        seen(line);
        parallel.line(line, bytes);
      },
      oversize: (line) => {
        seen(line);
        parallel.oversize(line);
      },
    });
    return {
      push: (b) => {
        splitter.push(b);
        return parallel.settle();
      },
      end: () => {
        splitter.end();
        return parallel.end();
      },
      settle: () => parallel.end(),
    };
  }
  if (container === 'ndjson') {
    const splitter = new LineSplitter({
      line: handleValue,
      oversize: (line) => {
        seen(line);
        sink.reject(line, 'record_too_large', '');
      },
    });
    return { push: (b) => splitter.push(b), end: () => splitter.end() };
  }
  const splitter = new JsonStreamSplitter({
    value: handleValue,
    reject: (line, reason) => {
      seen(line);
      sink.reject(line, reason, '');
    },
    stop: (line, reason) => sink.stop(line, reason),
  });
  return { push: (b) => splitter.push(b), end: () => splitter.end() };
}

function csvFeeder(opts: ReadOptions, file: InputFile, sink: RecordSink, seen: (line: number) => void): Feeder {
  const decoder = new StringDecoder('utf8');
  let header: string[] | undefined;
  let plan: Plan<string[]> | undefined;
  const splitter = new CsvSplitter({
    record(line, cells) {
      seen(line);
      if (header === undefined) {
        header = cells;
        plan = csvPlan(header, opts.columns, file.label, sink.warn);
        sink.header?.(cells);
        return;
      }
      if (cells.length < header.length) return sink.reject(line, 'missing_columns', csvExcerptOf(cells));
      if (cells.length > header.length) return sink.reject(line, 'too_many_columns', csvExcerptOf(cells));
      const secret = cells.some((c) => c.length >= 12 && looksLikeSecret(c));
      const r = canonicalize(plan!, cells, secret);
      if (typeof r === 'string') sink.reject(line, r, csvExcerptOf(cells));
      else sink.accept(line, r, cells);
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
