/**
 * Matching vendor identities to internal users, by the first rule that applies:
 * user_id, email, distinct_id, then device_link. A rule that points at two or more users makes
 * the identity unmatched as ambiguous_<rule>; later rules are not tried. Pure.
 */
import { textsOf, type Identity } from './identity.js';

export const RULES = ['user_id', 'email', 'distinct_id', 'device_link'] as const;
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
  // Rule 4: devices seen on identities matched by rules 1–3. Most devices have one user: a
  // string then, a list of distinct users only for the few with more (no Set per device).
  const deviceUsers = new Map<string, string | string[]>();
  identities.forEach((id, i) => {
    const user = out[i].userId;
    if (user === undefined) return;
    for (const d of textsOf(id.deviceIds)) {
      const seen = deviceUsers.get(d);
      if (seen === undefined) deviceUsers.set(d, user);
      else if (typeof seen === 'string') {
        if (seen !== user) deviceUsers.set(d, [seen, user]);
      } else if (!seen.includes(user)) seen.push(user);
    }
  });
  identities.forEach((id, i) => {
    const m = out[i];
    if (m.userId !== undefined || m.ambiguous !== undefined) return;
    const candidates = unique(textsOf(id.deviceIds).flatMap((d) => deviceUsers.get(d) ?? []));
    out[i] = decide(candidates, 'device_link') ?? {};
  });
  return out;
}

/**
 * After matching, let go of what no list reads (the lists are made from the rest): every
 * identity's user ids and devices, and a matched identity's emails and orgs (its user's orgs come
 * from memberships). At 1M events that is ~20 MB of texts held through every later step.
 */
export function forgetMatchingDetails(identities: readonly Identity[], matches: readonly Match[]): void {
  identities.forEach((id, i) => {
    id.userIds = undefined;
    id.deviceIds = undefined;
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
