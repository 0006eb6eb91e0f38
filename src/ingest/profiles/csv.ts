/**
 * Any other CSV with a header row (a UI export, a users export): the common header names, compared
 * case-insensitively with or without a leading `$`. A bare `name` column is a person's name unless
 * the file also has an event column, where it may be the event's and is never claimed.
 */
import type { FieldTable, Profile } from './profile.js';

const FIELDS: FieldTable = {
  record_id: ['$insert_id', 'insert_id'],
  event: ['event', 'event_name'],
  distinct_id: ['distinct_id', '$distinct_id'],
  user_id: ['$user_id', 'user_id'],
  device_id: ['$device_id', 'device_id'],
  email: ['$email', 'email'],
  name: ['$name', 'name'],
  first_name: ['$first_name', 'first_name'],
  last_name: ['$last_name', 'last_name'],
  org_id: ['org_id', 'organization_id'],
  city: ['$city'],
  region: ['$region'],
  country: ['mp_country_code', '$country_code', 'country', 'country_code'],
  os: ['$os'],
  browser: ['$browser', '$browser_version'],
  model: ['$model', '$device'],
  referrer: ['$referrer', '$referring_domain', '$initial_referrer', '$initial_referring_domain'],
  url: ['$current_url', 'current_url', 'url'],
  ip: ['ip', '$ip'],
  time: ['time', '$last_seen', 'last_seen', 'timestamp'],
  linked_ids: ['$identified_id', '$anon_id', '$distinct_id_before_identity', 'mp_original_distinct_id'],
};

export const csv: Profile = {
  name: 'csv',
  vendor: '',
  containers: 'CSV with a header row',
  csv: true,
  fields: FIELDS,
  variants: { events: { name: ['$name'] } },
  csvVariant: (keys) => (keys.has('event') || keys.has('event_name') || keys.has('event_type') ? 'events' : undefined),
};
