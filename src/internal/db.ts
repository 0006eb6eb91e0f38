/**
 * The internal database: users(id, email, name), orgs(id, name), memberships(user_id, org_id,
 * role). A SQLite file is opened read-only and read inside one transaction (one consistent
 * snapshot); a `.sql` file is loaded into memory. `--map` SQL creates TEMP views of those names.
 * IDs are read as text (CAST) so an INTEGER beyond 2^53 keeps every digit.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { withText, type Texts } from '../core/identity.js';
import { normalizeEmail } from '../core/normalize.js';
import { contactOf, type AdminRows, type InternalUser } from '../core/impact.js';
import type { UserLookup } from '../core/match.js';
import { InputError, SchemaError, UsageError } from '../errors.js';
import { idsOnThread, type FileId } from './scan-thread.js';

type DB = Database.Database;

export const SCHEMA: Record<string, string[]> = {
  users: ['id', 'email', 'name'],
  orgs: ['id', 'name'],
  memberships: ['user_id', 'org_id', 'role'],
};

export interface InternalSource {
  path: string;
  sha256: string;
  bytes: number;
}

function sqliteProblem(path: string, e: unknown): Error {
  // SQLite quotes the token it stumbled on (`near "…": syntax error`): that is data, never shown.
  const msg = String((e as Error).message ?? e).replace(/"[^"]*"?/g, '"…"');
  if (/locked|busy/i.test(msg)) return new InputError(`internal database ${path} is locked by another process`, 'wait for the writer to finish, or correlate against a copy (sqlite3 DB ".backup copy.sqlite")');
  if (/malformed|corrupt/i.test(msg)) return new InputError(`internal database ${path} is corrupt (${msg})`, 'restore it from a backup, or salvage it first: sqlite3 DB .recover | sqlite3 recovered.sqlite');
  if (/not a database|file is encrypted/i.test(msg)) return new UsageError(`internal database ${path} is not a SQLite database (${msg})`, 'pass a SQLite file, or a .sql dump with --internal dump.sql');
  if (path.toLowerCase().endsWith('.sql')) return new UsageError(`internal database ${path} is not a SQL dump SQLite can load (${msg})`, 'check the dump, e.g. sqlite3 :memory: < dump.sql');
  return new UsageError(`cannot open internal database ${path}: ${msg}`, 'check the path and permissions of --internal');
}

/** SHA-256 and size of a file, read in chunks. */
export function hashFile(path: string): InternalSource {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      h.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { path, sha256: h.digest('hex'), bytes };
}

export class InternalDb {
  readonly db: DB;
  /** the SQLite file opened (not a `.sql` dump, no --map): its identity and size, for scanUsersBeside */
  private readonly file: { id: FileId; bytes: number } | undefined;

  constructor(readonly path: string, mapSql: string | undefined) {
    let st;
    try {
      st = statSync(path, { bigint: true });
    } catch {
      throw new UsageError(`internal database ${path} does not exist`, 'pass the path of your users/orgs/memberships database with --internal');
    }
    if (st.isDirectory()) throw new UsageError(`internal database ${path} is a directory`, 'pass a SQLite file or a .sql dump');
    try {
      if (path.toLowerCase().endsWith('.sql')) {
        this.db = new Database(':memory:');
        this.db.exec(readFileSync(path, 'utf8'));
      } else {
        this.db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
      }
      this.db.pragma('temp_store = MEMORY');
      // Touch the schema now: a non-SQLite or locked file fails here, with a clear message.
      this.db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (e) {
      throw sqliteProblem(path, e);
    }
    if (mapSql !== undefined) {
      try {
        this.db.exec(mapSql);
      } catch (e) {
        throw new UsageError(`--map SQL failed: ${(e as Error).message}`, 'the map may only CREATE TEMP VIEW users/orgs/memberships over your tables');
      }
    }
    this.file = path.toLowerCase().endsWith('.sql') || mapSql !== undefined ? undefined : { id: { dev: st.dev, ino: st.ino }, bytes: Number(st.size) };
    // Belt and braces over the read-only open: from here on nothing may write, not even TEMP.
    this.db.pragma('query_only = ON');
    this.checkSchema();
  }

  private checkSchema(): void {
    for (const [table, cols] of Object.entries(SCHEMA)) {
      for (const c of cols) {
        try {
          this.db.prepare(`SELECT "${c}" FROM "${table}" LIMIT 0`);
        } catch (e) {
          const msg = String((e as Error).message);
          if (/no such table/i.test(msg)) throw new SchemaError(`internal database ${this.path} has no table ${table} (needs ${table}(${cols.join(', ')}))`);
          if (/no such column/i.test(msg)) throw new SchemaError(`internal database ${this.path}: table ${table} has no column ${c} (needs ${table}(${cols.join(', ')}))`);
          throw sqliteProblem(this.path, e);
        }
      }
    }
  }

  /**
   * Run `fn` inside one read transaction: every query sees the same snapshot. When `fn` returns a
   * promise (a step that waits for a thread reading beside this connection), the transaction
   * ends when it settles.
   */
  snapshot<T>(fn: () => T): T {
    try {
      this.db.exec('BEGIN');
    } catch (e) {
      throw sqliteProblem(this.path, e);
    }
    const fail = (e: unknown) => {
      this.endSnapshot();
      if (e instanceof Error && (e as { code?: string }).code?.startsWith('SQLITE_')) throw sqliteProblem(this.path, e);
      throw e;
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      return fail(e);
    }
    if (result instanceof Promise) {
      return result.then((v: unknown) => {
        this.endSnapshot();
        return v;
      }, fail) as T;
    }
    this.endSnapshot();
    return result;
  }

  /** Ending a read transaction loses nothing, and must not hide an error being thrown. */
  private endSnapshot(): void {
    // the pools serve one snapshot's rows; the strings stay wherever they are used
    this.orgIds.clear();
    this.roles.clear();
    try {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    } catch {
      /* ignored */
    }
  }

  /**
   * One pass over users: which of the wanted ids exist, which users carry the wanted emails, and
   * the contact details of those users. SQLite drops the rows that cannot be wanted before they
   * reach JavaScript (a superset is returned: the exact test in UserScan decides).
   */
  scanUsers(wantedIds: ReadonlySet<string>, wantedEmails: ReadonlySet<string>): { lookup: UserLookup; info: Map<string, InternalUser> } {
    const scan = new UserScan(wantedIds, wantedEmails);
    if (this.idIsRowid()) {
      // The ids whose email may match first (reading only id and email, SQLite can scan an
      // index on email instead of the table), then every row wanted by id or email by primary
      // key, in key order: the lookups then walk the table's pages in order (in the order the
      // ids came, each is a page read of its own: 8 times slower at 300k ids in 1M users).
      // Only canonical integers can equal a rowid's text.
      const keys = new Set([...wantedIds].filter(isInt64Text));
      if (wantedEmails.size > 0) for (const id of this.db.prepare(BY_MAIL).pluck(true).iterate(jsonList(wantedEmails)) as IterableIterator<string>) keys.add(id);
      scan.take(this.byKey([...keys]));
      return scan.result(true);
    } else {
      scan.take(this.db.prepare(`SELECT CAST(id AS TEXT), email, name FROM users WHERE CAST(id AS TEXT) IN ${IN_JSON_EACH} OR ${EMAIL_MAY_BE_IN}`).raw(true).iterate(jsonList(wantedIds), jsonList(wantedEmails)) as IterableIterator<UserScanRow>);
    }
    return scan.result();
  }

  /**
   * scanUsers, the same answers, with the email pre-test (a pass over every user) run on a thread
   * of its own while this connection looks the wanted ids up by key: when `threaded`, for a
   * SQLite file of SCAN_THREAD_MIN_BYTES or more (no `.sql` dump, no --map views) whose users.id
   * is the rowid, in a rollback-journal mode (see internal/scan-thread.ts for why that keeps one
   * snapshot). Call it inside `snapshot`. When the thread cannot answer, this connection runs
   * the pre-test itself.
   */
  async scanUsersBeside(wantedIds: ReadonlySet<string>, wantedEmails: ReadonlySet<string>, threaded: boolean, minBytes = SCAN_THREAD_MIN_BYTES): Promise<{ lookup: UserLookup; info: Map<string, InternalUser>; thread: boolean }> {
    const inPlace = () => ({ ...this.scanUsers(wantedIds, wantedEmails), thread: false });
    if (!threaded || this.file === undefined || this.file.bytes < minBytes || wantedEmails.size === 0) return inPlace();
    // the read transaction's lock, taken now (before the thread reads), and the journal mode
    this.db.prepare('SELECT count(*) FROM sqlite_master').get();
    if (this.db.pragma('journal_mode', { simple: true }) === 'wal' || !this.idIsRowid()) return inPlace();
    const emails = jsonList(wantedEmails);
    const byMail = idsOnThread(this.path, this.file.id, BY_MAIL, emails);
    const scan = new UserScan(wantedIds, wantedEmails);
    const first = new Set([...wantedIds].filter(isInt64Text));
    scan.take(this.byKey([...first]));
    const onThread = await byMail;
    const fromMail = onThread ?? (this.db.prepare(BY_MAIL).pluck(true).all(emails) as string[]);
    scan.take(this.byKey([...new Set(fromMail)].filter((id) => !first.has(id))));
    return { ...scan.result(true), thread: onThread !== undefined };
  }

  /** The users rows of these keys (canonical integer texts), by primary key in key order. */
  private byKey(keys: string[]): IterableIterator<UserScanRow> {
    const stmt = this.db.prepare(`SELECT CAST(id AS TEXT), email, name FROM users WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))`).raw(true);
    return stmt.iterate(JSON.stringify(keys.sort(byIntegerText))) as IterableIterator<UserScanRow>;
  }

  /**
   * Is `table`.id the table's rowid (`id INTEGER PRIMARY KEY` of a rowid table, not a --map
   * view)? Then every id is an integer and its text is canonical, so lookups by key are exact.
   */
  private idIsRowid(table: 'users' | 'orgs' = 'users'): boolean {
    const defs = this.db.prepare("SELECT type, sql FROM (SELECT 0 AS k, type, sql FROM sqlite_temp_master WHERE lower(name) = ? UNION ALL SELECT 1, type, sql FROM sqlite_master WHERE lower(name) = ?) ORDER BY k").raw(true).all(table, table) as [string, string | null][];
    if (defs.length === 0 || defs[0][0] !== 'table' || defs[0][1] === null) return false;
    const sql = defs[0][1];
    if (/without\s+rowid/i.test(sql) || /primary\s+key\s+desc/i.test(sql)) return false;
    const cols = this.db.prepare(`SELECT name, type, pk FROM pragma_table_info('${table}')`).raw(true).all() as [string, string, number][];
    const keys = cols.filter(([, , pk]) => pk > 0);
    return keys.length === 1 && keys[0][0].toLowerCase() === 'id' && keys[0][1].toUpperCase() === 'INTEGER';
  }

  /** Orgs of the given users, from memberships. */
  membershipsOf(users: ReadonlySet<string>): Map<string, Texts> {
    const out = new Map<string, Texts>();
    let rows: IterableIterator<[string | null, string | null]>;
    const probes = valueProbes(users);
    if (probes !== undefined) {
      // Every id is an integer's text (users keyed by rowid): user_id compared as a value, so an
      // index on memberships(user_id) serves the lookups (CAST(user_id AS TEXT) IN … reads every
      // row). Each id is offered as the integer and as the text, and blobs (the only other values
      // whose text can be an integer's) are taken too, whatever the column's affinity: a
      // superset of the rows wanted, which the exact test below decides.
      const columns = 'SELECT CAST(user_id AS TEXT), CAST(org_id AS TEXT) FROM memberships';
      rows = this.db.prepare(`${columns} WHERE user_id IN (SELECT value FROM json_each(?)) UNION ALL ${columns} WHERE user_id >= x''`).raw(true).iterate(probes) as IterableIterator<[string | null, string | null]>;
    } else {
      rows = this.db.prepare(`SELECT CAST(user_id AS TEXT), CAST(org_id AS TEXT) FROM memberships WHERE CAST(user_id AS TEXT) IN ${IN_JSON_EACH}`).raw(true).iterate(jsonList(users)) as IterableIterator<[string | null, string | null]>;
    }
    for (const [u, o] of rows) {
      if (u === null || o === null || !users.has(u)) continue;
      // one org as the text itself, several as a list of their exact size (Texts)
      const list = out.get(u);
      const added = withText(list, this.orgId(o));
      if (added !== list) out.set(u, added);
    }
    return out;
  }

  /** Names of the wanted orgs that exist. */
  orgNames(wanted: ReadonlySet<string>): Map<string, string> {
    const out = new Map<string, string>();
    // by primary key in key order when orgs.id is the rowid (as for users), else one filtered scan
    const rows = this.idIsRowid('orgs')
      ? this.db.prepare(`SELECT CAST(id AS TEXT), name FROM orgs WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))`).raw(true).iterate(JSON.stringify([...wanted].filter(isInt64Text).sort(byIntegerText)))
      : this.db.prepare(`SELECT CAST(id AS TEXT), name FROM orgs WHERE CAST(id AS TEXT) IN ${IN_JSON_EACH}`).raw(true).iterate(jsonList(wanted));
    for (const [id, name] of rows as IterableIterator<[string | null, unknown]>) {
      if (id !== null && wanted.has(id)) out.set(this.orgId(id), text(name));
    }
    return out;
  }

  /**
   * Admin memberships (by role) of the given orgs, with the admins' contact details. An admin
   * with no users row still counts, with no address: the roster shows whom nobody can reach.
   */
  admins(orgs: ReadonlySet<string>, roles: readonly string[]): { admins: AdminRows; info: Map<string, InternalUser> } {
    const admins: AdminRows = { orgIds: [], userIds: [], roles: [] };
    const info = new Map<string, InternalUser>();
    if (orgs.size === 0 || roles.length === 0) return { admins, info };
    const select = `SELECT CAST(m.org_id AS TEXT), CAST(m.user_id AS TEXT), m.role, u.email, u.name, u.id IS NOT NULL
      FROM memberships m LEFT JOIN users u ON u.id = m.user_id
      WHERE lower(trim(m.role)) IN (${roles.map(() => '?').join(', ')})`;
    let rows: IterableIterator<[string | null, string | null, unknown, unknown, unknown, number]>;
    const probes = valueProbes(orgs);
    if (probes !== undefined) {
      // As in membershipsOf: org_id compared as a value (each id as the integer and as the text,
      // and every blob), so an index on memberships(org_id) serves it: a superset of the rows
      // wanted, which the exact test below decides. (By their text, every row is read: a full
      // scan of memberships however few orgs are affected.) Row order does not matter here.
      rows = this.db.prepare(`${select} AND m.org_id IN (SELECT value FROM json_each(?)) UNION ALL ${select} AND m.org_id >= x''`).raw(true).iterate(...roles, probes, ...roles) as typeof rows;
    } else {
      rows = this.db.prepare(`${select} AND CAST(m.org_id AS TEXT) IN ${IN_JSON_EACH}`).raw(true).iterate(...roles, jsonList(orgs)) as typeof rows;
    }
    for (const [o, u, role, email, name, found] of rows) {
      if (o === null || u === null || !orgs.has(o)) continue;
      admins.orgIds.push(this.orgId(o));
      admins.userIds.push(u);
      admins.roles.push(this.role(text(role)));
      // One contact an admin, whatever the order of the rows: the users row, when any of the
      // admin's rows finds it (rows whose user id has the same text find the same users row, or
      // none: a blob, say), else none.
      if (found === 1 || !info.has(u)) info.set(u, contactOf(text(email), text(name)));
    }
    return { admins, info };
  }

  /**
   * One string per org id and per role across memberships, orgs and admins: SQLite hands out a
   * new string for every row, and hundreds of thousands of rows name the same few.
   */
  private readonly orgIds = new Map<string, string>();
  private readonly roles = new Map<string, string>();

  private orgId(s: string): string {
    return interned(this.orgIds, s);
  }

  private role(s: string): string {
    return interned(this.roles, s);
  }

  close(): void {
    this.db.close();
  }
}

function interned(pool: Map<string, string>, s: string): string {
  const known = pool.get(s);
  if (known !== undefined) return known;
  pool.set(s, s);
  return s;
}

/** A users row as the scans read it: id as text, email, name. */
type UserScanRow = [string | null, unknown, unknown];

/** The wanted users among the rows a scan reads (a superset), decided exactly. */
class UserScan {
  private readonly ids = new Set<string>();
  private readonly byEmail = new Map<string, string[]>();
  private readonly info = new Map<string, InternalUser>();

  constructor(private readonly wantedIds: ReadonlySet<string>, private readonly wantedEmails: ReadonlySet<string>) {}

  take(rows: Iterable<UserScanRow>): void {
    for (const row of rows) {
      const id = row[0];
      if (id === null) continue;
      let wanted = false;
      if (this.wantedIds.has(id)) {
        this.ids.add(id);
        wanted = true;
      }
      if (typeof row[1] === 'string' && this.wantedEmails.size > 0) {
        const e = normalizeEmail(row[1]);
        if (e !== undefined && this.wantedEmails.has(e)) {
          const list = this.byEmail.get(e);
          if (list === undefined) this.byEmail.set(e, [id]);
          else if (!list.includes(id)) list.push(id);
          wanted = true;
        }
      }
      if (wanted) this.info.set(id, contactOf(text(row[1]), text(row[2])));
    }
  }

  /** `byKey`: every id is an integer's text; the users of an email in key order, however many passes found them. */
  result(byKey = false): { lookup: UserLookup; info: Map<string, InternalUser> } {
    const { ids, byEmail, info } = this;
    if (byKey) for (const list of byEmail.values()) if (list.length > 1) list.sort(byIntegerText);
    return {
      lookup: { hasUser: (id) => ids.has(id), usersWithEmail: (e) => byEmail.get(e) ?? [] },
      info,
    };
  }
}

/** The text of a 64-bit integer as SQLite writes it (no sign on zero, no leading zeros). */
function isInt64Text(s: string): boolean {
  if (!/^(?:0|-?[1-9][0-9]{0,18})$/.test(s)) return false;
  // up to 18 digits is always in range (10^18 < 2^63): no BigInt for the common case
  if (s.length - (s.charCodeAt(0) === 45 ? 1 : 0) <= 18) return true;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/**
 * When every id is an integer's text: each as the integer and as the text, one JSON array
 * parameter, for `column IN (SELECT value FROM json_each(?))` to compare as values (an index on
 * the column serves it). Else undefined: the ids can only be compared by their text.
 */
function valueProbes(ids: ReadonlySet<string>): string | undefined {
  const list = [...ids];
  return list.every(isInt64Text) ? `[${list.map((t) => `${t},"${t}"`).join(',')}]` : undefined;
}

/** Order of canonical integer texts (isInt64Text) by value. */
function byIntegerText(a: string, b: string): number {
  const na = a.startsWith('-');
  if (na !== b.startsWith('-')) return na ? -1 : 1;
  const d = a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return na ? -d : d;
}

/** A set of strings as one JSON array parameter: SQLite indexes it once for `IN`. */
function jsonList(set: ReadonlySet<string>): string {
  return JSON.stringify([...set]);
}

/** `IN` the strings of a JSON array parameter */
const IN_JSON_EACH = '(SELECT value FROM json_each(?))';

/**
 * Could this row's email normalize (trim, NFC, lower-case) to one in a JSON array parameter? For
 * printable ASCII, normalizeEmail is SQLite's ASCII lower(trim(white space)); any other text is
 * always returned, for JavaScript to normalize.
 */
const EMAIL_MAY_BE_IN = `(typeof(email) = 'text' AND (email GLOB '*[^ -~]*' OR lower(trim(email, char(32, 9, 10, 11, 12, 13))) IN ${IN_JSON_EACH}))`;

/** The ids (as text) of the users rows whose email may be in a JSON array parameter. */
const BY_MAIL = `SELECT CAST(id AS TEXT) FROM users WHERE ${EMAIL_MAY_BE_IN}`;

/** Internal databases of at least this many bytes have the email pre-test run on a thread (BREACH_IMPACT_SCAN_THREAD_MIN_BYTES, for tests). */
export const SCAN_THREAD_MIN_BYTES = Number(process.env.BREACH_IMPACT_SCAN_THREAD_MIN_BYTES ?? 8 * 1024 * 1024);

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return String(v).trim();
}
