/**
 * The canonical record: what one vendor record says about one identity, reduced to the fields
 * matching and reporting need. Values that look like credentials never survive into it.
 */
import { CAT } from './categories.js';
import { BadTime, idText, normalizeEmail, parseTime } from './normalize.js';
import { looksLikeSecret } from './secrets.js';

export interface CanonicalRecord {
  recordId?: string;
  distinctId?: string;
  userId?: string;
  deviceId?: string;
  /** normalized */
  email?: string;
  orgIds: string[];
  country?: string;
  region?: string;
  /** epoch ms, or null when the record has no time */
  time: number | null;
  /** exposure bit mask (categories.ts) */
  exposure: number;
}

export const CANONICAL_FIELDS = [
  'record_id', 'distinct_id', 'user_id', 'device_id', 'email', 'name', 'first_name', 'last_name', 'org_id',
  'city', 'region', 'country', 'os', 'browser', 'model', 'referrer', 'url', 'ip', 'time',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];

/** Default source names, as JSON property keys (CSV headers compare case-insensitively, `$` optional). */
export const DEFAULT_SOURCES: Record<CanonicalField, string[]> = {
  record_id: ['$insert_id'],
  distinct_id: ['distinct_id', '$distinct_id'],
  user_id: ['$user_id', 'user_id'],
  device_id: ['$device_id', 'device_id'],
  email: ['$email', 'email'],
  name: ['$name', 'name'],
  first_name: ['$first_name'],
  last_name: ['$last_name'],
  org_id: ['org_id', 'organization_id'],
  city: ['$city'],
  region: ['$region'],
  country: ['mp_country_code', '$country_code', 'country'],
  os: ['$os'],
  browser: ['$browser', '$browser_version'],
  model: ['$model', '$device'],
  referrer: ['$referrer', '$referring_domain', '$initial_referrer', '$initial_referring_domain'],
  url: ['$current_url'],
  ip: ['ip', '$ip'],
  time: ['time', '$last_seen'],
};

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

function orgList(v: unknown): string[] {
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
  if (!numbersExact && (holdsNumber(rawDistinct) || holdsNumber(rawUser) || holdsNumber(rawDevice) || holdsNumber(rawEmail) || holdsNumber(rawOrgs) || holdsNumber(rawRecordId) || holdsNumber(rawCountry) || holdsNumber(rawRegion))) return undefined;
  const distinctId = cleaned(idText(rawDistinct), secret);
  const userId = cleaned(idText(rawUser), secret);
  const deviceId = cleaned(idText(rawDevice), secret);
  const email = cleaned(normalizeEmail(typeof rawEmail === 'string' ? rawEmail : idText(rawEmail)), secret);
  if (distinctId === undefined && userId === undefined && email === undefined && deviceId === undefined) return 'no_identity';
  let orgIds = orgList(rawOrgs);
  if (secret) orgIds = orgIds.filter((o) => !looksLikeSecret(o));
  return {
    recordId: idText(rawRecordId),
    distinctId,
    userId,
    deviceId,
    email,
    orgIds,
    country: cleaned(text(rawCountry), secret),
    region: cleaned(text(rawRegion), secret),
    time,
    exposure,
  };
}
