/**
 * The fast paths must decide exactly what the slow ones do: the credential pre-check against the
 * full pattern, the lossy-number hint against always quoting, SQL-filtered internal database scans
 * against reading every row in JavaScript.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { textsOf } from '../src/core/identity.js';
import { contactOf, type AdminRows, type InternalUser } from '../src/core/impact.js';
import { normalizeEmail } from '../src/core/normalize.js';
import { InternalDb } from '../src/internal/db.js';
import { tempDir } from './helpers.js';
import { looksLikeSecret, mayHoldSecret, SECRET_PATTERN, textLooksLikeSecret } from '../src/core/secrets.js';
import { parseJsonRecord, quoteLongNumbers } from '../src/ingest/json-record.js';

/** Admin rows as (org, user, role) lists. */
function adminList(a: AdminRows): string[][] {
  return a.orgIds.map((o, i) => [o, a.userIds[i], a.roles[i]]);
}

const SECRET_PIECES = [
  'eyJ', 'EYj', 'eyJhbGciOiJIUzI1', '.', 'bearer ', 'Bearer\t', 'BEARER  ', 'sk-', 'SK_', 'pk_', 'rk-', 'sk', 'live', 'proj', 'ant-',
  'AKIA', 'akia', 'ABCDEFGHIJKLMNOP', 'ghp_', 'GHO_', 'gh', 'github_pat_', 'glpat-', 'xoxb-', 'XOXA-', 'xox', 'AIza', 'aiza',
  '-----BEGIN ', '-----begin ', 'RSA PRIVATE KEY-----', '?', '&', '#', ';', 'token=', 'API_KEY=', 'password=', 'sig=', '=',
  'https://', 'HTTP://', 'ftp://', ':', '//', 'user', ':pass', 'word', '@', '/', ' ', '\n', 'x', 'ſ', 'K', 'é', '_', '-',
  'abcdefghijklmnopqrstuvwxyz0123456789', 'ABCDEFGHIJ', '0123456789',
];

const TOKEN = fc.stringMatching(/^[A-Za-z0-9_-]{0,44}$/);
const SECRETISH = fc.oneof(
  fc.tuple(fc.constantFrom('https', 'HTTP', 'git+ssh', 'x', '1a'), fc.stringMatching(/^[a-z@:/ ]{0,6}$/), fc.stringMatching(/^[a-z0-9@:/ ]{0,6}$/)).map(([s, u, p]) => `${s}://${u}:${p}@host/`),
  fc.tuple(fc.constantFrom('?', '&', '#', ';', '/'), fc.constantFrom('access_token', 'TOKEN', 'api-key', 'Key', 'pwd', 'sig', 'signature', 'keys'), TOKEN).map(([c, n, v]) => `${c}${n}=${v}`),
  fc.tuple(TOKEN, TOKEN, TOKEN).map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`),
  fc.tuple(fc.constantFrom('bearer', 'Bearer', 'BEARER'), fc.constantFrom(' ', '\t', ''), TOKEN).map(([b, w, t]) => `${b}${w}${t}`),
  fc.tuple(fc.constantFrom('sk', 'PK', 'rk', 'sk-proj', 'sk_live', 'pk-test'), fc.constantFrom('-', '_', ''), TOKEN).map(([p, d, t]) => `${p}${d}${t}`),
  fc.tuple(fc.constantFrom('AKIA', 'akia', 'ghp_', 'gho_', 'GHS_', 'github_pat_', 'glpat-', 'xoxb-', 'xoxq-', 'AIza', '-----BEGIN RSA PRIVATE KEY-----', '-----begin x'), TOKEN).map(([p, t]) => `${p}${t}`),
);
/** A near miss: one code unit dropped or its case flipped. */
const MUTATED = fc.tuple(SECRETISH, fc.nat(60), fc.boolean()).map(([s, i, drop]) => {
  if (s.length === 0) return s;
  const k = i % s.length;
  const c = s[k];
  return s.slice(0, k) + (drop ? '' : c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(k + 1);
});
const NOISE = fc.constantFrom('', ' ', 'x', '"', '=', 'ſ', 'K', 'é', 'https://app.example.com/a?b=c', 'email@example.com');

describe('credential pre-check', () => {
  it('never says no where the full pattern says yes', () => {
    let positives = 0;
    fc.assert(
      fc.property(NOISE, fc.oneof(SECRETISH, MUTATED), NOISE, (a, secret, b) => {
        const s = a + secret + b;
        const slow = s.length >= 12 && SECRET_PATTERN.test(s);
        if (slow) positives++;
        expect(looksLikeSecret(s)).toBe(slow);
      }),
      { numRuns: 30000, seed: 4 },
    );
    expect(positives).toBeGreaterThan(2000);
  });

  it('agrees on arbitrary text too', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (s) => {
        expect(looksLikeSecret(s)).toBe(s.length >= 12 && SECRET_PATTERN.test(s));
      }),
      { numRuns: 5000, seed: 5 },
    );
  });

  it('on UTF-8 bytes, says what it says on the text decoded from them', () => {
    let positives = 0;
    const check = (bytes: Buffer) => {
      const text = bytes.toString('utf8');
      const slow = text.length >= 12 && SECRET_PATTERN.test(text);
      if (slow) positives++;
      expect(textLooksLikeSecret(text, bytes)).toBe(slow);
    };
    // credential-like text between non-ASCII neighbours (é, NBSP, U+FFFD, 4-byte characters) …
    const WIDE = fc.constantFrom('', 'é', '\u00a0', '\ufffd', '😀', 'ſ', '\u212a', ' x:y', '://', '?');
    fc.assert(
      fc.property(WIDE, NOISE, fc.oneof(SECRETISH, MUTATED), WIDE, (a, b, secret, c) => check(Buffer.from(a + b + secret + c, 'utf8'))),
      { numRuns: 20000, seed: 6 },
    );
    expect(positives).toBeGreaterThan(1000);
    // … and arbitrary bytes, invalid UTF-8 included
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => check(Buffer.from(b))),
      { numRuns: 5000, seed: 7 },
    );
    for (const url of ['https://u:pwd@x.example/', 'https://\u00e9t\u00e9:p\u00e0ss@x.example/', 'https://a\u00a0b:pass@x/', 'https://app.example.com/?token=abcd1234']) check(Buffer.from(url, 'utf8'));
  });
});

describe('lossy number hint', () => {
  const literal = fc.oneof(
    fc.stringMatching(/^-?(0|[1-9]\d{0,20})(\.\d{1,20})?([eE][+-]?\d{1,3})?$/),
    fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.constantFrom('0', '1', '12', '123456789012345', '1234567890123456', '9007199254740993'),
        fc.constantFrom('', '.0', '.5', '.10', '.000000', '.0000001', '.000001', '.25', '.1234567890123456', '.00000012'),
        fc.constantFrom('', 'e5', 'E-7', 'e+300', 'e-400'),
      )
      .map((parts) => parts.join('')),
  );
  const ws = fc.constantFrom('', ' ', '\t', '\n ', '\r\n');
  it('parses every number literal exactly as quoting them all would', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(literal, ws, fc.boolean()), { minLength: 1, maxLength: 6 }), fc.constantFrom('"x:1e5"', '"9e3f"', '"a,0.10"', '1'), (nums, str) => {
        const members = nums.map(([n, w, inArray], i) => `"k${i}":${w}${inArray ? `[${w}${n},${w}${n}]` : n}`);
        const text = `{${members.join(',')},"s":${str}}`;
        const fast = parseJsonRecord(text);
        expect(typeof fast).toBe('object');
        expect((fast as { obj: unknown }).obj).toEqual(JSON.parse(quoteLongNumbers(text)));
      }),
      { numRuns: 20000, seed: 6 },
    );
  });
});

/** An internal database whose users.id is the rowid, optionally with an index on email (SQLite then answers the email pre-test from it, not from the table). */
function rowidUsers(name: string, indexed: boolean) {
  const path = join(tempDir(), name);
  const db = new Database(path);
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
  if (indexed) db.exec('CREATE INDEX users_email ON users (email)');
  return { path, db, add: db.prepare('INSERT INTO users VALUES (?, ?, ?)') };
}

describe('internal database scans filtered in SQLite', () => {
  it.each([false, true])('find by primary key exactly the users a full scan finds when users.id is the rowid (an index on email: %s)', (indexed) => {
    const { path, db, add } = rowidUsers('rowid.sqlite', indexed);
    const rows: [number | bigint, string | null][] = [[0, 'zero@x.org'], [7, 'a@b.com'], [8, ' A@B.COM'], [-3, 'neg@x.org'], [9007199254740993n, 'big@x.org'], [9223372036854775807n, 'max@x.org'], [20, null], [21, 'ÜNAL@X.ORG']];
    rows.forEach(([id, email], i) => add.run(id, email, `n${i}`));
    db.close();
    const wantedIds = new Set(['0', '-0', '007', '7', '7.0', ' 8', '8', '-3', '9007199254740993', '9007199254740992', '9223372036854775807', '9223372036854775808', '20', 'x', '']);
    const wantedEmails = new Set(['a@b.com', 'ünal@x.org', 'nobody@x.org']);
    const rowid = vi.spyOn(InternalDb.prototype as unknown as { idIsRowid(): boolean }, 'idIsRowid');
    const internal = new InternalDb(path, undefined);
    const got = internal.snapshot(() => {
      const { lookup, info } = internal.scanUsers(wantedIds, wantedEmails);
      return { ids: [...wantedIds].filter((i) => lookup.hasUser(i)), emails: [...wantedEmails].map((e) => [e, [...lookup.usersWithEmail(e)].sort()]), info: [...info].sort() };
    });
    internal.close();
    expect(rowid).toHaveLastReturnedWith(true);
    expect(got.ids).toEqual(['0', '7', '8', '-3', '9007199254740993', '9223372036854775807', '20']);
    expect(got.emails).toEqual([['a@b.com', ['7', '8']], ['ünal@x.org', ['21']], ['nobody@x.org', []]]);
    expect(got.info.map(([id]) => id)).toEqual(['-3', '0', '20', '21', '7', '8', '9007199254740993', '9223372036854775807']);
    // a --map view over the same table takes the scan, with the same answers
    const view = new InternalDb(path, 'CREATE TEMP VIEW users AS SELECT id, email, name FROM main.users;');
    const viaView = view.snapshot(() => {
      const { lookup } = view.scanUsers(wantedIds, wantedEmails);
      return [...wantedIds].filter((i) => lookup.hasUser(i));
    });
    view.close();
    expect(rowid).toHaveLastReturnedWith(false);
    rowid.mockRestore();
    expect(viaView).toEqual(got.ids);
  });

  // The built module (dist/, made by `npm test`'s build): a worker thread cannot load TypeScript.
  it.each([false, true])('find the same users with the email pre-test on a thread beside the connection (an index on email: %s)', async (indexed) => {
    const { InternalDb: Built } = (await import('../dist/internal/db.js')) as { InternalDb: typeof InternalDb };
    const { path, db, add } = rowidUsers('beside.sqlite', indexed);
    // several users per email, some also wanted by id (found by the first pass, not the second)
    for (let i = 1; i <= 600; i++) add.run(i, [` User${i % 50}@X.org`, `user${i % 50}@x.org`, 'ÜNAL@X.ORG', null, 'other@x.org'][i % 5], `n${i}`);
    add.run(9007199254740993n, 'user5@x.org', 'big');
    db.close();
    const wantedIds = new Set(['3', '7', '55', '505', '600', '601', '007', 'x']);
    const wantedEmails = new Set([...Array.from({ length: 30 }, (_, i) => `user${i}@x.org`), 'ünal@x.org', 'nobody@x.org']);
    const answers = (internal: InstanceType<typeof InternalDb>, r: ReturnType<InternalDb['scanUsers']>) => ({
      ids: [...wantedIds].filter((i) => r.lookup.hasUser(i)),
      emails: [...wantedEmails].map((e) => [e, r.lookup.usersWithEmail(e)]),
      info: [...r.info].sort(),
    });
    const internal = new Built(path, undefined);
    const inPlace = internal.snapshot(() => answers(internal, internal.scanUsers(wantedIds, wantedEmails)));
    const beside = await internal.snapshot(async () => {
      const r = await internal.scanUsersBeside(wantedIds, wantedEmails, true, 0);
      return { thread: r.thread, ...answers(internal, r) };
    });
    // not worth a thread: under the size threshold, or one thread only
    const small = await internal.snapshot(async () => (await internal.scanUsersBeside(wantedIds, wantedEmails, true)).thread);
    const single = await internal.snapshot(async () => (await internal.scanUsersBeside(wantedIds, wantedEmails, false, 0)).thread);
    internal.close();
    expect(beside).toEqual({ thread: true, ...inPlace });
    // 55 and 505 are wanted by id too: the first pass finds them, the second the rest, in key order all the same
    expect(inPlace.emails.find(([e]) => e === 'user5@x.org')![1]).toEqual(['5', '55', '105', '155', '205', '255', '305', '355', '405', '455', '505', '555', '9007199254740993']);
    expect([small, single]).toEqual([false, false]);
  });

  it('do not read on the thread from another file, a WAL database, or a --map view: the connection reads itself', async () => {
    const { InternalDb: Built } = (await import('../dist/internal/db.js')) as { InternalDb: typeof InternalDb };
    const { idsOnThread, fileId } = (await import('../dist/internal/scan-thread.js')) as typeof import('../src/internal/scan-thread.js');
    const dir = tempDir();
    const make = (name: string, email: string) => {
      const path = join(dir, name);
      const db = new Database(path);
      db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);");
      db.prepare('INSERT INTO users VALUES (1, ?, ?)').run(email, 'n');
      db.close();
      return path;
    };
    const a = make('a.sqlite', 'a@x.org');
    const b = make('b.sqlite', 'a@x.org');
    const sql = "SELECT CAST(id AS TEXT) FROM users WHERE email IN (SELECT value FROM json_each(?))";
    expect(await idsOnThread(a, fileId(a), sql, '["a@x.org"]')).toEqual(['1']);
    expect(await idsOnThread(a, fileId(a), sql, '["b@x.org"]')).toEqual([]);
    // the path names another file than the one the caller opened
    expect(await idsOnThread(a, fileId(b), sql, '["a@x.org"]')).toBeUndefined();
    const wal = new Database(b);
    wal.pragma('journal_mode = WAL');
    wal.close();
    expect(await idsOnThread(b, fileId(b), sql, '["a@x.org"]')).toBeUndefined();
    const wanted = [new Set(['1']), new Set(['a@x.org'])] as const;
    for (const [path, map] of [[b, undefined], [a, 'CREATE TEMP VIEW users AS SELECT id, email, name FROM main.users;']] as const) {
      const internal = new Built(path, map);
      const r = await internal.snapshot(() => internal.scanUsersBeside(...wanted, true, 0));
      internal.close();
      expect([r.thread, r.lookup.usersWithEmail('a@x.org')], path).toEqual([false, ['1']]);
    }
  });

  it('find by primary key exactly the orgs a scan finds when orgs.id is the rowid', () => {
    const dir = tempDir();
    const path = join(dir, 'orgs.sqlite');
    const db = new Database(path);
    db.exec('CREATE TABLE users (id, email, name); CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE memberships (user_id, org_id, role);');
    const add = db.prepare('INSERT INTO orgs VALUES (?, ?)');
    for (const id of [0, 3, 12, 100, -5, 9007199254740993n]) add.run(id, ` org ${id} `);
    db.close();
    const wanted = new Set(['0', '-0', '3', '03', '3.0', ' 12', '12', '100', '-5', '9007199254740993', '9007199254740992', 'x', '']);
    const names = (internal: InternalDb) => internal.snapshot(() => [...internal.orgNames(wanted)].sort());
    const rowid = vi.spyOn(InternalDb.prototype as unknown as { idIsRowid(table: string): boolean }, 'idIsRowid');
    const byKey = new InternalDb(path, undefined);
    const got = names(byKey);
    byKey.close();
    expect(rowid).toHaveBeenLastCalledWith('orgs');
    expect(rowid).toHaveLastReturnedWith(true);
    expect(got).toEqual([['-5', 'org -5'], ['0', 'org 0'], ['100', 'org 100'], ['12', 'org 12'], ['3', 'org 3'], ['9007199254740993', 'org 9007199254740993']]);
    // a --map view over the same table takes the scan, with the same answers
    const view = new InternalDb(path, 'CREATE TEMP VIEW orgs AS SELECT id, name FROM main.orgs;');
    expect(names(view)).toEqual(got);
    view.close();
    expect(rowid).toHaveLastReturnedWith(false);
    rowid.mockRestore();
  });

  it.each(['', 'INTEGER', 'TEXT', 'NUMERIC', 'REAL', 'BLOB'])('find by value (an index on memberships.user_id) exactly the memberships a full scan finds (user_id declared %j)', (type) => {
    const dir = tempDir();
    const path = join(dir, 'memberships.sqlite');
    const db = new Database(path);
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id ${type}, org_id, role); CREATE INDEX m_user ON memberships (user_id);`);
    // user ids of every storage class, some whose text is an integer's and some only alike
    // (better-sqlite3 binds a JS number as REAL, a bigint as INTEGER)
    const ids: unknown[] = [7n, '7', 7, 7.5, Buffer.from('7'), '007', ' 7', '7 ', -3n, '-3', 0n, '-0', 9007199254740993n, '9007199254740993', 9007199254740992n, 'x', null, Buffer.from('x')];
    const add = db.prepare('INSERT INTO memberships VALUES (?, ?, ?)');
    ids.forEach((id, i) => add.run(id, 100 + i, 'member'));
    db.close();
    const wanted = new Set(['7', '-3', '0', '9007199254740993', '9007199254740992', '5']);
    const internal = new InternalDb(path, undefined);
    const got = internal.snapshot(() => [...internal.membershipsOf(wanted)].map(([u, orgs]) => [u, [...textsOf(orgs)].sort()]).sort());
    internal.close();
    // The reference: every row through JavaScript, compared by its text.
    const ref = new Database(path, { readonly: true });
    const want = new Map<string, string[]>();
    for (const [u, o] of ref.prepare('SELECT CAST(user_id AS TEXT), CAST(org_id AS TEXT) FROM memberships').raw(true).iterate() as IterableIterator<[string | null, string]>) {
      if (u !== null && wanted.has(u)) want.set(u, [...new Set([...(want.get(u) ?? []), o])]);
    }
    ref.close();
    expect(got).toEqual([...want].map(([u, orgs]) => [u, orgs.sort()]).sort());
    // '7' is found under every affinity (under REAL only as the blob); where the column keeps
    // integers as integers, every user but '5'; with no affinity, '7' as integer, text and blob
    expect(got.map(([u]) => u)).toEqual(type === 'REAL' ? ['7'] : ['-3', '0', '7', '9007199254740992', '9007199254740993']);
    if (type === '' || type === 'BLOB') expect(want.get('7')).toHaveLength(3);
  });

  it.each(['', 'INTEGER', 'TEXT', 'NUMERIC', 'REAL', 'BLOB'])('find by value (an index on memberships.org_id) exactly the admins a full scan finds (org_id declared %j)', (type) => {
    const dir = tempDir();
    const path = join(dir, 'admins.sqlite');
    const db = new Database(path);
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id ${type}, role); CREATE INDEX m_org ON memberships (org_id, role);`);
    db.exec("INSERT INTO users VALUES (1, 'one@x.org', 'One'), (2, 'two@x.org', 'Two')");
    // org ids of every storage class, some whose text is an integer's and some only alike
    const orgIds: unknown[] = [7n, '7', 7, 7.5, Buffer.from('7'), '007', ' 7', '7 ', -3n, '-3', 0n, '-0', 9007199254740993n, '9007199254740993', 9007199254740992n, 'x', null, Buffer.from('x')];
    const add = db.prepare('INSERT INTO memberships VALUES (?, ?, ?)');
    orgIds.forEach((o, i) => {
      add.run(1 + (i % 2), o, ['owner', ' Admin ', 'member'][i % 3]);
      add.run(100 + i, o, 'admin');
    });
    // user 1 as an integer, and before and after it as a blob, whose text is '1' but which finds
    // no users row: user 1 has One's contact whatever the rows' order
    // (in org '7' as a blob, which every affinity keeps as it is)
    for (const u of [Buffer.from('1'), 1n, Buffer.from('1')]) add.run(u, Buffer.from('7'), 'owner');
    db.close();
    const wanted = new Set(['7', '-3', '0', '9007199254740993', '9007199254740992', '5']);
    const roles = ['owner', 'admin'];
    const internal = new InternalDb(path, undefined);
    const got = internal.snapshot(() => internal.admins(wanted, roles));
    internal.close();
    // The reference: every row through JavaScript, compared by its text.
    const ref = new Database(path, { readonly: true });
    const want: string[][] = [];
    const info = new Map<string, InternalUser>();
    for (const [o, u, role, email, name, id] of ref.prepare('SELECT CAST(m.org_id AS TEXT), CAST(m.user_id AS TEXT), m.role, u.email, u.name, u.id FROM memberships m LEFT JOIN users u ON u.id = m.user_id').raw(true).iterate() as IterableIterator<[string | null, string, string, string | null, string | null, number | null]>) {
      if (o === null || !wanted.has(o) || !roles.includes(role.trim().toLowerCase())) continue;
      want.push([o, u, role.trim()]);
      if (id !== null || !info.has(u)) info.set(u, contactOf(email ?? '', name ?? ''));
    }
    ref.close();
    const sorted = (rows: string[][]) => rows.map((r) => r.join('\u0000')).sort();
    expect(sorted(adminList(got.admins))).toEqual(sorted(want));
    expect([...got.info].sort()).toEqual([...info].sort());
    expect(got.info.get('1')).toBe(contactOf('one@x.org', 'One'));
    // '7' is found under every affinity (under REAL only as the blob); with no affinity as integer, text and blob
    expect(new Set(got.admins.orgIds)).toEqual(new Set(type === 'REAL' ? ['7'] : ['-3', '0', '7', '9007199254740992', '9007199254740993']));
    if (type === '' || type === 'BLOB') expect(want.filter(([o]) => o === '7').length).toBeGreaterThanOrEqual(3);
  });

  it('find exactly the users, memberships and orgs a full scan in JavaScript finds', () => {
    const dir = tempDir();
    const path = join(dir, 'tricky.sqlite');
    const db = new Database(path);
    // Untyped columns: ids and emails of every storage class, emails needing trim, NFC or Unicode case folding.
    db.exec('CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    const users: [unknown, unknown][] = [
      [7, 'a@b.com'], ['007', 'A@B.COM'], [7.5, ' a@b.com\t'], ['x', '\u00a0a@b.com'], [8, 'e\u0301@x.org'], [9, '\u00e9@x.org'],
      [10, 'ÜNAL@X.ORG'], [11, 42], [12, null], [null, 'a@b.com'], ['9007199254740993', 'big@x.org'], [9007199254740992n, 'Big@X.org'],
      [13, '\u000ba@b.com\u000c'], [14, 'ǅ@x'], [15, 'ǆ@x'], [16, 'İ@x'], [17, 'K@x'], [18, 'k@x'], [19, Buffer.from('a@b.com')],
    ];
    const add = db.prepare('INSERT INTO users VALUES (?, ?, ?)');
    users.forEach(([id, email], i) => add.run(id, email, `n${i}`));
    db.exec("INSERT INTO orgs VALUES (1, 'one'), ('1', 'one text'), (2.0, 'two'), (NULL, 'none');");
    db.exec("INSERT INTO memberships VALUES (7, 1, 'owner'), ('007', 2, 'admin'), (7.5, 1, ' Admin '), ('x', 1, 'member'), (8, '1', 'owner'), (NULL, 1, 'owner');");
    db.close();

    const wantedIds = new Set(['7', '007', '7.5', 'x', '8', '9007199254740993', '9007199254740992', '11', '19', '12']);
    const wantedEmails = new Set(['a@b.com', 'é@x.org', 'ünal@x.org', '42', 'big@x.org', 'ǆ@x', 'i̇@x', 'k@x']);
    const internal = new InternalDb(path, undefined);
    const got = internal.snapshot(() => {
      const { lookup, info } = internal.scanUsers(wantedIds, wantedEmails);
      return {
        ids: [...wantedIds].filter((i) => lookup.hasUser(i)),
        emails: [...wantedEmails].map((e) => [e, lookup.usersWithEmail(e)]),
        info: [...info],
        memberships: [...internal.membershipsOf(new Set(['7', '007', '7.5', '8']))].map(([u, orgs]) => [u, textsOf(orgs)]),
        orgs: [...internal.orgNames(new Set(['1', '2', '2.0']))],
        admins: internal.admins(new Set(['1', '2']), ['owner', 'admin']),
      };
    });
    internal.close();

    // The reference: every row through JavaScript, as before the SQL filters.
    const ref = new Database(path, { readonly: true });
    const ids = new Set<string>();
    const byEmail = new Map<string, string[]>();
    const info = new Map<string, InternalUser>();
    const text = (v: unknown) => (v === null || v === undefined ? '' : String(v).trim());
    for (const [id, email, name] of ref.prepare('SELECT CAST(id AS TEXT), email, name FROM users').raw(true).iterate() as IterableIterator<[string | null, unknown, unknown]>) {
      if (id === null) continue;
      let wanted = false;
      if (wantedIds.has(id)) (ids.add(id), (wanted = true));
      const e = typeof email === 'string' ? normalizeEmail(email) : undefined;
      if (e !== undefined && wantedEmails.has(e)) {
        byEmail.set(e, [...new Set([...(byEmail.get(e) ?? []), id])]);
        wanted = true;
      }
      if (wanted) info.set(id, contactOf(text(email), text(name)));
    }
    ref.close();
    expect(got.ids).toEqual([...wantedIds].filter((i) => ids.has(i)));
    expect(got.emails).toEqual([...wantedEmails].map((e) => [e, byEmail.get(e) ?? []]));
    expect(got.info).toEqual([...info]);
    expect(got.emails.filter(([, u]) => u.length > 0).length).toBeGreaterThan(4);
    expect(got.memberships).toEqual([['7', ['1']], ['007', ['2']], ['7.5', ['1']], ['8', ['1']]]);
    expect(got.orgs).toEqual([['1', 'one text'], ['2.0', 'two']]);
    // (in no particular order: the roster sorts them)
    expect(adminList(got.admins.admins).sort()).toEqual([['1', '7', 'owner'], ['2', '007', 'admin'], ['1', '7.5', 'Admin'], ['1', '8', 'owner']].sort());
  });
});
