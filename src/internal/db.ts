/**
 * The internal database: users(id, email, name), orgs(id, name), memberships(user_id, org_id,
 * role). A SQLite file is the `main` database of the join's connection, opened read-only
 * (`mode=ro`), and read inside one transaction (one consistent snapshot); a `.sql` file is loaded
 * into memory instead. `--map` SQL creates TEMP views of those names. The connection also holds
 * the join's private staging database (see case/join.ts). IDs are read as text (CAST) so an
 * INTEGER beyond 2^53 keeps every digit.
 */
import { readFileSync, statSync } from 'node:fs';
import { scratchFile } from '../case/files.js';
import { buildRoster, createAdminTable, createMemberTable, createOrgTable, createRosterTables, readAdminRows, registerFunctions, type InternalRows } from '../case/join.js';
import { readInternalOnWorker, type InternalTable } from '../ingest/workers.js';
import { InputError, SchemaError, UsageError } from '../errors.js';
import { openDatabase, openReadOnly, type DB } from '../sqlite.js';
import { HOOKS } from '../test-hooks.js';

export const SCHEMA: Record<string, string[]> = {
  users: ['id', 'email', 'name'],
  orgs: ['id', 'name'],
  memberships: ['user_id', 'org_id', 'role'],
};

function sqliteProblem(path: string, e: unknown): Error {
  // SQLite quotes the token it stumbled on (`near "…": syntax error`): that is data, never shown.
  const msg = String((e as Error).message ?? e).replace(/"[^"]*"?/g, '"…"');
  if (/locked|busy/i.test(msg)) return new InputError(`internal database ${path} is locked by another process`, 'wait for the writer to finish, or correlate against a copy (sqlite3 DB ".backup copy.sqlite")');
  if (/malformed|corrupt/i.test(msg)) return new InputError(`internal database ${path} is corrupt (${msg})`, 'restore it from a backup, or salvage it first: sqlite3 DB .recover | sqlite3 recovered.sqlite');
  if (/not a database|file is encrypted/i.test(msg)) return new UsageError(`internal database ${path} is not a SQLite database (${msg})`, 'pass a SQLite file, or a .sql dump with --internal dump.sql');
  if (path.toLowerCase().endsWith('.sql')) return new UsageError(`internal database ${path} is not a SQL dump SQLite can load (${msg})`, 'check the dump, e.g. sqlite3 :memory: < dump.sql');
  return new UsageError(`cannot open internal database ${path}: ${msg}`, 'check the path and permissions of --internal');
}

/** The staging database's page cache, in KiB: most of the join's memory (SQLite sorts beyond it on disk). */
const STAGE_CACHE_KIB = 64 * 1024;

/**
 * The orgs of `table` (its column org, the key), as JSON arrays of at most `size` ids each, in key
 * order: a few texts cross threads rather than an object per org, and each is taken apart
 * (SQLite's json_each) in little memory.
 */
export function orgChunks(db: DB, table: string, size = 4096): string[] {
  const chunk = (where: string) => db.prepare(`SELECT json_group_array(org), max(org) FROM (SELECT org FROM ${table} ${where} ORDER BY org LIMIT ${size})`).raw();
  const first = chunk('');
  const next = chunk('WHERE org > ?');
  const chunks: string[] = [];
  for (let [json, last] = first.get() as [string, string | null]; last !== null; [json, last] = next.get(last) as [string, string | null]) chunks.push(json);
  return chunks;
}

export class InternalDb {
  readonly db: DB;
  /** a .sql dump, loaded into this connection's memory (no other connection can read it) */
  private readonly dump: boolean;

  constructor(
    readonly path: string,
    private readonly mapSql: string | undefined,
  ) {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new UsageError(`internal database ${path} does not exist`, 'pass the path of your users/orgs/memberships database with --internal');
    }
    if (st.isDirectory()) throw new UsageError(`internal database ${path} is a directory`, 'pass a SQLite file or a .sql dump');
    this.dump = path.toLowerCase().endsWith('.sql');
    try {
      if (this.dump) {
        this.db = openDatabase(':memory:');
        this.db.exec(readFileSync(path, 'utf8'));
      } else {
        // read-only by its URI, in a connection that may still write the databases it attaches
        this.db = openReadOnly(path, { timeout: 2000 });
      }
      // Touch the schema now: a non-SQLite or locked file fails here, with a clear message.
      this.db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (e) {
      throw sqliteProblem(path, e);
    }
    // TEMP objects (the map's views) and the join's sorts and temporary indexes on disk, not in
    // memory. Set before the map runs: changing it drops every TEMP object.
    this.db.pragma('temp_store = FILE');
    if (mapSql !== undefined) {
      try {
        this.db.exec(mapSql);
      } catch (e) {
        throw new UsageError(`--map SQL failed: ${(e as Error).message}`, 'the map may only CREATE TEMP VIEW users/orgs/memberships over your tables');
      }
    }
    this.checkSchema();
    // The staging area: a temporary database of SQLite's own (private, deleted when closed).
    this.db.exec("ATTACH '' AS stage");
    this.db.pragma('stage.journal_mode = OFF');
    this.db.pragma('stage.synchronous = OFF');
    // its pages cached up to STAGE_CACHE_KIB: the join's passes reread the staged tables many times
    this.db.pragma(`stage.cache_size = -${STAGE_CACHE_KIB}`);
    registerFunctions(this.db);
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
   * Run `fn` inside one read transaction: every query of the internal tables sees the same
   * snapshot, taken (the database's first page read) before `fn` runs.
   */
  async snapshot<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.db.exec('BEGIN');
      this.db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (e) {
      this.endSnapshot();
      throw sqliteProblem(this.path, e);
    }
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.endSnapshot();
      if (e instanceof Error && (e as { code?: string }).code?.startsWith('SQLITE_')) throw sqliteProblem(this.path, e);
      throw e;
    }
    if (this.db.inTransaction) this.db.exec('COMMIT');
    return result;
  }

  /**
   * Where the rows the join reads of the internal side alone are read: the admin rows
   * (case/join.ts readAdminRows), the memberships by user (readMemberships) and the orgs by id
   * (readOrgs). Call before snapshot(), and `start()` inside it. With `threads` > 1 a worker
   * reads them (in the order of workers.ts INTERNAL_TABLES) on a read-only connection of its own,
   * each into a private scratch file of its own (case/files.ts) that this connection attaches,
   * while this one stages the identities and matches them; this connection reads a file only once
   * the worker has committed it and moved on to the next. A table the worker has not begun when
   * the join needs it is read here instead (the worker skips it), so a slow table never holds up
   * the ones after it; one it is reading is waited for. The worker reads the same snapshot: this
   * connection holds its shared lock from the snapshot's start, and a writer cannot commit to a
   * rollback-journal database while it is held. A WAL database lets writers commit beside
   * readers, and a .sql dump lives in this connection alone: there the admin rows are read here
   * when the join asks, and the memberships and orgs by the join's own passes; so are those the
   * worker had not read when it failed (`fallback` is told the name of its error, never its
   * message, once, and whether it failed reading `rows` or building the `roster`). Where the
   * worker read the admin rows, it also builds the roster from them once the join knows the
   * affected orgs (case/join.ts buildRoster, into a scratch file of its own), while this
   * connection writes the lists that need nothing of it; if it fails there, the roster is built
   * here from the same rows. `wait`: claim no table, wait for the worker's (the tests' way to have
   * it read every one).
   */
  internalRows(roles: readonly string[], threads: number, fallback: (why: string, what: 'rows' | 'roster') => void = () => undefined, wait = HOOKS.internalThreadWait): InternalRows & { start(): void; close(): Promise<void> } {
    const db = this.db;
    /** the roster built on this connection, from the admin rows in `from`, into stage */
    const rosterHere = (from: string, affected: string) => {
      createRosterTables(db, 'stage');
      buildRoster(db, from, `SELECT org FROM ${affected}`, 'stage', 'stage');
      return 'stage';
    };
    /** the admin rows read and the roster built on this connection, now */
    const allHere = async (affected: string) => {
      readAdminRows(db, 'stage', roles);
      const built = rosterHere('stage', affected);
      return async () => built;
    };
    const wal = !this.dump && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    createAdminTable(db, 'stage');
    if (threads < 2 || this.dump || wal) {
      return {
        memberships: async () => undefined,
        orgs: async () => undefined,
        roster: allHere,
        hash: async () => undefined,
        start: () => undefined,
        close: async () => undefined,
      };
    }
    // the tables the worker reads ahead, and the roster it builds once the join knows the affected orgs
    type Table = [InternalTable | 'roster', string, (db: DB, schema: string) => void];
    const tables: Table[] = [
      ['admins', 'xadmin', createAdminTable],
      ['members', 'xmember', createMemberTable],
      ['orgs', 'xorg', createOrgTable],
      ['roster', 'xroster', createRosterTables],
    ];
    const attached: string[] = [];
    const detach = () => {
      for (const schema of attached.splice(0)) db.exec(`DETACH ${schema}`);
    };
    const files = new Map<InternalTable | 'roster', { path: string; remove(): void }>();
    try {
      for (const [table, schema, create] of tables) {
        const file = scratchFile(`${table}.sqlite`);
        files.set(table, file);
        db.prepare('ATTACH ? AS ' + schema).run(file.path);
        attached.push(schema);
        db.pragma(`${schema}.journal_mode = OFF`);
        create(db, schema);
      }
    } catch (e) {
      detach();
      for (const f of files.values()) f.remove();
      throw e;
    }
    let worker: ReturnType<typeof readInternalOnWorker> | undefined;
    let told = false;
    const tell = (why: string | undefined, what: 'rows' | 'roster' = 'rows') => {
      if (why !== undefined && !told) {
        told = true;
        fallback(why, what);
      }
    };
    /**
     * Did the worker write `table`? A table it has not begun is claimed and read here (the join's
     * own pass, or allHere) rather than waited for; one it is reading is waited for.
     */
    const fromWorker = async (table: InternalTable): Promise<boolean> => {
      if (worker === undefined || (!wait && worker.claim(table))) return false;
      const failed = await worker.ready(table);
      tell(failed);
      return failed === undefined;
    };
    return {
      start: () => {
        worker = readInternalOnWorker(this.path, this.mapSql, roles, { admins: files.get('admins')!.path, members: files.get('members')!.path, orgs: files.get('orgs')!.path });
      },
      memberships: async () => ((await fromWorker('members')) ? 'xmember' : undefined),
      orgs: async () => ((await fromWorker('orgs')) ? 'xorg' : undefined),
      roster: async (affected) => {
        if (!(await fromWorker('admins'))) return allHere(affected);
        // the worker has the admin rows: it builds the roster from them while the join goes on
        const done = worker!.roster(files.get('admins')!.path, files.get('roster')!.path, orgChunks(db, affected));
        return async () => {
          const failed = await done;
          if (failed === undefined) return 'xroster';
          tell(failed, 'roster');
          // (its admin rows, committed, are whole whatever became of the roster's file)
          return rosterHere('xadmin', affected);
        };
      },
      hash: async () => worker?.hash(),
      close: async () => {
        // (a worker that failed in a table it had not begun is told of here)
        tell(worker?.failed());
        await worker?.stop();
        try {
          if (db.open && !db.inTransaction) detach();
        } catch {
          /* the connection closes with the run: the files go either way */
        }
        for (const f of files.values()) f.remove();
      },
    };
  }

  /** Ending a transaction after a failure must not hide the error being thrown. */
  private endSnapshot(): void {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      /* ignored */
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
