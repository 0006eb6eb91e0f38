import { textsOf, withText, type Identity, type Texts } from './identity.js';

/** Where the reading hands per-identity aggregates. A key may come many times, each time with part of its records; the sink merges them. */
export interface IdentitySink {
  put(id: Identity): void;
  /** After the last put: every identity's events less `duplicates(key)`, the duplicate records counted in them (see Tally). */
  takeBack(duplicates: (key: string) => number): void;
}

/*
 * How parts of one identity merge, whatever the order and however the records were split into
 * parts (case/join.ts IdentityStage merges in SQL; test/model/sink.ts MemorySink in memory):
 * - key: the same in every part;
 * - distinctId: set (to the key) when any part has it;
 * - userIds, emails, deviceIds, orgIds, linkedIds, places: the union, in the order first seen
 *   in the parts as they came (no list reads that order: every one sorts what it shows);
 * - events: the sum (less, at the end, the duplicates counted in it: takeBack);
 * - first: the least of the parts' (null when none has one); last: the greatest;
 * - exposure: the bitwise OR.
 * A part, once put, belongs to the sink: the reading never touches it again.
 */

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
