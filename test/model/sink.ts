/**
 * A sink holding every identity in memory, merged by key as src/core/stage.ts describes: the
 * reference the tests hand the reading to (the real stage is SQL: case/join.ts).
 */
import { IdentityGroups, textsOf, withText, type Identity, type Texts } from '../../src/core/identity.js';
import type { IdentitySink } from '../../src/core/stage.js';

/** `part` merged into `into` (same key), as described above. */
export function mergeIdentity(into: Identity, part: Identity): void {
  if (part.distinctId !== undefined && into.distinctId === undefined) into.distinctId = into.key;
  into.userIds = union(into.userIds, part.userIds);
  into.emails = union(into.emails, part.emails);
  into.deviceIds = union(into.deviceIds, part.deviceIds);
  into.orgIds = union(into.orgIds, part.orgIds);
  into.linkedIds = union(into.linkedIds, part.linkedIds);
  into.places = union(into.places, part.places);
  into.events += part.events;
  if (part.first !== null && (into.first === null || part.first < into.first)) into.first = part.first;
  if (part.last !== null && (into.last === null || part.last > into.last)) into.last = part.last;
  into.exposure |= part.exposure;
}

function union(a: Texts, b: Texts): Texts {
  if (a === undefined) return b;
  for (const t of textsOf(b)) a = withText(a, t);
  return a;
}

/**
 * Every identity in memory, merged by key: the stand-in for a stage on disk (its memory grows
 * with the export's identities).
 */
export class MemorySink implements IdentitySink {
  private readonly groups = new IdentityGroups();

  put(id: Identity): void {
    const have = this.groups.byKey.get(id.key);
    if (have === undefined) this.groups.byKey.set(id.key, id);
    else mergeIdentity(have, id);
  }

  get(key: string): Identity | undefined {
    return this.groups.byKey.get(key);
  }

  /** Every identity in vendor_id order; the sink holds none of them afterwards. */
  takeSorted(): Identity[] {
    const all = this.groups.sorted();
    this.groups.byKey.clear();
    return all;
  }
}
