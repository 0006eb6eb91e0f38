/**
 * The canonical record: what one vendor record says about one identity, reduced to the fields
 * matching and reporting need. Values that look like credentials never survive into it.
 */
import { CAT } from './categories.js';
import { BadTime, idText, normalizeEmail, parseTime } from './normalize.js';
import { looksLikeSecret } from './secrets.js';

export interface CanonicalRecord {
  /**
   * The dedupe key, Mixpanel's own: the record id with the event name, distinct_id and time (to
   * the second), each length-prefixed so that no two different tuples give one key. Absent when
   * the record has no record id (it is then never a duplicate).
   */
  recordId?: string;
  distinctId?: string;
  userId?: string;
  deviceId?: string;
  /** normalized */
  email?: string;
  orgIds: string[];
  /** ids the vendor says are the same person (linked_ids), other than the record's own distinct_id */
  linkedIds: string[];
  country?: string;
  region?: string;
  /** epoch ms, or null when the record has no time */
  time: number | null;
  /** exposure bit mask (categories.ts) */
  exposure: number;
}

export const CANONICAL_FIELDS = [
  'record_id', 'event', 'distinct_id', 'user_id', 'device_id', 'email', 'name', 'first_name', 'last_name', 'org_id',
  'city', 'region', 'country', 'os', 'browser', 'model', 'referrer', 'url', 'ip', 'time', 'linked_ids',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];

/** Where a canonical field comes from in one record: reads return the raw value or undefined. */
export type Getter<R> = (rec: R) => unknown;
export type Plan<R> = Record<CanonicalField, Getter<R>[]>;

export type RejectReason = 'bad_time' | 'no_identity';
export type CanonicalResult = CanonicalRecord | RejectReason;

const EXPOSURE_FIELDS: [CanonicalField, number][] = [
  ['name', CAT.name], ['first_name', CAT.name], ['last_name', CAT.name],
  ['email', CAT.email],
  ['city', CAT.location], ['region', CAT.location], ['country', CAT.location],
  ['os', CAT.device], ['browser', CAT.device], ['model', CAT.device],
  ['referrer', CAT.referrer],
  ['user_id', CAT.ids], ['device_id', CAT.ids], ['org_id', CAT.ids],
  ['url', CAT.url],
  ['ip', CAT.ip],
];

export function isPresent(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.trim() !== '';
  if (Array.isArray(v)) return v.some(isPresent);
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'object';
}

function first<R>(getters: Getter<R>[], rec: R): unknown {
  for (const g of getters) {
    const v = g(rec);
    if (isPresent(v)) return v;
  }
  return undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  return idText(v);
}

/** A scalar id or a list of them, as distinct texts. */
function idList(v: unknown): string[] {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v) {
      const t = idText(x);
      if (t !== undefined && !out.includes(t)) out.push(t);
    }
    return out;
  }
  const t = idText(v);
  return t === undefined ? [] : [t];
}

/**
 * One record → canonical record, or the reason it cannot be used. `secret` says whether a
 * credential-looking value was seen anywhere in the record (the caller scans the raw record).
 */
export function canonicalize<R>(plan: Plan<R>, rec: R, secret: boolean): CanonicalResult {
  return build(plan, rec, secret, true)!;
}

/**
 * canonicalize(), or undefined when a field whose text is kept (an id, email, org id, record id,
 * country or region) holds a JSON number: a number parsed by JSON.parse may have lost its
 * literal text (9007199254740993, 1.0, 1e400), so the caller parses that record again keeping
 * number literals exact. Most records carry their ids as strings and are parsed once.
 */
export function canonicalizeUnlessNumeric<R>(plan: Plan<R>, rec: R, secret: boolean): CanonicalResult | undefined {
  return build(plan, rec, secret, false);
}

/** An email address, roughly: what an id must look like to be taken for an email too. */
export const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Mixpanel's dedupe key (insert id, event, distinct_id, time in seconds), each part length-prefixed. */
export function dedupeKey(insertId: string, event: string | undefined, distinctId: string | undefined, time: number | null): string {
  const e = event ?? '';
  const d = distinctId ?? '';
  const secs = time === null ? '' : String(Math.floor(time / 1000));
  return insertId.length + ':' + insertId + e.length + ':' + e + d.length + ':' + d + secs.length + ':' + secs;
}

function holdsNumber(v: unknown): boolean {
  return typeof v === 'number' || (Array.isArray(v) && v.some((x) => typeof x === 'number'));
}

function cleaned(s: string | undefined, secret: boolean): string | undefined {
  return s !== undefined && secret && looksLikeSecret(s) ? undefined : s;
}

function build<R>(plan: Plan<R>, rec: R, secret: boolean, numbersExact: boolean): CanonicalResult | undefined {
  let exposure = secret ? CAT.secret : 0;
  for (const [field, cat] of EXPOSURE_FIELDS) {
    if ((exposure & cat) !== 0) continue;
    for (const g of plan[field]) {
      if (isPresent(g(rec))) {
        exposure |= cat;
        break;
      }
    }
  }
  let time: number | null;
  try {
    time = parseTime(first(plan.time, rec));
  } catch (e) {
    if (e instanceof BadTime) return 'bad_time';
    throw e;
  }
  const rawDistinct = first(plan.distinct_id, rec);
  const rawUser = first(plan.user_id, rec);
  const rawDevice = first(plan.device_id, rec);
  const rawEmail = first(plan.email, rec);
  const rawOrgs = first(plan.org_id, rec);
  const rawRecordId = first(plan.record_id, rec);
  const rawCountry = first(plan.country, rec);
  const rawRegion = first(plan.region, rec);
  const rawLinked: unknown[] = [];
  for (const g of plan.linked_ids) {
    const v = g(rec);
    if (isPresent(v)) rawLinked.push(v);
  }
  const rawEvent = first(plan.event, rec);
  if (!numbersExact && (holdsNumber(rawDistinct) || holdsNumber(rawUser) || holdsNumber(rawDevice) || holdsNumber(rawEmail) || holdsNumber(rawOrgs) || holdsNumber(rawRecordId) || holdsNumber(rawCountry) || holdsNumber(rawRegion) || rawLinked.some(holdsNumber) || holdsNumber(rawEvent))) return undefined;
  const distinctId = cleaned(idText(rawDistinct), secret);
  const userId = cleaned(idText(rawUser), secret);
  const deviceId = cleaned(idText(rawDevice), secret);
  let email = cleaned(normalizeEmail(typeof rawEmail === 'string' ? rawEmail : idText(rawEmail)), secret);
  if (email === undefined) {
    // an email used as the user id or distinct_id (Amplitude, legacy Mixpanel) is an email too
    const asEmail = userId?.includes('@') && EMAIL_SHAPE.test(userId) ? userId : distinctId?.includes('@') && EMAIL_SHAPE.test(distinctId) ? distinctId : undefined;
    if (asEmail !== undefined) {
      email = normalizeEmail(asEmail);
      exposure |= CAT.email;
    }
  }
  if (distinctId === undefined && userId === undefined && email === undefined && deviceId === undefined) return 'no_identity';
  const linkedIds: string[] = [];
  for (const v of rawLinked) {
    for (const l of idList(v)) if (l !== distinctId && !linkedIds.includes(l) && !(secret && looksLikeSecret(l))) linkedIds.push(l);
  }
  const insertId = idText(rawRecordId);
  let orgIds = idList(rawOrgs);
  if (secret) orgIds = orgIds.filter((o) => !looksLikeSecret(o));
  return {
    recordId: insertId === undefined ? undefined : dedupeKey(insertId, text(rawEvent), distinctId, time),
    distinctId,
    userId,
    deviceId,
    email,
    orgIds,
    linkedIds,
    country: cleaned(text(rawCountry), secret),
    region: cleaned(text(rawRegion), secret),
    time,
    exposure,
  };
}
