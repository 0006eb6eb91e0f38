/**
 * Vendor identities: accepted records grouped by distinct_id (else user_id, else normalized
 * email, else device_id). Aggregates are kept per identity, never per event, so memory grows with
 * the number of people in the dataset, not with its size.
 */
import { type CanonicalRecord } from './canonical.js';

export interface Identity {
  key: string;
  /** Set when the identity is keyed by a distinct_id (rule 3 applies only then). */
  distinctId: string | undefined;
  userIds: readonly string[];
  emails: readonly string[];
  deviceIds: readonly string[];
  orgIds: readonly string[];
  events: number;
  first: number | null;
  last: number | null;
  exposure: number;
  /** (country, region) pairs, as `country\u0000region` */
  places: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);

/** A record's (country, region) as identities keep it, `country\u0000region`; none without either. */
export function placeOf(r: CanonicalRecord): string | undefined {
  return r.country !== undefined || r.region !== undefined ? `${r.country ?? ''}\u0000${r.region ?? ''}` : undefined;
}

/**
 * The list with `v` added. Lists are rebuilt at their exact size rather than pushed to: a pushed
 * array reserves room for 16 more, which at a million identities is most of the memory.
 */
function withValue(list: readonly string[], v: string | undefined): readonly string[] {
  if (v === undefined || list.includes(v)) return list;
  return list.length === 0 ? [v] : [...list, v];
}

export class IdentityGroups {
  readonly byKey = new Map<string, Identity>();

  add(r: CanonicalRecord): void {
    this.addParts(r.distinctId, r.userId, r.email, r.deviceId, r.orgIds, r.time, r.exposure, placeOf(r));
  }

  /** add() of a record given by its parts (the place as placeOf gives it), without the record. */
  addParts(distinctId: string | undefined, userId: string | undefined, email: string | undefined, deviceId: string | undefined, orgIds: readonly string[], time: number | null, exposure: number, place: string | undefined): void {
    // the grouping key: distinct_id, else user_id, else email, else device_id (canonicalize
    // rejects a record with none of them)
    const key = (distinctId ?? userId ?? email ?? deviceId) as string;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = { key, distinctId: undefined, userIds: NONE, emails: NONE, deviceIds: NONE, orgIds: NONE, events: 0, first: null, last: null, exposure: 0, places: NONE };
      this.byKey.set(key, id);
    }
    if (distinctId !== undefined) id.distinctId = distinctId;
    id.userIds = withValue(id.userIds, userId);
    id.emails = withValue(id.emails, email);
    id.deviceIds = withValue(id.deviceIds, deviceId);
    for (const o of orgIds) id.orgIds = withValue(id.orgIds, o);
    id.events++;
    if (time !== null) {
      if (id.first === null || time < id.first) id.first = time;
      if (id.last === null || time > id.last) id.last = time;
    }
    id.exposure |= exposure;
    id.places = withValue(id.places, place);
  }

  /** Identities in vendor_id order (Unicode code points). */
  sorted(): Identity[] {
    return sortByCodePoints([...this.byKey.values()], (id) => id.key);
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Sort in place by the code point order of `key`. Without surrogates in any key, JavaScript's
 * own string order (UTF-16 units) is that order, and several times faster than comparing here.
 */
export function sortByCodePoints<T>(items: T[], key: (x: T) => string): T[] {
  if (items.some((x) => SURROGATE.test(key(x)))) return items.sort((a, b) => compareCodePoints(key(a), key(b)));
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Sort order of the lists: by Unicode code point, not UTF-16 unit or locale. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (U+D800–DFFF) stand for code points above U+FFFF: they sort after U+E000–FFFF.
      const sx = x >= 0xd800 && x <= 0xdfff;
      const sy = y >= 0xd800 && y <= 0xdfff;
      if (sx !== sy) return sx ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * Accepted `$insert_id`s, as 64-bit hashes in an open-addressing table: ~16 bytes per record
 * instead of a string each. Two distinct ids collide with probability ~n²/2⁶⁵ (≈10⁻⁶ at 5M).
 * The hash is seeded (a random seed per run, given by the caller): ids are the attacker's, and
 * with a fixed hash two ids could be crafted to collide, making a record pass for a duplicate.
 */
export class RecordIdSet {
  constructor(readonly seed: RecordIdSeed) {}

  private hi = new Uint32Array(1 << 16);
  private lo = new Uint32Array(1 << 16);
  private count = 0;

  /** Adds the id; false if it was already there. */
  add(id: string): boolean {
    hashRecordId(id, this.seed, SCRATCH, 0);
    return this.addHash(SCRATCH[0], SCRATCH[1]);
  }

  /** Adds an id by its hashRecordId() pair; false if it was already there. */
  addHash(h1: number, h2: number): boolean {
    if ((this.count + 1) * 2 > this.hi.length) this.grow();
    return this.insert(h1, h2);
  }

  private insert(h1: number, h2: number): boolean {
    const mask = this.hi.length - 1;
    let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & mask;
    for (;;) {
      const a = this.hi[i];
      const b = this.lo[i];
      if (a === 0 && b === 0) {
        this.hi[i] = h1;
        this.lo[i] = h2;
        this.count++;
        return true;
      }
      if (a === h1 && b === h2) return false;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const oldHi = this.hi;
    const oldLo = this.lo;
    this.hi = new Uint32Array(oldHi.length * 2);
    this.lo = new Uint32Array(oldLo.length * 2);
    this.count = 0;
    for (let i = 0; i < oldHi.length; i++) if (oldHi[i] !== 0 || oldLo[i] !== 0) this.insert(oldHi[i], oldLo[i]);
  }
}

const SCRATCH = new Uint32Array(2);

/** Two 32-bit words that start both halves of the record-id hash. */
export type RecordIdSeed = readonly [number, number];

/** The 64-bit hash RecordIdSet keeps of an `$insert_id`, as two words written to out[at], out[at + 1]. */
export function hashRecordId(id: string, seed: RecordIdSeed, out: Uint32Array, at: number): void {
  let h1 = (0x811c9dc5 ^ seed[0]) >>> 0;
  let h2 = (0x9747b28c ^ seed[1]) >>> 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = (h1 ^ (h1 >>> 16)) >>> 0;
  h2 = (Math.imul(h2 ^ id.length, 0x85ebca6b) ^ (h2 >>> 13)) >>> 0;
  if (h1 === 0 && h2 === 0) h2 = 1;
  out[at] = h1;
  out[at + 1] = h2;
}
