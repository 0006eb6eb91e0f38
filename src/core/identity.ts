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
  /** ids the vendor says are this person's too (linked_ids) */
  linkedIds: Texts;
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
  return r.country !== undefined || r.region !== undefined ? internPlace(`${r.country ?? ''}\u0000${r.region ?? ''}`) : undefined;
}

/** Distinct places seen, each held once: most exports name a few thousand places for many more people. */
const PLACES = new Map<string, string>();
/** Places held in PLACES at most: past it, a place is kept as it came (the table stays bounded). */
const MAX_PLACES = 1 << 16;

/** The place's one shared string (Texts of a place: its strings shared too). */
export function internPlace<T extends Texts>(t: T): T {
  if (typeof t !== 'string') return (Array.isArray(t) ? t.map((p: string) => internPlace(p)) : t) as T;
  const have = PLACES.get(t);
  if (have !== undefined) return have as T;
  if (PLACES.size < MAX_PLACES) PLACES.set(t, t);
  return t;
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

/** A new identity of a grouping key, of no record yet. */
export function newIdentity(key: string): Identity {
  return { key, distinctId: undefined, userIds: undefined, emails: undefined, deviceIds: undefined, orgIds: undefined, linkedIds: undefined, events: 0, first: null, last: null, exposure: 0, places: undefined };
}

/**
 * A record into its identity. A duplicate (`counted` false) is not an event again, but what it
 * holds was exported too: its ids, exposure and place are kept, so that which copy of a repeated
 * record comes first changes nothing.
 */
export function addRecord(id: Identity, r: CanonicalRecord, counted = true): void {
  // set once, to the key: a record with a distinct_id is keyed by it, so every one holds that text
  // (storing each record's fresh copy into an old identity would keep a dead string per record)
  if (r.distinctId !== undefined && id.distinctId === undefined) id.distinctId = id.key;
  // (the key's own string when they are equal: one string held, not two)
  id.userIds = withText(id.userIds, r.userId === id.key ? id.key : r.userId);
  id.emails = withText(id.emails, r.email);
  id.deviceIds = withText(id.deviceIds, r.deviceId);
  for (const o of r.orgIds) id.orgIds = withText(id.orgIds, o);
  for (const l of r.linkedIds) if (l !== id.key) id.linkedIds = withText(id.linkedIds, l);
  if (counted) id.events++;
  if (r.time !== null) {
    const secs = Math.floor(r.time / 1000);
    if (id.first === null || secs < id.first) id.first = secs;
    if (id.last === null || secs > id.last) id.last = secs;
  }
  id.exposure |= r.exposure;
  id.places = withText(id.places, placeOf(r));
}

export class IdentityGroups {
  readonly byKey = new Map<string, Identity>();

  /** A record into its identity (see addRecord). */
  add(r: CanonicalRecord, counted = true): void {
    const key = groupingKey(r.distinctId, r.userId, r.email, r.deviceId);
    let id = this.byKey.get(key);
    if (id === undefined) this.byKey.set(key, (id = newIdentity(key)));
    addRecord(id, r, counted);
  }

  /** Identities in vendor_id order (Unicode code points). */
  sorted(): Identity[] {
    return sortByCodePoints([...this.byKey.values()], (id) => id.key);
  }
}

/**
 * The identities of a stretch of records, an aggregation window: records go in until it holds
 * `bound` identities, then take() hands them all on and it starts empty. So the reading holds a
 * bounded number of identities whatever the export's size; a key seen again after a take()
 * starts a new part of its identity (see IdentitySink, which merges the parts). Each identity has
 * a local index, its place in the window, by which a worker's record names it (see Tally).
 */
export class IdentityWindow {
  private index = new Map<string, number>();
  private list: Identity[] = [];

  constructor(readonly bound: number) {}

  get full(): boolean {
    return this.list.length >= this.bound;
  }

  /** A record into its identity (see addRecord); returns the identity's local index. */
  add(r: CanonicalRecord, counted = true): number {
    const key = groupingKey(r.distinctId, r.userId, r.email, r.deviceId);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.list.length;
      this.index.set(key, i);
      this.list.push(newIdentity(key));
    }
    addRecord(this.list[i], r, counted);
    return i;
  }

  /** Every identity of the window, by local index; the window starts empty. */
  take(): Identity[] {
    const all = this.list;
    this.list = [];
    this.index = new Map();
    return all;
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
 * A set of dedupe keys (CanonicalRecord.recordId) as 128-bit keyed hashes, in open-addressing
 * tables: 16 bytes a key and its slack instead of a string each (core/dedupe.ts holds one per
 * bucket of the keyed records, one bucket at a time). The keys are
 * the attacker's: the hash is two SipHash-2-4 digests under two halves of a random key per run
 * (given by the caller), so keys cannot be crafted to collide (making a record pass for a
 * duplicate) or to crowd one table without the key, which no output, log or file holds; two
 * distinct keys collide by chance with probability ~n²/2¹²⁹.
 *
 * The hashes are spread over SHARDS tables by their top bits, each grown on its own, so that
 * growing never holds an old and a new copy of the whole set at once.
 */
export class RecordIdSet {
  /** `hash`: hashRecordId, or a test's stand-in (to force collisions of part of it) */
  constructor(
    readonly key: RecordIdKey,
    private readonly hash: typeof hashRecordId = hashRecordId,
  ) {}

  /** per shard: HASH_WORDS words a hash, all zero when empty; one hash in one place costs one cache miss a probe */
  private readonly shards: Uint32Array[] = Array.from({ length: SHARDS }, () => new Uint32Array(HASH_WORDS * SHARD_START_SLOTS));
  private readonly counts = new Int32Array(SHARDS);

  /** Adds the key; false if it was already there. */
  add(id: string): boolean {
    this.hash(id, this.key, SCRATCH, 0);
    return this.addHash(SCRATCH);
  }

  /** Adds a key by its hashRecordId() words (h[at..at+3]); false if it was already there. */
  addHash(h: Uint32Array, at = 0): boolean {
    const s = h[at + 1] >>> (32 - SHARD_BITS);
    // at most 7 hashes in 10 places: linear probing stays within a cache line or two
    if ((this.counts[s] + 1) * 10 > (this.shards[s].length / HASH_WORDS) * 7) this.grow(s);
    return this.insert(s, h[at], h[at + 1], h[at + 2], h[at + 3]);
  }

  private insert(s: number, a: number, b: number, c: number, d: number): boolean {
    const slots = this.shards[s];
    const mask = slots.length / HASH_WORDS - 1;
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask;
    for (;;) {
      const at = HASH_WORDS * i;
      const x = slots[at];
      const y = slots[at + 1];
      const z = slots[at + 2];
      const w = slots[at + 3];
      if (x === 0 && y === 0 && z === 0 && w === 0) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = c;
        slots[at + 3] = d;
        this.counts[s]++;
        return true;
      }
      if (x === a && y === b && z === c && w === d) return false;
      i = (i + 1) & mask;
    }
  }

  private grow(s: number): void {
    const old = this.shards[s];
    this.shards[s] = new Uint32Array(old.length * 2);
    this.counts[s] = 0;
    for (let i = 0; i < old.length; i += HASH_WORDS) {
      if (old[i] !== 0 || old[i + 1] !== 0 || old[i + 2] !== 0 || old[i + 3] !== 0) this.insert(s, old[i], old[i + 1], old[i + 2], old[i + 3]);
    }
  }
}

/** 32-bit words in a record key's hash (128 bits) */
export const HASH_WORDS = 4;
const SHARD_BITS = 4;
const SHARDS = 1 << SHARD_BITS;
const SHARD_START_SLOTS = 4096;

const SCRATCH = new Uint32Array(HASH_WORDS);

/** The 32-byte key of the record-key hash: two SipHash keys. */
export type RecordIdKey = Uint8Array;
export const RECORD_ID_KEY_BYTES = 2 * siphash24.KEYBYTES;

let idBytes = Buffer.allocUnsafe(256);
const digest = new Uint8Array(siphash24.BYTES);

function word(d: Uint8Array, at: number): number {
  return (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
}

/**
 * The 128-bit hash RecordIdSet keeps of a record key: SipHash-2-4 of the key's UTF-16 code units
 * (exact for any string, lone surrogates included) under each half of `key`, as four words written
 * to out[at..at+3]. All zero marks an empty slot, so it is never a hash.
 */
export function hashRecordId(id: string, key: RecordIdKey, out: Uint32Array, at: number): void {
  if (id.length * 2 > idBytes.length) idBytes = Buffer.allocUnsafe(id.length * 2);
  const n = idBytes.write(id, 0, 'utf16le');
  const bytes = idBytes.subarray(0, n);
  for (let half = 0; half < 2; half++) {
    siphash24(bytes, key.subarray(half * siphash24.KEYBYTES, (half + 1) * siphash24.KEYBYTES), digest, true);
    out[at + 2 * half] = word(digest, 0);
    out[at + 2 * half + 1] = word(digest, 4);
  }
  if (out[at] === 0 && out[at + 1] === 0 && out[at + 2] === 0 && out[at + 3] === 0) out[at] = 1;
}
