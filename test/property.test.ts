/**
 * Property-based: whatever string lands in a name, org name, email, city, region or vendor id,
 * every output format comes out inert. CSV cells never start with a formula character; a
 * table never holds a raw control, escape or bidi character; a notice has exactly one To,
 * only the header fields it should have, and no header line a value could have broken.
 * Generated strings always; the Big List of Naughty Strings (../shared/corpus/blns) as seeds
 * and as one whole end-to-end case when the corpus is present.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as csvParse } from 'csv-parse/sync';
import fc from 'fast-check';
import stringWidth from 'string-width';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OrgRow, Row } from '../src/core/rows.js';
import { COLUMNS } from '../src/core/rows.js';
import { formatTime } from '../src/core/normalize.js';
import { addressProblem, displayName, inertText } from '../src/notice/address.js';
import { composeMessage, messageId } from '../src/notice/compose.js';
import { parseTemplate, renderBody, renderSubject } from '../src/notice/template.js';
import { noticeValues, PLACEHOLDERS, type NoticeContext } from '../src/notice/values.js';
import { csvText } from '../src/case/writer.js';
import { cellText } from '../src/output/cells.js';
import { csvChunks } from '../src/output/csv.js';
import { mboxEntry } from '../src/output/mail.js';
import { tableLines } from '../src/output/table.js';
import { describeCorpus, explain, runCli, tempDir } from './helpers.js';
import { blnsStrings, buildCase, headerFields, NOTICE_HEADERS, parseMail, splitMbox } from './report-helpers.js';

const FORMULA_START = /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/;
// eslint-disable-next-line no-control-regex
const RAW_TERMINAL_HAZARD = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const FROM = { name: 'Security Team', address: 'security@example.com' };
const DATE = new Date('2025-11-16T00:00:00Z');

/** Pieces that have broken CSV, terminals, templates and mail headers somewhere. */
const HOSTILE_PIECES = ['=', '+', '-', '@', '\t', '\r', '\n', '\r\n', '\u0000', '\u0007', '\u001b[31m', '\u001b]0;pwned\u0007', '\u009b', '\u0085', '\u2028', '\u202e', '\u2066', '\ufeff', '\ufe0f', '"', ',', ';', '<', '>', '\\', "'", 'From ', '>From ', '\r\nBcc: evil@evil.example', '\nTo: evil@evil.example', '=?UTF-8?B?QmNjOiBldmlsQGV2aWwuZXhhbXBsZQ==?=', '{{recipient_email}}', '{{', '}}', '%s', '$HOME', 'Ü', '用户', '🙂', '👩‍👩‍👧‍👦', ' ', 'x'.repeat(120)];
const hostile = fc.array(fc.constantFrom(...HOSTILE_PIECES), { maxLength: 8 }).map((a) => a.join(''));
const anyString = fc.oneof(hostile, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 40 })).filter((s) => !LONE_SURROGATE.test(s));

// ---------------------------------------------------------------- the properties

/** A CSV cell never starts with a formula character, and is the value or `'` + the value. */
function csvIsInert(s: string): void {
  const text = [...csvChunks(['a', 'b'], [{ a: s, b: [s, s] }])].join('');
  const [header, cells] = csvParse(text, { relax_column_count: false }) as string[][];
  expect(header).toEqual(['a', 'b']);
  expect(cells).toHaveLength(2);
  for (const cell of cells) expect(cell).not.toMatch(FORMULA_START);
  expect([s, `'${s}`]).toContain(cells[0]);
}

/** No table line holds a raw control, escape or bidi character, and every line fits the width. */
function tableIsInert(s: string, width: number): void {
  const rows: Row[] = [
    { user_id: s, email: s, name: s, org_ids: [s, s], events: 1, countries: [s], regions: [s], exposed: ['name'] },
    { user_id: '2', email: 'b@example.com', name: 'Bea', org_ids: [], events: 2, countries: [], regions: [], exposed: [] },
  ];
  for (const line of tableLines(COLUMNS.users, rows, { width, color: false })) {
    expect(line).not.toMatch(RAW_TERMINAL_HAZARD);
    expect(stringWidth(line)).toBeLessThanOrEqual(width);
  }
}

const EVERY_PLACEHOLDER = parseTemplate(
  `Subject: {{recipient_name}} / {{org_names}} / {{regions}}\n\n${PLACEHOLDERS.users.map((p) => `${p}: {{${p}}}`).join('\n')}\n  - {{exposed_item}}\n  - {{not_exposed_item}}\nFrom {{recipient_name}}\n`,
  'property template',
);

/** A notice whose recipient, org and places are `s`: one To, only the expected fields, nothing broken out. */
async function noticeIsInert(s: string, address: string): Promise<void> {
  const orgs = new Map<string, OrgRow>([['o1', { org_id: 'o1', org_name: s, affected_users: 1, unattributed: 0, admins: 1, exposed: ['name'], first_seen: null, last_seen: null }]]);
  const ctx: NoticeContext = { vendor: s, from: FROM, date: DATE, orgs, extra: {} };
  const row: Row = { user_id: s, email: address, name: s, org_ids: ['o1', s], events: 1, first_seen: null, last_seen: null, exposed: ['name', 'ip'], countries: [s], regions: [s] };
  const { values, lists } = noticeValues('users', row, ctx);
  const subject = renderSubject(EVERY_PLACEHOLDER.subject!, values);
  const text = renderBody(EVERY_PLACEHOLDER.body, values, lists);
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  const id = messageId('case', ['users', s], FROM);
  for (const newline of ['unix', 'windows'] as const) {
    const raw = await composeMessage({ to: { name: s, address }, subject, text, date: DATE, messageId: id }, FROM, newline);
    const str = raw.toString('utf8');
    const nl = newline === 'unix' ? '\n' : '\r\n';
    // line ends are exactly the ones asked for
    expect(newline === 'unix' ? str.includes('\r') : str.replace(/\r\n/g, '').match(/[\r\n]/)).toBeFalsy();
    const fields = headerFields(str);
    expect(fields.map((f) => f.key).sort()).toEqual(NOTICE_HEADERS);
    for (const line of str.slice(0, str.indexOf(nl + nl)).split(nl)) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    if (newline === 'unix') {
      const entry = mboxEntry(raw, FROM.address, DATE);
      expect(entry.match(/^From /gm)).toHaveLength(1); // nothing starts a second message
      expect(splitMbox(entry)).toEqual([str.endsWith('\n') ? str : str + '\n']);
    }
    const mail = await parseMail(raw);
    expect(mail.headers.filter((h) => h.key === 'to')).toHaveLength(1);
    expect(mail.to).toEqual([{ address, name: displayName(s) }]);
    expect(mail.subject).toBe(inertText(subject).trim());
    expect(mail.messageId).toBe(id);
    // (a base64 body keeps MIME's canonical CRLF line ends when decoded)
    expect(mail.text!.replace(/\r\n/g, '\n').replace(/\n$/, '')).toBe(text.replace(/\n$/, ''));
  }
}

/** An address is either refused, or used exactly as given as the one To. */
async function addressIsExactOrRefused(address: string): Promise<void> {
  if (addressProblem(address) !== undefined) return;
  const raw = await composeMessage({ to: { name: 'X', address }, subject: 'S', text: 'T', date: DATE, messageId: '<a@example.com>' }, FROM, 'windows');
  expect(headerFields(raw.toString('utf8')).filter((f) => f.key === 'to')).toHaveLength(1);
  const mail = await parseMail(raw);
  expect(mail.to).toEqual([{ address, name: 'X' }]);
}

// ---------------------------------------------------------------- generated strings

describe('generated strings come out inert', () => {
  it('in CSV', () => {
    fc.assert(fc.property(anyString, csvIsInert), { numRuns: 500 });
  });

  it('in a table', () => {
    fc.assert(fc.property(anyString, fc.integer({ min: 40, max: 200 }), tableIsInert), { numRuns: 300 });
  });

  it('in a notice (name, org name, vendor, regions)', async () => {
    await fc.assert(fc.asyncProperty(anyString, fc.constantFrom('ok@example.com', 'grâce@exämple.com', '用户@例子.广告'), noticeIsInert), { numRuns: 150 });
  });

  it('in a recipient address', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(anyString, anyString.map((s) => `${s}@example.com`), anyString.map((s) => `a@${s}.example`)), addressIsExactOrRefused), { numRuns: 300 });
  });
});

// ---------------------------------------------------------------- the Big List of Naughty Strings

describeCorpus('the Big List of Naughty Strings comes out inert', (corpusFile) => {
  let blns: string[] = [];
  beforeAll(() => {
    blns = blnsStrings(corpusFile('blns', 'blns.txt'));
  });

  it('seeds every property', async () => {
    expect(blns.length).toBeGreaterThan(500);
    fc.assert(fc.property(anyString, csvIsInert), { examples: blns.map((s) => [s]), numRuns: blns.length + 50 });
    fc.assert(fc.property(anyString, fc.integer({ min: 40, max: 200 }), tableIsInert), { examples: blns.map((s, i) => [s, 40 + (i % 161)]), numRuns: blns.length + 50 });
    await fc.assert(fc.asyncProperty(anyString, fc.constant('ok@example.com'), noticeIsInert), { examples: blns.map((s) => [s, 'ok@example.com']), numRuns: blns.length + 20 });
    await fc.assert(
      fc.asyncProperty(anyString, addressIsExactOrRefused),
      { examples: blns.flatMap((s) => [[s], [`${s}@example.com`], [`a@${s}.example`]]), numRuns: blns.length * 3 + 20 },
    );
  });

  it('end to end: every list in every format, from one case whose every field is a naughty string', async () => {
    const dir = tempDir('bi-blns-');
    const n = blns.length;
    const orgCount = 60;
    const users = blns.map((s, i) => ({ id: `b${i}`, email: i % 2 === 0 ? `u${i}@example.com` : `${s}@example.com`, name: s }));
    const orgs = Array.from({ length: orgCount }, (_, k) => ({ id: `o${k}`, name: blns[(k * 7) % n] }));
    const caseDir = await buildCase(dir, {
      users,
      orgs,
      memberships: users.map((u, i) => ({ user_id: u.id, org_id: `o${i % orgCount}`, role: i < 2 * orgCount ? 'admin' : 'member' })),
      events: [
        ...blns.map((s, i) => ({ distinct_id: `b${i}`, $user_id: `b${i}`, $name: s, $city: s, $region: s, mp_country_code: blns[(i + 1) % n], $referring_domain: s })),
        ...blns.map((s) => ({ distinct_id: `vendor:${s}`, $email: s, $city: s, $name: s, org_id: 'o1' })),
      ],
    });
    const byId = new Map(users.map((u) => [u.id, u]));
    const lists = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions', 'summary'];
    const results = await Promise.all(lists.flatMap((list) => ['csv', 'jsonl', 'table'].map(async (format) => ({ list, format, r: await runCli(['report', list, '--case', caseDir, '--format', format], { env: { COLUMNS: '100' } }) }))));
    for (const { list, format, r } of results) {
      expect(r.code, explain(r)).toBe(0);
      expect(r.stderr, `${list} ${format}`).toBe('');
      if (format === 'csv') {
        const records = csvParse(r.stdout) as string[][];
        for (const cell of records.flat()) expect(cell, `${list} csv`).not.toMatch(FORMULA_START);
      } else if (format === 'table') {
        for (const line of r.stdout.split('\n')) {
          expect(line, `${list} table`).not.toMatch(RAW_TERMINAL_HAZARD);
          expect(stringWidth(line)).toBeLessThanOrEqual(100);
        }
      } else if (list === 'users') {
        // jsonl keeps exact values: every name is the internal database's (which correlate trims)
        const rows = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { user_id: string; name: string; email: string });
        expect(rows).toHaveLength(n);
        for (const row of rows) {
          expect(row.name).toBe(byId.get(row.user_id)!.name.trim());
          expect(row.email).toBe(byId.get(row.user_id)!.email.trim());
        }
      }
    }

    for (const list of ['users', 'roster'] as const) {
      const rows = results.find((x) => x.list === list && x.format === 'jsonl')!.r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { email: string; name: string; org_id?: string });
      const deliverable = rows.filter((row) => addressProblem(row.email) === undefined);
      expect(deliverable.length).toBeGreaterThan(0);
      expect(deliverable.length).toBeLessThan(rows.length);
      const mbox = await runCli(['report', list, '--case', caseDir, '--format', 'mbox', '--from', 'Security Team <security@example.com>']);
      expect(mbox.code, explain(mbox)).toBe(0);
      expect(mbox.stderr).not.toContain('@'); // warnings name internal ids, never an address
      const messages = splitMbox(mbox.stdout);
      expect(messages).toHaveLength(deliverable.length);
      for (const [i, raw] of messages.entries()) {
        expect(headerFields(raw).map((f) => f.key).sort()).toEqual(NOTICE_HEADERS);
        const mail = await parseMail(raw);
        expect(mail.to).toEqual([{ address: deliverable[i].email, name: displayName(deliverable[i].name) }]);
      }
      const out = join(dir, `eml-${list}`);
      const eml = await runCli(['report', list, '--case', caseDir, '--format', 'eml', '--from', 'security@example.com', '--out', out]);
      expect(eml.code, explain(eml)).toBe(0);
      const index = csvParse(readFileSync(join(out, 'index.csv')), { columns: true }) as Record<string, string>[];
      expect(index).toHaveLength(deliverable.length);
      expect(readdirSync(out)).toHaveLength(deliverable.length + 1);
      for (const [i, entry] of index.entries()) {
        expect(entry.file).toMatch(/^\d{6}\.eml$/);
        for (const cell of Object.values(entry)) expect(cell).not.toMatch(FORMULA_START);
        const raw = readFileSync(join(out, entry.file));
        expect(raw.toString('utf8').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        const mail = await parseMail(raw);
        expect(mail.to).toEqual([{ address: deliverable[i].email, name: displayName(deliverable[i].name) }]);
      }
    }
  });
});

describe('formatTime', () => {
  it('writes what Date#toISOString writes, to the second, for any time', () => {
    const slow = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 4_102_444_800_000 }), // 1970–2100, in milliseconds
          fc.double({ min: -62_135_596_800_000, max: 8.64e15, noNaN: true }), // year 1 to the end of Date, fractions
          fc.constantFrom(0, 999, 1000, 86_399_999, 86_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -1000.5),
        ),
        (ms) => {
          expect(formatTime(ms)).toBe(slow(ms));
        },
      ),
      { numRuns: 20000, seed: 11 },
    );
  });
});

describe("a list cell's CSV text from its case.sqlite JSON", () => {
  it('is what the list joined gives, for any list (the unparsed fast path included)', () => {
    const item = fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom('a', 'Z', '0', ';', ',', '"', '\\', '[', ']', ' ', '\n', '\u0001', '\u2028', 'é', '\ud800', '\udc00', '😀') }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
      { weight: 1, arbitrary: fc.constantFrom('","', '"]', '["', '', '\\",\\"') },
    );
    const list = fc.oneof({ weight: 5, arbitrary: fc.array(item, { maxLength: 5 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(item, fc.integer(), fc.constant(null)), { maxLength: 4 }) });
    fc.assert(
      fc.property(list, (xs) => {
        expect(csvText('org_ids', JSON.stringify(xs))).toBe(cellText(xs as string[]));
      }),
      { numRuns: 20000, seed: 12 },
    );
    expect(csvText('org_ids', '["o-1","o-2"]')).toBe('o-1;o-2');
    expect(csvText('org_ids', '["a",1,"b"]')).toBe('a;1;b');
    expect(csvText('events', 12)).toBe('12');
    expect(csvText('email', null)).toBe('');
  });
});
