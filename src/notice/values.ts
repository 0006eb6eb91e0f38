/**
 * What a notice says about its recipient: the placeholder values for one users row (a notice
 * to an affected person) or one roster row (a notice to an admin about their organization).
 */
import { vendorOfProfiles } from '../ingest/profiles/index.js';
import { CATEGORIES, CATEGORY_WORDS, type Category } from '../core/categories.js';
import type { Cell, OrgRow, Row } from '../core/rows.js';
import type { Mailbox } from './address.js';
import type { ListValues, Values } from './template.js';

export type NoticeList = 'users' | 'roster';

/** The same categories, said of an organization's members rather than of "you". */
export const MEMBER_WORDS: Record<Category, string> = {
  name: 'names',
  email: 'email addresses',
  location: 'approximate locations (city, region, country)',
  device: 'operating systems, browsers or device models',
  referrer: 'the websites that referred them',
  ids: 'account, device or organization identifiers',
  url: 'addresses of pages they visited',
  ip: 'IP addresses',
  secret: 'values that look like credentials (API keys, tokens or passwords)',
};

/** Placeholders every notice has, then those of each kind; the list (one line per item) ones apart. */
export const COMMON_PLACEHOLDERS = [
  'vendor', 'from_name', 'from_address', 'contact', 'date',
  'recipient_name', 'recipient_email', 'name', 'email', 'exposed', 'not_exposed', 'newly_exposed', 'first_seen', 'last_seen',
] as const;
export const PLACEHOLDERS: Record<NoticeList, readonly string[]> = {
  users: [...COMMON_PLACEHOLDERS, 'user_id', 'org_ids', 'org_names', 'events', 'countries', 'regions'],
  roster: [...COMMON_PLACEHOLDERS, 'org_id', 'org_name', 'role', 'affected_users', 'affected_users_text', 'unattributed', 'unattributed_sentence'],
};
export const LIST_PLACEHOLDERS = ['exposed_item', 'not_exposed_item', 'newly_exposed_item'] as const;
/** Placeholders `--set` may override; the rest describe the recipient and come from the case. */
export const SETTABLE = ['vendor', 'from_name', 'contact', 'date'];

export interface NoticeContext {
  vendor: string;
  from: Mailbox;
  date: Date;
  /** Affected orgs by id (names for a user's orgs, first/last seen for a roster row). */
  orgs: Map<string, OrgRow>;
  /** `--set NAME=VALUE`: overrides of SETTABLE names and further names of the user's own. */
  extra: Values;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function humanDate(d: Date): string {
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** `2025-11-09T14:03:22Z` → `9 November 2025, 14:03 UTC`; missing → `unknown`. */
export function humanTime(iso: Cell): string {
  if (typeof iso !== 'string' || iso === '') return 'unknown';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return 'unknown';
  return `${humanDate(d)}, ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;
}

const listFormat = new Intl.ListFormat('en', { style: 'long', type: 'conjunction' });

function text(v: Cell): string {
  if (v === null || v === undefined) return '';
  return Array.isArray(v) ? v.join(', ') : String(v);
}

function categories(v: Cell): Category[] {
  const given = new Set(Array.isArray(v) ? v : []);
  return CATEGORIES.filter((c) => given.has(c));
}

/**
 * The vendor named in notices: the case's (correlate's --vendor-name, else the vendor of the
 * profiles its exports were read with, when they agree), else a neutral phrase. `--vendor-name`
 * and `--set vendor=…` of report override it.
 */
export function vendorName(summary: { vendor_name?: string; files?: { format: string; profile?: string }[] } | undefined): string {
  if (summary?.vendor_name) return summary.vendor_name;
  const profiles = (summary?.files ?? []).map((f) => f.profile ?? f.format.split(' ')[0]);
  return vendorOfProfiles(profiles) || 'our analytics provider';
}

/**
 * `newly`: the categories of `exposed` no earlier notice to this recipient named (a follow-up
 * notice, see `report --unsent`); undefined for a first notice, where they are all of them.
 */
export function noticeValues(list: NoticeList, row: Row, ctx: NoticeContext, newly?: readonly Category[]): { values: Values; lists: ListValues } {
  const words = list === 'users' ? CATEGORY_WORDS : MEMBER_WORDS;
  const exposed = categories(row.exposed);
  const newlyWords = (newly === undefined ? exposed : CATEGORIES.filter((c) => newly.includes(c))).map((c) => words[c]);
  const notExposed = CATEGORIES.filter((c) => !exposed.includes(c));
  const exposedWords = exposed.map((c) => words[c]);
  const notExposedWords = notExposed.map((c) => words[c]);
  const email = text(row.email);
  const values: Values = {
    vendor: ctx.vendor,
    from_name: ctx.from.name || ctx.from.address,
    from_address: ctx.from.address,
    contact: ctx.from.address,
    date: humanDate(ctx.date),
    recipient_name: text(row.name).trim() || email,
    recipient_email: email,
    // the list's own column names, for templates written against users.csv / roster.csv
    name: text(row.name).trim() || email,
    email,
    exposed: exposedWords.length > 0 ? listFormat.format(exposedWords) : 'no personal details beyond a pseudonymous identifier and activity times',
    not_exposed: notExposedWords.length > 0 ? listFormat.format(notExposedWords) : 'nothing: every kind of data we check for was present',
    newly_exposed: newlyWords.length > 0 ? listFormat.format(newlyWords) : 'no personal details beyond a pseudonymous identifier and activity times',
  };
  if (list === 'users') {
    const orgIds = Array.isArray(row.org_ids) ? row.org_ids : [];
    Object.assign(values, {
      user_id: text(row.user_id),
      org_ids: orgIds.join(', '),
      org_names: orgIds.map((o) => ctx.orgs.get(o)?.org_name || o).join(', '),
      events: text(row.events),
      first_seen: humanTime(row.first_seen),
      last_seen: humanTime(row.last_seen),
      countries: text(row.countries),
      regions: text(row.regions),
    });
  } else {
    const org = ctx.orgs.get(text(row.org_id));
    const n = Number(row.affected_users ?? 0);
    const u = org?.unattributed ?? 0;
    Object.assign(values, {
      org_id: text(row.org_id),
      org_name: text(row.org_name),
      role: text(row.role),
      affected_users: String(n),
      affected_users_text: `${n} ${n === 1 ? 'member' : 'members'}`,
      unattributed: String(u),
      unattributed_sentence:
        u === 0 ? '' : `It also holds the activity of ${u} ${u === 1 ? 'person' : 'people'} we could not link to an account, marked with your organization's ID.`,
      first_seen: humanTime(org?.first_seen ?? null),
      last_seen: humanTime(org?.last_seen ?? null),
    });
  }
  Object.assign(values, ctx.extra);
  return {
    values,
    lists: {
      exposed_item: exposedWords.length > 0 ? exposedWords : ['no personal details beyond a pseudonymous identifier and activity times'],
      not_exposed_item: notExposedWords.length > 0 ? notExposedWords : ['nothing: every kind of data we check for was present'],
      newly_exposed_item: newlyWords.length > 0 ? newlyWords : ['no personal details beyond a pseudonymous identifier and activity times'],
    },
  };
}
