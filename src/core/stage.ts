import { internPlace, textsOf, withText, type Identity, type Texts } from './identity.js';

/** Where the reading hands per-identity aggregates. A key may come many times, each time with part of its records; the sink merges them. */
export interface IdentitySink {
  put(id: Identity): void;
  /** Parts as a worker packs them (packParts), each merged as put() would. */
  putParts(json: string): void;
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

/** A part as it crosses threads: [key, has distinct_id, userIds, emails, deviceIds, orgIds, linkedIds, events, first, last, exposure, places]. */
export type PackedPart = [string, 0 | 1, Texts | null, Texts | null, Texts | null, Texts | null, Texts | null, number, number | null, number | null, number, Texts | null];

/** Parts as one JSON text (PackedPart each): one string crosses threads, parsed at once. */
export function packParts(ids: readonly Identity[]): string {
  return JSON.stringify(ids.map((id) => [id.key, id.distinctId !== undefined ? 1 : 0, id.userIds ?? null, id.emails ?? null, id.deviceIds ?? null, id.orgIds ?? null, id.linkedIds ?? null, id.events, id.first, id.last, id.exposure, id.places ?? null]));
}

/** The parts of a packParts text. */
export function unpackParts(json: string): PackedPart[] {
  return JSON.parse(json) as PackedPart[];
}

/** A packed part as an identity of its own (its key's first part). */
export function partIdentity([key, d, userIds, emails, deviceIds, orgIds, linkedIds, events, first, last, exposure, places]: PackedPart): Identity {
  return {
    key,
    distinctId: d === 1 ? key : undefined,
    // (the key's own string when they are equal: a user id that is the distinct_id is one string, not two)
    userIds: userIds === key ? key : (userIds ?? undefined),
    emails: emails ?? undefined,
    deviceIds: deviceIds ?? undefined,
    orgIds: orgIds ?? undefined,
    linkedIds: linkedIds ?? undefined,
    events,
    first,
    last,
    exposure,
    places: internPlace(places ?? undefined),
  };
}

/**
 * A packed part merged into `into` (same key) as mergeIdentity merges partIdentity(p), without
 * making that identity: most parts are of a key already there, and add nothing but numbers.
 */
export function mergePacked(into: Identity, p: PackedPart): void {
  if (p[1] === 1 && into.distinctId === undefined) into.distinctId = into.key;
  if (p[2] !== null) into.userIds = add(into.userIds, p[2], into.key);
  if (p[3] !== null) into.emails = add(into.emails, p[3]);
  if (p[4] !== null) into.deviceIds = add(into.deviceIds, p[4]);
  if (p[5] !== null) into.orgIds = add(into.orgIds, p[5]);
  if (p[6] !== null) into.linkedIds = add(into.linkedIds, p[6]);
  if (p[11] !== null) into.places = add(into.places, p[11], undefined, true);
  into.events += p[7];
  const first = p[8];
  const last = p[9];
  if (first !== null && (into.first === null || first < into.first)) into.first = first;
  if (last !== null && (into.last === null || last > into.last)) into.last = last;
  into.exposure |= p[10];
}

/** `a` with the texts of `b` it lacks (as union: in the order first seen); `key`: held as that string when equal; `place`: held interned. */
function add(a: Texts, b: Texts, key?: string, place = false): Texts {
  if (typeof b === 'string') return addOne(a, b, key, place);
  for (const t of b ?? []) a = addOne(a, t, key, place);
  return a;
}

function addOne(a: Texts, t: string, key: string | undefined, place: boolean): Texts {
  if (a === t || (typeof a === 'object' && a.includes(t))) return a;
  return withText(a, t === key ? key : place ? internPlace(t) : t);
}
