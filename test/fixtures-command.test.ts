/**
 * `breach-impact fixtures`: deterministic bytes, the requested sizes, every vendor's shape, the
 * internal database's shapes, and correlate runs over generated sets that reproduce exactly what
 * the generator says it planted.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import yauzl from 'yauzl';
import { describe, expect, it } from 'vitest';
import { explain, runCli, tempDir } from './helpers.js';

const SMALL = ['--users', '2000', '--orgs', '400', '--events', '20000'];
const TINY = ['--users', '300', '--orgs', '50', '--events', '3000'];
/** the digest (dbDigest) of TINY's database whatever the vendor, taken before --vendor existed */
const TINY_DB = 'd1853a22baa20e73ebdf209fddf721f7ffafdecf07fd099ad7410d100a61191e';
/** big enough for a malformed line (the 5,001st) and repeats in every vendor */
const SHAPE = ['--users', '2000', '--orgs', '400', '--events', '6000'];
const VENDORS = ['mixpanel-events', 'mixpanel-people', 'mixpanel-etl', 'amplitude', 'segment', 'posthog', 'ga4', 'csv'];
const FILES: Record<string, string> = {
  'mixpanel-events': 'events.ndjson',
  'mixpanel-people': 'people.ndjson',
  'mixpanel-etl': 'airbyte-mixpanel.jsonl',
  amplitude: 'amplitude-export.zip',
  segment: 'segment.ndjson',
  posthog: 'posthog-events.jsonl',
  ga4: 'ga4-events.ndjson',
  csv: 'events.csv',
};

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A digest of a database's schema and rows (not its file bytes, which name the SQLite version). */
function dbDigest(file: string): string {
  const db = new Database(file, { readonly: true });
  const h = createHash('sha256');
  for (const r of db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name').all()) h.update(JSON.stringify(r) + '\n');
  for (const t of ['users', 'orgs', 'memberships']) for (const r of db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).raw().all()) h.update(JSON.stringify(r) + '\n');
  db.close();
  return h.digest('hex');
}

/** Every member of a ZIP archive, name → bytes, in archive order. */
function unzip(file: string): Promise<[string, Buffer][]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out: [string, Buffer][] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const parts: Buffer[] = [];
          stream.on('data', (c: Buffer) => parts.push(c));
          stream.on('end', () => {
            out.push([entry.fileName, Buffer.concat(parts)]);
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** The export's lines (CSV: rows after the header), whatever its container. */
async function exportLines(out: string, file: string): Promise<string[]> {
  let text: string;
  if (file.endsWith('.zip')) text = (await unzip(join(out, file))).map(([, b]) => gunzipSync(b).toString('utf8')).join('');
  else text = readFileSync(join(out, file), 'utf8');
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  return file.endsWith('.csv') ? lines.slice(1) : lines;
}

function parsed(lines: string[]): unknown[] {
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

async function fixtures(args: string[]) {
  const out = join(tempDir(), 'fx');
  const r = await runCli(['fixtures', '--out', out, '--json', ...args]);
  expect(r.code, explain(r)).toBe(0);
  return { out, planted: JSON.parse(r.stdout), r };
}

describe('fixtures', () => {
  it('gives byte-identical files for the same arguments, and other bytes for another seed', async () => {
    const a = await fixtures(SMALL);
    const b = await fixtures(SMALL);
    const c = await fixtures([...SMALL, '--seed', '2']);
    expect(readdirSync(a.out).sort()).toEqual(['events.ndjson', 'internal.sqlite']);
    for (const f of ['events.ndjson', 'internal.sqlite']) {
      expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(true);
      expect(readFileSync(join(c.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(false);
      expect(statSync(join(a.out, f)).mode & 0o777, f).toBe(0o600);
    }
    expect(b.planted).toEqual(a.planted);
    expect(a.r.stderr).toBe('');
  });

  it('writes the requested counts, with every planted oddity', async () => {
    const { out, planted } = await fixtures(SMALL);
    const lines = readFileSync(join(out, 'events.ndjson'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(20000);
    expect(planted.lines).toBe(20000);
    const bad = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(bad.length).toBe(planted.malformed);
    expect(planted.malformed).toBe(2);
    const ids = lines.filter((l) => !bad.includes(l)).map((l) => JSON.parse(l).properties.$insert_id as string);
    expect(ids.length - new Set(ids).size).toBe(planted.duplicates);
    expect(planted.duplicates).toBeGreaterThan(0);
    expect(planted.secrets).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('"distinct_id":"$device:'))).toBe(true);
    expect(lines.some((l) => /"\$email":"\s+\S+@/.test(l))).toBe(true);

    const db = new Database(join(out, 'internal.sqlite'), { readonly: true });
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect(count('users')).toBe(2000);
    expect(count('orgs')).toBe(400);
    expect(count('memberships')).toBe(planted.memberships);
    const roles = db.prepare("SELECT org_id, sum(role IN ('owner', 'admin')) AS admins FROM memberships GROUP BY org_id").all() as { admins: number }[];
    expect(new Set(roles.map((r) => Math.min(r.admins, 3)))).toEqual(new Set([0, 1, 2, 3]));
    const multi = db.prepare('SELECT count(*) AS n FROM (SELECT user_id FROM memberships GROUP BY user_id HAVING count(*) > 1)').get() as { n: number };
    expect(multi.n).toBeGreaterThan(0);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index'").get()).toEqual({ n: 3 });
    db.close();
  });

  it('gzips the same export with --gzip', async () => {
    const plain = await fixtures(['--users', '300', '--orgs', '50', '--events', '3000']);
    const gz = await fixtures(['--users', '300', '--orgs', '50', '--events', '3000', '--gzip']);
    expect(readdirSync(gz.out).sort()).toEqual(['events.ndjson.gz', 'internal.sqlite']);
    expect(gunzipSync(readFileSync(join(gz.out, 'events.ndjson.gz'))).equals(readFileSync(join(plain.out, 'events.ndjson')))).toBe(true);
  });

  it('correlates to exactly what was planted', async () => {
    const { out, planted } = await fixtures(SMALL);
    const caseDir = join(tempDir(), 'case');
    const r = await runCli(['correlate', join(out, 'events.ndjson'), '--internal', join(out, 'internal.sqlite'), '--out', caseDir]);
    expect(r.code, explain(r)).toBe(0);
    const s = JSON.parse(readFileSync(join(caseDir, 'summary.json'), 'utf8'));
    const c = s.records;
    expect(c.read).toBe(c.accepted + c.rejected + c.filtered + c.duplicates);
    expect(c).toEqual({ read: planted.lines, accepted: planted.accepted, rejected: planted.malformed, filtered: 0, duplicates: planted.duplicates });
    expect(s.identities.vendor).toBe(planted.identities);
    expect(s.matched_by).toEqual(planted.matched_by);
    expect(s.unmatched_by_reason).toEqual(planted.unmatched_by_reason);
    // every rule but vendor_link (the default Mixpanel export plants no vendor links: see --vendor-links) has cases
    const { vendor_link: links, ...rules } = planted.matched_by as Record<string, number>;
    expect(links).toBe(0);
    for (const n of [...Object.values(rules), ...Object.values(planted.unmatched_by_reason)]) expect(n).toBeGreaterThan(0);
    expect(s.users).toBe(planted.affected_users);
    expect(s.orgs_without_admin).toBeGreaterThan(0);
    expect(s.exposed.secret).toBeGreaterThan(0);
    // Credentials planted in URLs are flagged, never stored.
    const tokens = readFileSync(join(out, 'events.ndjson'), 'utf8').match(/(?:access_token=|sk-proj-|password=)[A-Za-z0-9]{8,}/g) ?? [];
    expect(tokens.length).toBeGreaterThan(0);
    for (const f of readdirSync(caseDir)) {
      const text = readFileSync(join(caseDir, f)).toString('latin1');
      for (const t of tokens) expect(text.includes(t.split(/=|sk-proj-/)[1]), `${f} holds a planted credential`).toBe(false);
    }
    const rejected = readFileSync(join(caseDir, 'rejected.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rejected.map((l) => l.split(',').slice(1, 3).join(','))).toEqual(['5001,invalid_json', '15001,invalid_json']);
  });

  it('keeps the Mixpanel export of earlier versions by default (digests taken before --vendor existed)', async () => {
    const { out, planted } = await fixtures(SMALL);
    expect(sha256(join(out, 'events.ndjson'))).toBe('7f160bf1a96993873811bf9c24f7f2799594069e7e72b5252bca21d439a7bbe6');
    expect(dbDigest(join(out, 'internal.sqlite'))).toBe('b27764c5448894b9f34e102e7f4103b66199f453fb12902c861999f03df893c0');
    const explicit = await fixtures([...SMALL, '--vendor', 'mixpanel-events', '--id-style', 'integer']);
    expect(readFileSync(join(explicit.out, 'events.ndjson')).equals(readFileSync(join(out, 'events.ndjson')))).toBe(true);
    expect(planted).toMatchObject({
      vendor: 'mixpanel-events', lines: 20000, malformed: 2, duplicates: 205, accepted: 19793, secrets: 4, eventBytes: 9457912,
      memberships: 2587, identities: 857, vendor_links: false, affected_users: 460,
      matched_by: { user_id: 361, email: 59, distinct_id: 40, vendor_link: 0, device_link: 357 },
      unmatched_by_reason: { ambiguous_email: 3, no_match: 32, org_only: 5 },
    });
  });

  describe('gives every vendor byte-identical files for the same arguments, and other bytes for another seed', () => {
    for (const vendor of VENDORS) {
      it(vendor, async () => {
        const a = await fixtures([...TINY, '--vendor', vendor]);
        const b = await fixtures([...TINY, '--vendor', vendor]);
        const c = await fixtures([...TINY, '--vendor', vendor, '--seed', '2']);
        const file = FILES[vendor];
        expect(a.planted.files).toEqual({ events: file, internal: 'internal.sqlite' });
        expect(readdirSync(a.out).sort()).toEqual([file, 'internal.sqlite'].sort());
        expect(readFileSync(join(b.out, file)).equals(readFileSync(join(a.out, file)))).toBe(true);
        expect(readFileSync(join(c.out, file)).equals(readFileSync(join(a.out, file)))).toBe(false);
        expect(statSync(join(a.out, file)).mode & 0o777).toBe(0o600);
        expect(b.planted).toEqual(a.planted);
        // the same world: the database does not depend on the vendor
        expect(dbDigest(join(a.out, 'internal.sqlite'))).toBe(TINY_DB);
      });
    }
  });

  describe("renders each vendor's shape, with the planted malformed and repeated records", () => {
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;
    for (const vendor of VENDORS) {
      it(vendor, async () => {
        const { out, planted } = await fixtures([...SHAPE, '--vendor', vendor]);
        const lines = await exportLines(out, planted.files.events);
        expect(lines.length, vendor).toBe(planted.lines);
        expect(planted.malformed, vendor).toBeGreaterThan(0);
        if (vendor === 'csv') {
          expect(readFileSync(join(out, 'events.csv'), 'utf8')).toMatch(/^distinct_id,email,name,city,country,time,/);
          const rows = parse(lines.join('\n'), { relax_column_count: true }) as string[][];
          expect(rows.filter((r) => r.length < 15).length).toBe(planted.malformed);
          const ids = rows.filter((r) => r.length === 15).map((r) => r[14]);
          expect(ids.length - new Set(ids).size).toBe(planted.duplicates);
          expect(rows.every((r) => r.length < 15 || iso.test(r[5]))).toBe(true);
          return;
        }
        const recs = parsed(lines) as Record<string, any>[];
        expect(lines.length - recs.length, vendor).toBe(planted.malformed);
        const idOf: Record<string, ((r: Record<string, any>) => string) | undefined> = {
          'mixpanel-events': (r) => r.properties.$insert_id,
          'mixpanel-etl': (r) => r.data.insert_id,
          amplitude: (r) => r.uuid,
          segment: (r) => r.messageId,
          posthog: (r) => r.uuid,
        };
        const id = idOf[vendor];
        if (id !== undefined) {
          const ids = recs.map(id);
          expect(ids.length - new Set(ids).size, vendor).toBe(planted.duplicates);
          expect(planted.duplicates, vendor).toBeGreaterThan(0);
        } else expect(planted.duplicates, vendor).toBe(0);
        for (const r of recs) expect(shapeProblem(vendor, r, iso), `${vendor}: ${JSON.stringify(r)}`).toBe('');
      });
    }
  });

  it("builds Amplitude's archive: one gzipped NDJSON member an hour, named as the Export API names them", async () => {
    const { out } = await fixtures([...TINY, '--vendor', 'amplitude']);
    const members = await unzip(join(out, 'amplitude-export.zip'));
    expect(members.length).toBe(8 * 24);
    expect(members[0][0]).toBe('187520/187520_2025-11-01_0#0.json.gz');
    expect(members.at(-1)![0]).toBe('187520/187520_2025-11-08_23#0.json.gz');
    for (const [name, bytes] of members) {
      expect(name).toMatch(/^187520\/187520_2025-11-0\d_\d{1,2}#0\.json\.gz$/);
      expect(bytes[0] === 0x1f && bytes[1] === 0x8b, name).toBe(true);
    }
    const refused = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--vendor', 'amplitude', '--gzip']);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/--gzip does not apply to --vendor amplitude/);
  });

  describe('writes integer or text ids, with or without secondary indexes', () => {
    const shape = (out: string) => {
      const db = new Database(join(out, 'internal.sqlite'), { readonly: true });
      const types = Object.fromEntries(
        ['users', 'orgs', 'memberships'].map((t) => [t, Object.fromEntries((db.prepare(`PRAGMA table_info(${t})`).all() as { name: string; type: string }[]).map((c) => [c.name, c.type]))]),
      );
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      const users = db.prepare('SELECT id FROM users ORDER BY rowid LIMIT 3').pluck().all();
      const joined = db.prepare('SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id JOIN orgs o ON o.id = m.org_id').pluck().get();
      const members = db.prepare('SELECT count(*) FROM memberships').pluck().get();
      db.close();
      return { types, indexes, users, joined, members };
    };
    it('integer ids (the default)', async () => {
      const { out } = await fixtures(TINY);
      const int = shape(out);
      expect(dbDigest(join(out, 'internal.sqlite'))).toBe(TINY_DB);
      expect(int.types).toEqual({ users: { id: 'INTEGER', email: 'TEXT', name: 'TEXT' }, orgs: { id: 'INTEGER', name: 'TEXT' }, memberships: { user_id: 'INTEGER', org_id: 'INTEGER', role: 'TEXT' } });
      expect(int.indexes).toEqual(['memberships_org', 'memberships_user', 'users_email']);
      expect(int.users).toEqual([1, 2, 3]);
      expect(shape((await fixtures([...TINY, '--no-indexes'])).out).indexes).toEqual([]);
    });

    it('text ids', async () => {
      const text = await fixtures([...TINY, '--id-style', 'text']);
      const t = shape(text.out);
      expect(t.types).toEqual({ users: { id: 'TEXT', email: 'TEXT', name: 'TEXT' }, orgs: { id: 'TEXT', name: 'TEXT' }, memberships: { user_id: 'TEXT', org_id: 'TEXT', role: 'TEXT' } });
      expect(t.indexes).toEqual(['memberships_org', 'memberships_user', 'sqlite_autoindex_orgs_1', 'sqlite_autoindex_users_1', 'users_email']);
      for (const id of t.users) expect(id).toMatch(/^user-[0-9A-Za-z]{24}$/);
      expect(t.joined).toBe(t.members);
      // only the primary keys' own indexes are left
      const bare = await fixtures([...TINY, '--id-style', 'text', '--no-indexes']);
      expect(shape(bare.out).indexes).toEqual(['sqlite_autoindex_orgs_1', 'sqlite_autoindex_users_1']);
      expect(dbDigest(join(bare.out, 'internal.sqlite'))).not.toBe(dbDigest(join(text.out, 'internal.sqlite')));
      const events = readFileSync(join(text.out, 'events.ndjson'), 'utf8');
      expect(events).toMatch(/"\$user_id":"user-[0-9A-Za-z]{24}"/);
      expect(events).toMatch(/"org_id":"org-[0-9A-Za-z]{24}"/);
      expect(events).not.toMatch(/"\$user_id":"\d/);
      expect(text.planted.matched_by).toEqual((await fixtures(TINY)).planted.matched_by);
      const bad = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--id-style', 'uuid']);
      expect(bad.code, explain(bad)).toBe(2);
      expect(bad.stderr).toMatch(/--id-style uuid is not one of the choices/);
    });
  });

  describe('every vendor correlates to exactly what was planted', () => {
    // What each rendering cannot express, so planted as zero (see the README's fixtures section);
    // vendor_link too wherever no vendor link is planted.
    const ZERO: Record<string, string[]> = {
      'mixpanel-people': ['device_link'],
      amplitude: ['distinct_id', 'vendor_link'],
      ga4: ['email', 'distinct_id', 'device_link', 'ambiguous_email'],
    };
    const nonZero = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).filter(([, n]) => n !== 0));
    const cases: [string, string[]][] = [
      ...VENDORS.map((v): [string, string[]] => [v, ['--vendor', v]]),
      ['mixpanel-events with vendor links', ['--vendor', 'mixpanel-events', '--vendor-links']],
      ['segment with text ids and no indexes', ['--vendor', 'segment', '--id-style', 'text', '--no-indexes']],
      ['posthog without vendor links', ['--vendor', 'posthog', '--no-vendor-links']],
    ];
    for (const [label, args] of cases) {
      it(label, async () => {
        const { out, planted } = await fixtures([...SMALL, ...args]);
        const caseDir = join(tempDir(), 'case');
        const r = await runCli(['correlate', join(out, planted.files.events), '--internal', join(out, 'internal.sqlite'), '--vendor', planted.vendor, '--out', caseDir]);
        expect(r.code, explain(r)).toBe(0);
        const s = JSON.parse(readFileSync(join(caseDir, 'summary.json'), 'utf8'));
        expect(s.records).toEqual({ read: planted.lines, accepted: planted.accepted, rejected: planted.malformed, filtered: 0, duplicates: planted.duplicates });
        expect(s.identities.vendor).toBe(planted.identities);
        expect(s.matched_by).toEqual(planted.matched_by);
        expect(nonZero(s.unmatched_by_reason)).toEqual(nonZero(planted.unmatched_by_reason));
        expect(s.users).toBe(planted.affected_users);
        const zero = [...(ZERO[planted.vendor] ?? []), ...(planted.vendor_links ? [] : ['vendor_link'])];
        const counts = { ...planted.matched_by, ...planted.unmatched_by_reason };
        for (const [k, n] of Object.entries(counts)) expect(n === 0, `${label}: ${k} ${n}`).toBe(zero.includes(k));
      });
    }
  });

  it('refuses sizes that are not counts, and has an example in --help', async () => {
    const r = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--users', 'many']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/--users many is not a whole number/);
    const z = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--orgs', '0']);
    expect(z.code, explain(z)).toBe(2);
    const h = await runCli(['fixtures', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Example:\n {2}breach-impact fixtures --out/);
  });
});

/** What is missing from one vendor record, per the shape SPEC.md "Inputs" gives it ('' when nothing). */
function shapeProblem(vendor: string, r: Record<string, any>, iso: RegExp): string {
  const need = (ok: boolean, what: string) => (ok ? '' : what);
  switch (vendor) {
    case 'mixpanel-events':
      return need(typeof r.event === 'string' && Number.isInteger(r.properties.time) && typeof r.properties.distinct_id === 'string', 'event, properties.time, distinct_id');
    case 'mixpanel-people':
      return need(r.$distinct_id !== undefined && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(r.$properties.$last_seen) && typeof r.$properties.$country_code === 'string', '$distinct_id, $properties.$last_seen');
    case 'mixpanel-etl':
      return (
        need(r.stream === 'export' && iso.test(r.data.time), 'stream export, ISO time') ||
        need(Object.keys(r.data).every((k) => !k.startsWith('$')), 'no $ keys') ||
        need(Object.values(r.data).every((v) => typeof v === 'string'), 'values as text')
      );
    case 'amplitude':
      return (
        need(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/.test(r.event_time), 'event_time') ||
        need(['user_id', 'device_id', 'amplitude_id', 'event_type', 'uuid', 'city', 'region', 'country', 'ip_address', 'os_name', 'user_properties', 'event_properties'].every((k) => k in r), 'fields') ||
        need(r.country.length > 2, 'full country name')
      );
    case 'segment':
      return (
        need(['track', 'identify', 'page'].includes(r.type) && typeof r.messageId === 'string' && iso.test(r.timestamp), 'type, messageId, timestamp') ||
        need(r.userId !== undefined || r.anonymousId !== undefined, 'userId or anonymousId') ||
        need(typeof r.context.ip === 'string' && typeof r.context.location.city === 'string' && typeof r.context.page.url === 'string' && typeof r.context.device.id === 'string' && typeof r.context.os.name === 'string', 'context')
      );
    case 'posthog':
      return (
        need(['uuid', 'event', 'distinct_id', 'person_id'].every((k) => typeof r[k] === 'string') && iso.test(r.timestamp), 'uuid, event, distinct_id, person_id, timestamp') ||
        need(['$geoip_city_name', '$geoip_subdivision_1_name', '$geoip_country_code', '$os', '$browser', '$device_id', '$current_url', '$referrer', '$ip'].every((k) => k in r.properties), 'properties') ||
        need(typeof r.person_properties === 'object', 'person_properties')
      );
    case 'ga4':
      return (
        need(/^\d{16}$/.test(r.event_timestamp) && typeof r.event_name === 'string' && typeof r.user_pseudo_id === 'string', 'event_timestamp µs, event_name, user_pseudo_id') ||
        need(r.event_params.some((p: any) => p.key === 'page_location' && typeof p.value.string_value === 'string'), 'page_location') ||
        need(typeof r.geo.city === 'string' && typeof r.device.operating_system === 'string' && typeof r.device.web_info.browser === 'string', 'geo, device') ||
        need(!/@[\w.-]+\.example"/.test(JSON.stringify(r)), 'no email')
      );
    default:
      return `no shape for ${vendor}`;
  }
}
