/**
 * A list written to its staged CSV file, row by row. For a long list the text is made and written
 * on a thread of its own: the main thread, which makes the rows and stores them in case.sqlite,
 * only turns each row into its cells (csvCells) and hands them over a few hundred rows at a time
 * (one text and the cells' lengths); quoting (csv-stringify) and writing run beside it. The bytes
 * are the same either way: the same cells, the same csvLines, written in order.
 */
import { writeSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Row } from '../core/rows.js';
import type { StagedFile } from '../case/files.js';
import { csvCells, csvLine, csvLines, ROWS_PER_CALL } from './csv.js';

const KIND = 'breach-impact-csv';
/** Lists of at least this many rows are written on the CSV thread (BREACH_IMPACT_CSV_THREAD_MIN_ROWS, for tests). */
export const CSV_THREAD_MIN_ROWS = Number(process.env.BREACH_IMPACT_CSV_THREAD_MIN_ROWS ?? 20_000);
/** Batches handed over and not yet written before `put` waits: bounds the text in flight. */
const MAX_IN_FLIGHT = 16;

/** A batch: every cell of its rows, in order, as one text, and each cell's length (a row is `width` cells). */
type ToCsvThread = { fd: number; text: string; lengths: Int32Array; width: number } | { fd: number; end: true };
type FromCsvThread = { written: number } | { ended: number } | { failed: number; code: string | undefined; message: string };

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND) {
  /** files whose writing failed: their later batches are dropped (the main thread stops the run) */
  const failed = new Set<number>();
  parentPort!.on('message', (m: ToCsvThread) => {
    if ('end' in m) {
      failed.delete(m.fd);
      parentPort!.postMessage({ ended: m.fd } satisfies FromCsvThread);
      return;
    }
    if (failed.has(m.fd)) return parentPort!.postMessage({ written: m.fd } satisfies FromCsvThread);
    try {
      writeSync(m.fd, Buffer.from(csvLines(rowsOf(m.text, m.lengths, m.width)), 'utf8'));
      parentPort!.postMessage({ written: m.fd } satisfies FromCsvThread);
    } catch (e) {
      failed.add(m.fd);
      parentPort!.postMessage({ failed: m.fd, code: (e as NodeJS.ErrnoException).code, message: String((e as Error).message) } satisfies FromCsvThread);
    }
  });
}

/** The rows of a batch, cut out of its text. */
function rowsOf(text: string, lengths: Int32Array, width: number): string[][] {
  const rows: string[][] = [];
  let at = 0;
  for (let i = 0; i < lengths.length; i += width) {
    const row: string[] = [];
    for (let j = i; j < i + width; j++) {
      row.push(text.slice(at, at + lengths[j]));
      at += lengths[j];
    }
    rows.push(row);
  }
  return rows;
}

export interface CsvFile {
  /** Add a row; when a promise comes back, wait for it before the next. */
  put(row: Row): Promise<void> | undefined;
  /** Every row written (the file is not closed: the caller closes and publishes it). */
  end(): Promise<void>;
}

/** Writes `columns` as the header, then each row's cells, to `file`; on the CSV thread if `threaded`. */
export function csvFile(file: StagedFile, columns: readonly string[], threaded: boolean): CsvFile {
  file.write(csvLine([...columns]));
  return threaded ? onThread(file, columns) : inPlace(file, columns);
}

function inPlace(file: StagedFile, columns: readonly string[]): CsvFile {
  let batch: string[][] = [];
  return {
    put: (row) => {
      batch.push(csvCells(columns, row));
      if (batch.length === ROWS_PER_CALL) {
        file.write(csvLines(batch));
        batch = [];
      }
      return undefined;
    },
    end: async () => {
      if (batch.length > 0) file.write(csvLines(batch));
      batch = [];
    },
  };
}

let thread: { worker: Worker; owed: number; listeners: Map<number, (m: FromCsvThread) => void> } | undefined;

/** The CSV thread, started on first use; referenced only while it owes a reply. */
function csvThread(): NonNullable<typeof thread> {
  if (thread !== undefined) return thread;
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: KIND } });
  worker.unref();
  const t = { worker, owed: 0, listeners: new Map<number, (m: FromCsvThread) => void>() };
  const fdOf = (m: FromCsvThread) => ('written' in m ? m.written : 'ended' in m ? m.ended : m.failed);
  worker.on('message', (m: FromCsvThread) => {
    if (--t.owed === 0) worker.unref();
    t.listeners.get(fdOf(m))?.(m);
  });
  const lost = (e: Error) => {
    thread = undefined;
    const m = { code: (e as { code?: string }).code ?? e.name, message: 'the thread writing the lists stopped' };
    for (const [fd, listener] of t.listeners) listener({ failed: fd, ...m });
  };
  worker.on('error', lost);
  worker.on('exit', (code) => {
    if (thread === t) lost(Object.assign(new Error('exit'), { code: `exit ${code}` }));
  });
  thread = t;
  return t;
}

/**
 * Stops the CSV thread, if one was started. It writes nothing more by then: every list has ended
 * (its last batch written) or failed (the thread drops a failed file's later batches).
 */
export function closeCsvThread(): void {
  const t = thread;
  thread = undefined;
  // not awaited: a thread stopped while replies are still on their way may never report its exit
  if (t !== undefined) void t.worker.terminate();
}

function onThread(file: StagedFile, columns: readonly string[]): CsvFile {
  const t = csvThread();
  const fd = file.descriptor;
  const width = columns.length;
  let cells: string[] = [];
  let rows = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  let waiting: (() => void) | undefined;
  let ended: (() => void) | undefined;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  t.listeners.set(fd, (m) => {
    if ('failed' in m) {
      // the next put (or end) throws it; a put waiting for room goes on to do so
      failure ??= file.failure(Object.assign(new Error(m.message), { code: m.code }));
      wake();
      ended?.();
      return;
    }
    if ('ended' in m) return ended?.();
    inFlight--;
    if (inFlight < MAX_IN_FLIGHT) wake();
  });
  const send = (m: ToCsvThread, transfer: ArrayBuffer[] = []) => {
    if (t.owed++ === 0) t.worker.ref();
    t.worker.postMessage(m, transfer);
  };
  const flush = () => {
    inFlight++;
    // the texts joined and their lengths: copied across at memory speed (a JSON array of them
    // costs the main thread about what quoting them does)
    const lengths = Int32Array.from(cells, (c) => c.length);
    send({ fd, text: cells.join(''), lengths, width }, [lengths.buffer]);
    cells = [];
    rows = 0;
  };
  return {
    put: (row) => {
      if (failure !== undefined) throw failure;
      for (const c of csvCells(columns, row)) cells.push(c);
      if (++rows < ROWS_PER_CALL) return undefined;
      flush();
      if (inFlight < MAX_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve) => (waiting = resolve));
    },
    end: async () => {
      if (failure === undefined && rows > 0) flush();
      if (failure === undefined) {
        const done = new Promise<void>((resolve) => (ended = resolve));
        send({ fd, end: true });
        await done;
      }
      t.listeners.delete(fd);
      if (failure !== undefined) throw failure;
    },
  };
}
