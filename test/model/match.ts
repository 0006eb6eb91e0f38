/**
 * The reference model: correlate's matching and lists as they were computed in JavaScript before
 * the join moved to SQL (src/case/join.ts). test/join.test.ts checks the SQL against it.
 */
/**
 * Matching vendor identities to internal users, by the first rule that applies:
 * user_id, email, distinct_id, vendor_link, then device_link. A rule that points at two or more
 * users makes the identity unmatched as ambiguous_<rule>; later rules are not tried. Pure.
 */
import { textsOf, type Identity } from '../../src/core/identity.js';

export const RULES = ['user_id', 'email', 'distinct_id', 'vendor_link', 'device_link'] as const;
export type Rule = (typeof RULES)[number];
export type UnmatchedReason = 'no_match' | 'org_only' | `ambiguous_${Rule}`;

export interface Match {
  /** internal user id when matched */
  userId?: string;
  rule?: Rule;
  ambiguous?: Rule;
}

/** What matching needs to know about the internal users. */
export interface UserLookup {
  /** internal user ids equal to this text */
  hasUser(id: string): boolean;
  /** internal user ids whose normalized email equals this one */
  usersWithEmail(email: string): readonly string[];
}

/** Distinct, in first-seen order; a list of one or none is its own answer (no Set per identity). */
function unique(xs: string[]): string[] {
  return xs.length < 2 ? xs : [...new Set(xs)];
}

function decide(candidates: string[], rule: Rule): Match | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.length > 1) return { ambiguous: rule };
  return { userId: candidates[0], rule };
}

/** One Match per identity, in the same order. */
export function matchIdentities(identities: readonly Identity[], users: UserLookup): Match[] {
  const out: Match[] = identities.map(
    (id) =>
      decide(unique(textsOf(id.userIds).filter((u) => users.hasUser(u))), 'user_id') ??
      decide(unique(textsOf(id.emails).flatMap((e) => users.usersWithEmail(e))), 'email') ??
      decide(id.distinctId !== undefined && users.hasUser(id.distinctId) ? [id.distinctId] : [], 'distinct_id') ??
      {},
  );
  // Rule 4: the vendor's own links. An unmatched identity is linked to a matched one when one's
  // vendor id is among the other's linked ids, or both carry one linked id (one PostHog person_id).
  // Without a linked id anywhere (most Mixpanel raw exports) there is nothing to link.
  if (identities.some((id) => id.linkedIds !== undefined)) {
    const linkUsers = new Map<string, string | string[]>();
    identities.forEach((id, i) => {
      const user = out[i].userId;
      if (user === undefined) return;
      note(linkUsers, id.key, user);
      for (const l of textsOf(id.linkedIds)) note(linkUsers, l, user);
    });
    const linkedOf = (id: Identity) => [id.key, ...textsOf(id.linkedIds)];
    settleRule(identities, out, 'vendor_link', (id) => linkedOf(id).flatMap((l) => linkUsers.get(l) ?? []), (id) => id.linkedIds !== undefined || linkUsers.has(id.key));
  }
  // Rule 5: devices seen on identities matched by rules 1–4.
  const deviceUsers = new Map<string, string | string[]>();
  identities.forEach((id, i) => {
    const user = out[i].userId;
    if (user !== undefined) for (const d of textsOf(id.deviceIds)) note(deviceUsers, d, user);
  });
  settleRule(identities, out, 'device_link', (id) => textsOf(id.deviceIds).flatMap((d) => deviceUsers.get(d) ?? []), (id) => id.deviceIds !== undefined);
  return out;
}

/**
 * `key` seen on an identity of `user`. Most keys have one user: a string then, a list of distinct
 * users only for the few with more (no Set per key).
 */
function note(users: Map<string, string | string[]>, key: string, user: string): void {
  const seen = users.get(key);
  if (seen === undefined) users.set(key, user);
  else if (typeof seen === 'string') {
    if (seen !== user) users.set(key, [seen, user]);
  } else if (!seen.includes(user)) seen.push(user);
}

/** A linking rule over the identities still unmatched and not ambiguous. */
function settleRule(identities: readonly Identity[], out: Match[], rule: Rule, candidates: (id: Identity) => string[], applies: (id: Identity) => boolean): void {
  identities.forEach((id, i) => {
    const m = out[i];
    if (m.userId !== undefined || m.ambiguous !== undefined || !applies(id)) return;
    out[i] = decide(unique(candidates(id)), rule) ?? {};
  });
}

/**
 * After matching, let go of what no list reads (the lists are made from the rest): every
 * identity's user ids, devices and linked ids, and a matched identity's emails and orgs (its user's orgs come
 * from memberships). At 1M events that is ~20 MB of texts held through every later step.
 */
export function forgetMatchingDetails(identities: readonly Identity[], matches: readonly Match[]): void {
  identities.forEach((id, i) => {
    id.userIds = undefined;
    id.deviceIds = undefined;
    id.linkedIds = undefined;
    if (matches[i].userId !== undefined) {
      id.emails = undefined;
      id.orgIds = undefined;
    }
  });
}

/** Why an identity is unmatched: ambiguous first, then whether it names a known org. */
export function unmatchedReason(m: Match, id: Identity, orgExists: (org: string) => boolean): UnmatchedReason {
  if (m.ambiguous !== undefined) return `ambiguous_${m.ambiguous}`;
  return textsOf(id.orgIds).some(orgExists) ? 'org_only' : 'no_match';
}
