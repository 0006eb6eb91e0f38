/** The lists of a case, their columns in contract order, and how a row looks. */
import type { Category } from './categories.js';

export const LISTS = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions'] as const;
export type ListName = (typeof LISTS)[number];

export const COLUMNS: Record<ListName, readonly string[]> = {
  users: ['user_id', 'email', 'name', 'org_ids', 'matched_by', 'events', 'first_seen', 'last_seen', 'exposed', 'countries', 'regions'],
  orgs: ['org_id', 'org_name', 'affected_users', 'unattributed', 'admins', 'exposed', 'first_seen', 'last_seen'],
  roster: ['org_id', 'org_name', 'email', 'name', 'role', 'affected_users', 'exposed'],
  unmatched: ['vendor_id', 'reason', 'email', 'events', 'first_seen', 'last_seen', 'exposed', 'org_ids'],
  rejected: ['file', 'line', 'reason', 'excerpt'],
  jurisdictions: ['country', 'region', 'affected_users'],
};

/**
 * Values case.sqlite keeps beside a list's columns, for report's own use and never printed:
 * the internal id of a roster row's admin (names the admin in warnings, keeps Message-IDs apart).
 */
export const STORED_EXTRA: Partial<Record<ListName, readonly string[]>> = { roster: ['admin_user_id'] };

/** Columns whose cells are lists (`;`-joined in CSV, arrays in JSON). */
export const LIST_COLUMNS = new Set(['org_ids', 'exposed', 'countries', 'regions']);
/** Columns that are counts (numbers in JSON). */
export const COUNT_COLUMNS = new Set(['events', 'affected_users', 'unattributed', 'admins', 'line']);

export type Cell = string | number | string[] | null;
export type Row = Record<string, Cell>;

export interface UserRow extends Row {
  user_id: string;
  email: string;
  name: string;
  org_ids: string[];
  matched_by: string;
  events: number;
  first_seen: string | null;
  last_seen: string | null;
  exposed: Category[];
  countries: string[];
  regions: string[];
}

export interface OrgRow extends Row {
  org_id: string;
  org_name: string;
  affected_users: number;
  unattributed: number;
  admins: number;
  exposed: Category[];
  first_seen: string | null;
  last_seen: string | null;
}

export interface RosterRow extends Row {
  org_id: string;
  org_name: string;
  email: string;
  name: string;
  role: string;
  affected_users: number;
  exposed: Category[];
  /** STORED_EXTRA: not a column */
  admin_user_id: string;
}

export interface UnmatchedRow extends Row {
  vendor_id: string;
  reason: string;
  email: string;
  events: number;
  first_seen: string | null;
  last_seen: string | null;
  exposed: Category[];
  org_ids: string[];
}

export interface RejectedRow extends Row {
  file: string;
  line: number;
  reason: string;
  excerpt: string;
}

export interface JurisdictionRow extends Row {
  country: string;
  region: string;
  affected_users: number;
}
