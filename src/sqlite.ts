/**
 * Every SQLite connection of the tool is opened here. URI filenames are switched on (better-sqlite3
 * reads SQLITE_USE_URI when it opens its first connection) so that `correlate` can open the
 * internal database read-only (`file:…?mode=ro`) in a connection that can still attach databases
 * it writes: the case and its staging area. A path is always made absolute before it is opened,
 * so a file of ours whose name begins with `file:` is never read as a URI.
 */
import Database from 'better-sqlite3';
import { resolve } from 'node:path';

process.env.SQLITE_USE_URI = '1';

export type DB = Database.Database;
export type Statement = Database.Statement;

/** A SQLite file (made absolute), or `''` for a private temporary database. */
export function openDatabase(path: string, options?: Database.Options): DB {
  return new Database(path === '' || path === ':memory:' ? path : resolve(path), options);
}

/**
 * A SQLite file opened read-only by its URI (`mode=ro`) in a connection that may still write the
 * databases it attaches.
 */
export function openReadOnly(path: string, options?: Database.Options): DB {
  return new Database(readOnlyUri(path), options);
}

/** `file:` URI of a path, read-only: every byte outside a safe set percent-encoded (SQLite decodes them). */
function readOnlyUri(path: string): string {
  const safe = /[A-Za-z0-9/._~-]/;
  let out = '';
  for (const ch of resolve(path)) {
    if (safe.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).padStart(2, '0')}`;
  }
  return `file:${out}?mode=ro`;
}

/** Values bound per INSERT statement: well under SQLite's limit. */
const PARAMETERS_PER_INSERT = 960;

/** Rows of `width` values into `table`, many to a statement: better-sqlite3's cost is mostly per statement run. */
export function batchInsert(db: DB, table: string, width: number, verb = 'INSERT'): { put(...values: unknown[]): void; end(): void } {
  const perInsert = Math.floor(PARAMETERS_PER_INSERT / width);
  const insertOf = (n: number) => db.prepare(`${verb} INTO ${table} VALUES ${Array.from({ length: n }, () => `(${Array.from({ length: width }, () => '?').join(', ')})`).join(', ')}`);
  const many = insertOf(perInsert);
  let values: unknown[] = [];
  return {
    put(...row: unknown[]) {
      for (const v of row) values.push(v);
      if (values.length === perInsert * width) {
        many.run(values);
        values = [];
      }
    },
    end() {
      if (values.length > 0) insertOf(values.length / width).run(values);
      values = [];
    },
  };
}
