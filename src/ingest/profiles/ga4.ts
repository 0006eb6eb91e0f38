/**
 * Google Analytics 4's BigQuery export (NDJSON with nested records) or a CSV flattening of it.
 * Schema from Google's "BigQuery Export schema": `event_timestamp` in microseconds (a number, or
 * the string BigQuery writes), `user_pseudo_id` (the browser/app instance), `user_id` when the
 * site sets one, `event_params[]` of {key, value{string_value, int_value, …}}, `geo{}`,
 * `device{}`. GA4 exports no email and no IP.
 */
import { has, type Profile } from './profile.js';

export const ga4: Profile = {
  name: 'ga4',
  vendor: 'Google Analytics',
  containers: 'BigQuery export NDJSON (gzip or not), flattened CSV',
  csv: true,
  fields: {
    event: ['event_name'],
    distinct_id: ['user_id', 'user_pseudo_id'],
    user_id: ['user_id'],
    email: ['user_properties.email'],
    org_id: ['user_properties.org_id', 'user_properties.organization_id', 'event_params.org_id'],
    city: ['geo.city'],
    region: ['geo.region'],
    country: ['geo.country'],
    os: ['device.operating_system', 'device.operating_system_version'],
    browser: ['device.web_info.browser', 'device.web_info.browser_version', 'device.browser'],
    model: ['device.mobile_model_name', 'device.mobile_brand_name', 'device.category'],
    referrer: ['event_params.page_referrer', 'param_page_referrer', 'traffic_source.source'],
    url: ['event_params.page_location', 'param_page_location'],
    time: ['event_timestamp'],
    linked_ids: ['user_pseudo_id'],
  },
  detectJson: (rec) => (has(rec, 'event_timestamp') && (has(rec, 'user_pseudo_id') || has(rec, 'event_params')) ? 'records have event_timestamp and user_pseudo_id/event_params (GA4 BigQuery export)' : undefined),
  detectCsv: (keys) => (keys.has('event_timestamp') && (keys.has('user_pseudo_id') || [...keys].some((k) => k.startsWith('event_params') || k.startsWith('param_'))) ? 'columns event_timestamp and user_pseudo_id (a GA4 BigQuery flattening)' : undefined),
};
