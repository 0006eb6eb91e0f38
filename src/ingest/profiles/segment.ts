/**
 * Segment: calls as JSON, NDJSON or the S3 destination's gzipped logs (Segment Spec: common
 * fields, track, identify, page, screen, group, alias). `userId`, else `anonymousId`, keys the
 * identity; `previousId` (alias) and `anonymousId` beside a `userId` are Segment's own links.
 * In a `group` call `traits` describe the group, not the person.
 */
import { has, type Profile } from './profile.js';

const TYPES = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias']);

export const segment: Profile = {
  name: 'segment',
  vendor: 'Segment',
  containers: 'JSON, NDJSON, gzipped S3 logs of track/identify/page/screen/group/alias calls',
  csv: false,
  fields: {
    record_id: ['messageId', 'message_id'],
    event: ['event', 'name', 'type'],
    distinct_id: ['userId', 'user_id', 'anonymousId', 'anonymous_id'],
    user_id: ['userId', 'user_id'],
    device_id: ['context.device.id'],
    email: ['traits.email', 'context.traits.email'],
    name: ['traits.name', 'context.traits.name'],
    first_name: ['traits.firstName', 'traits.first_name', 'context.traits.firstName', 'context.traits.first_name'],
    last_name: ['traits.lastName', 'traits.last_name', 'context.traits.lastName', 'context.traits.last_name'],
    org_id: ['groupId', 'group_id', 'context.groupId', 'traits.company.id', 'context.traits.company.id'],
    city: ['context.location.city', 'traits.address.city', 'context.traits.address.city'],
    region: ['context.location.region', 'traits.address.state', 'context.traits.address.state'],
    country: ['context.location.country', 'traits.address.country', 'context.traits.address.country'],
    os: ['context.os.name', 'context.os.version'],
    browser: ['context.userAgent'],
    model: ['context.device.model', 'context.device.manufacturer', 'context.device.type'],
    referrer: ['context.page.referrer', 'properties.referrer', 'context.referrer.link', 'context.referrer.url'],
    url: ['context.page.url', 'properties.url'],
    ip: ['context.ip'],
    time: ['timestamp', 'originalTimestamp', 'receivedAt', 'sentAt', 'received_at'],
    linked_ids: ['previousId', 'previous_id', 'anonymousId', 'anonymous_id'],
  },
  variants: {
    group: { email: ['context.traits.email'], name: ['context.traits.name'], first_name: ['context.traits.firstName'], last_name: ['context.traits.lastName'], org_id: ['groupId', 'group_id', 'context.groupId'], city: ['context.location.city'], region: ['context.location.region'], country: ['context.location.country'] },
  },
  variantOf: (rec) => (rec.type === 'group' ? 'group' : undefined),
  detectJson: (rec) => {
    if (typeof rec.type !== 'string' || !TYPES.has(rec.type)) return undefined;
    const id = ['messageId', 'anonymousId', 'userId', 'previousId'].find((k) => has(rec, k));
    return id !== undefined ? `records are Segment ${rec.type} calls (type, ${id})` : undefined;
  },
  detectCsv: (keys) => (keys.has('message_id') || keys.has('messageid')) && (keys.has('anonymous_id') || keys.has('anonymousid') || keys.has('user_id') || keys.has('userid')) ? 'columns message_id and anonymous_id/user_id (Segment)' : undefined,
};
