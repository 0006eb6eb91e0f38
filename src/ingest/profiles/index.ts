/** Every vendor profile, and choosing one for a file from its content. */
import type { JsonObject } from '../json-record.js';
import { amplitude } from './amplitude.js';
import { csv } from './csv.js';
import { ga4 } from './ga4.js';
import { mixpanelEtl, mixpanelEvents, mixpanelPeople } from './mixpanel.js';
import { posthog } from './posthog.js';
import { PROFILE_NAMES, type Profile, type ProfileName } from './profile.js';
import { segment } from './segment.js';

export { PROFILE_NAMES, type Profile, type ProfileName } from './profile.js';

export const PROFILES: Record<ProfileName, Profile> = {
  'mixpanel-events': mixpanelEvents,
  'mixpanel-people': mixpanelPeople,
  'mixpanel-etl': mixpanelEtl,
  amplitude,
  segment,
  posthog,
  ga4,
  csv,
};

/**
 * The order detection asks: the most particular marks first (an ETL envelope, a vendor's own
 * keys), Mixpanel's plain shapes last, since other vendors' records can carry `event` too.
 */
const JSON_ORDER: Profile[] = [mixpanelEtl, ga4, amplitude, segment, posthog, mixpanelEvents, mixpanelPeople];
const CSV_ORDER: Profile[] = [ga4, amplitude, posthog, segment, mixpanelEtl, mixpanelPeople];

export interface Detection {
  profile: Profile;
  /** why, for people: the evidence, or that --vendor chose it */
  reason: string;
}

export function forced(name: ProfileName): Detection {
  return { profile: PROFILES[name], reason: `--vendor ${name}` };
}

export function detectJson(rec: JsonObject | undefined): Detection {
  if (rec !== undefined) {
    for (const p of JSON_ORDER) {
      const why = p.detectJson?.(rec);
      if (why !== undefined) return { profile: p, reason: why };
    }
  }
  return { profile: mixpanelEvents, reason: rec === undefined ? 'no JSON object to recognise; Mixpanel field names (the default)' : 'no vendor recognised from the first record; Mixpanel field names (the default; --vendor chooses another)' };
}

/** `keys`: the header's names as headerKey gives them. */
export function detectCsv(keys: ReadonlySet<string>): Detection {
  for (const p of CSV_ORDER) {
    const why = p.detectCsv?.(keys);
    if (why !== undefined) return { profile: p, reason: why };
  }
  return { profile: csv, reason: 'a CSV with a header row; common column names' };
}

export function isProfileName(v: string): v is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(v);
}

/** The vendor notices name, from the profiles the case's files were read with ('' when none says). */
export function vendorOfProfiles(names: readonly string[]): string {
  const vendors = new Set(names.map((n) => (isProfileName(n) ? PROFILES[n].vendor : '')).filter((v) => v !== ''));
  return vendors.size === 1 ? [...vendors][0] : '';
}
