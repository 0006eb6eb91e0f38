#!/usr/bin/env node
/**
 * Builds the binary vendor fixtures under fixtures/vendors/ that cannot be written by hand:
 *
 * - amplitude/export.zip: an Amplitude Export API response (a ZIP of gzipped NDJSON members named
 *   `{project}/{project}_{YYYY-MM-DD}_{H}#{n}.json.gz`), with its members deliberately stored out of
 *   name order, so a reader that follows the archive's own order instead of name order shows up.
 * - segment/s3-log.gz: one Segment S3 destination log object (gzipped NDJSON of raw calls).
 *
 * The output is reproducible: fixed member times, members stored (not re-deflated) in the ZIP, and
 * gzip streams written by zlib at a fixed level with no file name or time in the header. The
 * records are spelled out below; fixtures/vendors/EXPECTED.md derives what a reader must report.
 *
 * Usage: node scripts/make-vendor-fixtures.mjs   (writes into fixtures/vendors/)
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'vendors');
const MTIME = new Date('2025-11-13T00:00:00Z');
const PROJECT = '187520';

const gzip = (text) => gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
const ndjson = (records) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** One Amplitude Export API event with the fields the export documents; `over` replaces or adds. */
function amp(over) {
  const base = {
    $insert_id: null,
    $schema: 12,
    amplitude_id: null,
    app: Number(PROJECT),
    city: null,
    client_event_time: null,
    client_upload_time: null,
    country: null,
    data: {},
    device_id: null,
    device_model: null,
    dma: null,
    event_id: 1,
    event_properties: {},
    event_time: null,
    event_type: 'Page View',
    groups: {},
    ip_address: null,
    language: 'English',
    library: 'amplitude-ts/2.11.0',
    os_name: null,
    os_version: null,
    platform: null,
    processed_time: null,
    region: null,
    server_received_time: null,
    server_upload_time: null,
    session_id: -1,
    user_id: null,
    user_properties: {},
    uuid: null,
  };
  const e = { ...base, ...over };
  if (e.$insert_id === null) e.$insert_id = e.uuid;
  // The export's other times follow event_time; an event without one has none of them.
  for (const k of ['client_event_time', 'client_upload_time', 'server_received_time', 'server_upload_time', 'processed_time']) {
    if (e[k] === null && e.event_time !== null && !('noTimes' in over)) e[k] = e.event_time;
  }
  delete e.noTimes;
  return e;
}

// Member A: hour 9 of 2025-11-03, first file.
const memberA = [
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a001', amplitude_id: 100001, user_id: 'user-alice', device_id: 'd-alice-0001',
    event_time: '2025-11-03 09:15:32.458000', city: 'Lisbon', region: 'Lisbon', country: 'Portugal', ip_address: '203.0.113.10',
    platform: 'Web', os_name: 'Chrome', os_version: '142', session_id: 1762161000000,
    user_properties: { email: 'alice@example.com', initial_referrer: 'https://news.example.org/', initial_referring_domain: 'news.example.org' },
    event_properties: { '[Amplitude] Page URL': 'https://app.example.com/dashboard', '[Amplitude] Page Title': 'Dashboard' },
  }),
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a002', amplitude_id: 100002, device_id: 'd-bob-0002', event_type: 'Sign Up',
    event_time: '2025-11-03 09:20:00.000000', platform: 'Web', os_name: 'Firefox', os_version: '144',
    user_properties: { email: ' Bob@Example.COM ' },
  }),
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a003', amplitude_id: 100004, user_id: 'user-dave', device_id: 'd-dave-0004', event_type: 'Login',
    event_time: '2025-11-03 09:30:00.123456', city: 'Austin', region: 'Texas', country: 'United States',
  }),
  // Dave before logging in: the same amplitude_id, device only.
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a004', amplitude_id: 100004, device_id: 'd-dave-0004',
    event_time: '2025-11-03 09:05:12.000000',
    event_properties: { '[Amplitude] Page Location': 'https://www.example.com/pricing' },
  }),
  // Uploaded on 2025-11-03 (hence in this file) but it happened in October: filtered.
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a005', amplitude_id: 100001, user_id: 'user-alice', device_id: 'd-alice-0001',
    event_time: '2025-10-28 09:00:00.000000', server_upload_time: '2025-11-03 09:40:00.000000', city: 'Lisbon', country: 'Portugal',
  }),
];

// Member B: hour 9, second file.
const memberB = [
  memberA[0], // re-delivered: the same uuid, event, amplitude_id and time, a duplicate
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a006', amplitude_id: 100005, user_id: 'user-erin', device_id: 'd-erin-0005', event_type: 'Login',
    event_time: '2025-11-03 09:45:00.000000', platform: 'iOS', os_name: 'ios', os_version: '18.1', device_model: 'iPhone 15',
  }),
  // Erin's phone before it was merged into her amplitude_id: another amplitude_id, same device.
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a007', amplitude_id: 100055, device_id: 'd-erin-0005',
    event_time: '2025-11-03 09:10:00.000000', city: 'Amsterdam', region: 'North Holland', country: 'Netherlands',
  }),
];

// Member C: hour 10 of 2025-11-03 (sorts before hour 9 by name: "…_10#0" < "…_9#0").
const memberC = [
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a008', amplitude_id: 100006, device_id: 'd-shared-0006', event_type: 'Sign Up',
    event_time: '2025-11-03 10:05:00.000000', user_properties: { email: 'shared@example.com' },
  }),
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a009', amplitude_id: 100007, device_id: 'd-zed-0007',
    event_time: '2025-11-03 10:10:00.000000',
    user_properties: { email: 'zed@example.org', org_id: 'org-hooli' }, groups: { org_id: ['org-hooli'] },
  }),
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a010', amplitude_id: 100008, device_id: 'd-ghost-0008',
    event_time: '2025-11-03 10:20:00.000000', city: 'Toronto', region: 'Ontario', country: 'Canada', ip_address: '198.51.100.23',
  }),
  // No amplitude_id, user_id, device_id or email: rejected as no_identity.
  amp({ uuid: '5f0c1a00-0000-4000-8000-00000000a011', event_time: '2025-11-03 10:25:00.000000', platform: 'Web', os_name: 'Chrome' }),
  amp({
    uuid: '5f0c1a00-0000-4000-8000-00000000a012', amplitude_id: 100001, user_id: 'user-alice', device_id: 'd-alice-0001', event_type: 'OAuth Callback',
    event_time: '2025-11-03 10:40:00.000000',
    event_properties: { '[Amplitude] Page URL': 'https://app.example.com/oauth/callback?code=abc123&access_token=ya29.EXAMPLE-token-value' },
  }),
  // The same uuid as a001 an hour later: another event, accepted.
  { ...memberA[0], event_time: '2025-11-03 10:15:32.458000', client_event_time: '2025-11-03 10:15:32.458000', server_upload_time: '2025-11-03 10:15:33.000000' },
];

// Member D: 2025-11-10 hour 11; one event with no time at all.
const memberD = [
  amp({ uuid: '5f0c1a00-0000-4000-8000-00000000a013', amplitude_id: 100001, user_id: 'user-alice', device_id: 'd-alice-0001', noTimes: true }),
];

const member = (day, hour, n) => `${PROJECT}/${PROJECT}_${day}_${hour}#${n}.json.gz`;
// Stored in this order on purpose: D, C, A, B. Name order is C, A, B, D.
const entries = [
  [member('2025-11-10', 11, 0), memberD],
  [member('2025-11-03', 10, 0), memberC],
  [member('2025-11-03', 9, 0), memberA],
  [member('2025-11-03', 9, 1), memberB],
];

function writeZip(path, members) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const [name, records] of members) {
      zip.addBuffer(gzip(ndjson(records)), name, { mtime: MTIME, mode: 0o100644, compress: false });
    }
    zip.end();
    zip.outputStream.pipe(createWriteStream(path)).on('close', resolve).on('error', reject);
  });
}

// Segment S3 destination: one log object of raw calls, as delivered (gzipped NDJSON).
const segmentLog = [
  {
    type: 'track', event: 'Dashboard Viewed', messageId: 's3-0001', userId: 'user-alice', anonymousId: 'a1a1a1a1-0000-4000-8000-000000000001',
    timestamp: '2025-11-03T09:15:00.000Z', receivedAt: '2025-11-03T09:15:01.204Z', sentAt: '2025-11-03T09:15:00.950Z',
    context: { ip: '203.0.113.10', library: { name: 'analytics.js', version: 'next-1.74.0' } }, properties: {},
  },
  {
    type: 'identify', messageId: 's3-0002', anonymousId: 'b0b0b0b0-0000-4000-8000-000000000b0b',
    timestamp: '2025-11-06T12:00:00.000Z', receivedAt: '2025-11-06T12:00:00.812Z',
    traits: { email: 'bob@example.com' }, context: { library: { name: 'analytics.js', version: 'next-1.74.0' } },
  },
  {
    type: 'page', name: 'Docs', messageId: 's3-0003', anonymousId: '9b0f7c3e-0000-4000-8000-0000000f7c3e',
    timestamp: '2025-11-07T16:45:00.000Z', receivedAt: '2025-11-07T16:45:00.377Z',
    context: { page: { url: 'https://www.example.com/docs', referrer: 'https://search.example.net/?q=example', path: '/docs', title: 'Docs' } },
    properties: { url: 'https://www.example.com/docs' },
  },
  // Only receivedAt carries a time.
  {
    type: 'track', event: 'Report Exported', messageId: 's3-0004', userId: 'user-dave',
    receivedAt: '2025-11-07T16:45:00.000Z', context: { location: { city: 'Austin', region: 'Texas', country: 'United States' } }, properties: {},
  },
];
// Re-delivered by Segment: the same call again.
segmentLog.push(segmentLog[0]);

await writeZip(join(root, 'amplitude', 'export.zip'), entries);
writeFileSync(join(root, 'segment', 's3-log.gz'), gzip(ndjson(segmentLog)));
process.stderr.write('wrote amplitude/export.zip and segment/s3-log.gz under fixtures/vendors/\n');
