/**
 * Amplitude: the Export API (a ZIP of gzipped NDJSON, one event per line), that NDJSON alone, or a
 * CSV flattening of it. Fields from Amplitude's Export API documentation: `event_time` is UTC
 * without a zone (`2021-08-28 10:15:32.458000`), `country` a full name, referrers in user
 * properties, the page URL in `[Amplitude] Page URL` / `Page Location` event properties.
 * `amplitude_id` is Amplitude's merged user, so it keys the identity and links its user and
 * device ids.
 */
import { has, type Profile } from './profile.js';

export const amplitude: Profile = {
  name: 'amplitude',
  vendor: 'Amplitude',
  containers: 'Export API ZIP of gzipped NDJSON, NDJSON, flattened CSV',
  csv: true,
  fields: {
    record_id: ['uuid', '$insert_id', 'insert_id', '_insert_id'],
    event: ['event_type'],
    distinct_id: ['amplitude_id', 'user_id', 'device_id'],
    user_id: ['user_id'],
    device_id: ['device_id'],
    email: ['user_properties.email', 'user_properties.Email', 'user_properties.$email'],
    name: ['user_properties.name', 'user_properties.Name'],
    first_name: ['user_properties.first_name', 'user_properties.firstName'],
    last_name: ['user_properties.last_name', 'user_properties.lastName'],
    org_id: ['groups.org_id', 'groups.organization_id', 'groups.organization', 'groups.company_id', 'user_properties.org_id', 'event_properties.org_id'],
    city: ['city'],
    region: ['region'],
    country: ['country'],
    os: ['os_name', 'os_version', 'platform'],
    model: ['device_model', 'device_family', 'device_type', 'device_brand'],
    referrer: ['user_properties.referrer', 'user_properties.referring_domain', 'user_properties.initial_referrer', 'user_properties.initial_referring_domain'],
    url: ['event_properties["[Amplitude] Page URL"]', 'event_properties["[Amplitude] Page Location"]', 'event_properties.page_url'],
    ip: ['ip_address'],
    time: ['event_time', 'client_event_time', 'server_upload_time', 'server_received_time'],
    linked_ids: ['amplitude_id'],
  },
  detectJson: (rec) => {
    if (has(rec, 'amplitude_id')) return 'records have amplitude_id (Amplitude Export API)';
    if (has(rec, 'event_type', 'event_time')) return 'records have event_type and event_time (Amplitude Export API)';
    return undefined;
  },
  detectCsv: (keys) => {
    if (keys.has('amplitude_id')) return 'column amplitude_id (an Amplitude export)';
    if (keys.has('event_type') && keys.has('event_time')) return 'columns event_type and event_time (an Amplitude export)';
    return undefined;
  },
};
