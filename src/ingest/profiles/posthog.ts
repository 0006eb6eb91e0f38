/**
 * PostHog: event exports (JSONL or CSV) and person exports. Properties from PostHog's docs
 * ("Event properties", "GeoIP", "Identifying users"): `$anon_distinct_id` on `$identify` and
 * `person_id` are PostHog's own statements that two distinct ids are one person.
 */
import { has, isObject, type Profile } from './profile.js';

export const posthog: Profile = {
  name: 'posthog',
  vendor: 'PostHog',
  containers: 'events JSONL or CSV, persons JSONL/JSON',
  csv: true,
  fields: {
    record_id: ['uuid'],
    event: ['event'],
    distinct_id: ['distinct_id'],
    user_id: ['properties.$user_id'],
    device_id: ['properties.$device_id'],
    email: ['person_properties.email', 'properties.$set.email', 'properties.$set_once.email', 'properties.email'],
    name: ['person_properties.name', 'properties.$set.name', 'properties.$set_once.name'],
    first_name: ['person_properties.first_name', 'properties.$set.first_name'],
    last_name: ['person_properties.last_name', 'properties.$set.last_name'],
    org_id: ['properties.$groups.organization', 'properties.$groups.company', 'properties.org_id', 'properties.organization_id'],
    city: ['properties.$geoip_city_name'],
    region: ['properties.$geoip_subdivision_1_name', 'properties.$geoip_subdivision_1_code'],
    country: ['properties.$geoip_country_code', 'properties.$geoip_country_name'],
    os: ['properties.$os', 'properties.$os_version'],
    browser: ['properties.$browser', 'properties.$browser_version'],
    model: ['properties.$device_type', 'properties.$device_model'],
    referrer: ['properties.$referrer', 'properties.$referring_domain', 'properties.$initial_referrer', 'properties.$initial_referring_domain'],
    url: ['properties.$current_url'],
    ip: ['properties.$ip'],
    time: ['timestamp', 'created_at'],
    linked_ids: ['properties.$anon_distinct_id', 'person_id', 'distinct_ids'],
  },
  variants: {
    // a person export: its properties are the person's
    person: { name: ['properties.name'], first_name: ['properties.first_name'], last_name: ['properties.last_name'], time: ['properties.$last_seen', 'created_at'], distinct_id: ['distinct_id', 'distinct_ids.0'] },
  },
  variantOf: (rec) => (!has(rec, 'event') && (has(rec, 'distinct_ids') || has(rec, 'person_id') || has(rec, 'team_id')) ? 'person' : undefined),
  detectJson: (rec) => {
    if (has(rec, 'uuid', 'event', 'distinct_id') && (has(rec, 'timestamp') || has(rec, 'person_id'))) return 'records have uuid, event, distinct_id and timestamp (PostHog events)';
    const props = isObject(rec.properties) ? rec.properties : undefined;
    if (has(rec, 'event', 'distinct_id') && props !== undefined && Object.keys(props).some((k) => k.startsWith('$geoip_') || k === '$lib')) return 'events with PostHog $geoip_/$lib properties';
    if (!has(rec, 'event') && Array.isArray(rec.distinct_ids) && props !== undefined) return 'records have distinct_ids and properties (PostHog persons)';
    if (!has(rec, 'event') && has(rec, 'distinct_id', 'person_id') && props !== undefined) return 'records have distinct_id, person_id and properties (PostHog persons)';
    return undefined;
  },
  detectCsv: (keys) => {
    if (keys.has('distinct_id') && keys.has('uuid') && keys.has('timestamp')) return 'columns uuid, distinct_id and timestamp (PostHog events)';
    if (keys.has('distinct_id') && keys.has('person_id')) return 'columns distinct_id and person_id (PostHog)';
    return undefined;
  },
};
