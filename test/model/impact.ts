/**
 * The reference model: correlate's matching and lists as they were computed in JavaScript before
 * the join moved to SQL (src/case/join.ts). test/join.test.ts checks the SQL against it.
 */
/**
 * From matched identities and the internal facts to the impact lists: affected users, affected
 * orgs, the admin roster, unmatched identities and jurisdictions. Pure; rows come out sorted.
 */
import { CATEGORIES, CAT, categoriesOf, type Category } from '../../src/core/categories.js';
import { compareCodePoints, sortByCodePoints, textsOf, withText, type Identity, type Texts } from '../../src/core/identity.js';
import { RULES, unmatchedReason, type Match, type Rule } from './match.js';
import { formatTime } from '../../src/core/normalize.js';
import type { JurisdictionRow, OrgRow, RosterRow, UnmatchedRow, UserRow } from '../../src/core/rows.js';

/**
 * A user's email and name from the internal database, packed in one flat string
 * (`<email length>:<email>:<name>`, see contactOf): an object of two strings cost ~57 bytes more
 * for each of the ~415k users and admins at 1M events, all held until the lists are written.
 */
export type InternalUser = string & { readonly __contact: unique symbol };

/** The packed contact of an email and a name (any texts: the email's length says where it ends). */
export function contactOf(email: string, name: string): InternalUser {
  // join, not a template: it makes one flat string, not a tree that keeps both parts alive
  return [email.length, email, name].join(':') as InternalUser;
}

export function emailOf(c: InternalUser): string {
  const at = c.indexOf(':');
  return c.slice(at + 1, at + 1 + Number(c.slice(0, at)));
}

export function nameOf(c: InternalUser): string {
  const at = c.indexOf(':');
  return c.slice(at + 2 + Number(c.slice(0, at)));
}

const NO_CONTACT = contactOf('', '');

/**
 * Admin memberships as columns: row i is (orgIds[i], userIds[i], roles[i]). Three arrays of
 * references, not an object per row (~270k rows at 1M events).
 */
export interface AdminRows {
  orgIds: string[];
  userIds: string[];
  roles: string[];
}

/** What the internal database says about the people and orgs concerned (their admins: see Impact.withAdmins). */
export interface InternalFacts {
  /** the matched users' contacts */
  users: ReadonlyMap<string, InternalUser>;
  /** orgs of each matched user, from memberships */
  memberships: ReadonlyMap<string, Texts>;
  /** names of the orgs concerned; an org id absent here does not exist */
  orgs: ReadonlyMap<string, string>;
}

/**
 * The impact lists, each made row by row when asked for (in list order), so that a caller can
 * write one list and let it go before the next: at a million people the rows of every list at
 * once are most of the memory. Counts are known up front, for the summary.
 *
 * In two steps: the users list first, then `withAdmins` (the orgs list and the roster). A caller
 * that writes the users list, lets it go (`usersWritten`) and only then reads the admins never
 * holds the users' facts and the admins' at once (at 1M events the heaviest moment of a run was
 * the users list written with ~270k admin rows held).
 */
export interface Impact {
  /** readable until usersWritten */
  users: () => Iterable<UserRow>;
  /** Lets go of what only the users list reads (withAdmins does it too). */
  usersWritten(): void;
  unmatched: () => Iterable<UnmatchedRow>;
  jurisdictions: () => Iterable<JurisdictionRow>;
  count: { users: number; orgs: number; unmatched: number };
  /** the affected orgs, in list order: whose admins withAdmins needs (it ignores any other org's) */
  orgIds: readonly string[];
  unmatchedByReason: Record<string, number>;
  matchedBy: Record<Rule, number>;
  exposedUsers: Record<Category, number>;
  matchedIdentities: number;
  /**
   * The orgs list and the roster, from the admin memberships (roles already filtered) of the
   * affected orgs and the admins' contacts (an admin absent there has none). Call it once.
   */
  withAdmins(admins: AdminRows, contacts: ReadonlyMap<string, InternalUser>): AdminImpact;
}

export interface AdminImpact {
  orgs: () => Iterable<OrgRow>;
  roster: () => Iterable<RosterRow>;
  count: { roster: number; orgsWithoutAdmin: number };
}

interface Span {
  events: number;
  first: number | null;
  last: number | null;
  exposure: number;
}

function widen(s: Span, id: Identity): void {
  s.events += id.events;
  if (id.first !== null && (s.first === null || id.first < s.first)) s.first = id.first;
  if (id.last !== null && (s.last === null || id.last > s.last)) s.last = id.last;
  s.exposure |= id.exposure;
}

/** Distinct, in first-seen order; a list of one or none is its own answer (no Set per person). */
function distinct(xs: readonly string[]): readonly string[] {
  return xs.length < 2 ? xs : [...new Set(xs)];
}

/** Distinct and sorted; most lists here hold one item or none, which need neither a Set nor a sort. */
function sortStrings(xs: Iterable<string>): string[] {
  if (Array.isArray(xs) && xs.length < 2) return xs.slice();
  const out = [...new Set(xs)];
  return out.length < 2 ? out : sortByCodePoints(out, (s) => s);
}

/** One shared, frozen `exposed` list per exposure mask: a million rows need not hold a million arrays. */
const exposedLists = new Map<number, Category[]>();
function exposedList(mask: number): Category[] {
  let list = exposedLists.get(mask);
  if (list === undefined) exposedLists.set(mask, (list = Object.freeze(categoriesOf(mask)) as Category[]));
  return list;
}
/** A time as identities keep it (whole seconds, see Identity.first) in the lists' form. */
const time = (secs: number | null) => (secs === null ? null : formatTime(secs * 1000));

/** Roles rank owner first, then admin (in any case), then anything else alphabetically. */
function roleRank(role: string): number {
  const r = role.toLowerCase();
  return r === 'owner' ? 0 : r === 'admin' ? 1 : 2;
}

/**
 * Every identity (in vendor_id order) with its match, read once: a caller that lets each
 * identity go as it is handed over (see `handOver`) keeps only the unmatched ones alive while the
 * lists are made, not every identity of the export.
 */
export function buildImpact(matched: Iterable<readonly [Identity, Match]>, facts: InternalFacts): Impact {
  // What the lists read later, by name: the lists' closures hold these, not `facts`. (Closures
  // of one function share the variables they hold: what only the users list reads is `let`, and
  // withAdmins lets it go.)
  const orgNames = facts.orgs;
  let memberships: ReadonlyMap<string, Texts> | undefined = facts.memberships;
  let userInfo: ReadonlyMap<string, InternalUser> | undefined = facts.users;
  const matchedBy = Object.fromEntries(RULES.map((r) => [r, 0])) as Record<Rule, number>;
  let perUser: Map<string, Span & { rule: number; places: Texts }> | undefined = new Map();
  /** the unmatched identities (in vendor_id order) and their reasons */
  const unmatchedIds: Identity[] = [];
  const reasons: string[] = [];
  const unmatchedByReason: Record<string, number> = {};
  const perOrgUnattributed = new Map<string, Span & { count: number }>();

  for (const [id, m] of matched) {
    if (m.userId !== undefined && m.rule !== undefined) {
      matchedBy[m.rule]++;
      let u = perUser.get(m.userId);
      if (u === undefined) perUser.set(m.userId, (u = { events: 0, first: null, last: null, exposure: 0, rule: RULES.length, places: undefined }));
      widen(u, id);
      u.rule = Math.min(u.rule, RULES.indexOf(m.rule));
      // a person has a place or two: the place itself or a list (Texts), not a Set, for each of a million people
      for (const p of textsOf(id.places)) u.places = withText(u.places, p);
      continue;
    }
    const reason = unmatchedReason(m, id, (o) => orgNames.has(o));
    unmatchedIds.push(id);
    reasons.push(reason);
    unmatchedByReason[reason] = (unmatchedByReason[reason] ?? 0) + 1;
    for (const o of distinct(textsOf(id.orgIds))) {
      if (!orgNames.has(o)) continue;
      let s = perOrgUnattributed.get(o);
      if (s === undefined) perOrgUnattributed.set(o, (s = { events: 0, first: null, last: null, exposure: 0, count: 0 }));
      widen(s, id);
      s.count++;
    }
  }

  let userIds = sortStrings(perUser.keys());
  const userCount = userIds.length;
  const perOrg = new Map<string, Span & { affected: number; unattributed: number }>();
  const exposedUsers = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  /** users per exposure mask (a few dozen masks): counted per category once, after the loop */
  const usersByMask = new Map<number, number>();
  const jurisdictionCounts = new Map<string, number>();
  for (const uid of userIds) {
    const u = perUser.get(uid)!;
    usersByMask.set(u.exposure, (usersByMask.get(u.exposure) ?? 0) + 1);
    for (const p of textsOf(u.places)) jurisdictionCounts.set(p, (jurisdictionCounts.get(p) ?? 0) + 1);
    for (const o of distinct(textsOf(facts.memberships.get(uid)))) {
      let s = perOrg.get(o);
      if (s === undefined) perOrg.set(o, (s = { events: 0, first: null, last: null, exposure: 0, affected: 0, unattributed: 0 }));
      s.affected++;
      s.events += u.events;
      if (u.first !== null && (s.first === null || u.first < s.first)) s.first = u.first;
      if (u.last !== null && (s.last === null || u.last > s.last)) s.last = u.last;
      s.exposure |= u.exposure;
    }
  }
  for (const [mask, n] of usersByMask) for (const c of CATEGORIES) if (mask & CAT[c]) exposedUsers[c] += n;
  for (const [o, s] of perOrgUnattributed) {
    let t = perOrg.get(o);
    if (t === undefined) perOrg.set(o, (t = { events: 0, first: null, last: null, exposure: 0, affected: 0, unattributed: 0 }));
    t.unattributed = s.count;
    if (s.first !== null && (t.first === null || s.first < t.first)) t.first = s.first;
    if (s.last !== null && (t.last === null || s.last > t.last)) t.last = s.last;
    t.exposure |= s.exposure;
  }

  const orgIds = sortStrings(perOrg.keys());

  function* users(): Generator<UserRow> {
    if (perUser === undefined || userInfo === undefined || memberships === undefined) throw new Error('the users list was let go (usersWritten)');
    const [byUser, contacts, orgsOf] = [perUser, userInfo, memberships];
    for (const uid of userIds) {
      const u = byUser.get(uid)!;
      const info = contacts.get(uid) ?? NO_CONTACT;
      const places = textsOf(u.places).map((p) => p.split('\u0000') as [string, string]);
      yield {
        user_id: uid,
        email: emailOf(info),
        name: nameOf(info),
        org_ids: sortStrings(textsOf(orgsOf.get(uid))),
        matched_by: RULES[u.rule],
        events: u.events,
        first_seen: time(u.first),
        last_seen: time(u.last),
        exposed: exposedList(u.exposure),
        countries: sortStrings(places.map(([c]) => c).filter((c) => c !== '')),
        regions: sortStrings(places.map(([, r]) => r).filter((r) => r !== '')),
      };
    }
  }

  function* unmatched(): Generator<UnmatchedRow> {
    // identities arrive sorted by vendor_id
    for (let k = 0; k < unmatchedIds.length; k++) {
      const id = unmatchedIds[k];
      yield {
        vendor_id: id.key,
        reason: reasons[k],
        email: sortStrings(textsOf(id.emails)).join(';'),
        events: id.events,
        first_seen: time(id.first),
        last_seen: time(id.last),
        exposed: exposedList(id.exposure),
        org_ids: sortStrings(textsOf(id.orgIds)),
      };
    }
  }

  function usersWritten(): void {
    perUser = undefined;
    userInfo = undefined;
    memberships = undefined;
    userIds = [];
  }

  function withAdmins(admins: AdminRows, contacts: ReadonlyMap<string, InternalUser>): AdminImpact {
    usersWritten();
    // Roster: one row per (affected org, admin); a person with several admin rows keeps the strongest
    // role. The rows sorted in roster order (org, email, user) with the strongest role first among
    // one person's rows, whose email is the same: each person's first row is the one kept. (A Map
    // by org and user held a key text for each of ~270k admin rows at 1M events, at the peak; the
    // roster is now the rows' numbers in that order.)
    const { orgIds: adminOrg, userIds: adminUser, roles: adminRole } = admins;
    const contact = (userId: string) => contacts.get(userId) ?? NO_CONTACT;
    const order: number[] = [];
    for (let i = 0; i < adminOrg.length; i++) if (perOrg.has(adminOrg[i])) order.push(i);
    // The emails only when the orgs are the same, which few comparisons reach (an org has an
    // admin or two): an array of every row's email, made up front, held ~12 MB at 1M events at
    // the heaviest moment of the run.
    const emailAt = (i: number) => emailOf(contact(adminUser[i]));
    order.sort((x, y) => compareCodePoints(adminOrg[x], adminOrg[y]) || compareCodePoints(emailAt(x), emailAt(y)) || compareCodePoints(adminUser[x], adminUser[y]) || roleRank(adminRole[x]) - roleRank(adminRole[y]) || compareCodePoints(adminRole[x], adminRole[y]));
    let kept = 0;
    for (const i of order) {
      const prev = kept > 0 ? order[kept - 1] : -1;
      if (prev >= 0 && adminOrg[prev] === adminOrg[i] && adminUser[prev] === adminUser[i]) continue;
      order[kept++] = i;
    }
    order.length = kept;
    const adminCount = new Map<string, number>();
    for (const i of order) adminCount.set(adminOrg[i], (adminCount.get(adminOrg[i]) ?? 0) + 1);

    function* orgs(): Generator<OrgRow> {
      for (const o of orgIds) {
        const s = perOrg.get(o)!;
        yield {
          org_id: o,
          org_name: orgNames.get(o) ?? '',
          affected_users: s.affected,
          unattributed: s.unattributed,
          admins: adminCount.get(o) ?? 0,
          exposed: exposedList(s.exposure),
          first_seen: time(s.first),
          last_seen: time(s.last),
        };
      }
    }

    function* roster(): Generator<RosterRow> {
      for (const i of order) {
        const orgId = adminOrg[i];
        const org = perOrg.get(orgId)!;
        const info = contact(adminUser[i]);
        yield {
          org_id: orgId,
          org_name: orgNames.get(orgId) ?? '',
          email: emailOf(info),
          name: nameOf(info),
          role: adminRole[i],
          affected_users: org.affected,
          exposed: exposedList(org.exposure),
          // not a column (STORED_EXTRA): names the admin in report's warnings
          admin_user_id: adminUser[i],
        };
      }
    }

    return {
      orgs,
      roster,
      count: { roster: order.length, orgsWithoutAdmin: orgIds.filter((o) => !adminCount.has(o)).length },
    };
  }

  const jurisdictions: JurisdictionRow[] = [...jurisdictionCounts]
    .map(([p, n]) => {
      const [country, region] = p.split('\u0000');
      return { country, region, affected_users: n };
    })
    .sort((a, b) => compareCodePoints(a.country, b.country) || compareCodePoints(a.region, b.region));

  return {
    users,
    unmatched,
    jurisdictions: () => jurisdictions,
    count: { users: userCount, orgs: orgIds.length, unmatched: unmatchedIds.length },
    orgIds,
    usersWritten,
    withAdmins,
    unmatchedByReason,
    matchedBy,
    exposedUsers,
    matchedIdentities: RULES.reduce((n, r) => n + matchedBy[r], 0),
  };
}

/**
 * The identities with their matches, each entry of both arrays cleared as it is handed over: what
 * buildImpact does not keep can be collected while it runs.
 */
export function* handOver(identities: (Identity | undefined)[], matches: (Match | undefined)[]): Generator<readonly [Identity, Match]> {
  for (let i = 0; i < identities.length; i++) {
    const pair = [identities[i]!, matches[i]!] as const;
    identities[i] = undefined;
    matches[i] = undefined;
    yield pair;
  }
}
