/**
 * The join, in SQL. One connection holds these databases:
 *
 * - `main`: the internal database, opened read-only (`file:…?mode=ro`), so that `--map` views and
 *   every query name its tables as they always did (`users`, `main.users`);
 * - `stage`: a private temporary database (SQLite's own, 0600 and already unlinked) holding the
 *   staged identities and the join's intermediate tables;
 * - `xadmin`, `xmember`, `xorg`, when a worker reads the internal side's rows on a second
 *   connection (readAdminRows, readMemberships, readOrgs; InternalDb.internalRows): the private
 *   scratch files it writes them to, one each;
 * - `out`: the case's case.sqlite (attached under its temporary name when the lists are written).
 *
 * The identities (one per vendor identity, merged from the reading's parts) are matched by the
 * rules of the spec (user_id, email, distinct_id, vendor_link, device_link: the first rule with a
 * candidate decides, two or more candidates make the identity ambiguous), and the lists are
 * computed by SQL into case.sqlite in list order. Nothing of the internal tables is held in
 * JavaScript: the join's memory is SQLite's page caches, whatever the size of the database.
 *
 * Texts compare and sort by SQLite's BINARY collation: UTF-8 bytes, which is Unicode code point
 * order, the lists' order. The texts staged are well-formed (lone surrogates were replaced when
 * read), so they survive the trip through UTF-8 unchanged.
 */
import type { Digest } from './files.js';
import { CATEGORIES, categoriesOf } from '../core/categories.js';
import { sortByCodePoints, textsOf, type Identity, type Texts } from '../core/identity.js';
import { formatTime, normalizeEmail } from '../core/normalize.js';
import { mergeIdentity, mergePacked, partIdentity, unpackParts, type IdentitySink } from '../core/stage.js';
import { batchInsert, type DB } from '../sqlite.js';

/** The matching rules, in the order they are tried (their index is `rule` in the tables). */
export const RULES = ['user_id', 'email', 'distinct_id', 'vendor_link', 'device_link'] as const;
export type Rule = (typeof RULES)[number];

/**
 * The staged texts of the identities, a table per kind: (key, value), in key order. Every step
 * reads one kind, scanning it in key order or probing it by key, so no index by value is built.
 */
const KINDS = ['ident_user', 'ident_email', 'ident_device', 'ident_org', 'ident_linked'] as const;
const [USER, EMAIL, DEVICE, ORG, LINKED] = KINDS.map((kind) => `stage.${kind}`);

/** The bitwise OR of an exposure column over a group (one max() per category bit). */
function orOf(column: string): string {
  return `(${CATEGORIES.map((_, i) => `max(${column} & ${1 << i})`).join(' | ')})`;
}

/**
 * Is the text `x` ASCII without NUL (as many bytes as characters: SQLite counts characters up to a
 * NUL)? For such a text JavaScript's trim, NFC and lower case are SQLite's trim of WHITE and lower.
 */
const ASCII = (x: string) => `length(CAST(${x} AS BLOB)) = length(${x})`;
/** The ASCII characters JavaScript's trim removes. */
const WHITE = 'char(32, 9, 10, 11, 12, 13)';
/** `x` as a list cell shows a stored value: trimmed text, '' for NULL (JavaScript's trim and String for anything not plain printable ASCII). */
const TEXT = (x: string) => `(CASE WHEN ${x} IS NULL THEN '' WHEN typeof(${x}) = 'text' AND ${ASCII(x)} THEN trim(${x}, ${WHITE}) ELSE bi_text(${x}) END)`;
/** A stored email normalized as the export's are (trim, NFC, lower case; NULL when empty or not text). */
const NORM = (x: string) => `(CASE WHEN typeof(${x}) <> 'text' THEN NULL WHEN ${ASCII(x)} THEN nullif(lower(trim(${x}, ${WHITE})), '') ELSE bi_email(${x}) END)`;
/** A time in whole seconds as the lists write it. */
const TIME = (x: string) => `(CASE WHEN ${x} IS NULL THEN NULL WHEN ${x} BETWEEN 0 AND 253402300799 THEN strftime('%Y-%m-%dT%H:%M:%SZ', ${x}, 'unixepoch') ELSE bi_time(${x}) END)`;
const RULE_NAME = (x: string) => `(CASE ${x} ${RULES.map((r, i) => `WHEN ${i} THEN '${r}'`).join(' ')} END)`;

export interface JoinCounts {
  vendor: number;
  matched: number;
  unmatched: number;
  users: number;
  orgs: number;
  matchedBy: Record<Rule, number>;
  unmatchedByReason: Record<string, number>;
  /** affected users per exposure category */
  exposed: Record<string, number>;
}

/** What the roster's lists count (writeRosterLists). */
export interface RosterCounts {
  roster: number;
  orgsWithoutAdmin: number;
}

/** The identities resolved: their counts, and where the roster of the affected orgs is, once built (InternalRows.roster). */
export interface Resolved {
  counts: JoinCounts;
  roster: () => Promise<string>;
}

/** Registers the few functions the SQL needs from JavaScript (only for texts outside printable ASCII, and far-off times). */
export function registerFunctions(db: DB): void {
  db.function('bi_text', { deterministic: true }, (v: unknown) => (v === null || v === undefined ? '' : String(v).trim()));
  db.function('bi_email', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? (normalizeEmail(v) ?? null) : null));
  db.function('bi_time', { deterministic: true }, (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? formatTime(Number(v) * 1000) : null));
}

/**
 * Vendor identities as the reading hands them over (an IdentitySink): parts merged per identity
 * as they come (see core/stage.ts), held once each (memory grows with the people in the export,
 * not with its records), and written to the staging database at the end, in vendor_id order, so
 * that every staged table is appended to in its own key order.
 */
export class IdentityStage implements IdentitySink {
  private readonly byKey = new Map<string, Identity>();

  constructor(private readonly db: DB) {}

  put(id: Identity): void {
    const have = this.byKey.get(id.key);
    if (have === undefined) this.byKey.set(id.key, id);
    else mergeIdentity(have, id);
  }

  putParts(json: string): void {
    for (const p of unpackParts(json)) {
      const have = this.byKey.get(p[0]);
      if (have === undefined) this.byKey.set(p[0], partIdentity(p));
      else mergePacked(have, p);
    }
  }

  takeBack(duplicates: (key: string) => number): void {
    for (const id of this.byKey.values()) id.events -= duplicates(id.key);
  }

  /** Every part has come: the identities, sorted, into stage.ident, the tables of their texts (KINDS) and stage.place (then let go). */
  end(): void {
    const db = this.db;
    db.exec(`CREATE TABLE stage.ident (key TEXT PRIMARY KEY, has_distinct INTEGER, events INTEGER, first INTEGER, last INTEGER, exposure INTEGER) WITHOUT ROWID`);
    for (const kind of KINDS) db.exec(`CREATE TABLE stage.${kind} (key TEXT, value TEXT, PRIMARY KEY (key, value)) WITHOUT ROWID`);
    db.exec(`CREATE TABLE stage.place (key TEXT, country TEXT, region TEXT, PRIMARY KEY (key, country, region)) WITHOUT ROWID`);
    const ident = batchInsert(db, 'stage.ident', 6);
    const tables = KINDS.map((kind) => batchInsert(db, `stage.${kind}`, 2));
    const [users, emails, devices, orgs, linked] = tables;
    // (a place is `country\u0000region`; a NUL inside either, from the export, makes two places one)
    const place = batchInsert(db, 'stage.place', 3, 'INSERT OR IGNORE');
    const identities = sortByCodePoints([...this.byKey.values()], (id) => id.key);
    this.byKey.clear();
    // (a savepoint: the join's snapshot may hold a transaction open already)
    db.exec('SAVEPOINT staging');
    for (let i = 0; i < identities.length; i++) {
      const id = identities[i];
      identities[i] = undefined as unknown as Identity;
      ident.put(id.key, id.distinctId !== undefined ? 1 : 0, id.events, id.first, id.last, id.exposure);
      // (key, value) in key order: each identity's texts sorted
      const kinds: [typeof users, Texts][] = [[users, id.userIds], [emails, id.emails], [devices, id.deviceIds], [orgs, id.orgIds], [linked, id.linkedIds]];
      for (const [table, texts] of kinds) for (const v of sortedTexts(texts)) table.put(id.key, v);
      for (const p of sortedTexts(id.places)) {
        const [country, region] = p.split('\u0000');
        place.put(id.key, country, region);
      }
    }
    ident.end();
    for (const table of tables) table.end();
    place.end();
    db.exec('RELEASE staging');
  }
}

/** Distinct texts in code point order (SQLite's BINARY order for the staged keys). */
function sortedTexts(t: Texts): readonly string[] {
  const list = textsOf(t);
  return list.length < 2 ? list : sortByCodePoints([...list], (x) => x);
}

/** The table readAdminRows fills, made in `schema` (before the join's snapshot: the connection that reads it later must know it). */
export function createAdminTable(db: DB, schema: string): void {
  db.exec(`CREATE TABLE ${schema}.admin_all (seq INTEGER PRIMARY KEY, org TEXT, user TEXT, role, email, name, found INTEGER)`);
}

/**
 * Every membership row of an admin role, with what the users row its user_id finds says (SQLite's
 * own comparison of memberships.user_id with users.id, as the internal database joins them), in
 * the order read, into `schema`.admin_all. It needs nothing of the matching, so a second
 * connection can read it while the main one matches (InternalRows).
 */
export function readAdminRows(db: DB, schema: string, adminRoles: readonly string[]): void {
  if (adminRoles.length === 0) return;
  db.prepare(
    `INSERT INTO ${schema}.admin_all (org, user, role, email, name, found)
     SELECT CAST(m.org_id AS TEXT), CAST(m.user_id AS TEXT), m.role, x.email, x.name, x.id IS NOT NULL
     FROM memberships m LEFT JOIN users x ON x.id = m.user_id
     WHERE m.user_id IS NOT NULL AND m.org_id IS NOT NULL AND lower(trim(m.role)) IN (${adminRoles.map(() => '?').join(', ')})`,
  ).run(...adminRoles);
}

/** The (user, org) of every membership with both set, as texts (u, o), in the order read: the worker's pass and the join's select them alike. */
const MEMBER_PAIRS = `SELECT u, o FROM (SELECT CAST(user_id AS TEXT) AS u, CAST(org_id AS TEXT) AS o FROM memberships LIMIT -1) WHERE u IS NOT NULL AND o IS NOT NULL`;
/** Every org's (id, name) as the join compares and the lists show them, in the order read (the last row of an id wins). */
const ORG_NAMES = `SELECT id, ${TEXT('name')} FROM (SELECT CAST(id AS TEXT) AS id, name FROM orgs LIMIT -1) WHERE id IS NOT NULL`;

/** The table readMemberships fills, made in `schema` (before the join's snapshot, as createAdminTable). */
export function createMemberTable(db: DB, schema: string): void {
  db.exec(`CREATE TABLE ${schema}.member_all (user TEXT, org TEXT, PRIMARY KEY (user, org)) WITHOUT ROWID`);
}

/**
 * Every (user, org) of memberships with both set, as the texts the join compares (SQLite's CAST),
 * into `schema`.member_all in key order. It needs nothing of the export: a second connection
 * builds it while the main one stages and matches (InternalRows), and the memberships step is
 * then a probe of it per affected user, in key order, where it would otherwise pass over every
 * membership and probe the affected users at random (memberships has no index by user_id in the
 * extracts the tool is built for).
 */
export function readMemberships(db: DB, schema: string): void {
  db.prepare(`INSERT OR IGNORE INTO ${schema}.member_all ${MEMBER_PAIRS} ORDER BY 1, 2`).run();
}

/** The table readOrgs fills, made in `schema` (before the join's snapshot, as createAdminTable). */
export function createOrgTable(db: DB, schema: string): void {
  db.exec(`CREATE TABLE ${schema}.org_all (id TEXT PRIMARY KEY, name TEXT) WITHOUT ROWID`);
}

/**
 * Every org's id as the join compares them (SQLite's CAST) with its name as the lists show it, the
 * last row read of an id winning, into `schema`.org_all in key order. It needs nothing of the
 * export: a second connection builds it while the main one stages and matches (InternalRows),
 * and the orgs step then probes it for the orgs the lists name, in key order.
 */
export function readOrgs(db: DB, schema: string): void {
  db.prepare(`INSERT OR REPLACE INTO ${schema}.org_all ${ORG_NAMES}`).run();
}

/** Where the join finds the rows of the internal database a second connection may read ahead of it. */
export interface InternalRows {
  /**
   * the attached database whose member_all holds the memberships (readMemberships), once it does;
   * undefined when nothing read them ahead: the memberships step reads the table itself
   */
  memberships(): Promise<string | undefined>;
  /**
   * the attached database whose org_all holds the orgs (readOrgs), once it does; undefined when
   * nothing read them ahead: the orgs step reads the table itself
   */
  orgs(): Promise<string | undefined>;
  /**
   * Starts the roster of the orgs in the table `affected` (its column org, the key: buildRoster),
   * once they are all known: on the worker that read the admin rows, if one did. Resolves when it
   * has begun (the admin rows read, here if no worker read them), with a function that resolves,
   * once the roster is built, with the attached database whose table roster holds it.
   */
  roster(affected: string): Promise<() => Promise<string>>;
  /**
   * The internal database's SHA-256 and size, once the worker that read its rows ahead has hashed
   * it (while this connection's snapshot keeps writers out); undefined when no worker did: the
   * caller hashes it itself, inside the snapshot.
   */
  hash(): Promise<Digest | undefined>;
}

/** The tables buildRoster fills, made in `schema` (for a worker's roster, before the join's snapshot, as createAdminTable). */
export function createRosterTables(db: DB, schema: string): void {
  db.exec(`CREATE TABLE ${schema}.roster (org TEXT, email TEXT, user TEXT, role TEXT, name TEXT, PRIMARY KEY (org, email, user)) WITHOUT ROWID`);
}

/**
 * The admins of the orgs the query `affected` selects, from the admin rows in `admins`.admin_all
 * (readAdminRows), into `into`.roster (createRosterTables): one row per (org, admin), the
 * strongest role kept, with the admin's contact (email, name) from a users row one of those
 * memberships finds (the last one read), else none. `scratch`: where its working tables go. It
 * needs nothing of the export but the orgs, so a second connection can build it while the main
 * one writes the other lists (InternalRows.roster).
 */
export function buildRoster(db: DB, admins: string, affected: string, into: string, scratch: string): void {
  const run = (sql: string) => db.prepare(sql).run();
  db.exec(`CREATE TABLE ${scratch}.admin (seq INTEGER PRIMARY KEY, org TEXT, user TEXT, role TEXT, email TEXT, name TEXT, found INTEGER)`);
  run(`INSERT INTO ${scratch}.admin (org, user, role, email, name, found)
       SELECT a.org, a.user, ${TEXT('a.role')}, ${TEXT('a.email')}, ${TEXT('a.name')}, a.found
       FROM ${admins}.admin_all a WHERE a.org IN (${affected}) ORDER BY a.seq`);
  // the contact of the last row read (max(seq): SQLite takes the bare columns from that row),
  // grouped by user so the table is written in key order
  db.exec(`CREATE TABLE ${scratch}.admin_contact (user TEXT PRIMARY KEY, email TEXT, name TEXT) WITHOUT ROWID`);
  run(`INSERT INTO ${scratch}.admin_contact SELECT user, email, name FROM (SELECT user, email, name, max(seq) FROM ${scratch}.admin WHERE found = 1 GROUP BY user) ORDER BY user`);
  // the strongest role: owner, then admin (in any case), then any other by its text; grouped by
  // user first, so the contacts are probed in their key order, not at random
  run(`INSERT INTO ${into}.roster SELECT r.org, coalesce(c.email, ''), r.user, substr(r.best, 2), coalesce(c.name, '') FROM (
         SELECT user, org, min(CASE lower(role) WHEN 'owner' THEN '0' WHEN 'admin' THEN '1' ELSE '2' END || role) AS best FROM ${scratch}.admin GROUP BY user, org) r
       LEFT JOIN ${scratch}.admin_contact c ON c.user = r.user ORDER BY 1, 2, 3`);
  db.exec(`DROP TABLE ${scratch}.admin; DROP TABLE ${scratch}.admin_contact`);
}

/**
 * Resolves the staged identities against the internal tables
 * (`users`, `orgs`, `memberships` as the connection names them: the database's own, or --map's
 * TEMP views). Call inside one read transaction of the internal database: every step reads the
 * same snapshot. `internal`: where the memberships and the orgs are if a second connection read
 * them, and where the roster is built (Resolved.roster: the lists need it after the snapshot).
 */
export async function resolveIdentities(db: DB, internal: InternalRows, phase: (name: string) => void): Promise<Resolved> {
  const run = (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params);

  // 1. The internal users the identities name: by id (user ids, and distinct ids for rule 3) or
  // by normalized email, with their rows in the order a scan of users reads them (seq), so that
  // of two rows with one id the last one's contact is kept.
  db.exec(`CREATE TABLE stage.want_id (id TEXT PRIMARY KEY) WITHOUT ROWID`);
  run(`INSERT INTO stage.want_id SELECT value FROM ${USER} UNION SELECT key FROM stage.ident WHERE has_distinct = 1`);
  db.exec(`CREATE TABLE stage.want_email (email TEXT PRIMARY KEY) WITHOUT ROWID`);
  run(`INSERT INTO stage.want_email SELECT DISTINCT value FROM ${EMAIL} ORDER BY 1`);
  db.exec(`CREATE TABLE stage.iuser (seq INTEGER PRIMARY KEY, id TEXT, email, name, norm TEXT)`);
  const iuser = (from: string, where: string) => `INSERT INTO stage.iuser (seq, id, email, name, norm) SELECT seq, id, email, name, CASE WHEN norm IN stage.want_email THEN norm END FROM (${from}) WHERE ${where}`;
  const schema = rowidSchema(db, 'users');
  const byId = schema !== undefined ? indexLedBy(db, schema, 'users', 'id') : undefined;
  if (byId !== undefined) {
    // A table with an index on id: its rows by rowid, found in two passes, by id over that index
    // (probing want_id in key order, where a scan of the table would probe it at random) and by
    // email over the table; then read in rowid order, the order a scan of the table reads them.
    db.exec(`CREATE TABLE stage.urow (r INTEGER PRIMARY KEY)`);
    run(`INSERT OR IGNORE INTO stage.urow SELECT rowid FROM users INDEXED BY "${byId.replaceAll('"', '""')}" WHERE CAST(id AS TEXT) IN stage.want_id`);
    run(`INSERT OR IGNORE INTO stage.urow SELECT r FROM (SELECT rowid AS r, ${NORM('email')} AS norm FROM users NOT INDEXED LIMIT -1) WHERE norm IN stage.want_email`);
    run(iuser(`SELECT u.rowid AS seq, CAST(u.id AS TEXT) AS id, u.email AS email, u.name AS name, ${NORM('u.email')} AS norm FROM stage.urow r JOIN users u ON u.rowid = r.r ORDER BY r.r LIMIT -1`, 'id IS NOT NULL'));
    db.exec(`DROP TABLE stage.urow`);
  } else {
    // one pass over users (a view, a table without an index on id, or one whose rowid is its id), numbered as read
    run(iuser(`SELECT NULL AS seq, CAST(id AS TEXT) AS id, email, name, ${NORM('email')} AS norm FROM users LIMIT -1`, 'id IS NOT NULL AND (id IN stage.want_id OR norm IN stage.want_email)'));
  }
  db.exec(`CREATE TABLE stage.umail (norm TEXT, id TEXT, PRIMARY KEY (norm, id)) WITHOUT ROWID`);
  run(`INSERT INTO stage.umail SELECT DISTINCT norm, id FROM stage.iuser WHERE norm IS NOT NULL ORDER BY 1, 2`);
  // (every id the matching probes by is in want_id: found here, it is a contact's)
  db.exec(`CREATE TABLE stage.contact (id TEXT PRIMARY KEY, email TEXT, name TEXT) WITHOUT ROWID`);
  run(`INSERT OR REPLACE INTO stage.contact SELECT id, ${TEXT('email')}, ${TEXT('name')} FROM stage.iuser ORDER BY seq`);
  db.exec(`DROP TABLE stage.iuser`);
  phase('users');

  // 2. Matching: the first rule with a candidate decides (one: matched; more: ambiguous).
  db.exec(`CREATE TABLE stage.m (key TEXT PRIMARY KEY, user TEXT, rule INTEGER, ambiguous INTEGER) WITHOUT ROWID`);
  const decide = (rule: number, candidates: string) =>
    run(`INSERT INTO stage.m SELECT key, CASE WHEN count(DISTINCT user) = 1 THEN min(user) END, ${rule}, count(DISTINCT user) > 1 FROM (${candidates}) WHERE key NOT IN (SELECT key FROM stage.m) GROUP BY key ORDER BY key`);
  decide(0, `SELECT t.key AS key, t.value AS user FROM ${USER} t WHERE t.value IN (SELECT id FROM stage.contact)`);
  decide(1, `SELECT t.key AS key, u.id AS user FROM ${EMAIL} t JOIN stage.umail u ON u.norm = t.value`);
  decide(2, `SELECT key, key AS user FROM stage.ident WHERE has_distinct = 1 AND key IN (SELECT id FROM stage.contact)`);
  // Rule 4, the vendor's own links: an identity is linked to a matched one when one's vendor id is
  // among the other's linked ids, or both carry one linked id.
  db.exec(`CREATE TABLE stage.link (id TEXT, user TEXT, PRIMARY KEY (id, user)) WITHOUT ROWID`);
  run(`INSERT INTO stage.link SELECT DISTINCT id, user FROM (SELECT key AS id, user FROM stage.m WHERE user IS NOT NULL UNION ALL SELECT t.value, m.user FROM ${LINKED} t JOIN stage.m m ON m.key = t.key WHERE m.user IS NOT NULL) ORDER BY 1, 2`);
  decide(3, `SELECT x.key AS key, l.user AS user FROM (SELECT key, key AS id FROM stage.ident UNION ALL SELECT key, value FROM ${LINKED}) x JOIN stage.link l ON l.id = x.id`);
  // Rule 5: devices seen on identities matched by rules 1–4.
  db.exec(`CREATE TABLE stage.device (id TEXT, user TEXT, PRIMARY KEY (id, user)) WITHOUT ROWID`);
  run(`INSERT INTO stage.device SELECT DISTINCT t.value, m.user FROM ${DEVICE} t JOIN stage.m m ON m.key = t.key WHERE m.user IS NOT NULL ORDER BY 1, 2`);
  decide(4, `SELECT t.key AS key, d.user AS user FROM ${DEVICE} t JOIN stage.device d ON d.id = t.value`);
  db.exec(`DROP TABLE stage.link; DROP TABLE stage.device`);
  phase('matching');

  // 3. Affected users, their orgs (memberships), and the orgs the lists name.
  db.exec(`CREATE TABLE stage.au (user TEXT PRIMARY KEY, events INTEGER, first INTEGER, last INTEGER, exposure INTEGER, rule INTEGER) WITHOUT ROWID`);
  run(`INSERT INTO stage.au SELECT m.user, sum(i.events), min(i.first), max(i.last), ${orOf('i.exposure')}, min(m.rule) FROM stage.m m JOIN stage.ident i ON i.key = m.key WHERE m.user IS NOT NULL GROUP BY m.user ORDER BY m.user`);
  // The affected users' orgs: from the memberships a second connection read, each affected
  // user's in key order, or in one pass over memberships.
  db.exec(`CREATE TABLE stage.mem (user TEXT, org TEXT, PRIMARY KEY (user, org)) WITHOUT ROWID`);
  const members = await internal.memberships();
  if (members !== undefined) run(`INSERT INTO stage.mem SELECT user, org FROM ${members}.member_all WHERE user IN (SELECT user FROM stage.au) ORDER BY 1, 2`);
  else run(`INSERT OR IGNORE INTO stage.mem ${MEMBER_PAIRS} AND u IN (SELECT user FROM stage.au) ORDER BY 1, 2`);
  phase('memberships');
  // unmatched identities (not matched, ambiguous or not)
  db.exec(`CREATE TABLE stage.um (key TEXT PRIMARY KEY, ambiguous INTEGER) WITHOUT ROWID`);
  run(`INSERT INTO stage.um SELECT i.key, CASE WHEN m.ambiguous = 1 THEN m.rule END FROM stage.ident i LEFT JOIN stage.m m ON m.key = i.key WHERE m.user IS NULL ORDER BY i.key`);
  // The orgs the lists name: those of the affected users' memberships, and those unmatched
  // identities name; from the orgs a second connection read, or in one pass over orgs.
  db.exec(`CREATE TABLE stage.org (id TEXT PRIMARY KEY, name TEXT) WITHOUT ROWID`);
  const named = `SELECT org FROM stage.mem UNION SELECT t.value FROM ${ORG} t WHERE t.key IN (SELECT key FROM stage.um)`;
  const orgs = await internal.orgs();
  if (orgs !== undefined) run(`INSERT INTO stage.org SELECT id, name FROM ${orgs}.org_all WHERE id IN (${named}) ORDER BY id`);
  else run(`INSERT OR REPLACE INTO stage.org ${ORG_NAMES} AND id IN (${named})`);
  phase('orgs');

  // 4. Affected orgs: through affected users' memberships, and unattributed (unmatched
  // identities naming an org that exists).
  db.exec(`CREATE TABLE stage.ao (org TEXT PRIMARY KEY, affected INTEGER, unattributed INTEGER, first INTEGER, last INTEGER, exposure INTEGER) WITHOUT ROWID`);
  run(`INSERT INTO stage.ao SELECT org, sum(a), sum(u), min(f), max(l), ${orOf('e')} FROM (
         SELECT mem.org AS org, 1 AS a, 0 AS u, au.first AS f, au.last AS l, au.exposure AS e FROM stage.mem mem JOIN stage.au au ON au.user = mem.user
         UNION ALL
         SELECT t.value, 0, 1, i.first, i.last, i.exposure FROM stage.um um JOIN ${ORG} t ON t.key = um.key JOIN stage.ident i ON i.key = um.key JOIN stage.org o ON o.id = t.value
       ) GROUP BY org ORDER BY org`);
  phase('aggregating');

  // 5. The roster of the affected orgs (buildRoster): on the worker that read the admin rows, if
  // one did, while this connection goes on with the lists; else here.
  const roster = await internal.roster('stage.ao');
  phase('starting the roster');

  // 6. The list cells of many values, each made in one grouped pass (not a subquery per row),
  // and each exposure mask's list.
  db.exec(`CREATE TABLE stage.uplace (user TEXT, country TEXT, region TEXT, PRIMARY KEY (user, country, region)) WITHOUT ROWID`);
  run(`INSERT INTO stage.uplace SELECT DISTINCT m.user, p.country, p.region FROM stage.m m JOIN stage.place p ON p.key = m.key WHERE m.user IS NOT NULL ORDER BY 1, 2, 3`);
  db.exec(`CREATE TABLE stage.ucell (user TEXT PRIMARY KEY, orgs TEXT, countries TEXT, regions TEXT) WITHOUT ROWID`);
  run(`INSERT INTO stage.ucell SELECT user, json_group_array(org ORDER BY org), '[]', '[]' FROM stage.mem GROUP BY user ORDER BY user`);
  run(`INSERT INTO stage.ucell SELECT user, '[]', json_group_array(DISTINCT country ORDER BY country) FILTER (WHERE country <> ''), json_group_array(DISTINCT region ORDER BY region) FILTER (WHERE region <> '') FROM stage.uplace GROUP BY user ORDER BY user
       ON CONFLICT (user) DO UPDATE SET countries = excluded.countries, regions = excluded.regions`);
  db.exec(`CREATE TABLE stage.mcell (key TEXT PRIMARY KEY, reason TEXT, emails TEXT, orgs TEXT) WITHOUT ROWID`);
  run(`INSERT INTO stage.mcell SELECT um.key, ${REASON}, '', '[]' FROM stage.um um ORDER BY um.key`);
  run(`UPDATE stage.mcell SET emails = e.list FROM (SELECT t.key AS key, group_concat(t.value, ';' ORDER BY t.value) AS list FROM ${EMAIL} t WHERE t.key IN (SELECT key FROM stage.um) GROUP BY t.key) e WHERE e.key = mcell.key`);
  run(`UPDATE stage.mcell SET orgs = o.list FROM (SELECT t.key AS key, json_group_array(t.value ORDER BY t.value) AS list FROM ${ORG} t WHERE t.key IN (SELECT key FROM stage.um) GROUP BY t.key) o WHERE o.key = mcell.key`);
  db.exec(`CREATE TABLE stage.mask (mask INTEGER PRIMARY KEY, list TEXT)`);
  const mask = db.prepare(`INSERT INTO stage.mask VALUES (?, ?)`);
  for (let m = 0; m < 1 << CATEGORIES.length; m++) mask.run(m, JSON.stringify(categoriesOf(m)));
  phase('list cells');

  const one = (sql: string) => db.prepare(sql).pluck().get() as number;
  const matchedBy = Object.fromEntries(RULES.map((r) => [r, 0])) as Record<Rule, number>;
  for (const [rule, n] of db.prepare(`SELECT rule, count(*) FROM stage.m WHERE user IS NOT NULL GROUP BY rule`).raw().all() as [number, number][]) matchedBy[RULES[rule]] = n;
  const unmatchedByReason: Record<string, number> = {};
  for (const [reason, n] of db.prepare(`SELECT reason, count(*) FROM stage.mcell GROUP BY 1 ORDER BY 1`).raw().all() as [string, number][]) unmatchedByReason[reason] = n;
  const exposed: Record<string, number> = {};
  const sums = db.prepare(`SELECT ${CATEGORIES.map((_, i) => `coalesce(sum((exposure & ${1 << i}) <> 0), 0)`).join(', ')} FROM stage.au`).raw().get() as number[];
  CATEGORIES.forEach((c, i) => (exposed[c] = sums[i]));
  const vendor = one(`SELECT count(*) FROM stage.ident`);
  const unmatched = one(`SELECT count(*) FROM stage.um`);
  const counts: JoinCounts = {
    vendor,
    matched: vendor - unmatched,
    unmatched,
    users: one(`SELECT count(*) FROM stage.au`),
    orgs: one(`SELECT count(*) FROM stage.ao`),
    matchedBy,
    unmatchedByReason,
    exposed,
  };
  phase('counting');
  return { counts, roster };
}

/**
 * The schema ('temp' or 'main') of `table` as the connection resolves the name, if it is a table
 * with a rowid that no column of its hides: not a view, nor a table WITHOUT ROWID, nor one with a
 * column named rowid.
 */
function rowidSchema(db: DB, table: string): string | undefined {
  // (temp, then main, as the name is resolved; never another attached database: reading one
  // inside the snapshot would lock a file a worker is writing)
  const found = db.prepare(`SELECT 'temp', type FROM sqlite_temp_master WHERE name = ? COLLATE NOCASE UNION ALL SELECT 'main', type FROM sqlite_master WHERE name = ? COLLATE NOCASE LIMIT 1`).raw().get(table, table) as [string, string] | undefined;
  if (found === undefined || found[1] !== 'table') return undefined;
  const columns = (db.prepare(`SELECT name FROM pragma_table_info(?, ?)`).pluck().all(table, found[0]) as string[]).map((c) => c.toLowerCase());
  if (columns.includes('rowid')) return undefined;
  try {
    db.prepare(`SELECT rowid FROM ${table} LIMIT 0`).all();
    return found[0];
  } catch {
    return undefined;
  }
}

/** The name of an index of `schema`.`table` (not partial) whose first column is `column`, if it has one. */
function indexLedBy(db: DB, schema: string, table: string, column: string): string | undefined {
  const rows = db.prepare(`SELECT il.name, (SELECT ii.name FROM pragma_index_info(il.name, ?) ii WHERE ii.seqno = 0) FROM pragma_index_list(?, ?) il WHERE il.partial = 0`).raw().all(schema, table, schema) as [string, string | null][];
  return rows.find(([, first]) => first?.toLowerCase() === column)?.[0];
}

/** Why an unmatched identity (stage.um as `um`) is: ambiguous by a rule, else whether it names an org that exists. */
const REASON = `(CASE WHEN um.ambiguous IS NOT NULL THEN 'ambiguous_' || ${RULE_NAME('um.ambiguous')}
  WHEN EXISTS (SELECT 1 FROM ${ORG} t JOIN stage.org o ON o.id = t.value WHERE t.key = um.key) THEN 'org_only' ELSE 'no_match' END)`;

/**
 * The lists users, unmatched and jurisdictions, which need nothing of the roster, from the
 * resolved identities into case.sqlite (attached as `out`), in list order, cells as case.sqlite
 * stores them (lists as JSON arrays, counts as integers); writeRosterLists writes the others.
 * Writes nothing else: a failure here is the case directory's.
 */
export function writeListsBesideRoster(db: DB, phase: (name: string) => void): void {
  const run = (sql: string) => db.prepare(sql).run();
  run(`INSERT INTO out.users SELECT au.user, coalesce(c.email, ''), coalesce(c.name, ''), coalesce(x.orgs, '[]'),
         ${RULE_NAME('au.rule')}, au.events, ${TIME('au.first')}, ${TIME('au.last')}, k.list, coalesce(x.countries, '[]'), coalesce(x.regions, '[]')
       FROM stage.au au LEFT JOIN stage.contact c ON c.id = au.user LEFT JOIN stage.ucell x ON x.user = au.user JOIN stage.mask k ON k.mask = au.exposure ORDER BY au.user`);
  phase('writing users');
  run(`INSERT INTO out.unmatched SELECT x.key, x.reason, x.emails, i.events, ${TIME('i.first')}, ${TIME('i.last')}, k.list, x.orgs
       FROM stage.mcell x JOIN stage.ident i ON i.key = x.key JOIN stage.mask k ON k.mask = i.exposure ORDER BY x.key`);
  phase('writing unmatched');
  run(`INSERT INTO out.jurisdictions SELECT country, region, count(*) FROM stage.uplace GROUP BY country, region ORDER BY country, region`);
  phase('writing jurisdictions');
}

/**
 * The lists orgs and roster into case.sqlite (as writeListsBesideRoster), once the roster is
 * built (`roster`: Resolved.roster); what they count.
 */
export async function writeRosterLists(db: DB, roster: () => Promise<string>, phase: (name: string) => void): Promise<RosterCounts> {
  const run = (sql: string) => db.prepare(sql).run();
  const r = await roster();
  phase('waiting for the roster');
  db.exec(`CREATE TABLE stage.admins (org TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID`);
  run(`INSERT INTO stage.admins SELECT org, count(*) FROM ${r}.roster GROUP BY org ORDER BY org`);
  run(`INSERT INTO out.orgs SELECT ao.org, coalesce(o.name, ''), ao.affected, ao.unattributed, coalesce(n.n, 0), k.list, ${TIME('ao.first')}, ${TIME('ao.last')}
       FROM stage.ao ao LEFT JOIN stage.org o ON o.id = ao.org LEFT JOIN stage.admins n ON n.org = ao.org JOIN stage.mask k ON k.mask = ao.exposure ORDER BY ao.org`);
  phase('writing orgs');
  run(`INSERT INTO out.roster SELECT r.org, coalesce(o.name, ''), r.email, r.name, r.role, ao.affected, k.list, r.user
       FROM ${r}.roster r JOIN stage.ao ao ON ao.org = r.org LEFT JOIN stage.org o ON o.id = r.org
       JOIN stage.mask k ON k.mask = ao.exposure ORDER BY r.org, r.email, r.user`);
  phase('writing roster');
  const one = (sql: string) => db.prepare(sql).pluck().get() as number;
  return { roster: one(`SELECT count(*) FROM ${r}.roster`), orgsWithoutAdmin: one(`SELECT count(*) FROM stage.ao WHERE org NOT IN (SELECT org FROM stage.admins)`) };
}
