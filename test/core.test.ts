/** Unit tests of the pure core: normalisation, time, classification, grouping, matching, impact. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAT, categoriesOf } from '../src/core/categories.js';
import { canonicalize, dedupeKey, type CanonicalField, type CanonicalRecord } from '../src/core/canonical.js';
import siphash24 from 'siphash24';
import { compareCodePoints, hashRecordId, IdentityGroups, RecordIdSet, type Identity } from '../src/core/identity.js';
import { MemorySink } from './model/sink.js';
import { buildImpact, contactOf, emailOf, handOver, nameOf, type AdminRows } from './model/impact.js';
import { forgetMatchingDetails, matchIdentities, unmatchedReason, type UserLookup } from './model/match.js';
import { formatTime, normalizeEmail, parseTime } from '../src/core/normalize.js';
import { looksLikeSecret } from '../src/core/secrets.js';
import { Tally } from '../src/core/tally.js';
import { KeyedRecords } from '../src/core/dedupe.js';
import { mergeIdentity, mergePacked, packParts, partIdentity, unpackParts } from '../src/core/stage.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJsonRecord, quoteLongNumbers } from '../src/ingest/json-record.js';
import { JsonPlans } from '../src/ingest/plan.js';
import { PROFILES } from '../src/ingest/profiles/index.js';

/** The Mixpanel plan for one record, with these --column mappings. */
function planFor(columns: Map<CanonicalField, string[]>, obj: Record<string, unknown>) {
  return new JsonPlans(PROFILES['mixpanel-events'], columns).forRecord(obj).plan;
}

describe('normalizeEmail', () => {
  it.each([
    ['  Bob@Example.COM ', 'bob@example.com'],
    ['gr\u0061\u0308ce@example.com', 'gr\u00e4ce@example.com'], // NFC
    ['ÅSA@EXAMPLE.SE', 'åsa@example.se'],
    ['   ', undefined],
    [undefined, undefined],
  ])('%j → %j', (raw, want) => expect(normalizeEmail(raw)).toBe(want));
});

describe('parseTime / formatTime', () => {
  it.each([
    [1762000000, '2025-11-01T12:26:40Z'],
    [1762003600.9, '2025-11-01T13:26:40Z'],
    [1762000000000, '2025-11-01T12:26:40Z'], // ≥ 1e12 is milliseconds
    ['1762000000', '2025-11-01T12:26:40Z'],
    ['2025-11-09T14:03:22Z', '2025-11-09T14:03:22Z'],
    ['2025-11-09T14:03:22', '2025-11-09T14:03:22Z'], // no zone: UTC, never local time
    ['2025-11-09T16:03:22+02:00', '2025-11-09T14:03:22Z'],
    ['2025-11-09 14:03:22.750', '2025-11-09T14:03:22Z'],
    ['2025-11-09', '2025-11-09T00:00:00Z'],
  ])('%j → %s', (v, want) => expect(formatTime(parseTime(v))).toBe(want));

  it('treats absence as no time', () => {
    expect(parseTime(undefined)).toBeNull();
    expect(parseTime(null)).toBeNull();
    expect(parseTime('')).toBeNull();
  });

  it.each([['yesterday'], ['2025-13-01'], ['2025-02-30'], [-5], [true], [{}], [Number.NaN], ['1e400']])('rejects %j', (v) => {
    expect(() => parseTime(v)).toThrow();
  });
});

describe('secrets', () => {
  it.each([
    'https://app.example/cb?token=abcd1234efgh',
    'https://app.example/?a=1&password=hunter2hunter2',
    'Bearer abcdefghijklmnopqrstuvwxyz012345',
    'sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234',
    'AKIAIOSFODNN7EXAMPLE',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'https://user:s3cretpass@db.example.com/',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
  ])('flags %s', (s) => expect(looksLikeSecret(s)).toBe(true));

  it.each(['https://platform.example.com/settings?tab=billing', 'alice@example.com', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', 'risk-management-and-compliance', '550e8400-e29b-41d4-a716-446655440000'])(
    'does not flag %s',
    (s) => expect(looksLikeSecret(s)).toBe(false),
  );
});

function canon(obj: unknown): CanonicalRecord | string {
  const text = JSON.stringify(obj);
  const p = parseJsonRecord(text);
  if (typeof p === 'string') return p;
  return canonicalize(planFor(new Map(), p.obj), p.obj, p.secret);
}

describe('canonical records and exposure', () => {
  it('classifies each category from its fields', () => {
    const r = canon({
      event: 'x',
      properties: {
        time: 1762000000, distinct_id: 'd1', $insert_id: 'i1', $user_id: 'u1', $email: 'A@B.C', $first_name: 'A',
        $region: 'R', $browser_version: '1', $initial_referring_domain: 'x.example', $current_url: 'https://x.example/?token=abcdefgh1234', $ip: '1.2.3.4',
      },
    }) as CanonicalRecord;
    expect(categoriesOf(r.exposure)).toEqual(['name', 'email', 'location', 'device', 'referrer', 'ids', 'url', 'ip', 'secret']);
    expect(r).toMatchObject({ recordId: dedupeKey('i1', 'x', 'd1', 1762000000000), distinctId: 'd1', userId: 'u1', email: 'a@b.c', region: 'R', time: 1762000000000 });
  });

  it('does not count a bare distinct_id as ids, nor empty values', () => {
    const r = canon({ properties: { distinct_id: 'd1', $email: '  ', $city: null, $os: '' } }) as CanonicalRecord;
    expect(r.exposure).toBe(0);
    expect(r.email).toBeUndefined();
  });

  it('reads profiles: $distinct_id (a number), $properties, $last_seen as UTC', () => {
    const r = canon({ $distinct_id: 42, $properties: { $last_seen: '2025-11-08T10:00:00', $country_code: 'DE', $last_name: 'X' } }) as CanonicalRecord;
    expect(r).toMatchObject({ distinctId: '42', country: 'DE', time: Date.UTC(2025, 10, 8, 10) });
    expect(categoriesOf(r.exposure)).toEqual(['name', 'location']);
  });

  it('takes org_id as a scalar or a list', () => {
    expect((canon({ properties: { distinct_id: 'a', org_id: 7 } }) as CanonicalRecord).orgIds).toEqual(['7']);
    expect((canon({ properties: { distinct_id: 'a', organization_id: ['7', 8, '7', null] } }) as CanonicalRecord).orgIds).toEqual(['7', '8']);
  });

  it('rejects records without identity or with a bad time', () => {
    expect(canon({ properties: { time: 1, $city: 'X' } })).toBe('no_identity');
    expect(canon({ properties: { time: 'soon', distinct_id: 'a' } })).toBe('bad_time');
  });

  it('keeps identifiers beyond 2^53 exact', () => {
    expect(quoteLongNumbers('{"a":9007199254740993,"b":"9007199254740993","c":[12345678901234567890]}')).toBe('{"a":"9007199254740993","b":"9007199254740993","c":["12345678901234567890"]}');
    // an invalid number literal stays invalid (a leading zero), never quoted into a valid string
    expect(quoteLongNumbers('{"a":01234567890123456789}')).toBe('{"a":01234567890123456789}');
    const r = canon(JSON.parse('{"x":1}')) as unknown;
    expect(r).toBe('no_identity');
    const p = parseJsonRecord('{"properties":{"$user_id":9007199254740993,"distinct_id":12345678901234567891}}');
    expect(typeof p).toBe('object');
    const c = canonicalize(planFor(new Map(), (p as { obj: Record<string, unknown> }).obj), (p as { obj: Record<string, unknown> }).obj, false) as CanonicalRecord;
    expect(c.userId).toBe('9007199254740993');
    expect(c.distinctId).toBe('12345678901234567891');
  });

  it('never keeps a credential-looking identifier', () => {
    const r = canon({ properties: { distinct_id: 'Bearer abcdefghijklmnopqrstuvwxyz0123', $email: 'a@b.c' } }) as CanonicalRecord;
    expect(r.distinctId).toBeUndefined();
    expect(r.email).toBe('a@b.c');
    expect(r.exposure & CAT.secret).toBe(CAT.secret);
  });

  it('treats __proto__ and constructor keys as data', () => {
    const p = parseJsonRecord('{"__proto__":{"polluted":1},"constructor":"x","properties":{"distinct_id":"d","__proto__":"y"}}');
    expect(typeof p).toBe('object');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const c = canonicalize(planFor(new Map([['email', ['constructor']]]), (p as { obj: Record<string, unknown> }).obj), (p as { obj: Record<string, unknown> }).obj, false) as CanonicalRecord;
    expect(c.distinctId).toBe('d');
    expect(c.email).toBe('x');
  });

  it('maps --column sources: a dotted path from the root, or a plain key', () => {
    const plan = (obj: Record<string, unknown>) => planFor(new Map<CanonicalField, string[]>([['email', ['$properties.work_email']], ['org_id', ['properties.organization']]]), obj);
    const p = parseJsonRecord('{"$distinct_id":"a","$properties":{"work_email":"W@X.Y","$email":"home@x.y"},"properties":{"organization":"o9"}}') as { obj: Record<string, unknown> };
    const c = canonicalize(plan(p.obj), p.obj, false) as CanonicalRecord;
    expect(c.email).toBe('w@x.y');
    expect(c.orgIds).toEqual(['o9']);
  });
});

function identity(key: string, fields: Partial<Identity> = {}): Identity {
  return { key, distinctId: key, userIds: [], emails: [], deviceIds: [], orgIds: [], linkedIds: [], events: 1, first: null, last: null, exposure: 0, places: [], ...fields };
}

const users: UserLookup = (() => {
  const ids = new Set(['1', '2', '3', '9007199254740993']);
  const emails = new Map([['a@x.com', ['1']], ['b@x.com', ['2']], ['shared@x.com', ['2', '3']]]);
  return { hasUser: (id) => ids.has(id), usersWithEmail: (e) => emails.get(e) ?? [] };
})();

describe('matchIdentities', () => {
  it('applies the rules in order and records the first that applies', () => {
    const ids = [
      identity('d-a', { userIds: ['1'], emails: ['b@x.com'] }), // user_id wins over email
      identity('d-b', { emails: ['b@x.com'] }),
      identity('3'), // distinct_id
      identity('$device:z', { deviceIds: ['dev-1'] }), // device_link to d-a
      identity('d-none', { userIds: ['404'], emails: ['nobody@x.com'] }),
    ];
    ids[0].deviceIds = ['dev-1'];
    const m = matchIdentities(ids, users);
    expect(m).toEqual([{ userId: '1', rule: 'user_id' }, { userId: '2', rule: 'email' }, { userId: '3', rule: 'distinct_id' }, { userId: '1', rule: 'device_link' }, {}]);
  });

  it('never guesses: ambiguous emails, user ids and devices stay unmatched', () => {
    const ids = [
      identity('d1', { emails: ['shared@x.com'] }),
      identity('d2', { userIds: ['1', '2'] }),
      identity('d3', { emails: ['a@x.com', 'b@x.com'] }),
      identity('d4', { userIds: ['1'], deviceIds: ['dev'] }),
      identity('d5', { userIds: ['2'], deviceIds: ['dev'] }),
      identity('anon', { deviceIds: ['dev'] }),
      identity('3', { emails: ['shared@x.com'] }), // ambiguous email: distinct_id is not tried
    ];
    const m = matchIdentities(ids, users);
    expect(m.map((x) => x.ambiguous ?? x.rule)).toEqual(['email', 'user_id', 'email', 'user_id', 'user_id', 'device_link', 'email']);
    expect(m[0].userId).toBeUndefined();
    expect(m[5]).toEqual({ ambiguous: 'device_link' });
    expect(m[6]).toEqual({ ambiguous: 'email' });
  });

  it('links identities the vendor names as one person (vendor_link), before devices, never through an unmatched one', () => {
    const ids = [
      identity('d-a', { userIds: ['1'], linkedIds: ['anon-a'] }), // Mixpanel $identify: $anon_id on the identified identity
      identity('anon-a'), // named by d-a's linked ids
      identity('alias-b', { linkedIds: ['3'] }), // Segment alias: previousId names the matched identity
      identity('3'), // distinct_id
      identity('p-1', { emails: ['b@x.com'], linkedIds: ['person-9'] }),
      identity('p-2', { linkedIds: ['person-9'], deviceIds: ['dev-x'] }), // one PostHog person_id: linked to p-1, not by its device
      identity('dev-owner', { userIds: ['1'], deviceIds: ['dev-x'] }),
      identity('lost', { linkedIds: ['nobody'] }), // names nothing matched
      identity('second-hand', { linkedIds: ['lost'] }), // through an unmatched identity: no link
    ];
    const m = matchIdentities(ids, users);
    expect(m).toEqual([
      { userId: '1', rule: 'user_id' },
      { userId: '1', rule: 'vendor_link' },
      { userId: '3', rule: 'vendor_link' },
      { userId: '3', rule: 'distinct_id' },
      { userId: '2', rule: 'email' },
      { userId: '2', rule: 'vendor_link' },
      { userId: '1', rule: 'user_id' },
      {},
      {},
    ]);
  });

  it('leaves an identity the vendor links to two users ambiguous_vendor_link, and tries no device', () => {
    const ids = [
      identity('u1', { userIds: ['1'], linkedIds: ['anon'], deviceIds: ['dev'] }),
      identity('u2', { userIds: ['2'], linkedIds: ['anon'] }),
      identity('anon', { deviceIds: ['dev'] }),
    ];
    expect(matchIdentities(ids, users)[2]).toEqual({ ambiguous: 'vendor_link' });
  });

  it('does not link devices through unmatched or ambiguous identities', () => {
    const ids = [identity('d1', { emails: ['shared@x.com'], deviceIds: ['dev'] }), identity('anon', { deviceIds: ['dev'] })];
    expect(matchIdentities(ids, users)).toEqual([{ ambiguous: 'email' }, {}]);
  });

  it('matches exact id text only', () => {
    const m = matchIdentities([identity('x', { userIds: ['9007199254740992'] }), identity('y', { userIds: ['9007199254740993'] }), identity('01')], users);
    expect(m).toEqual([{}, { userId: '9007199254740993', rule: 'user_id' }, {}]);
  });

  it('gives unmatched reasons: ambiguous first, then org_only, else no_match', () => {
    const orgs = new Set(['o1']);
    expect(unmatchedReason({ ambiguous: 'email' }, identity('a', { orgIds: ['o1'] }), (o) => orgs.has(o))).toBe('ambiguous_email');
    expect(unmatchedReason({}, identity('a', { orgIds: ['zz', 'o1'] }), (o) => orgs.has(o))).toBe('org_only');
    expect(unmatchedReason({}, identity('a', { orgIds: ['zz'] }), (o) => orgs.has(o))).toBe('no_match');
  });
});

describe('grouping, dedupe and counts', () => {
  const rec = (r: Partial<CanonicalRecord>): CanonicalRecord => ({ orgIds: [], linkedIds: [], time: null, exposure: 0, ...r });

  it('keys identities by distinct_id, else user_id, else email, else device_id, never merging', () => {
    const g = new IdentityGroups();
    g.add(rec({ distinctId: 'd', userId: 'u' }));
    g.add(rec({ userId: 'u' }));
    g.add(rec({ email: 'e@x' }));
    g.add(rec({ deviceId: 'dev' }));
    g.add(rec({ distinctId: 'd', email: 'e@x', time: 5 }));
    expect(g.sorted().map((i) => [i.key, i.distinctId ?? null, i.events])).toEqual([
      ['d', 'd', 2],
      ['dev', null, 1],
      ['e@x', null, 1],
      ['u', null, 1],
    ]);
  });

  it('decides rejected → filtered → duplicate → accepted, and the counts add up', () => {
    const sink = new MemorySink();
    const t = new Tally({ since: 100_000, until: 200_000 }, new Uint8Array(32), sink);
    t.rejected();
    expect(t.offer(rec({ distinctId: 'a', recordId: 'x', time: 50_000 }))).toBe('filtered');
    t.offer(rec({ distinctId: 'a', recordId: 'x', time: 150_999 })); // a filtered id was never accepted: accepted
    t.offer(rec({ distinctId: 'b', recordId: 'x', time: 160_000 })); // a duplicate, known when the reading ends
    expect(t.offer(rec({ distinctId: 'a', recordId: 'y', time: 200_000 }))).toBe('filtered'); // until is exclusive
    expect(t.offer(rec({ distinctId: 'a', recordId: 'z', time: 100_000 }))).toBe('accepted'); // since is inclusive
    expect(t.offer(rec({ distinctId: 'a', time: null }))).toBe('accepted'); // no time: never filtered
    t.endReading();
    expect(t.counts).toEqual({ read: 7, accepted: 3, rejected: 1, filtered: 2, duplicates: 1 });
    // times kept in whole seconds (floored), as the lists show them; the duplicate's event taken back from b
    expect(sink.get('a')).toMatchObject({ events: 3, first: 100, last: 150 });
    expect(sink.get('b')).toMatchObject({ events: 0, first: 160, last: 160 });
    expect(() => t.offer(rec({ distinctId: 'a', recordId: 'w', time: 150_000 }))).toThrow(/after the reading ended/);
  });

  it('finds the duplicates of many records, in input order, across files, on disk as in memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bi-keyed-'));
    try {
      const path = join(dir, 'keyed');
      writeFileSync(path, '', { mode: 0o600 });
      const results = [path, undefined].map((file) => {
        const sink = new MemorySink();
        const t = new Tally({}, new Uint8Array(32).fill(5), sink, file);
        // 300,000 records in two files: ids repeat every 200,000 records (enough for every bucket
        // to write chunks out); every record of id ≡ 0 (mod 7) carries no time
        for (let i = 0; i < 300_000; i++) {
          if (i === 150_000) t.beginFile(1);
          const n = i % 200_000;
          t.offer(rec({ distinctId: `who-${n % 1000}`, recordId: `ins-${n}`, time: n % 7 === 0 ? null : 1_000_000 + n }));
        }
        t.endReading();
        return { counts: { ...t.counts }, times: { ...t.times }, untimed: [...t.untimedByFile], who0: sink.get('who-0')?.events, who999: sink.get('who-999')?.events };
      });
      // the repeats are 200,000..299,999 (ids 0..99,999), all in file 1; 1 in 7 of them untimed
      const untimedRepeats = Math.ceil(100_000 / 7);
      const untimedAll = Math.ceil(200_000 / 7);
      expect(results[0]).toEqual({
        counts: { read: 300_000, accepted: 200_000, rejected: 0, filtered: 0, duplicates: 100_000 },
        times: { timed: 300_000 - untimedAll - untimedRepeats, untimed: untimedAll },
        untimed: [Math.ceil(150_000 / 7), untimedAll - Math.ceil(150_000 / 7)],
        // who-0 holds ids 0, 1000, …: 200 of them, each once however often repeated
        who0: 200,
        who999: 200,
      });
      expect(results[1]).toEqual(results[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells apart entries whose hashes agree in their first 64 bits (the dedupe is decided by 128 bits)', () => {
    const k = new KeyedRecords(new Uint8Array(32));
    const entry = (c: number, d: number) => Uint32Array.from([0x12345678, 0x9abcdef0, c, d, 1, 2, 3, 4, 0]);
    k.add(entry(1, 1), 0, 0);
    k.add(entry(1, 2), 0, 0);
    k.add(entry(2, 1), 0, 0);
    k.add(entry(1, 2), 0, 0);
    const found = k.finish();
    expect(found.count).toBe(1);
    expect([...found.events]).toEqual([['1:2:3:4', 1]]);
  });

  it('remembers record ids exactly across growth', () => {
    const s = new RecordIdSet(new Uint8Array(32).fill(7));
    for (let i = 0; i < 200_000; i++) expect(s.add(`id-${i}`)).toBe(true);
    for (let i = 0; i < 200_000; i += 997) expect(s.add(`id-${i}`)).toBe(false);
  });

  it('keeps hashes exactly when one shard holds most of them, and tells apart hashes that differ in one word', () => {
    const s = new RecordIdSet(new Uint8Array(32).fill(7));
    const h = (...words: number[]) => Uint32Array.from(words);
    // every second word below has the same top byte: one shard grows many times while the others stay empty
    const quads: number[][] = [];
    for (let i = 1; i <= 50_000; i++) quads.push([(i * 2654435761) >>> 0, 0x7f000000 | (i & 0xff), i, 0], [(i * 2654435761) >>> 0, 0x7f000000 | (i & 0xff), i, 1]);
    let added = 0;
    for (const q of quads) if (s.addHash(h(...q))) added++;
    expect(added).toBe(new Set(quads.map((q) => q.join(','))).size);
    for (const q of quads) expect(s.addHash(h(...q))).toBe(false);
    // a zero word anywhere is a hash like any other (only all four zero marks an empty place)
    expect(s.addHash(h(0, 0x7f000001, 0, 0))).toBe(true);
    expect(s.addHash(h(0x7f000001, 0, 0, 0))).toBe(true);
    expect(s.addHash(h(0, 0x7f000001, 0, 0))).toBe(false);
    expect(s.addHash(h(0x7f000001, 0, 0, 0))).toBe(false);
    expect(s.addHash(h(0, 0, 0, 1))).toBe(true);
  });

  it('counts two keys whose hashes collide in the first 64 bits as two (the set keeps all 128 bits)', () => {
    // a stand-in hash: SipHash as shipped, but the first two words forced equal for every key, as
    // a collision of a 64-bit hash would make them
    const colliding: typeof hashRecordId = (id, key, out, at) => {
      hashRecordId(id, key, out, at);
      out[at] = 0x12345678;
      out[at + 1] = 0x9abcdef0;
    };
    const s = new RecordIdSet(new Uint8Array(32).fill(3), colliding);
    expect(s.add('ins-a')).toBe(true);
    expect(s.add('ins-b')).toBe(true);
    expect(s.add('ins-a')).toBe(false);
  });

  it('keys the dedupe by insert id, event, distinct_id and time to the second, each part length-prefixed', () => {
    expect(dedupeKey('i', 'e', 'd', 1_000_999)).toBe(dedupeKey('i', 'e', 'd', 1_000_000));
    expect(dedupeKey('i', 'e', 'd', 1_000_000)).not.toBe(dedupeKey('i', 'e', 'd', 2_000_000));
    expect(dedupeKey('i', 'e', 'd', null)).not.toBe(dedupeKey('i', 'e', 'd', 0));
    expect(dedupeKey('a1:b', 'c', 'd', null)).not.toBe(dedupeKey('a', 'b', '1:c', null));
    expect(dedupeKey('i', undefined, 'd', null)).toBe(dedupeKey('i', '', 'd', null));
  });

  it('hashes record keys with SipHash-2-4 under each half of the run key, so a collision found for one run does not carry to another', () => {
    // The reference vector of the SipHash paper (Aumasson & Bernstein, appendix A): key 00..0f,
    // message 00..0e.
    const seq = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => from + i);
    expect(Buffer.from(siphash24(seq(15), seq(16))).toString('hex')).toBe('e545be4961ca29a1');
    const hash = (id: string, key: Uint8Array) => {
      const out = new Uint32Array(4);
      hashRecordId(id, key, out, 0);
      return [...out];
    };
    // the id's UTF-16 code units, little-endian, as little-endian words: the first key half's digest, then the second's
    const key = seq(32);
    const d1 = Buffer.from(siphash24(Buffer.from('ins-1', 'utf16le'), seq(16)));
    const d2 = Buffer.from(siphash24(Buffer.from('ins-1', 'utf16le'), seq(16, 16)));
    expect(hash('ins-1', key)).toEqual([d1.readUInt32LE(0), d1.readUInt32LE(4), d2.readUInt32LE(0), d2.readUInt32LE(4)]);
    const other = seq(32);
    other[31] = 0xff;
    expect(hash('ins-1', key)).toEqual(hash('ins-1', seq(32)));
    expect(hash('ins-1', key).slice(2)).not.toEqual(hash('ins-1', other).slice(2));
    expect(hash('ins-1', key)).not.toEqual(hash('ins-2', key));
    // exact on any string: two lone surrogates are two ids (UTF-8 would make both U+FFFD)
    expect(hash('\uD800', key)).not.toEqual(hash('\uD801', key));
    // an id longer than the scratch buffer
    const long = 'x'.repeat(100_000);
    expect(hash(long, key)).toEqual(hash(long, key));
    expect(hash(long, key)).not.toEqual(hash(long + 'y', key));
  });

  it('sorts by Unicode code point', () => {
    const xs = ['b', 'a', '\u{1F600}', '\uFFFD', 'B', '10', '2', ''];
    expect(xs.sort(compareCodePoints)).toEqual(['', '10', '2', 'B', 'a', 'b', '\uFFFD', '\u{1F600}']);
  });
});

/** Admin memberships, one object a row, as the columns withAdmins takes. */
function adminRows(rows: { orgId: string; userId: string; role: string }[]): AdminRows {
  return { orgIds: rows.map((r) => r.orgId), userIds: rows.map((r) => r.userId), roles: rows.map((r) => r.role) };
}

describe('parts packed across threads', () => {
  const text = fc.constantFrom('k', 'a', 'b', 'c', 'US\u0000CA', '');
  const texts = fc.oneof(fc.constant(undefined), text, fc.uniqueArray(text, { minLength: 2, maxLength: 4 }));
  const part = (key: string) =>
    fc.record({ d: fc.boolean(), userIds: texts, emails: texts, deviceIds: texts, orgIds: texts, linkedIds: texts, places: texts, events: fc.nat(5), first: fc.option(fc.integer({ min: 0, max: 9 }), { nil: null }), last: fc.option(fc.integer({ min: 0, max: 9 }), { nil: null }), exposure: fc.nat(255) }).map(
      (r): Identity => ({ key, distinctId: r.d ? key : undefined, userIds: r.userIds, emails: r.emails, deviceIds: r.deviceIds, orgIds: r.orgIds, linkedIds: r.linkedIds, events: r.events, first: r.first, last: r.last, exposure: r.exposure, places: r.places }),
    );
  it('merge in place (mergePacked) as the parts would merge unpacked (mergeIdentity)', () => {
    fc.assert(
      fc.property(fc.array(part('k'), { minLength: 1, maxLength: 6 }), (parts) => {
        const packed = unpackParts(packParts(parts));
        const a = partIdentity(packed[0]);
        const b = partIdentity(packed[0]);
        for (const p of packed.slice(1)) {
          mergePacked(a, p);
          mergeIdentity(b, partIdentity(p));
        }
        expect(a).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('packed contacts', () => {
  it('give back the email and the name exactly, whatever they hold', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (email, name) => {
        const c = contactOf(email, name);
        expect([emailOf(c), nameOf(c)]).toEqual([email, name]);
      }),
    );
    for (const [email, name] of [['', ''], ['12:3', ':'], ['a:b@x', '4:x:y'], ['\u0000', '\n'], ['x'.repeat(70000), 'é']]) {
      expect([emailOf(contactOf(email, name)), nameOf(contactOf(email, name))]).toEqual([email, name]);
    }
  });
});

describe('buildImpact', () => {
  // with what matching no longer needs let go (forgetMatchingDetails), the lists are the same
  it.each([false, true])('aggregates users, orgs, roster, unmatched and jurisdictions (details forgotten after matching: %s)', (forget) => {
    const ids = [
      identity('a1', { userIds: ['1'], events: 2, first: 1, last: 5, exposure: CAT.email, places: ['US\u0000CA'] }),
      identity('a2', { emails: ['a@x.com'], events: 1, first: 0, last: 0, exposure: CAT.ip, places: ['US\u0000'] }),
      identity('b', { emails: ['b@x.com'], events: 3, first: 2, last: 3, exposure: CAT.name, places: ['US\u0000CA'] }),
      identity('o', { orgIds: ['org2', 'nope'], events: 4, first: 9, last: 9, exposure: CAT.ids }),
      identity('s', { emails: ['shared@x.com'], orgIds: ['org1'], events: 1, first: 7, last: 7, exposure: CAT.email }),
    ];
    const m = matchIdentities(ids, users);
    if (forget) {
      forgetMatchingDetails(ids, m);
      expect(ids.map((id) => [id.userIds, id.deviceIds, id.emails, id.orgIds])).toEqual([
        [undefined, undefined, undefined, undefined],
        [undefined, undefined, undefined, undefined],
        [undefined, undefined, undefined, undefined],
        [undefined, undefined, [], ['org2', 'nope']],
        [undefined, undefined, ['shared@x.com'], ['org1']],
      ]);
    }
    const given: (Identity | undefined)[] = [...ids];
    const impact = buildImpact(handOver(given, [...m]), {
      users: new Map([
        ['1', contactOf('A@x.com', 'A')],
        ['2', contactOf('b@x.com', 'B')],
      ]),
      memberships: new Map([['1', ['org1']], ['2', ['org1', 'org3']]]),
      orgs: new Map([['org1', 'One'], ['org2', 'Two'], ['org3', 'Three']]),
    });
    // handOver let every identity go as buildImpact read it
    expect(given.every((x) => x === undefined)).toBe(true);
    expect(impact.count).toEqual({ users: 2, orgs: 3, unmatched: 2 });
    // the orgs whose admins the roster needs: of the matched users' memberships, and existing orgs of unmatched identities
    expect(impact.orgIds).toEqual(['org1', 'org2', 'org3']);
    expect([...impact.users()]).toEqual([
      { user_id: '1', email: 'A@x.com', name: 'A', org_ids: ['org1'], matched_by: 'user_id', events: 3, first_seen: '1970-01-01T00:00:00Z', last_seen: '1970-01-01T00:00:05Z', exposed: ['email', 'ip'], countries: ['US'], regions: ['CA'] },
      { user_id: '2', email: 'b@x.com', name: 'B', org_ids: ['org1', 'org3'], matched_by: 'email', events: 3, first_seen: '1970-01-01T00:00:02Z', last_seen: '1970-01-01T00:00:03Z', exposed: ['name'], countries: ['US'], regions: ['CA'] },
    ]);
    impact.usersWritten();
    expect(() => [...impact.users()]).toThrow(/let go/);
    const admin = impact.withAdmins(
      adminRows([
        { orgId: 'org1', userId: '9', role: 'admin' },
        { orgId: 'org1', userId: '9', role: 'owner' },
        { orgId: 'org1', userId: '1', role: 'owner' },
        { orgId: 'org9', userId: '9', role: 'owner' }, // not affected
      ]),
      new Map([
        ['1', contactOf('A@x.com', 'A')],
        ['9', contactOf('boss@x.com', 'Boss')],
      ]),
    );
    expect([...admin.orgs()].map((o) => [o.org_id, o.affected_users, o.unattributed, o.admins, o.exposed.join(';'), o.first_seen, o.last_seen])).toEqual([
      ['org1', 2, 1, 2, 'name;email;ip', '1970-01-01T00:00:00Z', '1970-01-01T00:00:07Z'],
      ['org2', 0, 1, 0, 'ids', '1970-01-01T00:00:09Z', '1970-01-01T00:00:09Z'],
      ['org3', 1, 0, 0, 'name', '1970-01-01T00:00:02Z', '1970-01-01T00:00:03Z'],
    ]);
    expect([...admin.roster()].map((r) => [r.org_id, r.email, r.role, r.affected_users, r.admin_user_id])).toEqual([
      ['org1', 'A@x.com', 'owner', 2, '1'],
      ['org1', 'boss@x.com', 'owner', 2, '9'],
    ]);
    expect([...impact.unmatched()].map((u) => [u.vendor_id, u.reason, u.org_ids.join(';')])).toEqual([
      ['o', 'org_only', 'nope;org2'],
      ['s', 'ambiguous_email', 'org1'],
    ]);
    expect([...impact.jurisdictions()]).toEqual([
      { country: 'US', region: '', affected_users: 1 },
      { country: 'US', region: 'CA', affected_users: 2 },
    ]);
    expect(impact.matchedBy).toEqual({ user_id: 1, email: 2, distinct_id: 0, vendor_link: 0, device_link: 0 });
    expect(impact.exposedUsers).toMatchObject({ email: 1, ip: 1, name: 1, ids: 0 });
    expect(admin.count).toEqual({ roster: 2, orgsWithoutAdmin: 2 });
    expect(impact.unmatchedByReason).toEqual({ org_only: 1, ambiguous_email: 1 });
  });

  it('keeps one roster row per admin and org, with the strongest role, in (org, email, user) order', () => {
    const ids = [identity('1', { userIds: ['1'], events: 1, first: 1, last: 1 })];
    const users: UserLookup = { hasUser: (id) => id === '1', usersWithEmail: () => [] };
    const impact = buildImpact(handOver([...ids], [...matchIdentities(ids, users)]), {
      users: new Map([['1', contactOf('z@x.com', 'Zed')]]),
      memberships: new Map([['1', ['o1', 'o2']]]),
      orgs: new Map([['o1', 'One'], ['o2', 'Two']]),
    });
    const admin = impact.withAdmins(
      adminRows([
        { orgId: 'o2', userId: '7', role: 'billing' },
        { orgId: 'o1', userId: '5', role: 'billing' },
        { orgId: 'o1', userId: '5', role: 'Admin' },
        { orgId: 'o1', userId: '4', role: 'admin' },
        { orgId: 'o1', userId: '7', role: 'zeta' },
        { orgId: 'o1', userId: '7', role: 'beta' },
        { orgId: 'o1', userId: '8', role: 'admin' }, // no users row: no address
        { orgId: 'o2', userId: '7', role: 'OWNER' },
        { orgId: 'o1', userId: '1', role: 'admin' },
        { orgId: 'o1', userId: '1', role: 'admin' },
      ]),
      new Map([
        ['1', contactOf('z@x.com', 'Zed')],
        ['5', contactOf('same@x.com', 'Five')],
        ['4', contactOf('same@x.com', 'Four')],
        ['7', contactOf('a@x.com', 'Ay')],
      ]),
    );
    expect([...admin.roster()].map((r) => [r.org_id, r.email, r.name, r.role, r.admin_user_id])).toEqual([
      ['o1', '', '', 'admin', '8'],
      ['o1', 'a@x.com', 'Ay', 'beta', '7'],
      ['o1', 'same@x.com', 'Four', 'admin', '4'],
      ['o1', 'same@x.com', 'Five', 'Admin', '5'],
      ['o1', 'z@x.com', 'Zed', 'admin', '1'],
      ['o2', 'a@x.com', 'Ay', 'OWNER', '7'],
    ]);
    expect(admin.count).toEqual({ roster: 6, orgsWithoutAdmin: 0 });
    expect(impact.count).toMatchObject({ orgs: 2 });
    expect([...admin.orgs()].map((o) => [o.org_id, o.admins])).toEqual([['o1', 5], ['o2', 1]]);
  });
});
