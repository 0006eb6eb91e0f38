/** The pure parts of report and notices: addresses, templates, message composition, mbox, tables, JSON. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { addressProblem, displayName, inertText, parseFrom } from '../src/notice/address.js';
import { builtInTemplate, composeMessage, encodePhrase, encodeText, messageId } from '../src/notice/compose.js';
import { checkTemplate, parseTemplate, renderBody, renderSubject } from '../src/notice/template.js';
import { humanTime, LIST_PLACEHOLDERS, noticeValues, PLACEHOLDERS, vendorName, type NoticeContext } from '../src/notice/values.js';
import { writeJsonArray, writeJsonl } from '../src/output/json.js';
import { asctime, emlName, mboxEntry } from '../src/output/mail.js';
import { flatten } from '../src/output/summary.js';
import { fitWidths, tableLines, truncate } from '../src/output/table.js';
import type { OrgRow, Row } from '../src/core/rows.js';
import { headerFields, NOTICE_HEADERS, parseMail } from './report-helpers.js';

const FROM = { name: 'Security Team', address: 'security@example.com' };
const DATE = new Date('2025-11-16T00:00:00Z');

describe('addresses', () => {
  it.each([
    ['alice@example.com'],
    ['Shared@Example.com'],
    ['grace@exämple.com'],
    ['josé@bücher.example'],
    ['用户@例子.广告'],
    ["o'brien+tag@sub.example.co.uk"],
    ['=cmd|calc@example.com'],
  ])('%s is a plain mailbox', (a) => {
    expect(addressProblem(a)).toBeUndefined();
  });

  it.each([
    ['', 'has no email address'],
    [null, 'has no email address'],
    ['alice', 'without a local part'],
    ['@example.com', 'without a local part'],
    ['alice@', 'without a local part'],
    ['a b@example.com', 'local part'],
    ['"a b"@example.com', 'local part'],
    ['a..b@example.com', 'local part'],
    ['.a@example.com', 'local part'],
    ['a\r\nBcc: x@evil.example', 'local part'],
    ['a\u0000@example.com', 'local part'],
    ['a\u202e@example.com', 'local part'],
    ['a@localhost', 'domain'],
    ['a@[127.0.0.1]', 'domain'],
    ['a@-x.example', 'domain'],
    ['a@example.123', 'domain'],
    ['a@exa mple.com', 'domain'],
    ['a@example.com>', 'domain'],
    [`${'x'.repeat(65)}@example.com`, 'too long'],
  ])('%j is refused (%s)', (a, why) => {
    expect(addressProblem(a)).toContain(why);
  });

  it('inert text: controls, line separators and bidi overrides become spaces; everything else stays', () => {
    expect(inertText('a\r\nb\u0000c\u0085d\u2028e\u202ef\u2066g\ufeffh')).toBe('a  b c d e f g h');
    expect(inertText('Grace Ünal 用户 🙂 \u200d')).toBe('Grace Ünal 用户 🙂 \u200d');
    expect(displayName('  \u0007Bob\n ')).toBe('Bob');
    expect([...displayName('x'.repeat(500))]).toHaveLength(200);
  });

  it('--from takes a name and an address, and refuses anything else', () => {
    expect(parseFrom('Security Team <security@example.com>')).toEqual(FROM);
    expect(parseFrom('security@example.com')).toEqual({ name: '', address: 'security@example.com' });
    expect(() => parseFrom('a@example.com, b@example.com')).toThrow('not one email address');
    expect(() => parseFrom('nobody')).toThrow('--from');
    expect(() => parseFrom('x <a@localhost>')).toThrow('domain');
  });
});

describe('templates', () => {
  it('a leading Subject line and blank line are the subject; CRLF and BOM are read', () => {
    expect(parseTemplate('\uFEFFSubject: Hi {{org_name}}\r\n\r\nBody\r\n', 't')).toEqual({ source: 't', subject: 'Hi {{org_name}}', body: 'Body\n' });
    expect(parseTemplate('Subject: not a header\nBody', 't')).toEqual({ source: 't', body: 'Subject: not a header\nBody' });
  });

  it('refuses unknown placeholders, list placeholders in the subject, and two lists on one line', () => {
    const known = PLACEHOLDERS.users;
    expect(() => checkTemplate(parseTemplate('{{recipient_name}} {{exposed_item}}', 't'), known, LIST_PLACEHOLDERS)).not.toThrow();
    expect(() => checkTemplate(parseTemplate('{{org_name}}', 't'), known, LIST_PLACEHOLDERS)).toThrow('{{org_name}}');
    expect(() => checkTemplate(parseTemplate('x', 't'), known, LIST_PLACEHOLDERS, 'S {{exposed_item}}')).toThrow('subject');
    expect(() => checkTemplate(parseTemplate('{{exposed_item}} {{not_exposed_item}}', 't'), known, LIST_PLACEHOLDERS)).toThrow('two list placeholders');
  });

  it('fills in one pass (a value that looks like a placeholder stays text), values inert, list lines repeated', () => {
    const body = 'Dear {{ name }},\n  - {{items}}\n{{empty}}\nEnd {{empty}}.';
    expect(renderBody(body, { name: '{{secret}}\r\nBcc: x', empty: '', secret: 'leak' }, { items: ['a', 'b\u0000c'] })).toBe('Dear {{secret}}  Bcc: x,\n  - a\n  - b c\nEnd .');
    expect(renderSubject('  {{a}}  ', { a: 'x\ny' })).toBe('x y');
  });

  it('the built-in templates use only placeholders their notices have', () => {
    for (const list of ['users', 'roster'] as const) {
      const t = builtInTemplate(list);
      expect(t.subject).toBeTruthy();
      expect(() => checkTemplate(t, PLACEHOLDERS[list], LIST_PLACEHOLDERS)).not.toThrow();
      for (const line of t.body.split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
    }
  });
});

describe('notice values', () => {
  const orgs = new Map<string, OrgRow>([
    ['100', { org_id: '100', org_name: 'Acme', affected_users: 2, unattributed: 1, admins: 1, exposed: ['email'], first_seen: '2025-11-01T12:26:40Z', last_seen: null }],
  ]);
  const ctx: NoticeContext = { vendor: 'Mixpanel', from: FROM, date: DATE, orgs, extra: {} };

  it('users: exposed and not exposed categories in words, times for people', () => {
    const row: Row = { user_id: '1', email: 'a@example.com', name: '', org_ids: ['100', '999'], events: 3, first_seen: '2025-11-09T14:03:22Z', last_seen: null, exposed: ['ip', 'name'], countries: ['DE'], regions: [] };
    const { values, lists } = noticeValues('users', row, ctx);
    expect(values.recipient_name).toBe('a@example.com');
    expect(values.exposed).toBe('your name and your IP address');
    expect(lists.exposed_item).toEqual(['your name', 'your IP address']);
    expect(lists.not_exposed_item).toHaveLength(7);
    expect(values.first_seen).toBe('9 November 2025, 14:03 UTC');
    expect(values.last_seen).toBe('unknown');
    expect(values.org_names).toBe('Acme, 999');
    expect(values.date).toBe('16 November 2025');
  });

  it('roster: counts in words, the org\'s first/last seen, --set overrides', () => {
    const row: Row = { org_id: '100', org_name: 'Acme', email: 'b@example.com', name: 'Bea', role: 'owner', affected_users: 1, exposed: [] };
    const { values, lists } = noticeValues('roster', row, { ...ctx, extra: { vendor: 'Acme Analytics' } });
    expect(values.affected_users_text).toBe('1 member');
    expect(values.unattributed_sentence).toContain('1 person we could not link');
    expect(values.first_seen).toBe('1 November 2025, 12:26 UTC');
    expect(values.vendor).toBe('Acme Analytics');
    expect(lists.exposed_item).toEqual(['no personal details beyond a pseudonymous identifier and activity times']);
  });

  it('names the vendor from the export formats', () => {
    // the vendor of the profiles the files were read with, when they agree; a CSV names none
    expect(vendorName({ files: [{ format: 'mixpanel-events (ndjson)' }, { format: 'csv (csv)' }] })).toBe('Mixpanel');
    expect(vendorName({ files: [{ format: 'segment (ndjson)', profile: 'segment' }, { format: 'mixpanel-etl (csv)', profile: 'mixpanel-etl' }] })).toBe('our analytics provider');
    expect(vendorName({ files: [{ format: 'ga4 (ndjson)', profile: 'ga4' }] })).toBe('Google Analytics');
    expect(vendorName({ vendor_name: 'Acme Analytics', files: [{ format: 'ga4 (ndjson)', profile: 'ga4' }] })).toBe('Acme Analytics');
    expect(vendorName({ files: [{ format: 'csv (csv)' }] })).toBe('our analytics provider');
    expect(humanTime('nonsense')).toBe('unknown');
  });
});

describe('messages', () => {
  const notice = (name: string, subject = 'Notice', text = 'Hello\nFrom here on\n') => ({
    to: { name, address: 'grâce@exämple.com' },
    subject,
    text,
    date: DATE,
    messageId: messageId('case', ['users', '9'], FROM),
  });

  it('phrases: plain words stay, other ASCII is quoted, the rest and anything like =? is encoded', () => {
    expect(encodePhrase('Alice Archer')).toBe('Alice Archer');
    expect(encodePhrase('Judy "J" Jones, MD')).toBe('"Judy \\"J\\" Jones, MD"');
    expect(encodePhrase('=?UTF-8?Q?x?=')).toMatch(/^=\?UTF-8\?Q\?/);
    expect(encodePhrase('Ünal')).toMatch(/^=\?UTF-8\?Q\?/);
    expect(encodeText('x'.repeat(300))).toMatch(/^=\?UTF-8\?Q\?/);
  });

  it.each([['Grace Ünal'], ['=?UTF-8?Q?evil?='], ['Judy "J" Jones, MD'], ['a\\b"c'], ['‮evil'], ['x'.repeat(150)], ['用户 🙂'], ['']])('name %j round-trips through a real parser', async (name) => {
    const raw = await composeMessage(notice(name, `Subject for ${name}`), FROM, 'windows');
    const text = raw.toString('utf8');
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    expect(headerFields(text).map((f) => f.key).sort()).toEqual(NOTICE_HEADERS);
    const mail = await parseMail(raw);
    expect(mail.to).toEqual([{ address: 'grâce@exämple.com', name: displayName(name) }]);
    expect(mail.subject).toBe(inertText(`Subject for ${name}`).trim());
    expect(mail.text).toBe('Hello\nFrom here on\n');
    expect(mail.messageId).toBe(messageId('case', ['users', '9'], FROM));
    expect(mail.date).toBe(DATE.toISOString());
  });

  it('is deterministic, LF for mbox and CRLF for eml', async () => {
    const a = await composeMessage(notice('A'), FROM, 'unix');
    const b = await composeMessage(notice('A'), FROM, 'unix');
    expect(a.equals(b)).toBe(true);
    expect(a.toString()).not.toContain('\r');
    const w = await composeMessage(notice('A'), FROM, 'windows');
    expect(w.toString()).toBe(a.toString().replace(/\n/g, '\r\n'));
  });

  it('Message-IDs depend on the case and the recipient, in the sender\'s domain', () => {
    const id = messageId('case', ['roster', '100', 'a@example.com'], FROM);
    expect(id).toMatch(/^<[0-9a-f]{40}\.notice@example\.com>$/);
    expect(messageId('case', ['roster', '100', 'a@example.com'], FROM)).toBe(id);
    expect(messageId('other', ['roster', '100', 'a@example.com'], FROM)).not.toBe(id);
    expect(messageId('case', ['roster', '200', 'a@example.com'], FROM)).not.toBe(id);
    expect(messageId('case', ['users', '1'], { name: '', address: 'x@bücher.example' })).toMatch(/@xn--bcher-kva\.example>$/);
  });
});

describe('mbox', () => {
  it('mboxrd: every >*From line gets one more >, a From_ separator with an asctime date, a blank line after', () => {
    const msg = Buffer.from('Subject: x\r\n\r\nFrom me\r\n>From you\r\n>>From them\r\nFromage\r\n');
    expect(mboxEntry(msg, 'a@example.com', DATE)).toBe('From a@example.com Sun Nov 16 00:00:00 2025\nSubject: x\n\n>From me\n>>From you\n>>>From them\nFromage\n\n');
    expect(asctime(new Date('2025-11-09T04:03:02Z'))).toBe('Sun Nov  9 04:03:02 2025');
    expect(emlName(1)).toBe('000001.eml');
    expect(emlName(1234567)).toBe('1234567.eml');
  });
});

describe('tables', () => {
  const cols = ['id', 'name', 'events'];
  const rows: Row[] = [
    { id: '1', name: 'Alice \u001b[31mred\u001b[0m \u202eevil', events: 3 },
    { id: '22', name: '用户用户用户用户用户用户', events: 12 },
  ];

  it('escapes control and bidi characters, aligns counts right, cuts to the width', () => {
    const lines = [...tableLines(cols, rows, { width: 30, color: false })];
    expect(lines[0]).toBe('id  name                events');
    expect(lines[2]).toBe('1   Alice \\x1b[31mred…       3');
    expect(lines[3]).toBe('22  用户用户用户用户…       12');
    for (const l of lines) expect(stringWidth(l)).toBeLessThanOrEqual(30);
  });

  it('turns expanded (one block per row) when the columns cannot fit', () => {
    const lines = [...tableLines(cols, rows, { width: 20, color: false })];
    expect(lines).toEqual(['── 1 ───────────────', 'id      1', 'name    Alice \\x1b[…', 'events  3', '── 2 ───────────────', 'id      22', 'name    用户用户用…', 'events  12']);
  });

  it('says so when there are no rows; colour marks escapes only when asked', () => {
    expect([...tableLines(cols, [], { width: 80, color: false })][2]).toBe('(no rows)');
    const coloured = [...tableLines(cols, rows, { width: 80, color: true })].join('\n');
    expect(coloured).toContain('\u001b[7m\\x1b\u001b[27m');
  });

  it('cuts graphemes whole and fits widths down to their floors', () => {
    expect(truncate('héllo wörld', 6)).toBe('héllo…');
    expect(truncate('👩‍👩‍👧‍👦👩‍👩‍👧‍👦', 3)).toBe('👩‍👩‍👧‍👦…');
    expect(fitWidths([10, 40, 40], [10, 12, 12], 60)).toEqual([10, 23, 23]);
    expect(fitWidths([10, 40, 40], [10, 30, 30], 60)).toBeUndefined();
  });
});

describe('json and summary writers', () => {
  async function collect(write: (out: PassThrough) => Promise<void>): Promise<string> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (b: Buffer) => chunks.push(b));
    await write(out);
    return Buffer.concat(chunks).toString('utf8');
  }

  it('jsonl and json keep contract key order, exact values and null for missing', async () => {
    const rows: Row[] = [{ b: 2, a: '=1', c: ['x'] }, { a: '\u0000', b: null }];
    expect(await collect((o) => writeJsonl(o, ['a', 'b', 'c'], rows))).toBe('{"a":"=1","b":2,"c":["x"]}\n{"a":"\\u0000","b":null,"c":null}\n');
    expect(await collect((o) => writeJsonArray(o, ['a'], rows))).toBe('[\n{"a":"=1"},\n{"a":"\\u0000"}\n]\n');
    expect(await collect((o) => writeJsonArray(o, ['a'], []))).toBe('[]\n');
  });

  it('flattens the summary to dotted keys', () => {
    expect(flatten({ records: { read: 3 }, files: [{ file: 'a' }], complete: true, x: null })).toEqual([
      ['records.read', '3'],
      ['files.0.file', 'a'],
      ['complete', 'true'],
      ['x', ''],
    ]);
  });
});
