/**
 * Vendor identities: accepted records grouped by distinct_id (else user_id, else normalized
 * email, else device_id). Aggregates are kept per identity, never per event, so memory grows with
 * the number of people in the dataset, not with its size.
 */
import siphash24 from 'siphash24';
import { type CanonicalRecord } from './canonical.js';

export interface Identity {
  key: string;
  /** Set when the identity is keyed by a distinct_id (rule 3 applies only then). */
  distinctId: string | undefined;
  userIds: Texts;
  emails: Texts;
  deviceIds: Texts;
  orgIds: Texts;
  events: number;
  /**
   * The earliest and the latest event, in whole seconds since the epoch (floored): the lists show
   * times to the second, and a whole number of seconds is a small integer V8 keeps in the object
   * itself, where milliseconds took a 16-byte heap number each (two per identity, per affected
   * user and per affected org).
   */
  first: number | null;
  last: number | null;
  exposure: number;
  /** (country, region) pairs, as `country\u0000region` */
  places: Texts;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * Distinct texts in first-seen order, kept compactly: none (undefined), one (the text itself) or
 * several (an array). Most identities have one user id, one email, one device and one place: as
 * one-element arrays those were a third of the memory of every identity.
 */
export type Texts = string | readonly string[] | undefined;

/** The texts as a list (a new one-element list for a single text). */
export function textsOf(t: Texts): readonly string[] {
  return t === undefined ? NONE : typeof t === 'string' ? [t] : t;
}

/** The texts with `v` added (unchanged if absent or already there). */
export function withText(t: Texts, v: string | undefined): Texts {
  if (v === undefined) return t;
  if (t === undefined) return v;
  if (typeof t === 'string') return t === v ? t : [t, v];
  return withValue(t, v);
}

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

/**
 * The grouping key of a record: distinct_id, else user_id, else email, else device_id
 * (canonicalize rejects a record with none of them).
 */
export function groupingKey(distinctId: string | undefined, userId: string | undefined, email: string | undefined, deviceId: string | undefined): string {
  return (distinctId ?? userId ?? email ?? deviceId) as string;
}

export class IdentityGroups {
  readonly byKey = new Map<string, Identity>();

  add(r: CanonicalRecord): void {
    this.addParts(r.distinctId, r.userId, r.email, r.deviceId, r.orgIds, r.time, r.exposure, placeOf(r));
  }

  /** add() of a record given by its parts (the place as placeOf gives it), without the record. */
  addParts(distinctId: string | undefined, userId: string | undefined, email: string | undefined, deviceId: string | undefined, orgIds: readonly string[], time: number | null, exposure: number, place: string | undefined): void {
    this.addTo(this.identity(groupingKey(distinctId, userId, email, deviceId)), distinctId, userId, email, deviceId, orgIds, time, exposure, place);
  }

  /** The identity of a grouping key (see groupingKey), created empty if new. */
  identity(key: string): Identity {
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = { key, distinctId: undefined, userIds: undefined, emails: undefined, deviceIds: undefined, orgIds: undefined, events: 0, first: null, last: null, exposure: 0, places: undefined };
      this.byKey.set(key, id);
    }
    return id;
  }

  /** addParts() into `id`, the identity of the record's grouping key, already looked up. */
  addTo(id: Identity, distinctId: string | undefined, userId: string | undefined, email: string | undefined, deviceId: string | undefined, orgIds: readonly string[], time: number | null, exposure: number, place: string | undefined): void {
    // set once, to the key: a record with a distinct_id is keyed by it, so every one holds that text
    // (storing each record's fresh copy into an old identity would keep a dead string per record)
    if (distinctId !== undefined && id.distinctId === undefined) id.distinctId = id.key;
    id.userIds = withText(id.userIds, userId);
    id.emails = withText(id.emails, email);
    id.deviceIds = withText(id.deviceIds, deviceId);
    for (const o of orgIds) id.orgIds = withText(id.orgIds, o);
    id.events++;
    if (time !== null) {
      const secs = Math.floor(time / 1000);
      if (id.first === null || secs < id.first) id.first = secs;
      if (id.last === null || secs > id.last) id.last = secs;
    }
    id.exposure |= exposure;
    id.places = withText(id.places, place);
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
 * Accepted `$insert_id`s, as 64-bit keyed hashes in open-addressing tables: 11–23 bytes per
 * record instead of a string each. The ids are the attacker's: the hash is
 * SipHash-2-4, a keyed pseudorandom function, under a random key per run (given by the caller),
 * so two ids cannot be crafted to collide (making a record pass for a duplicate) or to crowd one
 * table without the key, which no output, log or file holds. Two distinct ids collide by chance
 * with probability ~n²/2⁶⁵ (≈10⁻⁶ at 5M).
 *
 * The hashes are spread over SHARDS tables by their top bits, each grown on its own: a single
 * table doubled at 5M ids held its old 64 MB and its new 128 MB at once, the peak of the whole
 * run; a shard's growth costs 1/SHARDS of that.
 */
export class RecordIdSet {
  constructor(readonly key: RecordIdKey) {}

  /** per shard: pairs of words, (0, 0) empty; a pair in one place costs one cache miss a probe, not two */
  private readonly shards: Uint32Array[] = Array.from({ length: SHARDS }, () => new Uint32Array(2 * SHARD_START_PAIRS));
  private readonly counts = new Int32Array(SHARDS);

  /** Adds the id; false if it was already there. */
  add(id: string): boolean {
    hashRecordId(id, this.key, SCRATCH, 0);
    return this.addHash(SCRATCH[0], SCRATCH[1]);
  }

  /** Adds an id by its hashRecordId() pair; false if it was already there. */
  addHash(h1: number, h2: number): boolean {
    const s = h2 >>> (32 - SHARD_BITS);
    // at most 7 pairs in 10 places taken: linear probing stays within a cache line or two
    if ((this.counts[s] + 1) * 10 > (this.shards[s].length >> 1) * 7) this.grow(s);
    return this.insert(s, h1, h2);
  }

  private insert(s: number, h1: number, h2: number): boolean {
    const slots = this.shards[s];
    const mask = (slots.length >> 1) - 1;
    let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & mask;
    for (;;) {
      const a = slots[2 * i];
      const b = slots[2 * i + 1];
      if (a === 0 && b === 0) {
        slots[2 * i] = h1;
        slots[2 * i + 1] = h2;
        this.counts[s]++;
        return true;
      }
      if (a === h1 && b === h2) return false;
      i = (i + 1) & mask;
    }
  }

  private grow(s: number): void {
    const old = this.shards[s];
    this.shards[s] = new Uint32Array(old.length * 2);
    this.counts[s] = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(s, old[i], old[i + 1]);
  }
}

const SHARD_BITS = 4;
const SHARDS = 1 << SHARD_BITS;
/** 16 shards of 4,096 pairs: 512 KiB to start, as the single table did */
const SHARD_START_PAIRS = 4096;

const SCRATCH = new Uint32Array(2);

/** The 16-byte SipHash key of the record-id hash. */
export type RecordIdKey = Uint8Array;
export const RECORD_ID_KEY_BYTES = siphash24.KEYBYTES;

let idBytes = Buffer.allocUnsafe(256);
const digest = new Uint8Array(siphash24.BYTES);

/**
 * The 64-bit hash RecordIdSet keeps of an `$insert_id`: SipHash-2-4 under `key` of the id's
 * UTF-16 code units (exact for any string, lone surrogates included), as two words written to
 * out[at], out[at + 1]. (0, 0) marks an empty slot, so it is never a hash.
 */
export function hashRecordId(id: string, key: RecordIdKey, out: Uint32Array, at: number): void {
  if (id.length * 2 > idBytes.length) idBytes = Buffer.allocUnsafe(id.length * 2);
  const n = idBytes.write(id, 0, 'utf16le');
  siphash24(idBytes.subarray(0, n), key, digest, true);
  let h1 = (digest[0] | (digest[1] << 8) | (digest[2] << 16) | (digest[3] << 24)) >>> 0;
  const h2 = (digest[4] | (digest[5] << 8) | (digest[6] << 16) | (digest[7] << 24)) >>> 0;
  if (h1 === 0 && h2 === 0) h1 = 1;
  out[at] = h1;
  out[at + 1] = h2;
}
