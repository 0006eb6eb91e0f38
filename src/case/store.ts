/**
 * case.sqlite: the staged lists `report` reads back. One table per list, columns in contract
 * order, list cells as JSON arrays, rows in list order; `meta` holds summary.json. Holds no value
 * flagged as a credential (those never get past canonicalisation).
 */
import { openDatabase, type DB, type Statement } from '../sqlite.js';
import { COLUMNS, COUNT_COLUMNS, LIST_COLUMNS, LISTS, STORED_EXTRA, type ListName, type Row } from '../core/rows.js';
import { InputError, UsageError } from '../errors.js';

const STORED = new Map<ListName, readonly string[]>(LISTS.map((l) => [l, Object.freeze([...COLUMNS[l], ...(STORED_EXTRA[l] ?? [])])]));

/** A list's columns in case.sqlite: its CSV columns, then any STORED_EXTRA. */
export function storedColumns(list: ListName): readonly string[] {
  return STORED.get(list)!;
}

function columnType(c: string): string {
  return COUNT_COLUMNS.has(c) ? 'INTEGER' : 'TEXT';
}

/** A stored cell: text, a count, or nothing (SQL NULL). */
export type Stored = string | number | null;

/**
 * Makes case.sqlite's tables in the attached database `schema` (the case's temporary file): one
 * table per list, its stored columns in order, and `meta`.
 */
export function createCaseTables(db: DB, schema: string): void {
  for (const list of LISTS) {
    const cols = storedColumns(list).map((c) => `"${c}" ${columnType(c)}`);
    db.exec(`CREATE TABLE ${schema}."${list}" (${cols.join(', ')})`);
  }
  db.exec(`CREATE TABLE ${schema}.meta (key TEXT PRIMARY KEY, value TEXT)`);
}

/**
 * Rejected rows arrive while reading, in reading order, not list order: staged apart in a
 * private temporary database (on disk when it grows, gone when closed) and handed out in list
 * order when the case is written.
 */
export class RejectedStage {
  private readonly db: DB;
  private readonly insert: Statement;
  private seq = 0;

  constructor() {
    this.db = openDatabase('');
    this.db.exec('CREATE TABLE rejected_staged (file_index INTEGER, seq INTEGER, file TEXT, line INTEGER, reason TEXT, excerpt TEXT)');
    this.db.exec('BEGIN');
    this.insert = this.db.prepare('INSERT INTO rejected_staged (file_index, seq, file, line, reason, excerpt) VALUES (?, ?, ?, ?, ?, ?)');
  }

  add(fileIndex: number, file: string, line: number, reason: string, excerpt: string): void {
    this.insert.run(fileIndex, this.seq++, file, line, reason, excerpt);
  }

  /** The rejected rows in list order: by file, then line, then as they came. */
  *rows(): IterableIterator<Row> {
    yield* this.db.prepare('SELECT file, line, reason, excerpt FROM rejected_staged ORDER BY file_index, line, seq').iterate() as IterableIterator<Row>;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** JSON of the lists rows share (frozen, e.g. one `exposed` list per exposure mask), made once. */
const sharedJson = new WeakMap<object, string>();

/** A row's cell as case.sqlite stores it: lists as JSON arrays, counts as numbers, missing as NULL. */
export function storedCell(column: string, v: unknown): Stored {
  if (LIST_COLUMNS.has(column)) {
    if (v === undefined || v === null) return '[]';
    if (!Object.isFrozen(v)) return JSON.stringify(v);
    let json = sharedJson.get(v as object);
    if (json === undefined) sharedJson.set(v as object, (json = JSON.stringify(v)));
    return json;
  }
  if (v === undefined || v === null) return null;
  return v as Stored;
}

/** The lists `diff` compares, in its order, and the SQL of each one's key. */
export const DIFF_LISTS = ['users', 'orgs', 'roster', 'unmatched'] as const;
export type DiffList = (typeof DIFF_LISTS)[number];
const KEY_SQL: Record<DiffList, string> = {
  users: `coalesce(CAST(user_id AS TEXT), '')`,
  orgs: `coalesce(CAST(org_id AS TEXT), '')`,
  roster: `coalesce(CAST(org_id AS TEXT), '') || ':' || coalesce(CAST(email AS TEXT), '')`,
  unmatched: `coalesce(CAST(vendor_id AS TEXT), '')`,
};

/** A stored row with its diff key and tie-breaker. */
export interface KeyedRow {
  key: string;
  tie: string;
  raw: Record<string, unknown>;
}

/** A stored row as a list row: list cells parsed from JSON, the list's STORED_EXTRA kept. */
export function rowOf(list: ListName, raw: Record<string, unknown>): Row {
  const row: Row = {};
  for (const c of COLUMNS[list]) {
    const v = raw[c];
    row[c] = LIST_COLUMNS.has(c) ? (JSON.parse(String(v ?? '[]')) as string[]) : (v as Row[string]);
  }
  // a case written by an earlier version has none of these
  for (const c of STORED_EXTRA[list] ?? []) if (raw[c] !== undefined) row[c] = raw[c] as Row[string];
  return row;
}

/** A finished case, opened read-only for `report`. */
export class CaseReader {
  private readonly db: DB;

  constructor(readonly path: string) {
    try {
      this.db = openDatabase(path, { readonly: true, fileMustExist: true });
      this.db.prepare('SELECT 1 FROM meta LIMIT 1').get();
    } catch {
      throw new UsageError(`${path} is not a readable breach-impact case database`, 'run `breach-impact correlate … --out DIR` first, then pass that DIR to --case');
    }
  }

  *rows(list: ListName): IterableIterator<Row> {
    let stmt: Statement;
    try {
      stmt = this.db.prepare(`SELECT * FROM "${list}" ORDER BY rowid`);
    } catch {
      throw new InputError(`the case has no ${list} list`, 'run correlate again with this version of breach-impact');
    }
    for (const raw of stmt.iterate() as IterableIterator<Record<string, unknown>>) yield rowOf(list, raw);
  }

  /**
   * A list's rows as stored (lists still JSON text), each with its diff key (KEY_SQL), in the
   * order of that key by Unicode code point (SQLite's BINARY collation compares UTF-8 bytes,
   * which is that order), ties by `tie` (a roster row's admin) then list order. SQLite sorts on
   * disk past its cache, so a list of any length streams in bounded memory.
   */
  *keyedRows(list: DiffList): IterableIterator<KeyedRow> {
    const tie = list === 'roster' && this.hasColumn(list, 'admin_user_id') ? `coalesce(CAST(admin_user_id AS TEXT), '')` : `''`;
    let stmt: Statement;
    try {
      stmt = this.db.prepare(`SELECT ${KEY_SQL[list]} AS "key()", ${tie} AS "tie()", * FROM "${list}" ORDER BY 1, 2, rowid`);
    } catch {
      throw new InputError(`the case has no ${list} list`, 'run correlate again with this version of breach-impact');
    }
    for (const raw of stmt.iterate() as IterableIterator<Record<string, unknown>>) {
      yield { key: String(raw['key()']), tie: String(raw['tie()']), raw };
    }
  }

  private hasColumn(list: ListName, column: string): boolean {
    return (this.db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(list, column) ?? undefined) !== undefined;
  }

  meta<T>(key: string): T | undefined {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r === undefined ? undefined : (JSON.parse(r.value) as T);
  }

  close(): void {
    this.db.close();
  }
}
