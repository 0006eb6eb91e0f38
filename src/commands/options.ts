/** Option parsing shared by the commands: each turns a user's text into a typed value or a UsageError. */
import { availableParallelism } from 'node:os';
import { CANONICAL_FIELDS, type CanonicalField } from '../core/canonical.js';
import { BadTime, parseIso } from '../core/normalize.js';
import type { Gate } from '../correlation.js';
import { VENDORS, type Vendor } from '../ingest/read.js';
import { UsageError } from '../errors.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseVendor(v: string | undefined): Vendor | undefined {
  if (v === undefined) return undefined;
  if (!(VENDORS as readonly string[]).includes(v)) throw new UsageError(`--vendor ${v} is not a known format`, `use one of: ${VENDORS.join(', ')}`);
  return v as Vendor;
}

/** `FIELD=PATH` adds a source before the profile's own; `FIELD=` (empty) unmaps the profile's own (kept as ''). */
export function parseColumns(specs: string[]): Map<CanonicalField, string[]> {
  const out = new Map<CanonicalField, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const field = spec.slice(0, eq).trim() as CanonicalField;
    const source = spec.slice(eq + 1).trim();
    if (eq <= 0) throw new UsageError(`--column ${spec} is not canonical=source`, 'e.g. --column email=$properties.work_email, --column org_id="Organization ID", or --column name= to read no name');
    if (!(CANONICAL_FIELDS as readonly string[]).includes(field)) throw new UsageError(`--column ${spec}: ${field} is not a canonical field`, `use one of: ${CANONICAL_FIELDS.join(', ')}`);
    out.set(field, [...(out.get(field) ?? []), source]);
  }
  return out;
}

export function parseInstant(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseIso(v.trim());
  } catch (e) {
    if (e instanceof BadTime) throw new UsageError(`${flag} ${v} is not an ISO 8601 date or time`, `e.g. ${flag} 2025-11-01 or ${flag} 2025-11-09T14:00:00Z`);
    throw e;
  }
}

export function parseGate(flag: string, v: string | undefined): Gate | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
  if (!m || (m[2] === '' && !/^\s*\d+\s*$/.test(v))) throw new UsageError(`${flag} ${v} is not a count or a percentage`, `e.g. ${flag} 100 or ${flag} 0.5%`);
  return { value: Number(m[1]), percent: m[2] === '%' };
}

export function parseRoles(v: string): string[] {
  const roles = v.split(',').map((r) => r.trim().toLowerCase()).filter((r) => r !== '');
  if (roles.length === 0) throw new UsageError('--admin-roles names no role', 'e.g. --admin-roles owner,admin');
  return roles;
}

export function parseCount(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`${flag} ${v} is not a whole number`, `e.g. ${flag} 1000`);
  return Number(v);
}

/**
 * --threads N (N ≥ 1: threads reading NDJSON, 1 the main thread alone); without it the
 * environment's BREACH_IMPACT_THREADS (0 or unset: one per core; kept for scripts that set it).
 */
export function parseThreads(v: string | undefined): number {
  if (v === undefined) {
    const env = process.env.BREACH_IMPACT_THREADS?.trim();
    const n = env !== undefined && /^\d+$/.test(env) ? Number(env) : 0;
    return n === 0 ? availableParallelism() : Math.min(n, MAX_THREADS);
  }
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1) throw new UsageError(`--threads ${v} is not a whole number of at least 1`, 'e.g. --threads 4, or --threads 1 to read on one thread');
  return Math.min(Number(v), MAX_THREADS);
}

/** More reading threads than this only add memory: the main thread takes every batch in turn. */
const MAX_THREADS = 16;
