/**
 * The notification ledger: a SQLite file recording every notice sent (one row per message, read
 * from the index.csv `report --format eml` writes), so that a later delivery's notices go only
 * to those not yet told what is now exposed. Written only by `ledger add`, one transaction per
 * add (all of an index or none of it); read-only everywhere else. The schema is meant to be read
 * by a person with `sqlite3` (README, "The ledger file").
 */
import { openDatabase, type DB, type Statement } from './sqlite.js';
import { parse } from 'csv-parse';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { CATEGORIES, type Category } from './core/categories.js';
import { asReadBack, unneutralizeFormula } from './output/cells.js';
import { InputError, UsageError } from './errors.js';
import { VERSION } from './version.js';


/** `PRAGMA application_id` of a ledger ("BILG"): a SQLite file without it is never written to. */
export const LEDGER_APPLICATION_ID = 0x42494c47;
export const LEDGER_SCHEMA_VERSION = 1;
/** How long `ledger add` waits for another writer to finish before saying the ledger is locked. */
export const BUSY_TIMEOUT_MS = 2000;

const SCHEMA = `
CREATE TABLE adds (
  id           INTEGER PRIMARY KEY,   -- one row per 'ledger add' that recorded something
  added_at     TEXT NOT NULL,         -- when it ran, ISO 8601 UTC
  source       TEXT NOT NULL,         -- the index.csv path as given ('-': standard input)
  index_sha256 TEXT NOT NULL,         -- SHA-256 of that index.csv
  messages     INTEGER NOT NULL,      -- messages it recorded (those not already in the ledger)
  tool         TEXT NOT NULL          -- breach-impact version
);
CREATE TABLE sent (
  message_id      TEXT PRIMARY KEY,   -- the notice's Message-ID: the same message is recorded once
  list            TEXT NOT NULL CHECK (list IN ('users', 'roster')),
  key             TEXT NOT NULL,      -- users: user_id; roster: <org_id>:<email> (as in diff)
  email           TEXT NOT NULL,      -- the address it was sent to
  exposed         TEXT NOT NULL,      -- what it covered: ';'-joined categories, as in users.csv
  newly_exposed   TEXT NOT NULL,      -- the part of exposed no earlier notice had named
  org_id          TEXT NOT NULL,      -- roster: the org ('' for users)
  user_id         TEXT NOT NULL,      -- users: the user; roster: the admin's user id
  sent_at         TEXT NOT NULL,      -- ISO 8601 UTC: 'ledger add --sent-at', else when it ran
  case_sha256     TEXT NOT NULL,      -- SHA-256 of the case's manifest.json: the evidence
  template_sha256 TEXT NOT NULL,      -- SHA-256 of the template file it was rendered from
  file            TEXT NOT NULL,      -- its .eml file in the notice directory
  add_id          INTEGER NOT NULL REFERENCES adds (id)
);
CREATE INDEX sent_by_recipient ON sent (list, key, email);
`;

/** The columns of index.csv that a ledger needs (report writes them and a few more). */
export const INDEX_REQUIRED = ['file', 'list', 'key', 'org_id', 'user_id', 'email', 'exposed', 'message_id', 'template_sha256', 'case'] as const;

/** One row of `ledger show`. */
export interface SentRow {
  sent_at: string;
  list: string;
  key: string;
  email: string;
  exposed: string[];
  message_id: string;
  case: string;
  [column: string]: string | string[];
}
export const SHOW_COLUMNS = ['sent_at', 'list', 'key', 'email', 'exposed', 'message_id', 'case'] as const;

export interface AddResult {
  /** Rows of the index. */
  rows: number;
  /** Of those, messages recorded now (the rest were already in the ledger). */
  added: number;
  created: boolean;
}

function sqliteCode(e: unknown): string {
  return String((e as { code?: unknown }).code ?? '');
}

/** A failure of SQLite on the ledger, said with the path and what to do. */
function ledgerError(path: string, e: unknown, writing: boolean): Error {
  const code = sqliteCode(e);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new InputError(`the ledger ${path} is locked by another process (another \`ledger add\`, or a sqlite3 session with an open transaction); nothing was recorded`, 'wait for it to finish (or end that session) and run the same command again');
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new InputError(`the ledger ${path} is damaged or not a SQLite database; nothing was ${writing ? 'recorded' : 'read'}`, 'restore it from your backup (or the copy you keep with the incident records); do not delete it: it is the record of who was notified');
  }
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new InputError(`cannot ${writing ? 'write' : 'open'} the ledger ${path}: the file or its directory is read-only (SQLite keeps ${path}-wal and ${path}-shm beside it)${writing ? '; nothing was recorded' : ''}`, 'run it where the ledger and its directory are writable, or copy the ledger to a writable directory and record there');
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return new InputError(`cannot write the ledger ${path}: no space left on the device; nothing was recorded`, 'free some space and run the same command again');
  if (code === 'ENOENT' || code === 'ENOTDIR') return new UsageError(`cannot create the ledger ${path}: its directory does not exist`, 'create the directory first, or pass another --ledger path');
  return new InputError(`cannot ${writing ? 'write' : 'read'} the ledger ${path} (${code || (e as Error).name})${writing ? '; nothing was recorded' : ''}`, 'check the file and run the same command again');
}

/** Refuse a SQLite file that is not a ledger of a schema this version knows. */
function checkIdentity(db: DB, path: string): 'ledger' | 'empty' {
  const app = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
  if (app === 0 && version === 0 && objects === 0) return 'empty';
  if (app !== LEDGER_APPLICATION_ID) {
    throw new UsageError(`${path} is a SQLite database but not a breach-impact ledger; it was not changed`, 'pass the path of your ledger (or of a new file) to --ledger');
  }
  if (version !== LEDGER_SCHEMA_VERSION) {
    throw new UsageError(`the ledger ${path} has schema version ${version}, which this version of breach-impact (${VERSION}) does not know`, 'use the breach-impact version that wrote it, or a newer one');
  }
  return 'ledger';
}

/** Open an existing ledger read-only (what `report --unsent` and `ledger show` do). */
export function openLedgerReadOnly(path: string): LedgerReader {
  if (!existsSync(path)) {
    throw new UsageError(`the ledger ${path} does not exist`, 'check the --ledger path; for a first round of notices leave out --ledger and --unsent, then record them with `breach-impact ledger add`');
  }
  let db: DB | undefined;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
    if (checkIdentity(db, path) === 'empty') throw new UsageError(`the ledger ${path} is empty: nothing was ever recorded in it`, 'record sent notices with `breach-impact ledger add --ledger FILE notices/index.csv`');
    db.prepare('SELECT count(*) FROM sent').get();
    return new LedgerReader(db);
  } catch (e) {
    db?.close();
    if (e instanceof UsageError || e instanceof InputError) throw e;
    // A WAL database opens read-only only where SQLite can make its -shm beside it; in a
    // read-only directory nobody can be changing the ledger, so a private copy reads the same.
    if (sqliteCode(e) === 'SQLITE_CANTOPEN' || sqliteCode(e).startsWith('SQLITE_READONLY')) return readCopy(path);
    throw ledgerError(path, e, false);
  }
}

function readCopy(path: string): LedgerReader {
  const dir = mkdtempSync(join(tmpdir(), 'breach-impact-ledger-'));
  const copy = join(dir, 'ledger.sqlite');
  // gone however the process ends (a closed pipe exits at once)
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  try {
    copyFileSync(path, copy);
    chmodSync(copy, 0o600);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
    const db = openDatabase(copy, { readonly: true, fileMustExist: true });
    checkIdentity(db, path);
    return new LedgerReader(db, remove);
  } catch (e) {
    remove();
    if (e instanceof UsageError) throw e;
    throw ledgerError(path, e, false);
  }
}

/** Categories of a `;`-joined exposed cell, in category order (unknown words kept out). */
export function categoriesOfCell(text: string): Category[] {
  const given = new Set(text.split(';'));
  return CATEGORIES.filter((c) => given.has(c));
}

export class LedgerReader {
  private readonly lookup: Statement;

  constructor(private readonly db: DB, private readonly cleanUp?: () => void) {
    this.lookup = db.prepare('SELECT exposed FROM sent WHERE list = ? AND key = ? AND email = ?').pluck();
  }

  /**
   * What earlier notices to this recipient named: the union of their categories, or undefined
   * when none was ever sent. Values are compared as index.csv holds them (asReadBack).
   */
  notified(list: string, key: string, email: string): Set<Category> | undefined {
    const cells = this.lookup.all(asReadBack(list), asReadBack(key), asReadBack(email)) as string[];
    if (cells.length === 0) return undefined;
    const out = new Set<Category>();
    for (const c of cells) for (const x of categoriesOfCell(c)) out.add(x);
    return out;
  }

  *sent(): IterableIterator<SentRow> {
    const stmt = this.db.prepare('SELECT sent_at, list, key, email, exposed, message_id, case_sha256 AS "case" FROM sent ORDER BY sent_at, rowid');
    for (const r of stmt.iterate() as IterableIterator<Record<string, string>>) {
      yield { ...r, exposed: categoriesOfCell(r.exposed) } as SentRow;
    }
  }

  close(): void {
    this.db.close();
    this.cleanUp?.();
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/** One index.csv row checked: every cell as read back, or the reason it is not usable. */
function checkIndexRow(cells: Record<string, string>): string | undefined {
  if (cells.list !== 'users' && cells.list !== 'roster') return 'list is neither users nor roster';
  if (cells.key === '') return 'key is empty';
  if (cells.email === '') return 'email is empty';
  if (!MESSAGE_ID.test(cells.message_id)) return 'message_id is not a Message-ID (<…@…>)';
  if (!SHA256.test(cells.case)) return 'case is not a SHA-256 (64 hex digits)';
  if (!SHA256.test(cells.template_sha256)) return 'template_sha256 is not a SHA-256 (64 hex digits)';
  for (const column of ['exposed', 'newly_exposed']) {
    const text = cells[column] ?? '';
    if (text !== '' && text.split(';').some((c) => !(CATEGORIES as readonly string[]).includes(c))) return `${column} names something that is not an exposure category`;
  }
  return undefined;
}

/** ISO 8601 UTC to the second. */
export function isoSecond(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface AddOptions {
  /** The path of the ledger file. */
  ledger: string;
  /** The index, and its name as given (a path, or '-'). */
  input: Readable;
  source: string;
  /** When the messages were sent (ms since the epoch). */
  sentAt: number;
  now: number;
}

/**
 * Record every row of an index.csv as sent, in one transaction: each message not already in
 * the ledger, all or none. A ledger that does not exist is created (0600); a file that is not
 * a ledger is refused untouched.
 */
export async function addToLedger(o: AddOptions): Promise<AddResult> {
  const path = o.ledger;
  let created = false;
  if (!existsSync(path)) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ledgerError(path, e, true);
    }
  }
  let db: DB | undefined;
  let open = false;
  try {
    try {
      db = openDatabase(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
      const kind = checkIdentity(db, path);
      if (kind === 'ledger') {
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw Object.assign(new Error('quick_check'), { code: 'SQLITE_CORRUPT' });
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec('BEGIN IMMEDIATE');
      open = true;
      // another process may have made it a ledger since we looked
      if (checkIdentity(db, path) === 'empty') {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${LEDGER_APPLICATION_ID}`);
        db.pragma(`user_version = ${LEDGER_SCHEMA_VERSION}`);
      }
    } catch (e) {
      if (e instanceof UsageError || e instanceof InputError) throw e;
      throw ledgerError(path, e, true);
    }
    const result = await record(db, o);
    try {
      // nothing new: rolled back, and the ledger stays byte for byte as it was
      if (result.added > 0) db.exec('COMMIT');
      else db.exec('ROLLBACK');
      open = false;
    } catch (e) {
      throw ledgerError(path, e, true);
    }
    if (created && result.added === 0) {
      db.close();
      db = undefined;
      removeLedger(path); // an empty index made no ledger
    }
    return { ...result, created: created && result.added > 0 };
  } catch (e) {
    if (open) {
      try {
        db!.exec('ROLLBACK');
      } catch {
        /* the transaction is gone with the connection */
      }
    }
    db?.close();
    db = undefined;
    if (created) removeLedger(path);
    throw e;
  } finally {
    db?.close();
  }
}

/**
 * Remove a ledger this add created and recorded nothing in, unless another `ledger add` has
 * recorded something in it meanwhile (it was theirs to keep from then on).
 */
function removeLedger(path: string): void {
  try {
    const db = openDatabase(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    try {
      if (checkIdentity(db, path) === 'ledger' && (db.prepare('SELECT count(*) FROM adds').pluck().get() as number) > 0) return;
    } finally {
      db.close();
    }
  } catch {
    return; // cannot tell: keep it
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      unlinkSync(f);
    } catch {
      /* not there */
    }
  }
}

/** Hashes what passes through (the index as it was given). */
class Sha256Tap extends Transform {
  readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
}

async function record(db: DB, o: AddOptions): Promise<{ rows: number; added: number }> {
  const tap = new Sha256Tap();
  const parser = o.input.pipe(tap).pipe(parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: false }));
  o.input.on('error', (e) => parser.destroy(e));
  const insert = db.prepare(
    `INSERT INTO sent (message_id, list, key, email, exposed, newly_exposed, org_id, user_id, sent_at, case_sha256, template_sha256, file, add_id)
     VALUES (@message_id, @list, @key, @email, @exposed, @newly_exposed, @org_id, @user_id, @sent_at, @case, @template_sha256, @file, @add_id)
     ON CONFLICT (message_id) DO NOTHING`,
  );
  const existing = db.prepare('SELECT list, key, email, exposed, case_sha256 AS "case" FROM sent WHERE message_id = ?');
  // the add's own row first (its messages' add_id refers to it), completed at the end
  const addId = Number(db.prepare(`INSERT INTO adds (added_at, source, index_sha256, messages, tool) VALUES (?, ?, '', 0, ?)`).run(isoSecond(o.now), o.source, `breach-impact ${VERSION}`).lastInsertRowid);
  const sentAt = isoSecond(o.sentAt);
  let header: string[] | undefined;
  let rows = 0;
  let added = 0;
  try {
    for await (const { record: cells, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (header === undefined) {
        header = cells;
        const missing = INDEX_REQUIRED.filter((c) => !header!.includes(c));
        if (missing.length > 0) throw new UsageError(`${o.source} is not an index.csv written by \`report --format eml\`: it has no ${missing.join(', ')} column${missing.length === 1 ? '' : 's'}; nothing was recorded`, 'pass the index.csv from the directory given to `report … --format eml --out DIR`');
        continue;
      }
      rows++;
      const row: Record<string, string> = {};
      header.forEach((c, i) => (row[c] = unneutralizeFormula(cells[i])));
      const problem = checkIndexRow(row);
      if (problem !== undefined) throw new InputError(`${o.source} line ${info.lines}: ${problem}; nothing was recorded`, 'record the index.csv exactly as report wrote it');
      const values = { ...row, newly_exposed: row.newly_exposed ?? row.exposed, sent_at: sentAt, add_id: addId };
      if (insert.run(values).changes === 1) {
        added++;
        continue;
      }
      const was = existing.get(row.message_id) as Record<string, string>;
      if (was.list !== row.list || was.key !== row.key || was.email !== row.email || was.exposed !== row.exposed || was.case !== row.case) {
        throw new InputError(`${o.source} line ${info.lines}: its message_id is already in the ledger for another recipient or case; nothing was recorded`, 'check that the index.csv was not edited; Message-IDs are unique to a case and recipient');
      }
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) throw e;
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('CSV_')) throw new InputError(`${o.source} is not a readable CSV (${code}); nothing was recorded`, 'pass the index.csv exactly as report wrote it');
    if (code.startsWith('SQLITE_')) throw ledgerError(o.ledger, e, true);
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new UsageError(`cannot read the index ${o.source} (${code}); nothing was recorded`, 'pass the index.csv written by `report … --format eml --out DIR`, or - for standard input');
    throw e;
  }
  if (header === undefined) throw new UsageError(`${o.source} is empty: no index.csv header; nothing was recorded`, 'pass the index.csv written by `report … --format eml --out DIR`');
  db.prepare('UPDATE adds SET index_sha256 = ?, messages = ? WHERE id = ?').run(tap.hash.digest('hex'), added, addId);
  return { rows, added };
}
