/**
 * The case's lists, written in one pass: each row goes to its list's staged CSV file and to
 * case.sqlite. For a long case the writing runs on a thread of its own (the list thread): the
 * main thread, which makes the rows, only turns each into the cells case.sqlite stores
 * (storedCell) and hands them over a few hundred rows at a time, as one text and the cells'
 * lengths; the CSV text (csv-stringify), its writing and the SQLite inserts run beside it. In
 * place, the same batches go through the same code: the bytes are the same either way.
 */
import { writeSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { COLUMNS, COUNT_COLUMNS, LIST_COLUMNS, type ListName, type Row } from '../core/rows.js';
import { cellText, neutralizeFormula } from '../output/cells.js';
import { csvLine, csvLines, ROWS_PER_CALL } from '../output/csv.js';
import type { StagedFile } from './files.js';
import { CaseStore, storedCell, storedColumns, type Stored } from './store.js';

const KIND = 'breach-impact-lists';
/** Cases of at least this many rows in all are written on the list thread (BREACH_IMPACT_WRITER_THREAD_MIN_ROWS, for tests). */
export const WRITER_THREAD_MIN_ROWS = Number(process.env.BREACH_IMPACT_WRITER_THREAD_MIN_ROWS ?? 20_000);
/** Batches handed over and not yet written before `put` waits: bounds the text in flight. */
const MAX_IN_FLIGHT = 16;

/** A batch: every stored cell of its rows, in order, as one text, and each cell's length (-1: NULL). */
interface Batch {
  text: string;
  lengths: Int32Array;
}

type ToThread =
  | { open: string }
  | { list: ListName; fd: number }
  | { batch: Batch }
  | { endList: true }
  | { meta: string; value: string }
  | { close: true };
type FromThread = { done: true } | { failed: true; code: string | undefined; message: string };

/**
 * What writes the batches, wherever it runs: case.sqlite, and the list being written (one at a
 * time, in order).
 */
class Engine {
  private store: CaseStore | undefined;
  private list: { fd: number; stored: readonly string[]; csvWidth: number; db: ReturnType<CaseStore['listWriter']> } | undefined;

  open(path: string): void {
    this.store = new CaseStore(path);
  }

  startList(name: ListName, fd: number): void {
    this.list = { fd, stored: storedColumns(name), csvWidth: COLUMNS[name].length, db: this.store!.listWriter(name) };
  }

  batch({ text, lengths }: Batch): void {
    const l = this.list!;
    const width = l.stored.length;
    const lines: string[][] = [];
    let at = 0;
    for (let i = 0; i < lengths.length; i += width) {
      const cells: Stored[] = [];
      const csv: string[] = [];
      for (let j = 0; j < width; j++) {
        const n = lengths[i + j];
        const column = l.stored[j];
        let v: Stored = null;
        if (n >= 0) {
          const s = text.slice(at, at + n);
          at += n;
          v = COUNT_COLUMNS.has(column) ? Number(s) : s;
        }
        cells.push(v);
        if (j < l.csvWidth) csv.push(neutralizeFormula(csvText(column, v)));
      }
      l.db.put(cells);
      lines.push(csv);
    }
    writeSync(l.fd, Buffer.from(csvLines(lines), 'utf8'));
  }

  endList(): void {
    this.list?.db.end();
    this.list = undefined;
  }

  meta(key: string, value: string): void {
    this.store!.putMeta(key, value);
  }

  close(): void {
    this.store?.close();
    this.store = undefined;
  }
}

/** A stored cell's CSV text: a list (JSON in case.sqlite) `;`-joined, NULL empty. */
export function csvText(column: string, v: Stored): string {
  if (v === null) return '';
  if (typeof v === 'string' && LIST_COLUMNS.has(column)) return listText(v);
  return String(v);
}

/**
 * A JSON list's items `;`-joined, as cellText joins the list. Most lists are strings with nothing
 * JSON escapes (no quote, backslash or control character): then the only quotes are the ones
 * around each item, and the text between `["` and `"]` with each `","` made `;` is the answer,
 * without parsing. Anything else (an escape, a non-string item) is parsed.
 */
function listText(json: string): string {
  if (json === '[]') return '';
  if (json.startsWith('["') && json.endsWith('"]') && !json.includes('\\')) {
    const joined = json.slice(2, -2).replaceAll('","', ';');
    if (!joined.includes('"')) return joined;
  }
  return cellText(JSON.parse(json) as string[]);
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND) {
  const engine = new Engine();
  /** once a step failed, the later ones are not tried (the main thread stops the run) */
  let failed = false;
  parentPort!.on('message', (m: ToThread) => {
    if (failed) return parentPort!.postMessage({ done: true } satisfies FromThread);
    try {
      step(engine, m);
      parentPort!.postMessage({ done: true } satisfies FromThread);
    } catch (e) {
      failed = true;
      parentPort!.postMessage({ failed: true, code: (e as NodeJS.ErrnoException).code, message: String((e as Error).message) } satisfies FromThread);
    }
  });
}

function step(engine: Engine, m: ToThread): void {
  if ('open' in m) engine.open(m.open);
  else if ('list' in m) engine.startList(m.list, m.fd);
  else if ('batch' in m) engine.batch(m.batch);
  else if ('endList' in m) engine.endList();
  else if ('meta' in m) engine.meta(m.meta, m.value);
  else engine.close();
}

export interface ListFile {
  /** Add a row; when a promise comes back, wait for it before the next. */
  put(row: Row): Promise<void> | undefined;
  /** Every row written (the CSV file is not closed: the caller closes and publishes it). */
  end(): Promise<void>;
}

/**
 * Writes the case's lists (one at a time: `list`, its rows, `end`) and then `close`s case.sqlite,
 * on the list thread if `threaded`. A failure to write (a full disk, say) is thrown as
 * `caseFile.failure` makes it: a clear error naming the case directory, whichever file failed.
 */
export class CaseWriter {
  private readonly run: (m: ToThread, transfer?: ArrayBuffer[]) => Promise<void> | undefined;
  private readonly stop: () => void;
  private inFlight = 0;
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;

  constructor(caseFile: StagedFile, threaded: boolean) {
    if (!threaded) {
      const engine = new Engine();
      this.run = (m) => {
        try {
          step(engine, m);
        } catch (e) {
          // a file or SQLite error names the case directory; anything else is a fault of ours
          throw (this.failure ??= (e as { code?: unknown }).code === undefined ? (e as Error) : caseFile.failure(e));
        }
        return undefined;
      };
      this.stop = () => undefined;
    } else {
      // A 24 MB young generation (two 8 MB halves, not V8's 16 MB): the thread's garbage is a
      // batch's cells, so this is no slower, and the thread's heap is 16 MB smaller while the
      // users list is written, the peak of a run (1M events: 39 -> 23 MB).
      const worker = new Worker(new URL(import.meta.url), { workerData: { kind: KIND }, resourceLimits: { maxYoungGenerationSizeMb: 24 } });
      worker.unref();
      const replies: ((m: FromThread) => void)[] = [];
      worker.on('message', (m: FromThread) => {
        if ('failed' in m) this.failure ??= m.code === undefined ? new Error(m.message) : caseFile.failure(Object.assign(new Error(m.message), { code: m.code }));
        replies.shift()?.(m);
      });
      const lost = (e: Error) => {
        this.failure ??= caseFile.failure(Object.assign(new Error('the thread writing the lists stopped'), { code: (e as { code?: string }).code ?? e.name }));
        for (const r of replies.splice(0)) r({ failed: true, code: undefined, message: '' });
      };
      worker.on('error', lost);
      worker.on('exit', (code) => lost(Object.assign(new Error('exit'), { code: `exit ${code}` })));
      this.run = (m, transfer = []) => {
        // referenced only while it owes a reply: an abandoned run still exits
        if (this.inFlight++ === 0) worker.ref();
        worker.postMessage(m, transfer);
        return new Promise<void>((resolve) =>
          replies.push(() => {
            if (--this.inFlight === 0) worker.unref();
            const w = this.waiting;
            this.waiting = undefined;
            w?.();
            resolve();
          }),
        );
      };
      let stopped = false;
      this.stop = () => {
        if (stopped) return;
        stopped = true;
        worker.removeAllListeners('exit');
        // not awaited: a thread stopped while replies are still on their way may never report its exit
        void worker.terminate();
      };
    }
    caseFile.close();
    void this.run({ open: caseFile.tmp });
  }

  /** Writes list `name` to `file` (its header first) and to case.sqlite. */
  list(name: ListName, file: StagedFile): ListFile {
    this.check();
    file.write(csvLine([...COLUMNS[name]]));
    void this.run({ list: name, fd: file.descriptor });
    const columns = storedColumns(name);
    let cells: string[] = [];
    let lengths: number[] = [];
    let rows = 0;
    const flush = () => {
      const batch = { text: cells.join(''), lengths: Int32Array.from(lengths) };
      cells = [];
      lengths = [];
      rows = 0;
      void this.run({ batch }, [batch.lengths.buffer as ArrayBuffer]);
    };
    return {
      put: (row) => {
        this.check();
        for (const c of columns) {
          const v = storedCell(c, row[c]);
          if (v === null) lengths.push(-1);
          else {
            const s = typeof v === 'string' ? v : String(v);
            cells.push(s);
            lengths.push(s.length);
          }
        }
        if (++rows < ROWS_PER_CALL) return undefined;
        flush();
        if (this.inFlight < MAX_IN_FLIGHT) return undefined;
        return new Promise<void>((resolve) => (this.waiting = resolve)).then(() => this.check());
      },
      end: async () => {
        this.check();
        if (rows > 0) flush();
        await this.run({ endList: true });
        this.check();
      },
    };
  }

  /** Stores `value` (as JSON) under `key` in case.sqlite's meta. */
  meta(key: string, value: unknown): void {
    this.check();
    void this.run({ meta: key, value: JSON.stringify(value) });
  }

  /** Commits and closes case.sqlite; every list has ended. */
  async close(): Promise<void> {
    this.check();
    await this.run({ close: true });
    this.check();
    this.stop();
  }

  /** Stops the list thread, if any, after a failure elsewhere (nothing is published then). */
  abandon(): void {
    this.stop();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
