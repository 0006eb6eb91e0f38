/**
 * The SQL join (src/case/join.ts) against the reference model (test/model: the matching and the
 * lists as JavaScript computed them before), on random exports and internal databases whose ids,
 * emails and roles come in every storage class and spelling that matters: the same lists, row
 * for row and cell for cell, and the same counts. The export's records reach the stage in random
 * chunks, each aggregated on its own, as the reading hands them over; the admin rows are read on
 * the join's own connection, or with the memberships by a worker on a second one
 * (InternalDb.internalRows).
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdentityStage, resolveIdentities, writeListsBesideRoster, writeRosterLists } from '../src/case/join.js';
import { createCaseTables, rowOf } from '../src/case/store.js';
import type { CanonicalRecord } from '../src/core/canonical.js';
import { IdentityGroups } from '../src/core/identity.js';
import { normalizeEmail } from '../src/core/normalize.js';
import { LISTS, type ListName, type Row } from '../src/core/rows.js';
import { InternalDb, orgChunks } from '../src/internal/db.js';
import { tempDir } from './helpers.js';
import { buildImpact, contactOf, handOver, type AdminRows, type InternalUser } from './model/impact.js';
import { matchIdentities, RULES } from './model/match.js';
import type { Texts } from '../src/core/identity.js';

const ROLES = ['owner', 'admin'];

interface Rec {
  distinctId?: string;
  userId?: string;
  email?: string;
  deviceId?: string;
  orgIds: string[];
  linkedIds: string[];
  time: number | null;
  exposure: number;
  place?: string;
}

const ID = fc.constantFrom('1', '2', '3', '007', '7', 'x', 'user-1', 'user-2', 'É', 'e\u0301', '9007199254740993');
const EMAIL = fc.constantFrom('a@b.com', 'b@c.org', 'ünal@x.org', 'é@x.org', 'shared@x.org');
const DEVICE = fc.constantFrom('d1', 'd2', 'd3');
const ORG = fc.constantFrom('o1', 'o2', '7', '8', 'org-é');
const RECORD: fc.Arbitrary<Rec> = fc
  .record({
    distinctId: fc.option(fc.oneof(ID, fc.constantFrom('anon-1', 'anon-2', 'a@b.com')), { nil: undefined }),
    userId: fc.option(ID, { nil: undefined }),
    email: fc.option(EMAIL, { nil: undefined }),
    deviceId: fc.option(DEVICE, { nil: undefined }),
    orgIds: fc.uniqueArray(ORG, { maxLength: 2 }),
    linkedIds: fc.uniqueArray(fc.oneof(ID, fc.constantFrom('anon-1', 'anon-2', 'p1')), { maxLength: 2 }),
    time: fc.option(fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }).map((s) => s * 1000 + 123), { nil: null }),
    exposure: fc.integer({ min: 0, max: 511 }),
    place: fc.option(fc.constantFrom('US\u0000CA', 'US\u0000', '\u0000Berlin', 'DE\u0000Berlin'), { nil: undefined }),
  })
  .filter((r) => r.distinctId !== undefined || r.userId !== undefined || r.email !== undefined || r.deviceId !== undefined);

/** internal ids and emails as stored: texts, integers, reals, blobs, NULL; emails needing trim, NFC or case folding */
const STORED_ID = fc.oneof(ID, fc.constantFrom(7, 7n, 1n, 1, 2, 7.5, 9007199254740993n, Buffer.from('7'), null));
const STORED_EMAIL = fc.oneof(EMAIL, fc.constantFrom(' A@B.COM', 'ÜNAL@X.ORG', 'e\u0301@x.org', '\u00a0b@c.org', 'SHARED@x.org', null, 5));
const STORED_ORG = fc.oneof(ORG, fc.constantFrom(7, 7n, 8n, Buffer.from('o1'), null));
const ROLE = fc.constantFrom('owner', ' Admin ', 'member', 'OWNER', 'admin', 'Admin');

const DATABASE = fc.record({
  users: fc.array(fc.tuple(STORED_ID, STORED_EMAIL, fc.constantFrom('Ann', ' Bo ', '')), { maxLength: 12 }),
  orgs: fc.array(fc.tuple(STORED_ORG, fc.constantFrom('Acme', ' Org ', '')), { maxLength: 6 }),
  memberships: fc.array(fc.tuple(STORED_ID, STORED_ORG, ROLE), { maxLength: 16 }),
});

function add(groups: IdentityGroups, r: Rec): void {
  const [country, region] = r.place === undefined ? [] : r.place.split('\u0000').map((x) => x || undefined);
  groups.add({ ...r, country, region } as unknown as CanonicalRecord);
}

/**
 * How the join finds users: a table scanned in one pass for its ids and emails, or (in two
 * passes, then by rowid) with or without an index on users.id; or through a --map view.
 */
type UsersForm = 'table' | 'indexed' | 'view';
const USERS_FORMS: UsersForm[] = ['table', 'indexed', 'view'];
/** --map SQL for the 'view' form: users as a TEMP VIEW over the table (which it hides) */
const USERS_VIEW = 'CREATE TEMP VIEW users AS SELECT * FROM main.users;';

function internalDb(dir: string, db: { users: unknown[][]; orgs: unknown[][]; memberships: unknown[][] }, types: string, form: UsersForm = 'table'): string {
  const path = join(dir, 'internal.sqlite');
  const d = new Database(path);
  d.exec(`CREATE TABLE users (id ${types}, email, name); CREATE TABLE orgs (id ${types}, name); CREATE TABLE memberships (user_id ${types}, org_id ${types}, role);`);
  if (form === 'indexed') d.exec('CREATE INDEX users_id ON users (id)');
  for (const [t, rows] of [['users', db.users], ['orgs', db.orgs], ['memberships', db.memberships]] as const) {
    for (const row of rows) d.prepare(`INSERT INTO ${t} VALUES (${row.map(() => '?').join(', ')})`).run(...row);
  }
  d.close();
  return path;
}

/**
 * The lists as the SQL join writes them: each list's rows as case.sqlite stores them, read back.
 * With `threads` 2 the memberships and the admin rows are read by a worker, on a connection of its own: the worker
 * runs the built module (dist/, made by `npm test` before the tests), for a worker thread cannot
 * load TypeScript; a worker that fails (and leaves them to this connection) fails the test.
 */
async function sqlLists(path: string, dir: string, chunks: Rec[][], threads: number, form: UsersForm = 'table'): Promise<{ lists: Record<string, Row[]>; counts: Awaited<ReturnType<typeof resolveIdentities>>['counts'] & Awaited<ReturnType<typeof writeRosterLists>> }> {
  const Internal = threads > 1 ? ((await import('../dist/internal/db.js')) as { InternalDb: typeof InternalDb }).InternalDb : InternalDb;
  const internal = new Internal(path, form === 'view' ? USERS_VIEW : undefined);
  try {
    const stage = new IdentityStage(internal.db);
    for (const chunk of chunks) {
      const groups = new IdentityGroups();
      for (const r of chunk) add(groups, r);
      for (const id of groups.byKey.values()) stage.put(id);
    }
    stage.end();
    // (waiting for every table: on these small databases this thread would claim them all first)
    const internalRows = internal.internalRows(
      ROLES,
      threads,
      (why) => {
        throw new Error(`the worker did not read the internal rows (${why})`);
      },
      true,
    );
    let counts;
    try {
      const resolved = await internal.snapshot(async () => {
        internalRows.start();
        return resolveIdentities(internal.db, internalRows, () => undefined);
      });
      internal.db.prepare('ATTACH ? AS out').run(join(dir, 'case.sqlite'));
      createCaseTables(internal.db, 'out');
      writeListsBesideRoster(internal.db, () => undefined);
      counts = { ...resolved.counts, ...(await writeRosterLists(internal.db, resolved.roster, () => undefined)) };
    } finally {
      await internalRows.close();
    }
    const lists: Record<string, Row[]> = {};
    for (const l of LISTS) lists[l] = (internal.db.prepare(`SELECT * FROM out."${l}" ORDER BY rowid`).all() as Record<string, unknown>[]).map((raw) => rowOf(l, raw));
    return { lists, counts };
  } finally {
    internal.close();
  }
}

const text = (v: unknown) => (v === null || v === undefined ? '' : String(v).trim());

/** The lists as the reference model makes them, from every row of the internal database read in JavaScript. */
function modelLists(path: string, records: Rec[]) {
  const groups = new IdentityGroups();
  for (const r of records) add(groups, r);
  const identities = groups.sorted();
  const db = new Database(path, { readonly: true });
  try {
    const wantedIds = new Set<string>();
    const wantedEmails = new Set<string>();
    for (const id of identities) {
      for (const u of list(id.userIds)) wantedIds.add(u);
      if (id.distinctId !== undefined) wantedIds.add(id.distinctId);
      for (const e of list(id.emails)) wantedEmails.add(e);
    }
    const ids = new Set<string>();
    const byEmail = new Map<string, string[]>();
    const contacts = new Map<string, InternalUser>();
    for (const [id, email, name] of db.prepare('SELECT CAST(id AS TEXT), email, name FROM users').raw(true).iterate() as IterableIterator<[string | null, unknown, unknown]>) {
      if (id === null) continue;
      let wanted = wantedIds.has(id);
      if (wanted) ids.add(id);
      const e = typeof email === 'string' ? normalizeEmail(email) : undefined;
      if (e !== undefined && wantedEmails.has(e)) {
        byEmail.set(e, [...new Set([...(byEmail.get(e) ?? []), id])]);
        wanted = true;
      }
      if (wanted) contacts.set(id, contactOf(text(email), text(name)));
    }
    const matches = matchIdentities(identities, { hasUser: (u) => ids.has(u), usersWithEmail: (e) => byEmail.get(e) ?? [] });
    const matched = new Set(matches.flatMap((m) => (m.userId === undefined ? [] : [m.userId])));
    const memberships = new Map<string, Texts>();
    for (const [u, o] of db.prepare('SELECT CAST(user_id AS TEXT), CAST(org_id AS TEXT) FROM memberships').raw(true).iterate() as IterableIterator<[string | null, string | null]>) {
      if (u === null || o === null || !matched.has(u)) continue;
      memberships.set(u, [...new Set([...list(memberships.get(u)), o])]);
    }
    const orgs = new Map<string, string>();
    for (const [id, name] of db.prepare('SELECT CAST(id AS TEXT), name FROM orgs').raw(true).iterate() as IterableIterator<[string | null, unknown]>) if (id !== null) orgs.set(id, text(name));
    const impact = buildImpact(handOver([...identities], [...matches]), { users: contacts, memberships, orgs });
    const affected = new Set(impact.orgIds);
    const users = [...impact.users()];
    impact.usersWritten();
    const admins: AdminRows = { orgIds: [], userIds: [], roles: [] };
    const info = new Map<string, InternalUser>();
    for (const [o, u, role, email, name, found] of db.prepare('SELECT CAST(m.org_id AS TEXT), CAST(m.user_id AS TEXT), m.role, x.email, x.name, x.id IS NOT NULL FROM memberships m LEFT JOIN users x ON x.id = m.user_id').raw(true).iterate() as IterableIterator<[string | null, string | null, unknown, unknown, unknown, number]>) {
      if (o === null || u === null || !affected.has(o) || !ROLES.includes(String(role).trim().toLowerCase())) continue;
      admins.orgIds.push(o);
      admins.userIds.push(u);
      admins.roles.push(text(role));
      if (found === 1 || !info.has(u)) info.set(u, contactOf(text(email), text(name)));
    }
    const admin = impact.withAdmins(admins, info);
    const lists = { users, orgs: [...admin.orgs()], roster: [...admin.roster()], unmatched: [...impact.unmatched()], jurisdictions: [...impact.jurisdictions()], rejected: [] };
    return { lists, impact, admin, vendor: identities.length };
  } finally {
    db.close();
  }
}

function list(t: Texts): readonly string[] {
  return t === undefined ? [] : typeof t === 'string' ? [t] : t;
}

/** Rows compared as JSON (a stored NULL and the model's null alike; list cells as arrays). */
const plain = (rows: Row[]) => rows.map((r) => JSON.parse(JSON.stringify(r)) as unknown);

describe('the SQL join against the reference model', () => {
  it.each(['', 'TEXT', 'INTEGER'])('gives the same lists and counts on random exports and internal databases (ids declared %j)', async (types) => {
    await fc.assert(
      fc.asyncProperty(fc.array(RECORD, { minLength: 1, maxLength: 30 }), DATABASE, fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 2), fc.constantFrom(...USERS_FORMS), (records, database, pieces, threads, form) => agrees(records, database, pieces, threads, form, types)),
      { numRuns: 60 },
    );
  });

  it.each([1, 2])("takes an admin's contact from the last row read, in two orgs found as two users rows (threads %i)", async (threads) => {
    // user 7 stored as an integer (a bigint binds as one) and as a text: two users rows, each found by one membership
    const database = {
      users: [[7n, 'int@x.org', 'Int'], ['7', 'text@x.org', 'Text']],
      orgs: [['o1', 'One'], ['o2', 'Two'], ['o3', 'Three']],
      memberships: [['7', 'o1', 'admin'], [7n, 'o3', 'member'], [7n, 'o2', 'owner']],
    };
    const records: Rec[] = [{ userId: '7', orgIds: [], linkedIds: [], time: null, exposure: 1 }];
    for (const first of [0, 1]) {
      const rows = first === 0 ? database : { ...database, memberships: [...database.memberships].reverse() };
      await agrees(records, rows, 1, threads, 'table', '');
    }
  });
});

describe('the affected orgs handed to the worker building the roster', () => {
  it('arrive whole, in chunks of any size, whatever their texts', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme-composite', maxLength: 6 }), { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), (orgs, size) => {
        const db = new Database(':memory:');
        try {
          db.exec('CREATE TABLE ao (org TEXT PRIMARY KEY) WITHOUT ROWID');
          const put = db.prepare('INSERT OR IGNORE INTO ao VALUES (?)');
          // '' and a NUL inside a text too
          for (const o of [...orgs, '', 'a\u0000b']) put.run(o);
          const chunks = orgChunks(db, 'ao', size);
          const back = chunks.flatMap((c) => db.prepare('SELECT value FROM json_each(?)').pluck().all(c) as string[]);
          expect(chunks.every((c) => (JSON.parse(c) as string[]).length <= size)).toBe(true);
          expect(back).toEqual(db.prepare('SELECT org FROM ao ORDER BY org').pluck().all());
        } finally {
          db.close();
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** The SQL join's lists and counts are the model's, on these records and this internal database. */
async function agrees(records: Rec[], database: { users: unknown[][]; orgs: unknown[][]; memberships: unknown[][] }, pieces: number, threads: number, form: UsersForm, types: string): Promise<void> {
  const dir = tempDir();
  const path = internalDb(dir, database, types, form);
  const chunks: Rec[][] = Array.from({ length: pieces }, (_, i) => records.filter((_, j) => j % pieces === i));
  const got = await sqlLists(path, dir, chunks, threads, form);
  const want = modelLists(path, records);
  for (const l of LISTS as readonly ListName[]) expect(plain(got.lists[l]), l).toEqual(plain(want.lists[l] as Row[]));
  expect(got.counts.vendor).toBe(want.vendor);
  expect(got.counts.matched).toBe(want.impact.matchedIdentities);
  expect(got.counts.unmatched).toBe(want.impact.count.unmatched);
  expect(got.counts.matchedBy).toEqual(Object.fromEntries(RULES.map((r) => [r, want.impact.matchedBy[r]])));
  expect(got.counts.unmatchedByReason).toEqual(want.impact.unmatchedByReason);
  expect(got.counts.exposed).toEqual(want.impact.exposedUsers);
  expect([got.counts.users, got.counts.orgs, got.counts.roster, got.counts.orgsWithoutAdmin]).toEqual([want.impact.count.users, want.impact.count.orgs, want.admin.count.roster, want.admin.count.orgsWithoutAdmin]);
}
