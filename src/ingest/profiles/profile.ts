/**
 * A vendor profile: how to recognise one vendor's export, and where each canonical field is in
 * its records, as data. Every reader, `correlate` and `inspect` alike, goes through these tables
 * and the one resolver (../resolve.ts); nothing vendor-specific lives in the reader.
 */
import type { CanonicalField } from '../../core/canonical.js';
import type { JsonObject } from '../json-record.js';

export const PROFILE_NAMES = ['mixpanel-events', 'mixpanel-people', 'mixpanel-etl', 'amplitude', 'segment', 'posthog', 'ga4', 'csv'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Source paths per canonical field, first present wins (resolve.ts path syntax). */
export type FieldTable = Partial<Record<CanonicalField, readonly string[]>>;

export interface Profile {
  name: ProfileName;
  /** The vendor as notices name it. */
  vendor: string;
  /** What files it reads, for people (README, --help). */
  containers: string;
  /** Does it read CSV? A file forced to it that does not start like JSON is then read as CSV. */
  csv: boolean;
  /**
   * Where a path is also looked for, in order ('' = the record itself): Mixpanel keeps an event's
   * fields in `properties` and a profile's in `$properties`, beside a few at the top.
   */
  roots?: readonly string[];
  fields: FieldTable;
  /** Tables whose entries replace the base's for one kind of record (a people record, a group call). */
  variants?: Record<string, FieldTable>;
  /** The variant of a JSON record, if any. */
  variantOf?(rec: JsonObject): string | undefined;
  /** The variant of a CSV file, from its header keys (see headerKey), if any. */
  csvVariant?(keys: ReadonlySet<string>): string | undefined;
  /** A record this vendor exports that describes no person: the rejection reason. */
  skip?(rec: JsonObject): string | undefined;
  /** Evidence that a JSON record is this vendor's, for people; undefined if none. */
  detectJson?(rec: JsonObject): string | undefined;
  /** Evidence that a CSV header is this vendor's; `keys` as headerKey gives them. */
  detectCsv?(keys: ReadonlySet<string>): string | undefined;
}

export function has(rec: JsonObject, ...keys: string[]): boolean {
  return keys.every((k) => Object.hasOwn(rec, k));
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
