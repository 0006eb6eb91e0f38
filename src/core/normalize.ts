/** Normalisation shared by matching and reporting. Pure functions. */

/** trim, Unicode NFC, lower-case: the spec's email normalisation. Empty → undefined. */
export function normalizeEmail(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const e = raw.trim().normalize('NFC').toLowerCase();
  return e === '' ? undefined : e;
}

/**
 * The exact text of an identifier. Numbers arrive here only when they were short enough for
 * JSON.parse to keep exactly (long digit runs are turned into strings before parsing).
 */
export function idText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return undefined;
  return undefined;
}

export class BadTime extends Error {}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const NUMERIC_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MIN_MS = Date.UTC(1970, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * A record's time in epoch milliseconds. Numbers are Unix seconds (integer or fractional);
 * 1e12 or more is milliseconds, 1e14 or more microseconds. Strings are ISO 8601; without a zone they are read as UTC.
 * Absent → null. Anything else throws BadTime.
 */
export function parseTime(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return null;
    if (NUMERIC_RE.test(s)) return epochToMs(Number(s));
    return parseIso(s);
  }
  if (typeof v === 'number') return epochToMs(v);
  throw new BadTime();
}

function epochToMs(n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new BadTime();
  // seconds below 1e12 (until the year 33658), milliseconds below 1e14 (until 5138), then microseconds (GA4)
  const ms = n >= 1e14 ? n / 1000 : n >= 1e12 ? n : n * 1000;
  if (ms > MAX_MS) throw new BadTime();
  return Math.floor(ms);
}

/** ISO 8601 date or date-time; a missing zone means UTC. Throws BadTime. */
export function parseIso(s: string): number {
  const m = ISO_RE.exec(s);
  if (!m) throw new BadTime();
  const [, y, mo, d, h = '00', mi = '00', se = '00', frac, zone] = m;
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(se);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) throw new BadTime();
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  const check = new Date(Date.UTC(Number(y), month - 1, day));
  if (check.getUTCDate() !== day) throw new BadTime();
  if (frac) ms += Math.floor(Number(frac) * 1000);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
    ms -= sign * offset;
  }
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) throw new BadTime();
  return ms;
}

/** ISO 8601 UTC to the second: 2025-11-09T14:03:22Z. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const secs = Math.floor(ms / 1000);
  const day = Math.floor(secs / 86_400);
  if (!(secs >= 0 && secs < LAST_FAST_SECOND)) return new Date(secs * 1000).toISOString().replace('.000Z', 'Z');
  // A list has a few hundred distinct days and a million times: the date part is made once a day.
  let date = DAYS.get(day);
  if (date === undefined) {
    if (DAYS.size > 4096) DAYS.clear();
    DAYS.set(day, (date = new Date(day * 86_400_000).toISOString().slice(0, 11)));
  }
  const r = secs - day * 86_400;
  return date + TWO[Math.floor(r / 3600)] + ':' + TWO[Math.floor(r / 60) % 60] + ':' + TWO[r % 60] + 'Z';
}
/** 10000-01-01T00:00:00Z: from there on, years have more than four digits */
const LAST_FAST_SECOND = 253_402_300_800;
const DAYS = new Map<number, string>();
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
