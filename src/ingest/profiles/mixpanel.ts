/**
 * Mixpanel: the Raw Event Export, the Engage (people) export, and Mixpanel data as ETL tools and
 * Data Pipelines deliver it. Field names from Mixpanel's reserved properties (docs: "Default
 * Properties", "Raw Event Export API", "Engage API", "Identity Merge"); the ETL renames from the
 * Airbyte and Fivetran Mixpanel connectors' schemas and the Data Pipelines JSON schema.
 */
import { has, isObject, type FieldTable, type Profile } from './profile.js';

const LINKED = ['$identified_id', '$anon_id', '$distinct_ids', '$distinct_id_before_identity', 'mp_original_distinct_id'];

/** Mixpanel's own names: event properties (`properties`) and profile properties (`$properties`). */
const EVENTS: FieldTable = {
  record_id: ['$insert_id'],
  event: ['event'],
  distinct_id: ['distinct_id', '$distinct_id'],
  user_id: ['$user_id', 'user_id'],
  device_id: ['$device_id', 'device_id'],
  email: ['$email', 'email'],
  // a bare `name` on an event is a property of the event, not the person's name
  name: ['$name'],
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
  linked_ids: LINKED,
};

const PEOPLE: FieldTable = { ...EVENTS, name: ['$name', 'name'], time: ['$last_seen', 'time'] };

const ROOTS = ['properties', '$properties', ''];

function isPeople(rec: Record<string, unknown>): boolean {
  return !has(rec, 'event') && (has(rec, '$distinct_id') || isObject(rec.$properties));
}

export const mixpanelEvents: Profile = {
  name: 'mixpanel-events',
  vendor: 'Mixpanel',
  containers: 'NDJSON or a JSON array of {event, properties}, gzip or not',
  csv: false,
  roots: ROOTS,
  fields: EVENTS,
  variants: { people: PEOPLE },
  variantOf: (rec) => (isPeople(rec) ? 'people' : undefined),
  detectJson: (rec) => (has(rec, 'event') && isObject(rec.properties) ? 'records are {event, properties} (Mixpanel Raw Event Export)' : undefined),
};

export const mixpanelPeople: Profile = {
  name: 'mixpanel-people',
  vendor: 'Mixpanel',
  containers: 'JSON array, NDJSON or {"results": [...]} pages of {$distinct_id, $properties}, or a people CSV',
  csv: true,
  roots: ROOTS,
  fields: PEOPLE,
  variants: { events: EVENTS },
  variantOf: (rec) => (has(rec, 'event') ? 'events' : undefined),
  detectJson: (rec) => (isPeople(rec) ? 'records are {$distinct_id, $properties} (Mixpanel Engage export)' : undefined),
  detectCsv: (keys) => (keys.has('distinct_id') && keys.has('last_seen') && !keys.has('event') ? 'columns $distinct_id and $last_seen (Mixpanel people CSV)' : undefined),
};

/**
 * ETL copies strip the `$` (`$browser` → `browser`), prefix some keys with `mp_`, stringify values
 * and write times as ISO text. Airbyte wraps each record as {stream, data}; Fivetran flattens
 * properties into columns and keeps a `properties` JSON column; Data Pipelines write
 * {event_name, distinct_id, time, insert_id, device_id, user_id, properties}.
 */
const ETL_EVENTS: FieldTable = {
  record_id: ['insert_id', '$insert_id', 'mp_insert_id'],
  event: ['event', 'event_name', 'name'],
  distinct_id: ['distinct_id', '$distinct_id', 'mp_distinct_id'],
  user_id: ['user_id', '$user_id', 'mp_user_id'],
  device_id: ['device_id', '$device_id', 'mp_device_id'],
  email: ['email', '$email', 'mp_email'],
  // `name` may be the event's (Fivetran's column) or a stripped `$name`: never claimed
  name: ['$name', 'mp_name'],
  first_name: ['first_name', '$first_name'],
  last_name: ['last_name', '$last_name'],
  org_id: ['org_id', 'organization_id'],
  city: ['city', '$city', 'mp_city'],
  region: ['region', '$region', 'mp_region'],
  country: ['mp_country_code', 'country_code', '$country_code', 'country'],
  os: ['os', '$os', 'mp_os'],
  browser: ['browser', '$browser', 'browser_version', '$browser_version'],
  model: ['model', '$model', 'device', '$device'],
  referrer: ['referrer', '$referrer', 'referring_domain', '$referring_domain', 'initial_referrer', '$initial_referrer', 'initial_referring_domain', '$initial_referring_domain'],
  url: ['current_url', '$current_url'],
  ip: ['ip', '$ip'],
  time: ['time', 'mp_processing_time_ms', 'last_seen', '$last_seen'],
  linked_ids: ['identified_id', '$identified_id', 'anon_id', '$anon_id', 'distinct_ids', '$distinct_ids', 'distinct_id_before_identity', '$distinct_id_before_identity', 'mp_original_distinct_id'],
};

const ETL_PEOPLE: FieldTable = { ...ETL_EVENTS, event: [], name: ['name', '$name', 'mp_name'], time: ['last_seen', '$last_seen', 'time'] };

/** Airbyte streams that hold people or their events; every other stream (funnels, annotations, …) holds none. */
const PERSON_STREAMS = new Set(['export', 'engage', 'cohort_members']);
const PEOPLE_STREAMS = new Set(['engage', 'cohort_members']);

const ETL_MARKS = ['mp_api_endpoint', 'mp_processing_time_ms', 'mp_lib', 'insert_id', 'mp_api_timestamp_ms'];

export const mixpanelEtl: Profile = {
  name: 'mixpanel-etl',
  vendor: 'Mixpanel',
  containers: 'Airbyte {stream, data} NDJSON, Fivetran CSV with a properties column, Data Pipelines JSON',
  csv: true,
  roots: ['data.properties', 'data', 'properties', ''],
  fields: ETL_EVENTS,
  variants: { people: ETL_PEOPLE },
  variantOf: (rec) => {
    const stream = rec.stream;
    if (typeof stream === 'string') return PEOPLE_STREAMS.has(stream) ? 'people' : undefined;
    return isPeople(rec) ? 'people' : undefined;
  },
  // Fivetran's people table has last_seen and no event time; its event table's `name` is the event's
  csvVariant: (keys) => (keys.has('last_seen') && !keys.has('time') && !keys.has('event') && !keys.has('event_name') ? 'people' : undefined),
  skip: (rec) => (typeof rec.stream === 'string' && !PERSON_STREAMS.has(rec.stream) ? 'not_a_person_record' : undefined),
  detectJson: (rec) => {
    if (typeof rec.stream === 'string' && isObject(rec.data)) return 'records are {stream, data} envelopes (an Airbyte-style Mixpanel copy)';
    if (has(rec, 'event_name') && (has(rec, 'insert_id') || has(rec, 'distinct_id')) && !has(rec, 'event_params')) return 'records have event_name and insert_id (Mixpanel Data Pipelines JSON)';
    // flattened and stripped: Mixpanel's keys, none of them with its `$`
    const props = isObject(rec.properties) ? rec.properties : rec;
    if (!has(rec, 'distinct_id') && !has(props, 'distinct_id')) return undefined;
    if (Object.keys(props).some((k) => k.startsWith('$'))) return undefined;
    const mark = ETL_MARKS.find((k) => Object.hasOwn(props, k));
    return mark !== undefined ? `Mixpanel keys without their $ (${mark})` : undefined;
  },
  detectCsv: (keys) => {
    if (keys.has('properties') && keys.has('distinct_id')) return 'columns distinct_id and a properties JSON column (a Fivetran-style Mixpanel copy)';
    const mark = ETL_MARKS.find((k) => k.startsWith('mp_') && keys.has(k));
    if (keys.has('distinct_id') && mark !== undefined) return `Mixpanel columns without their $ (${mark}: an ETL copy)`;
    return undefined;
  },
};
