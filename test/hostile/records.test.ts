/**
 * Hostile records: values that are not records, duplicate keys, object-machinery keys, deep
 * nesting, identifiers that a float would round. Every case asserts the whole outcome.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { correlateIn, event, expectCase, readList, run, tempDir, writeInternalDb, explainCase } from './lib.js';
import { HEADERLESS_WARNING, UNUSABLE_WARNING } from '../helpers.js';

describe.concurrent('values that are not records', () => {
  it('rejects top-level scalars and arrays in NDJSON as not_an_object, one line each, neighbours kept', async () => {
    const dir = tempDir();
    const lines = [
      event({ distinct_id: 'n1' }),
      '1',
      '"a string"',
      'null',
      'true',
      '[1,2,3]',
      '[]',
      `[${event({ distinct_id: 'inside-array' })}]`,
      '-0.5e3',
      // a number where a key belongs stays invalid, however its digits are kept exact
      '{"event":"e","properties":{"distinct_id":"k",9007199254740993:1,1e400:2}}',
      event({ distinct_id: 'n2' }),
    ];
    writeFileSync(join(dir, 'scalars.ndjson'), lines.join('\n') + '\n');
    const c = await correlateIn(dir, ['scalars.ndjson'], { extra: ['--vendor', 'mixpanel-events'] });
    expectCase(c, {
      code: 0,
      records: { read: 11, accepted: 2, rejected: 9, filtered: 0, duplicates: 0 },
      rejected: [
        ...[2, 3, 4, 5, 6, 7, 8, 9].map((l): [string, number, string] => ['scalars.ndjson', l, 'not_an_object']),
        ['scalars.ndjson', 10, 'invalid_json'],
      ],
    });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['n1', 'n2']);
  });

  it('rejects each non-object element of a JSON array at its line, and keeps the objects', async () => {
    const dir = tempDir();
    const text = `[\n${event({ distinct_id: 'j1' })},\n1,\n"s",\nnull,\n[${event({ distinct_id: 'nested' })}],\n{},\n${event({ distinct_id: 'j2' })}\n]\n`;
    writeFileSync(join(dir, 'array.json'), text);
    const c = await correlateIn(dir, ['array.json']);
    expectCase(c, {
      code: 0,
      records: { read: 7, accepted: 2, rejected: 5, filtered: 0, duplicates: 0 },
      rejected: [
        ['array.json', 3, 'not_an_object'],
        ['array.json', 4, 'not_an_object'],
        ['array.json', 5, 'not_an_object'],
        ['array.json', 6, 'not_an_object'],
        ['array.json', 7, 'no_identity'],
      ],
    });
  });

  it('rejects a trailing comma in a JSON array as invalid_json at its line', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'comma.json'), `[\n${event({ distinct_id: 'c1' })},\n${event({ distinct_id: 'c2' })},\n]\n`);
    const c = await correlateIn(dir, ['comma.json']);
    expectCase(c, {
      code: 0,
      records: { read: 3, accepted: 2, rejected: 1, filtered: 0, duplicates: 0 },
      rejected: [['comma.json', 3, 'invalid_json']],
    });
  });

  it('counts each separator error (missing, doubled or trailing comma) as one more rejected row at its line, keeping the elements on both sides', async () => {
    const dir = tempDir();
    const e = (id: string) => event({ distinct_id: id });
    // line 2: s1; line 3: s2 with no comma before it; line 4: a doubled comma; line 5: s3; line 6: trailing comma
    writeFileSync(join(dir, 'sep.json'), `[\n${e('s1')}\n${e('s2')},\n,\n${e('s3')}\n,\n]\n`);
    const c = await correlateIn(dir, ['sep.json']);
    expectCase(c, {
      code: 0,
      records: { read: 6, accepted: 3, rejected: 3, filtered: 0, duplicates: 0 },
      rejected: [
        ['sep.json', 3, 'invalid_json'],
        ['sep.json', 4, 'invalid_json'],
        ['sep.json', 6, 'invalid_json'],
      ],
    });
  });
});

describe('a CSV without a header row', () => {
  it('warns that its first row was read as the header, naming nothing of it, and counts the rest', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'headerless.csv'), 'alice@example.com,Alice Archer,u-77\nbob@example.com,Bob Baker,u-78\ncarol@example.com,Carol Cole,u-79\n');
    const c = await correlateIn(dir, ['headerless.csv']);
    // nothing in it could be used: named, exit 1, the case written
    expectCase(c, {
      code: 1,
      complete: true,
      records: { read: 2, accepted: 0, rejected: 2, filtered: 0, duplicates: 0 },
      rejected: [
        ['headerless.csv', 2, 'no_identity'],
        ['headerless.csv', 3, 'no_identity'],
      ],
      stderr: /first row/,
    });
    expect(c.r.stderr).toBe(
      `breach-impact: warning: ${HEADERLESS_WARNING('headerless.csv')}\n` +
        `breach-impact: warning: ${UNUSABLE_WARNING('headerless.csv', 2, 'rejected: no_identity 2; read as csv, because a CSV with a header row; common column names')}\n`,
    );
    for (const value of ['alice', 'Alice Archer', 'u-77']) expect(c.r.stderr + c.r.stdout, value).not.toContain(value);
  });
});

describe('duplicate keys', () => {
  it('takes the last value of a repeated key (JSON.parse semantics), deterministically', async () => {
    const dir = tempDir();
    const lines = [
      '{"event":"e","properties":{"time":1762000000,"distinct_id":"first","distinct_id":"second","$insert_id":"d1"}}',
      '{"event":"e","properties":{"time":1762000000,"distinct_id":"x1","$insert_id":"d2"},"properties":{"time":1762000000,"distinct_id":"x2","$insert_id":"d3"}}',
      '{"event":"e","properties":{"time":1762000000,"distinct_id":"y","$email":"early@example.com","$email":""}}',
    ];
    writeFileSync(join(dir, 'dup.ndjson'), lines.join('\n') + '\n');
    const c = await correlateIn(dir, ['dup.ndjson']);
    expectCase(c, { code: 0, records: { read: 3, accepted: 3, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] });
    const unmatched = readList(c.out, 'unmatched.csv');
    expect(unmatched.map((u) => [u.vendor_id, u.email])).toEqual([
      ['second', ''],
      ['x2', ''],
      ['y', ''],
    ]);
  });
});

describe('keys that name object machinery are data', () => {
  it('matches, groups and reports __proto__ / constructor like any other name', async () => {
    const dir = tempDir();
    const internal = writeInternalDb(join(dir, 'internal.sqlite'), {
      idType: 'TEXT',
      users: [
        ['__proto__', 'proto@example.com', 'Proto Type'],
        ['constructor', 'ctor@example.com', 'Con Structor'],
        ['admin-1', 'admin@example.com', 'Ada Admin'],
      ],
      orgs: [
        ['constructor', 'Org named constructor'],
        ['__proto__', 'Org named __proto__'],
      ],
      memberships: [
        ['__proto__', 'constructor', 'member'],
        ['admin-1', 'constructor', 'owner'],
      ],
    });
    const lines = [
      event({ distinct_id: '__proto__', $insert_id: 'p1' }),
      event({ distinct_id: 'hasOwnProperty', $insert_id: 'p2', org_id: '__proto__' }),
      event({ distinct_id: 'toString', $insert_id: 'p3', $email: 'constructor@example.com' }),
      // a __proto__ key inside properties is a property like any other: it never supplies fields
      '{"event":"e","properties":{"time":1762000000,"$insert_id":"p4","__proto__":{"distinct_id":"from-proto","$email":"proto@example.com"}}}',
      // a top-level __proto__ does not stand in for properties
      '{"event":"e","__proto__":{"properties":{"distinct_id":"from-proto-2"}}}',
      '{"event":"e","properties":{"time":1762000000,"distinct_id":"prototype","$insert_id":"p6","constructor":{"prototype":{"polluted":true}}}}',
      // an $insert_id named like machinery still deduplicates
      event({ distinct_id: 'valueOf', $insert_id: '__proto__' }),
      event({ distinct_id: 'valueOf', $insert_id: '__proto__' }),
    ];
    writeFileSync(join(dir, 'proto.ndjson'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'proto.csv'), '__proto__,distinct_id,constructor\nx,constructor,y\n');
    const c = await correlateIn(dir, ['proto.ndjson', 'proto.csv'], { internal });
    expectCase(c, {
      code: 0,
      records: { read: 9, accepted: 6, rejected: 2, filtered: 0, duplicates: 1 },
      rejected: [
        ['proto.ndjson', 4, 'no_identity'],
        ['proto.ndjson', 5, 'no_identity'],
      ],
    });
    expect(readList(c.out, 'users.csv').map((u) => [u.user_id, u.matched_by, u.org_ids])).toEqual([
      ['__proto__', 'distinct_id', 'constructor'],
      ['constructor', 'distinct_id', ''],
    ]);
    expect(readList(c.out, 'unmatched.csv').map((u) => [u.vendor_id, u.reason, u.email])).toEqual([
      ['hasOwnProperty', 'org_only', ''],
      ['prototype', 'no_match', ''],
      ['toString', 'no_match', 'constructor@example.com'],
      ['valueOf', 'no_match', ''],
    ]);
    expect(readList(c.out, 'orgs.csv').map((o) => [o.org_id, o.org_name, o.affected_users, o.unattributed, o.admins])).toEqual([
      ['__proto__', 'Org named __proto__', '0', '1', '0'],
      ['constructor', 'Org named constructor', '1', '0', '1'],
    ]);
  });
});

describe.concurrent('deep nesting never exhausts the stack', () => {
  const N = 100_000;
  it('rejects 100,000 nested brackets in NDJSON lines and in a JSON array, at their lines', async () => {
    const dir = tempDir();
    const lines = [
      event({ distinct_id: 'd1' }),
      '['.repeat(N),
      '['.repeat(N) + ']'.repeat(N),
      '{"a":'.repeat(N) + '1' + '}'.repeat(N),
      `{"event":"e","properties":{"distinct_id":"deep","x":${'['.repeat(N)}${']'.repeat(N)}}}`,
      '{'.repeat(N),
      event({ distinct_id: 'd2' }),
    ];
    writeFileSync(join(dir, 'deep.ndjson'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'deep.json'), `[${event({ distinct_id: 'd3' })},\n${'['.repeat(N)}${']'.repeat(N)},\n${'{"a":'.repeat(N)}1${'}'.repeat(N)},\n${event({ distinct_id: 'd4' })}]\n`);
    const c = await correlateIn(dir, ['deep.ndjson', 'deep.json']);
    expectCase(c, {
      code: 0,
      records: { read: 11, accepted: 4, rejected: 7, filtered: 0, duplicates: 0 },
      rejected: [
        ['deep.ndjson', 2, 'invalid_json'],
        ['deep.ndjson', 3, 'not_an_object'],
        ['deep.ndjson', 4, 'max_depth'],
        ['deep.ndjson', 5, 'max_depth'],
        ['deep.ndjson', 6, 'invalid_json'],
        ['deep.json', 2, 'max_depth'],
        ['deep.json', 3, 'max_depth'],
      ],
    });
    const i = await run(['inspect', 'deep.ndjson', 'deep.json'], { cwd: dir });
    expect(i.code, explainCase({ r: i })).toBe(0);
    expect(i.stderr).toBe('');
  });

  it('stops at 100,000 unclosed brackets opening a JSON document, with complete:false and exit 1', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'open.json'), '['.repeat(N));
    writeFileSync(join(dir, 'open-object.json'), `[${event({ distinct_id: 'kept' })},\n${'[{"":'.repeat(N / 2)}`);
    const c = await correlateIn(dir, ['open.json', 'open-object.json']);
    expectCase(c, {
      code: 1,
      records: { read: 3, accepted: 1, rejected: 2, filtered: 0, duplicates: 0 },
      rejected: [
        ['open.json', 1, 'truncated_json'],
        ['open-object.json', 2, 'truncated_json'],
      ],
      // open.json gave no record at all: it is also named as unusable
      stderr: /open\.json: reading stopped at line 1 \(truncated_json\)[^\n]*\n[^\n]*open\.json: none of its 1 records could be used \(rejected: truncated_json 1;[^\n]*\n[^\n]*open-object\.json: reading stopped at line 2 \(truncated_json\)/,
    });
  });
});

describe.concurrent('identifiers keep their exact text', () => {
  const IVAN = 9007199254740992n; // 2^53
  const HEIDI = 9007199254740993n; // 2^53 + 1: a double rounds it to IVAN
  const GRACE = 9007199254740995n; // a double rounds it to ...996
  const ORG = 9007199254740993n;

  const internalData = {
    users: [
      [IVAN, 'ivan@example.com', 'Ivan Neighbour'],
      [HEIDI, 'heidi@example.com', 'Heidi Highid'],
      [GRACE, 'grace@example.com', 'Grace Beyond'],
      [1n, 'one@example.com', 'Uno'],
    ] as [bigint, string, string][],
    orgs: [
      [IVAN, 'Neighbour Org'],
      [ORG, 'Beyond Org'],
    ] as [bigint, string][],
    memberships: [
      [HEIDI, ORG, 'member'],
      [IVAN, IVAN, 'owner'],
      [GRACE, ORG, 'owner'],
    ] as [bigint, bigint, string][],
  };

  const exportLines = [
    // rule 1: a numeric $user_id beyond 2^53
    '{"event":"e","properties":{"time":1762000000,"distinct_id":"anon-h","$insert_id":"h1","$user_id":9007199254740993}}',
    // rule 3: a numeric distinct_id beyond 2^53
    '{"event":"e","properties":{"time":1762000000,"distinct_id":9007199254740995,"$insert_id":"g1"}}',
    // an unmatched identity naming an org beyond 2^53 (as a number in a list)
    '{"event":"e","properties":{"time":1762000000,"distinct_id":"anon-o","$insert_id":"o1","org_id":[9007199254740993]}}',
    // digits far beyond any integer type, and numbers a double would change
    '{"event":"e","properties":{"time":1762000000,"distinct_id":123456789012345678901234567890,"$insert_id":"b1"}}',
    '{"event":"e","properties":{"time":1762000000,"distinct_id":1.0,"$insert_id":"f1"}}',
    '{"event":"e","properties":{"time":1762000000,"distinct_id":1e0,"$insert_id":"f2"}}',
    '{"event":"e","properties":{"time":1762000000,"distinct_id":123.456e-789,"$insert_id":"f3"}}',
    '{"event":"e","properties":{"time":1762000000,"distinct_id":123e-10000000,"$insert_id":"f4"}}',
    '{"event":"e","properties":{"time":1762000000,"distinct_id":-0,"$insert_id":"f5"}}',
  ];

  async function check(internal: string, dir: string) {
    writeFileSync(join(dir, 'ids.ndjson'), exportLines.join('\n') + '\n');
    writeFileSync(join(dir, 'people.json'), '[{"$distinct_id": 9007199254740993, "$properties": {"$last_seen": "2025-11-09T10:00:00"}}]\n');
    writeFileSync(join(dir, 'ids.csv'), 'distinct_id,user_id\nanon-csv,9007199254740993\n');
    const c = await correlateIn(dir, ['ids.ndjson', 'people.json', 'ids.csv'], { internal });
    expectCase(c, { code: 0, records: { read: 11, accepted: 11, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] });
    expect(readList(c.out, 'users.csv').map((u) => [u.user_id, u.email, u.matched_by, u.org_ids, u.events])).toEqual([
      ['9007199254740993', 'heidi@example.com', 'user_id', '9007199254740993', '3'],
      ['9007199254740995', 'grace@example.com', 'distinct_id', '9007199254740993', '1'],
    ]);
    expect(readList(c.out, 'orgs.csv').map((o) => [o.org_id, o.org_name, o.affected_users, o.unattributed, o.admins])).toEqual([
      ['9007199254740993', 'Beyond Org', '2', '1', '1'],
    ]);
    expect(readList(c.out, 'roster.csv').map((r) => [r.org_id, r.email])).toEqual([['9007199254740993', 'grace@example.com']]);
    // every numeric spelling is its own identity, none rounded onto user 1 or onto another
    expect(readList(c.out, 'unmatched.csv').map((u) => [u.vendor_id, u.reason])).toEqual([
      ["'-0", 'no_match'],
      ['1.0', 'no_match'],
      ['123.456e-789', 'no_match'],
      ['123456789012345678901234567890', 'no_match'],
      ['123e-10000000', 'no_match'],
      ['1e0', 'no_match'],
      ['anon-o', 'org_only'],
    ]);
  }

  it('in the export and in INTEGER columns of a SQLite internal database', async () => {
    const dir = tempDir();
    await check(writeInternalDb(join(dir, 'internal.sqlite'), internalData), dir);
  });

  it('in INTEGER columns of a .sql dump loaded into memory', async () => {
    const dir = tempDir();
    const sql = [
      'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT);',
      'CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT);',
      'CREATE TABLE memberships (user_id INTEGER, org_id INTEGER, role TEXT);',
      ...internalData.users.map(([id, e, n]) => `INSERT INTO users VALUES (${id}, '${e}', '${n}');`),
      ...internalData.orgs.map(([id, n]) => `INSERT INTO orgs VALUES (${id}, '${n}');`),
      ...internalData.memberships.map(([u, o, r]) => `INSERT INTO memberships VALUES (${u}, ${o}, '${r}');`),
    ].join('\n');
    writeFileSync(join(dir, 'internal.sql'), sql);
    await check(join(dir, 'internal.sql'), dir);
  });
});
