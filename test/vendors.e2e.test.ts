/**
 * Every vendor profile on its hand-made fixtures (fixtures/vendors, see its EXPECTED.md): the real
 * binary correlates each file alone against fixtures/vendors/internal.sql, every list compared
 * whole with golden files (UPDATE_GOLDEN=1 rewrites them); detection, inspect's agreement with
 * correlate, and the rules that keep an unreadable delivery from passing silently.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectGolden, explain, readCase, ROOT, runCli, tempDir } from './helpers.js';

const VENDORS = join('fixtures', 'vendors');
const INTERNAL = join(VENDORS, 'internal.sql');
const WINDOW = ['--since', '2025-11-01', '--until', '2025-12-01'];
const GOLDEN = join(ROOT, 'test', 'golden', 'vendors');

/** [file under fixtures/vendors, the profile it must be detected as, exit code, summary counts] */
const CASES: [string, string, { read: number; accepted: number; rejected: number; filtered: number; duplicates: number }, [number, number, number, number, number]][] = [
  ['mixpanel-events/events.ndjson', 'mixpanel-events', { read: 19, accepted: 15, rejected: 2, filtered: 1, duplicates: 1 }, [11, 8, 6, 4, 4]],
  ['mixpanel-events/merge-and-shard.json', 'mixpanel-events', { read: 5, accepted: 5, rejected: 0, filtered: 0, duplicates: 0 }, [4, 4, 2, 2, 2]],
  ['mixpanel-people/engage-page.json', 'mixpanel-people', { read: 12, accepted: 9, rejected: 2, filtered: 1, duplicates: 0 }, [8, 5, 5, 3, 4]],
  ['mixpanel-people/people.ndjson', 'mixpanel-people', { read: 5, accepted: 3, rejected: 2, filtered: 0, duplicates: 0 }, [3, 2, 2, 3, 3]],
  ['mixpanel-etl/airbyte.ndjson', 'mixpanel-etl', { read: 19, accepted: 13, rejected: 4, filtered: 1, duplicates: 1 }, [11, 8, 6, 4, 4]],
  ['mixpanel-etl/fivetran-event.csv', 'mixpanel-etl', { read: 17, accepted: 13, rejected: 2, filtered: 1, duplicates: 1 }, [10, 7, 5, 4, 4]],
  ['mixpanel-etl/pipelines-events.json', 'mixpanel-etl', { read: 16, accepted: 12, rejected: 2, filtered: 1, duplicates: 1 }, [10, 7, 5, 4, 4]],
  ['amplitude/export.zip', 'amplitude', { read: 15, accepted: 12, rejected: 1, filtered: 1, duplicates: 1 }, [8, 5, 4, 4, 4]],
  ['amplitude/events.ndjson', 'amplitude', { read: 8, accepted: 6, rejected: 2, filtered: 0, duplicates: 0 }, [6, 4, 3, 2, 2]],
  ['amplitude/events.csv', 'amplitude', { read: 14, accepted: 10, rejected: 2, filtered: 1, duplicates: 1 }, [7, 5, 4, 3, 3]],
  ['segment/calls.ndjson', 'segment', { read: 19, accepted: 15, rejected: 2, filtered: 1, duplicates: 1 }, [12, 9, 6, 4, 4]],
  ['segment/s3-log.gz', 'segment', { read: 5, accepted: 4, rejected: 0, filtered: 0, duplicates: 1 }, [4, 3, 3, 2, 3]],
  ['segment/batch.json', 'segment', { read: 4, accepted: 3, rejected: 0, filtered: 1, duplicates: 0 }, [3, 2, 1, 1, 1]],
  ['posthog/events.jsonl', 'posthog', { read: 17, accepted: 13, rejected: 2, filtered: 1, duplicates: 1 }, [10, 7, 5, 4, 4]],
  ['posthog/events.csv', 'posthog', { read: 8, accepted: 4, rejected: 2, filtered: 1, duplicates: 1 }, [4, 2, 2, 2, 3]],
  ['posthog/persons.jsonl', 'posthog', { read: 7, accepted: 6, rejected: 1, filtered: 0, duplicates: 0 }, [6, 4, 3, 3, 3]],
  ['ga4/events.ndjson', 'ga4', { read: 13, accepted: 10, rejected: 2, filtered: 1, duplicates: 0 }, [7, 4, 3, 3, 4]],
  ['ga4/events-flat.csv', 'ga4', { read: 7, accepted: 4, rejected: 2, filtered: 1, duplicates: 0 }, [4, 3, 2, 2, 3]],
];

interface Summary {
  records: Record<string, number>;
  identities: { vendor: number; matched: number; unmatched: number };
  users: number;
  orgs: number;
  roster: number;
  matched_by: Record<string, number>;
  vendor_name: string;
  files: { profile: string; usable: boolean }[];
}

function golden(dir: string, name: string, actual: string): void {
  expectGolden(join(GOLDEN, dir), name, actual);
}

async function correlate(file: string, extra: string[] = []) {
  const out = join(tempDir(), 'case');
  const r = await runCli(['correlate', join(VENDORS, file), '--internal', INTERNAL, '--out', out, ...extra]);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  return { r, out, summary };
}

function exposedIn(out: string, list: string): Set<string> {
  const [header, ...rows] = readFileSync(join(out, list), 'utf8').trim().split('\n');
  const at = header.split(',').indexOf('exposed');
  // the fixtures' exposed cells hold no comma or quote: a plain split is exact here
  return new Set(rows.flatMap((r) => r.split(',')[at].split(';')).filter((c) => c !== ''));
}

describe.concurrent('vendor profiles on their fixtures', () => {
  for (const [file, profile, records, [identities, matched, users, orgs, roster]] of CASES) {
    it(`${file}: detected as ${profile}, every list as the golden files`, async () => {
      const { r, out, summary } = await correlate(file, WINDOW);
      expect(r.code, explain(r)).toBe(0);
      expect(summary.files[0].profile, explain(r)).toBe(profile);
      expect(summary.records, explain(r)).toEqual(records);
      expect([summary.identities.vendor, summary.identities.matched, summary.users, summary.orgs, summary.roster], explain(r)).toEqual([identities, matched, users, orgs, roster]);
      expect(Object.values(summary.matched_by).reduce((a, b) => a + b, 0)).toBe(summary.identities.matched);
      const dir = file.replace('/', '__');
      for (const [name, text] of Object.entries(readCase(out))) golden(dir, name, text);
      golden(dir, 'stderr.txt', r.stderr.replaceAll(join(VENDORS, file), '<file>'));
    });
  }

  for (const [file, profile] of CASES) {
    it(`${file}: inspect names the same profile and claims exactly the exposure correlate finds`, async () => {
      const i = await runCli(['inspect', '--json', join(VENDORS, file)]);
      expect(i.code, explain(i)).toBe(0);
      const f = JSON.parse(i.stdout).files[0] as { profile: string; profile_reason: string; keys: { exposure: string[] }[] };
      expect(f.profile).toBe(profile);
      expect(f.profile_reason).not.toBe('');
      // without a window every usable record is accepted or a duplicate of one
      const { r, out } = await correlate(file);
      expect(r.code, explain(r)).toBe(0);
      const claimed = new Set(f.keys.flatMap((k) => k.exposure));
      const found = new Set([...exposedIn(out, 'users.csv'), ...exposedIn(out, 'unmatched.csv')]);
      expect([...claimed].sort()).toEqual([...found].sort());
    });
  }

  it('names the vendor in notices from the profile, and --vendor-name overrides it', async () => {
    const { out, summary } = await correlate('segment/calls.ndjson', WINDOW);
    expect(summary.vendor_name).toBe('Segment');
    const mbox = await runCli(['report', 'users', '--case', out, '--format', 'mbox', '--from', 'security@example.com']);
    expect(mbox.code, explain(mbox)).toBe(0);
    expect(mbox.stdout).toContain('Subject: Security notice: data about you in a breach at Segment');
    expect(mbox.stdout).not.toContain('Mixpanel');
    const renamed = await runCli(['report', 'users', '--case', out, '--format', 'mbox', '--from', 'security@example.com', '--vendor-name', 'Twilio Segment']);
    expect(renamed.stdout).toContain('breach at Twilio Segment');
    const named = await correlate('ga4/events.ndjson', ['--vendor-name', 'Google']);
    expect(named.summary.vendor_name).toBe('Google');
  });
});

describe.concurrent('field paths: one resolver for correlate and inspect', () => {
  it('reads a field from JSON inside a CSV cell, and unmaps a field with FIELD=', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'events.csv'), 'name,distinct_id,time,properties\nSign Up,anon-1,2025-11-05T10:00:00Z,"{""user_id"":""user-alice"",""plan"":""pro""}"\n');
    const base = ['correlate', 'events.csv', '--internal', join(ROOT, INTERNAL), '--vendor', 'csv'];
    const plain = await runCli([...base, '--out', 'a', '--json'], { cwd: dir });
    expect(plain.code, explain(plain)).toBe(0);
    // a bare `name` beside an event column may be the event's: never claimed as the person's name
    expect(JSON.parse(plain.stdout)).toMatchObject({ users: 0, exposed: { name: 0 } });
    const mapped = await runCli([...base, '--out', 'b', '--json', '--column', 'user_id=properties.user_id'], { cwd: dir });
    expect(JSON.parse(mapped.stdout)).toMatchObject({ users: 1, matched_by: { user_id: 1 } });
    const i = await runCli(['inspect', '--json', 'events.csv', '--vendor', 'csv', '--column', 'user_id=properties.user_id'], { cwd: dir });
    const keys = JSON.parse(i.stdout).files[0].keys as { key: string; fields: string[] }[];
    expect(keys.find((k) => k.key === 'properties.user_id')?.fields).toEqual(['user_id']);
    expect(keys.find((k) => k.key === 'properties.plan')?.fields).toEqual([]);
    const unmapped = await runCli([...base, '--out', 'c', '--json', '--column', 'user_id=properties.user_id', '--column', 'distinct_id=', '--column', 'time='], { cwd: dir });
    expect(unmapped.code, explain(unmapped)).toBe(0);
    expect(JSON.parse(unmapped.stdout)).toMatchObject({ untimed: 1, identities: { vendor: 1 } });
    expect(readFileSync(join(dir, 'c', 'users.csv'), 'utf8')).toContain('user-alice');
  });

  it('reads a key holding dots through brackets', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.ndjson'), JSON.stringify({ event_type: 'view', event_time: '2025-11-05 10:00:00.000000', user_id: 'user-bob', event_properties: { 'page.url': 'https://app.example.com/x' } }) + '\n');
    const r = await runCli(['correlate', 'a.ndjson', '--internal', join(ROOT, INTERNAL), '--out', 'case', '--json', '--column', 'url=event_properties["page.url"]'], { cwd: dir });
    expect(r.code, explain(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ users: 1, exposed: { url: 1 }, files: [{ profile: 'amplitude' }] });
  });
});

describe.concurrent('nothing passes silently', () => {
  it('a file whose every record is rejected is named with its reasons and what to try: case written, exit 1', async () => {
    const { r, summary, out } = await correlate('segment/calls.ndjson', ['--vendor', 'ga4']);
    expect(r.code, explain(r)).toBe(1);
    expect(summary.files[0]).toMatchObject({ profile: 'ga4', usable: false });
    expect(r.stderr).toContain('calls.ndjson: none of its 19 records could be used (rejected: no_identity 18, invalid_json 1; read as ga4, because --vendor ga4): run breach-impact inspect');
    expect(readCase(out)['users.csv']).toBe('user_id,email,name,org_ids,matched_by,events,first_seen,last_seen,exposed,countries,regions\n');
  });

  it('the internal database passed as an export is said to be one, exit 1', async () => {
    const dir = tempDir();
    const mk = await runCli(['fixtures', '--out', dir, '--users', '5', '--orgs', '2', '--events', '10']);
    expect(mk.code, explain(mk)).toBe(0);
    const r = await runCli(['correlate', join(dir, 'internal.sqlite'), '--internal', join(dir, 'internal.sqlite'), '--out', join(dir, 'case')]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toMatch(/internal\.sqlite: this is a SQLite database, not a vendor export: nothing in it was read \(is it the internal database\? that goes after --internal\)/);
  });

  it('--since/--until over a file with no recognised time is a usage error naming --column time=', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'people.csv'), 'distinct_id,email,signed_up\nu1,alice@example.com,2025-11-02\n');
    const r = await runCli(['correlate', 'people.csv', '--internal', join(ROOT, INTERNAL), '--out', 'case', '--since', '2030-01-01'], { cwd: dir });
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain('people.csv: no record in it carries a time this tool recognises, so --since/--until cannot window it');
    expect(r.stderr).toContain('--column time=FIELD');
    const mapped = await runCli(['correlate', 'people.csv', '--internal', join(ROOT, INTERNAL), '--out', 'case', '--since', '2030-01-01', '--column', 'time=signed_up', '--json'], { cwd: dir });
    expect(mapped.code, explain(mapped)).toBe(0);
    expect(JSON.parse(mapped.stdout).records).toMatchObject({ read: 1, filtered: 1, accepted: 0 });
  });

  it('counts and warns about records without a time in a file that has times', async () => {
    const dir = tempDir();
    const ev = (p: object) => JSON.stringify({ event: 'x', properties: p });
    writeFileSync(join(dir, 'e.ndjson'), [ev({ distinct_id: 'a', time: 1762000000 }), ev({ distinct_id: 'b' }), ev({ distinct_id: 'c' })].join('\n') + '\n');
    const r = await runCli(['correlate', 'e.ndjson', '--internal', join(ROOT, INTERNAL), '--out', 'case', '--json', '--since', '2025-01-01'], { cwd: dir });
    expect(r.code, explain(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ untimed: 2, records: { accepted: 3 }, files: [{ untimed: 2, usable: true }] });
    expect(r.stderr).toBe('breach-impact: warning: e.ndjson: 2 accepted records carry no time this tool recognises: they are never filtered by --since/--until and add nothing to first/last seen (--column time=FIELD names the time field)\n');
  });

  it('the same $insert_id in two files at different times: the order of the files changes nothing', async () => {
    const dir = tempDir();
    const ev = (t: number, p: object) => JSON.stringify({ event: 'Login', properties: { distinct_id: 'user-alice', $insert_id: 'same', time: t, ...p } }) + '\n';
    writeFileSync(join(dir, 'one.ndjson'), ev(1762000000, { $email: 'alice@example.com' }));
    writeFileSync(join(dir, 'two.ndjson'), ev(1762003600, { $name: 'Alice', $referrer: 'https://r.example/', $os: 'Linux' }) + ev(1762000000, {}));
    const run = async (files: string[], out: string) => {
      const r = await runCli(['correlate', ...files, '--internal', join(ROOT, INTERNAL), '--out', out], { cwd: dir });
      expect(r.code, explain(r)).toBe(0);
      return readCase(join(dir, out));
    };
    const a = await run(['one.ndjson', 'two.ndjson'], 'a');
    const b = await run(['two.ndjson', 'one.ndjson'], 'b');
    expect(a['users.csv']).toBe(b['users.csv']);
    // two events (the third record repeats one); a repeat's fields were exported too, whichever copy came first
    expect(a['users.csv']).toContain(',2,2025-11-01T12:26:40Z,2025-11-01T13:26:40Z,name;email;device;referrer,');
    expect(JSON.parse(a['summary.json']).records).toMatchObject({ accepted: 2, duplicates: 1 });
  });
});
