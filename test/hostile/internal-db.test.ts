/**
 * The internal database under fault: missing, a directory, not SQLite, corrupt (at open and in a
 * data page), locked by a writer, written to concurrently (WAL, or a rollback journal with the
 * email pre-test on a second connection), missing tables or columns,
 * a broken dump, a --map that tries to write. Every run: a clear error naming the path (or a
 * correct result), no hang, and the database's SHA-256 unchanged.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { correlateIn, event, expectCase, expectRefused, readList, run, sha256, tempDir, writeInternalDb, type CaseRun } from './lib.js';

const PEOPLE = [
  ['1', 'alice@example.com', 'Alice'],
  ['2', 'bob@example.com', 'Bob'],
] as [string, string, string][];

function setup() {
  const dir = tempDir();
  writeFileSync(join(dir, 'export.ndjson'), [event({ distinct_id: 'v1', $email: 'alice@example.com', org_id: '10' }), event({ distinct_id: '2' })].join('\n') + '\n');
  return dir;
}

/** Good database: Alice (email) and Bob (distinct_id) in org 10, Alice its owner. */
function goodDb(path: string): string {
  return writeInternalDb(path, {
    users: PEOPLE,
    orgs: [['10', 'Org Ten']],
    memberships: [
      ['1', '10', 'owner'],
      ['2', '10', 'member'],
    ],
  });
}


const counts = (read: number, accepted = read, rejected = 0) => ({ read, accepted, rejected, filtered: 0, duplicates: 0 });

async function runAgainst(dir: string, db: string, extra: string[] = []): Promise<{ c: CaseRun; before: string; after: string; ms: number }> {
  const before = sha256(db);
  const t = Date.now();
  const c = await correlateIn(dir, ['export.ndjson'], { internal: db, extra, timeoutMs: 30_000 });
  return { c, before, after: sha256(db), ms: Date.now() - t };
}

describe.concurrent('the internal database', () => {
  it('is read, never written: a good SQLite file gives the result and keeps its SHA-256 (recorded in the manifest)', async () => {
    const dir = setup();
    const db = goodDb(join(dir, 'app.sqlite'));
    const { c, before, after } = await runAgainst(dir, db);
    expectCase(c, { code: 0, records: counts(2), rejected: [] });
    expect(after).toBe(before);
    expect(JSON.parse(readFileSync(join(c.out, 'manifest.json'), 'utf8')).internal.sha256).toBe(before);
    expect(readList(c.out, 'users.csv').map((u) => [u.user_id, u.matched_by])).toEqual([
      ['1', 'email'],
      ['2', 'distinct_id'],
    ]);
  });

  it('is opened read-only by its URI whatever its path holds (%, ?, #, spaces, non-ASCII, a relative file: prefix)', async () => {
    const dir = setup();
    mkdirSync(join(dir, 'we ird%2F?#dir'));
    mkdirSync(join(dir, 'file:x'));
    for (const path of [join('we ird%2F?#dir', 'in é.sqlite'), join('file:x', 'app.sqlite')]) {
      const db = goodDb(join(dir, path));
      const before = sha256(db);
      const c = await correlateIn(dir, ['export.ndjson'], { internal: path, out: `case-${before.slice(0, 8)}`, timeoutMs: 30_000 });
      expectCase(c, { code: 0, records: counts(2), rejected: [] });
      expect(sha256(db)).toBe(before);
      expect(readList(c.out, 'users.csv').map((u) => u.user_id)).toEqual(['1', '2']);
    }
    // and a case directory whose relative path begins with file: (case.sqlite is attached by its path too)
    const r = await run(['correlate', 'export.ndjson', '--internal', join('file:x', 'app.sqlite'), '--out', 'file:case', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readList(join(dir, 'file:case'), 'users.csv').map((u) => u.user_id)).toEqual(['1', '2']);
  });

  it('is refused when missing or a directory (exit 2, naming the path, nothing published)', async () => {
    const dir = setup();
    expectRefused((await correlateIn(dir, ['export.ndjson'], { internal: 'nowhere.sqlite' })), 2, /internal database nowhere\.sqlite does not exist/);
    mkdirSync(join(dir, 'a-dir.sqlite'));
    expectRefused((await correlateIn(dir, ['export.ndjson'], { internal: 'a-dir.sqlite' })), 2, /internal database a-dir\.sqlite is a directory/);
  });

  it('is refused when it is not SQLite (exit 2, naming the path)', async () => {
    const dir = setup();
    const db = join(dir, 'notes.sqlite');
    writeFileSync(db, 'this is a text file, not a database\n'.repeat(200));
    const { c, before, after } = await runAgainst(dir, db);
    expectRefused(c, 2, /internal database .*notes\.sqlite is not a SQLite database \(file is not a database\)/);
    expect(after).toBe(before);
  });

  it('is a clear runtime error when corrupt, whether at open or in a data page (exit 1, naming the path)', async () => {
    const dir = setup();
    const good = readFileSync(goodDb(join(dir, 'good.sqlite')));
    const header = Buffer.from(good);
    header.fill(0x41, 100, 2000); // the schema page
    writeFileSync(join(dir, 'bad-schema.sqlite'), header);
    const page = Buffer.from(good);
    page.fill(0x41, 4096, 8192); // the users table's page
    writeFileSync(join(dir, 'bad-page.sqlite'), page);
    for (const name of ['bad-schema.sqlite', 'bad-page.sqlite']) {
      const db = join(dir, name);
      const { c, before, after } = await runAgainst(dir, db);
      expect(c.r.code, c.r.stderr).toBe(1);
      expect(c.r.stderr).toMatch(new RegExp(`internal database .*${name.replace('.', '\\.')} is corrupt \\(database disk image is malformed\\)`));
      expect(c.r.stderr).toMatch(/what to do: restore it from a backup/);
      expect(c.r.stderr).not.toMatch(/unexpected failure/);
      expect(c.r.stdout).toBe('');
      expect(existsSync(c.out) ? readdirSync(c.out) : []).toEqual([]);
      expect(after).toBe(before);
    }
  });

  it('is a clear error, within seconds, when another process holds a write lock (rollback journal)', async () => {
    const dir = setup();
    const db = goodDb(join(dir, 'busy.sqlite'));
    const before = sha256(db);
    const writer = new Database(db);
    writer.exec('BEGIN EXCLUSIVE');
    writer.prepare('INSERT INTO users VALUES (?, ?, ?)').run('3', 'carol@example.com', 'Carol');
    try {
      const t = Date.now();
      const c = await correlateIn(dir, ['export.ndjson'], { internal: db, timeoutMs: 20_000 });
      expect(Date.now() - t).toBeLessThan(15_000);
      expect(c.r.signal).toBeNull();
      expect(c.r.code, c.r.stderr).toBe(1);
      expect(c.r.stderr).toMatch(/internal database .*busy\.sqlite is locked by another process/);
      expect(c.r.stderr).toMatch(/what to do: wait for the writer to finish, or correlate against a copy/);
      expect(existsSync(c.out) ? readdirSync(c.out) : []).toEqual([]);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    expect(sha256(db)).toBe(before);
  });

  it('reads one consistent snapshot of a WAL database while another process writes to it', async () => {
    const dir = setup();
    const db = goodDb(join(dir, 'wal.sqlite'));
    const setupWal = new Database(db);
    setupWal.pragma('journal_mode = WAL');
    setupWal.close();
    const writer = new Database(db);
    writer.exec('BEGIN IMMEDIATE');
    // an uncommitted change the snapshot must not see
    writer.prepare('DELETE FROM users WHERE id = ?').run('1');
    const before = sha256(db);
    try {
      const c = await correlateIn(dir, ['export.ndjson'], { internal: db, timeoutMs: 20_000 });
      expectCase(c, { code: 0, records: counts(2), rejected: [] });
      expect(readList(c.out, 'users.csv').map((u) => u.user_id)).toEqual(['1', '2']);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    expect(sha256(db)).toBe(before);
  });

  it('reads the committed snapshot while another process holds an uncommitted write (rollback journal)', async () => {
    const dir = setup();
    const db = goodDb(join(dir, 'journal.sqlite'));
    const writer = new Database(db);
    writer.exec('BEGIN IMMEDIATE');
    // uncommitted: Alice's email changed (the email match would be lost) and a user with hers added
    writer.prepare('UPDATE users SET email = ? WHERE id = ?').run('someone@example.org', '1');
    writer.prepare('INSERT INTO users VALUES (?, ?, ?)').run('3', 'alice@example.com', 'Another');
    const before = sha256(db);
    try {
      const c = await correlateIn(dir, ['export.ndjson'], { internal: db, timeoutMs: 20_000 });
      expectCase(c, { code: 0, records: counts(2), rejected: [] });
      expect(readList(c.out, 'users.csv').map((u) => [u.user_id, u.matched_by])).toEqual([
        ['1', 'email'],
        ['2', 'distinct_id'],
      ]);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    expect(sha256(db)).toBe(before);
  });

  it('names a missing table or column and points at --map (exit 2), SQLite file or dump alike', async () => {
    const dir = setup();
    const shapes: [string, string, RegExp][] = [
      ['no-orgs', 'CREATE TABLE users (id, email, name); CREATE TABLE memberships (user_id, org_id, role);', /has no table orgs \(needs orgs\(id, name\)\)/],
      ['no-memberships', 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name);', /has no table memberships \(needs memberships\(user_id, org_id, role\)\)/],
      ['no-role', 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id);', /table memberships has no column role/],
      ['no-email', 'CREATE TABLE users (id, mail, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);', /table users has no column email/],
      ['empty', '', /has no table users/],
    ];
    for (const [name, sql, message] of shapes) {
      writeFileSync(join(dir, `${name}.sql`), sql);
      const file = join(dir, `${name}.sqlite`);
      const d = new Database(file);
      d.exec(sql);
      d.close();
      for (const db of [`${name}.sql`, `${name}.sqlite`]) {
        const { c, before, after } = await runAgainst(dir, join(dir, db));
        expectRefused(c, 2, new RegExp(`internal database .*${db.replace('.', '\\.')}[: ].*${message.source}`));
        expect(c.r.stderr).toMatch(/--map views\.sql/);
        expect(after).toBe(before);
      }
    }
  });

  it('refuses a --map that tries to write, and the file stays unchanged', async () => {
    const dir = setup();
    const db = goodDb(join(dir, 'app.sqlite'));
    for (const [i, map] of ['DELETE FROM users;', "UPDATE users SET email = 'x@evil.example';", 'CREATE TABLE evil (x);', 'DROP TABLE orgs;'].entries()) {
      writeFileSync(join(dir, `map${i}.sql`), map);
      const { c, before, after } = await runAgainst(dir, db, ['--map', `map${i}.sql`]);
      expectRefused(c, 2, /--map SQL failed: attempt to write a readonly database/);
      expect(after).toBe(before);
    }
  });

  it('reports a dump SQLite cannot load without echoing its content (exit 2)', async () => {
    const dir = setup();
    writeFileSync(join(dir, 'broken.sql'), "CREATE TABLE users (id, email, name);\nINSERT INTO users VALUES ('1', 'secret.person@example.com' 'Person');\n");
    const { c } = await runAgainst(dir, join(dir, 'broken.sql'));
    expectRefused(c, 2, /internal database .*broken\.sql is not a SQL dump SQLite can load \(near "…": syntax error\)/);
    expect(c.r.stderr).not.toMatch(/secret\.person|Person/);
  });
});
