/**
 * End to end: correlate the bundled fixtures once, then `report` every list in every format.
 * Whole outputs are compared with golden files (UPDATE_GOLDEN=1 rewrites them: see CONTRIBUTING.md); notices are
 * parsed back with a real mail parser.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as csvParse } from 'csv-parse/sync';
import stringWidth from 'string-width';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, expectGolden, explain, ROOT, runCli, tempDir } from './helpers.js';
import { buildCase, headerFields, NOTICE_HEADERS, parseMail, splitMbox } from './report-helpers.js';

const GOLDEN = join(ROOT, 'test', 'golden', 'report');
const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));
const LISTS = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions'] as const;
const FROM = 'Example Security <security@example.com>';
const EPOCH = '1763251200'; // 2025-11-16T00:00:00Z
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let work: string;
let caseDir: string;

beforeAll(async () => {
  work = tempDir('bi-report-');
  caseDir = join(work, 'case');
  const r = await runCli(['correlate', ...EXPORTS, '--internal', join('fixtures', 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01', '--out', caseDir]);
  expect(r.code, explain(r)).toBe(0);
});

function report(args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(['report', ...args, '--case', caseDir], { env: { SOURCE_DATE_EPOCH: EPOCH, ...env } });
}

/** Message-IDs hash case.sqlite; goldens hold them masked so a change in its layout does not churn them. */
function maskIds(text: string): string {
  return text.replace(/<[0-9a-f]{40}\.notice@/g, '<HASH.notice@');
}

const golden = (name: string, actual: string) => expectGolden(GOLDEN, name, actual);

function rows(list: string): Record<string, unknown>[] {
  return readFileSync(join(caseDir, `${list}.csv`), 'utf8') === '' ? [] : (csvParse(readFileSync(join(caseDir, `${list}.csv`)), { columns: true }) as Record<string, unknown>[]);
}

describe('report: lists', () => {
  it.each(LISTS)('%s as csv is the case file, byte for byte', async (list) => {
    const r = await report([list]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(readFileSync(join(caseDir, `${list}.csv`), 'utf8'));
  });

  it.each(LISTS)('%s as jsonl and json: the same rows, exact values, arrays and numbers', async (list) => {
    const [jl, js] = await Promise.all([report([list, '--format', 'jsonl']), report([list, '--format', 'json'])]);
    expect(jl.code, explain(jl)).toBe(0);
    expect(js.code, explain(js)).toBe(0);
    const fromLines = jl.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    expect(JSON.parse(js.stdout)).toEqual(fromLines);
    expect(fromLines.length).toBe(rows(list).length);
    for (const o of fromLines) {
      if ('exposed' in o) expect(Array.isArray(o.exposed)).toBe(true);
      if ('events' in o) expect(typeof o.events).toBe('number');
    }
  });

  it('users and roster match the golden csv and jsonl', async () => {
    for (const list of ['users', 'roster']) {
      for (const format of ['csv', 'jsonl']) {
        const r = await report([list, '--format', format]);
        expect(r.code, explain(r)).toBe(0);
        golden(`${list}.${format}`, r.stdout);
      }
    }
  });

  it('jsonl keeps exact values where csv neutralises formulas', async () => {
    const r = await report(['users', '--format', 'jsonl']);
    const frank = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((u) => u.user_id === '8');
    expect(frank.name).toBe('=HYPERLINK("http://evil.example/x","Frank")');
    const big = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((u) => u.user_id === '9007199254740993');
    expect(big.email).toBe('heidi@example.com');
    const csv = await report(['users']);
    expect(csv.stdout).toContain(`"'=HYPERLINK(""http://evil.example/x"",""Frank"")"`);
  });

  it.each(LISTS)('%s as a table fits 60, 100 and 200 columns, with no raw control character', async (list) => {
    const widths = [60, 100, 200];
    const results = await Promise.all(widths.map((width) => report([list, '--format', 'table'], { COLUMNS: String(width) })));
    for (const [k, r] of results.entries()) {
      const width = widths[k];
      expect(r.code, explain(r)).toBe(0);
      const lines = r.stdout.split('\n').slice(0, -1);
      expect(lines.length).toBeGreaterThan(rows(list).length);
      for (const l of lines) {
        expect(stringWidth(l), `${list} at ${width}: ${l}`).toBeLessThanOrEqual(width);
        expect(l).not.toMatch(RAW_CONTROL);
      }
    }
  });

  it('tables match the golden text (columns when they fit, one block per row when not)', async () => {
    for (const [list, width] of [['roster', 120], ['users', 100]] as const) {
      const r = await report([list, '--format', 'table'], { COLUMNS: String(width) });
      golden(`${list}.table.txt`, r.stdout);
    }
    const roster = readFileSync(join(GOLDEN, 'roster.table.txt'), 'utf8');
    expect(roster.split('\n')[0]).toMatch(/^org_id +org_name +email +name +role +affected_users +exposed$/);
    expect(readFileSync(join(GOLDEN, 'users.table.txt'), 'utf8')).toMatch(/^── 1 ─+\nuser_id +1\n/);
  });

  it('summary: json is summary.json, jsonl one line, csv key,value rows, table readable', async () => {
    const summaryFile = readFileSync(join(caseDir, 'summary.json'), 'utf8');
    const json = await report(['summary', '--format', 'json']);
    expect(json.stdout).toBe(summaryFile);
    const jsonl = await report(['summary', '--format', 'jsonl']);
    expect(jsonl.stdout.split('\n')).toHaveLength(2);
    expect(JSON.parse(jsonl.stdout)).toEqual(JSON.parse(summaryFile));
    const csv = await report(['summary']);
    const kv = csvParse(csv.stdout, { columns: true }) as { key: string; value: string }[];
    expect(kv).toContainEqual({ key: 'records.read', value: '32' });
    expect(kv).toContainEqual({ key: 'matched_by.device_link', value: '1' });
    expect(kv).toContainEqual({ key: 'complete', value: 'true' });
    const table = await report(['summary', '--format', 'table']);
    expect(table.code, explain(table)).toBe(0);
    golden('summary.txt', table.stdout);
    expect(table.stdout).toContain('records      32 read: 23 accepted, 7 rejected, 1 filtered, 1 duplicates');
  });

  it('reads case.sqlite only: the lists and exports may be gone', async () => {
    const copy = join(work, 'sqlite-only');
    mkdirSync(copy);
    writeFileSync(join(copy, 'case.sqlite'), readFileSync(join(caseDir, 'case.sqlite')));
    const r = await runCli(['report', 'roster', '--case', copy]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(caseDir, 'roster.csv'), 'utf8'));
  });
});

describe('report: notices as mbox', () => {
  it('roster: one message per roster row, To is the internal address, names round-trip, nothing injected', async () => {
    const r = await report(['roster', '--format', 'mbox', '--from', FROM]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('\r');
    golden('roster.mbox', maskIds(r.stdout));
    const messages = splitMbox(r.stdout);
    const roster = JSON.parse((await report(['roster', '--format', 'json'])).stdout) as Record<string, string>[];
    expect(messages).toHaveLength(roster.length);
    const ids = new Set<string>();
    for (const [i, raw] of messages.entries()) {
      const fields = headerFields(raw);
      expect(fields.map((f) => f.key).sort()).toEqual(NOTICE_HEADERS);
      const mail = await parseMail(raw);
      expect(mail.to).toHaveLength(1);
      expect(mail.to![0].address).toBe(roster[i].email);
      expect(mail.to![0].name).toBe(roster[i].name);
      expect(mail.from).toEqual({ address: 'security@example.com', name: 'Example Security' });
      expect(mail.subject).toBe(`Security notice for ${roster[i].org_name}: ${roster[i].affected_users} members in a breach at Mixpanel`);
      expect(mail.date).toBe('2025-11-16T00:00:00.000Z');
      expect(mail.text).toContain(`You receive this notice as ${roster[i].role} of the organization\n"${roster[i].org_name}" (ID ${roster[i].org_id}).`);
      ids.add(mail.messageId!);
    }
    expect(ids.size).toBe(messages.length);
  });

  it('users: one per affected user; a non-ASCII address is kept as stored (RFC 6532); the notice says what was and was not exposed', async () => {
    const r = await report(['users', '--format', 'mbox', '--from', FROM]);
    expect(r.code, explain(r)).toBe(0);
    golden('users.mbox', maskIds(r.stdout));
    const messages = await Promise.all(splitMbox(r.stdout).map(parseMail));
    const users = JSON.parse((await report(['users', '--format', 'json'])).stdout) as { email: string; name: string }[];
    expect(messages.map((m) => m.to![0].address)).toEqual(users.map((u) => u.email));
    expect(messages.map((m) => m.to![0].name)).toEqual(users.map((u) => u.name));
    const grace = messages.find((m) => m.to![0].name === 'Grace Ünal')!;
    expect(grace.to![0].address).toBe('grace@exämple.com');
    expect(grace.text).toContain('  - your email address\n  - your approximate location (city, region, country)\n\nThese records');
    expect(grace.text).toMatch(/What it did not hold about you:\n\n {2}- your name\n/);
    expect(grace.text).toContain('from 9 November 2025, 15:00 UTC\nto 10 November 2025, 18:40 UTC.');
    const alice = messages.find((m) => m.to![0].address === 'alice@example.com')!;
    expect(alice.text).toContain('a value that looks like a credential (API key, token or password)');
    expect(alice.text).toContain('multi-factor authentication');
    expect(alice.text).toContain('write to\nsecurity@example.com.');
  });

  it('is deterministic; Date comes from SOURCE_DATE_EPOCH, else from when correlate finished', async () => {
    const a = await report(['roster', '--format', 'mbox', '--from', FROM]);
    const b = await report(['roster', '--format', 'mbox', '--from', FROM]);
    expect(b.stdout).toBe(a.stdout);
    const c = await report(['roster', '--format', 'mbox', '--from', FROM], { SOURCE_DATE_EPOCH: undefined });
    const finished = new Date(JSON.parse(readFileSync(join(caseDir, 'manifest.json'), 'utf8')).finished);
    const first = await parseMail(splitMbox(c.stdout)[0]);
    expect(new Date(first.date!).getTime()).toBe(Math.floor(finished.getTime() / 1000) * 1000);
    // the Message-ID is the same whatever the date: it depends on the case and the recipient only
    expect(first.messageId).toBe((await parseMail(splitMbox(a.stdout)[0])).messageId);
  });

  it('a custom template: Subject line, placeholders, --set, --subject, and mboxrd escaping of From lines', async () => {
    const tpl = join(work, 'notice.txt');
    writeFileSync(tpl, 'Subject: For {{org_name}} ({{org_id}})\r\n\r\nHello {{ recipient_name }},\r\nFrom {{vendor}} we learned: {{exposed}}.\r\n>From the desk of {{team}}\r\n{{recipient_email}}\r\n');
    const r = await report(['roster', '--format', 'mbox', '--from', FROM, '--template', tpl, '--set', 'vendor=Acme Analytics', '--set', 'team=Blue Team']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('\n>From Acme Analytics we learned: ');
    expect(r.stdout).toContain('\n>>From the desk of Blue Team\n');
    const first = await parseMail(splitMbox(r.stdout)[0]);
    expect(first.subject).toBe('For Acme Corp (100)');
    expect(first.text).toBe('Hello Alice Archer,\nFrom Acme Analytics we learned: names, email addresses, approximate locations (city, region, country), operating systems, browsers or device models, the websites that referred them, account, device or organization identifiers, addresses of pages they visited, IP addresses, and values that look like credentials (API keys, tokens or passwords).\n>From the desk of Blue Team\nalice@example.com\n');
    const s = await report(['roster', '--format', 'mbox', '--from', FROM, '--template', tpl, '--subject', 'Notice {{affected_users_text}}', '--set', 'team=x']);
    expect((await parseMail(splitMbox(s.stdout)[0])).subject).toBe('Notice 4 members');
  });
});

describe('report: notices as eml files', () => {
  it('writes 000001.eml… (CRLF, 0600, directory 0700) and index.csv mapping each file to its recipient', async () => {
    const out = join(work, 'eml-users');
    const r = await report(['users', '--format', 'eml', '--from', FROM, '--out', out]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('wrote 8 notices');
    expect(r.stderr).not.toContain('@');
    const users = JSON.parse((await report(['users', '--format', 'json'])).stdout) as { user_id: string; email: string; name: string }[];
    const names = readdirSync(out).sort();
    expect(names).toEqual([...users.map((_, i) => `${String(i + 1).padStart(6, '0')}.eml`), 'index.csv']);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const n of names) expect(statSync(join(out, n)).mode & 0o777, n).toBe(0o600);
    const index = csvParse(readFileSync(join(out, 'index.csv')), { columns: true }) as Record<string, string>[];
    expect(index.map((x) => x.user_id)).toEqual(users.map((u) => u.user_id));
    for (const [i, row] of index.entries()) {
      const raw = readFileSync(join(out, row.file));
      expect(raw.toString('utf8').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      const mail = await parseMail(raw);
      expect(mail.to![0].address).toBe(row.email);
      expect(mail.to![0].address).toBe(users[i].email);
      expect(mail.to![0].name).toBe(users[i].name);
      expect(mail.messageId).toBe(row.message_id);
      expect(headerFields(raw.toString('utf8')).map((f) => f.key).sort()).toEqual(NOTICE_HEADERS);
    }
    expect(index.find((x) => x.user_id === '8')!.name).toBe(`'=HYPERLINK("http://evil.example/x","Frank")`);
  });

  it('the eml and mbox forms are the same messages', async () => {
    const out = join(work, 'eml-roster');
    const eml = await report(['roster', '--format', 'eml', '--from', FROM, '--out', out]);
    expect(eml.code, explain(eml)).toBe(0);
    const mbox = splitMbox((await report(['roster', '--format', 'mbox', '--from', FROM])).stdout);
    // the roster's four notices (two empty lists would be equal too)
    expect(mbox).toHaveLength(4);
    expect(mbox).toEqual(readdirSync(out).filter((n) => n.endsWith('.eml')).sort().map((n) => readFileSync(join(out, n), 'utf8').replace(/\r\n/g, '\n')));
  });

  it('reuses a directory of earlier notices (stale files removed) and refuses any other non-empty one', async () => {
    const out = join(work, 'eml-reuse');
    expect((await report(['users', '--format', 'eml', '--from', FROM, '--out', out])).code).toBe(0);
    expect(readdirSync(out)).toHaveLength(9);
    const r = await report(['roster', '--format', 'eml', '--from', FROM, '--out', out]);
    expect(r.code, explain(r)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['000001.eml', '000002.eml', '000003.eml', '000004.eml', 'index.csv']);
    const foreign = join(work, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'thesis.docx'), 'mine');
    const refused = await report(['roster', '--format', 'eml', '--from', FROM, '--out', foreign]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('not empty');
    expect(readdirSync(foreign)).toEqual(['thesis.docx']);
  });
});

describe('report: invalid recipients', () => {
  it('skips an address that is not valid with a warning naming the internal id, never the address', async () => {
    const dir = tempDir('bi-report-bad-');
    const bad = ['no-at-sign.example.com', 'two@@example.com', 'spaces in@example.com', 'ctrl\r\nBcc: x@evil.example', 'dot.@example.com', 'x@localhost', 'x@-bad-.example', '', null];
    const users = [
      { id: 'ok-1', email: 'ok@example.com', name: 'Okay Person' },
      { id: 'ok-2', email: 'josé@bücher.example', name: 'José Bücher' },
      ...bad.map((email, i) => ({ id: `bad-${i}`, email, name: `Bad ${i}` })),
    ];
    const out = await buildCase(dir, {
      users,
      orgs: [{ id: 'org-1', name: 'Org One' }],
      memberships: users.map((u) => ({ user_id: u.id, org_id: 'org-1', role: 'admin' })),
      events: users.map((u) => ({ distinct_id: u.id, $user_id: u.id, $city: 'Lyon' })),
    });
    for (const list of ['users', 'roster']) {
      const r = await runCli(['report', list, '--case', out, '--format', 'mbox', '--from', FROM]);
      expect(r.code, explain(r)).toBe(0);
      const messages = await Promise.all(splitMbox(r.stdout).map(parseMail));
      expect(messages.map((m) => m.to![0].address).sort()).toEqual(['josé@bücher.example', 'ok@example.com']);
      for (let i = 0; i < bad.length; i++) expect(r.stderr).toContain(list === 'users' ? `user bad-${i}:` : `the admin of org org-1 (user bad-${i}):`);
      expect(r.stderr).toContain(`${bad.length} ${list} rows got no notice`);
      for (const b of bad.filter((x) => x)) expect(r.stderr).not.toContain(b!.slice(0, 8));
      expect(r.stderr).not.toContain('@');
    }
  });
});

describe('report: roster recipients', () => {
  it('gives one notice per (org, admin) even when admins share a mailbox, names the admin in warnings, ranks roles in any case, keeps admins without a users row', async () => {
    const dir = tempDir('bi-report-admins-');
    const out = await buildCase(dir, {
      users: [
        { id: 'm1', email: 'member@example.com', name: 'Member One' },
        { id: 'a1', email: 'ops@example.com', name: 'Ops One' },
        { id: 'a2', email: 'OPS@example.com', name: 'Ops Two' },
        { id: 'a3', email: 'ops@example.com', name: 'Ops Three' },
        { id: 'a4', email: 'not an address', name: 'Broken' },
      ],
      orgs: [{ id: 'org-1', name: 'Org One' }],
      memberships: [
        { user_id: 'm1', org_id: 'org-1', role: 'member' },
        { user_id: 'a1', org_id: 'org-1', role: 'admin' },
        { user_id: 'a1', org_id: 'org-1', role: ' OWNER ' },
        { user_id: 'a2', org_id: 'org-1', role: 'admin' },
        { user_id: 'a3', org_id: 'org-1', role: 'Admin' },
        { user_id: 'a4', org_id: 'org-1', role: 'admin' },
        { user_id: 'ghost', org_id: 'org-1', role: 'owner' },
      ],
      events: [{ distinct_id: 'm1', $user_id: 'm1' }],
    });
    const roster = (await runCli(['report', 'roster', '--case', out, '--format', 'jsonl'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(roster.map((r) => [r.email, r.name, r.role])).toEqual([
      ['', '', 'owner'],
      ['OPS@example.com', 'Ops Two', 'admin'],
      ['not an address', 'Broken', 'admin'],
      ['ops@example.com', 'Ops One', 'OWNER'],
      ['ops@example.com', 'Ops Three', 'Admin'],
    ]);
    expect(readFileSync(join(out, 'orgs.csv'), 'utf8')).toContain('org-1,Org One,1,0,5,');
    const r = await runCli(['report', 'roster', '--case', out, '--format', 'mbox', '--from', FROM]);
    expect(r.code, explain(r)).toBe(0);
    const messages = await Promise.all(splitMbox(r.stdout).map(parseMail));
    expect(messages.map((m) => `${m.to![0].name} <${m.to![0].address}>`)).toEqual(['Ops Two <OPS@example.com>', 'Ops One <ops@example.com>', 'Ops Three <ops@example.com>']);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(3);
    expect(r.stderr).toContain('no notice for the owner of org org-1 (user ghost): the internal database holds no email address');
    expect(r.stderr).toContain('no notice for the admin of org org-1 (user a4):');
    expect(r.stderr).toContain('2 roster rows got no notice');
    expect(r.stderr).not.toContain('not an address');
  });

  it('renders drafts from a reserved address, with a warning, when --from is not given', async () => {
    const r = await report(['roster', '--format', 'mbox']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toBe('breach-impact: warning: no --from: the notices say they come from Security Team <security@example.invalid>; pass --from with your team\'s address before sending them\n');
    const messages = await Promise.all(splitMbox(r.stdout).map(parseMail));
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) expect(m.from).toEqual({ address: 'security@example.invalid', name: 'Security Team' });
  });

  it('accepts the list\'s own column names as placeholders', async () => {
    const tpl = join(work, 'columns.txt');
    writeFileSync(tpl, 'Subject: For {{name}}\n\nHello {{name}} <{{email}}>, of {{org_name}}.\n');
    const r = await report(['roster', '--format', 'mbox', '--from', FROM, '--template', tpl]);
    expect(r.code, explain(r)).toBe(0);
    const first = await parseMail(splitMbox(r.stdout)[0]);
    expect(first.subject).toBe(`For ${first.to![0].name}`);
    expect(first.text).toBe(`Hello ${first.to![0].name} <${first.to![0].address}>, of Acme Corp.\n`);
  });
});

describe('report: colour on a terminal', () => {
  // util-linux script gives the command a pseudo-terminal for stdout and stderr
  const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;
  const onTerminal = (env: string, args: string[]) => {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const r = spawnSync('script', ['-qec', `stty cols 200; ${env} exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined } });
    return r.stdout;
  };
  it.skipIf(!hasScript)('colours a table and errors, and NO_COLOR turns that off, FORCE_COLOR=0 too (needs script)', () => {
    const table = ['report', 'orgs', '--case', caseDir, '--format', 'table'];
    const error = ['report', 'users', '--case', join(work, 'nope')];
    expect(onTerminal('', table)).toContain('\x1b[1morg_id\x1b[22m');
    expect(onTerminal('', error)).toContain('\x1b[31mbreach-impact: error:');
    for (const env of ['NO_COLOR=1', 'FORCE_COLOR=0']) {
      const t = onTerminal(env, table);
      expect(t).toContain('org_id');
      expect(t, env).not.toContain('\x1b[');
      const e = onTerminal(env, error);
      expect(e).toContain('breach-impact: error:');
      expect(e, env).not.toContain('\x1b[');
    }
  });
});

describe('report: usage and pipes', () => {
  it.each([
    [['orgs', '--format', 'mbox', '--from', FROM], 'not a list of recipients'],
    [['summary', '--format', 'eml', '--from', FROM, '--out', 'x'], 'summary is not a list of recipients'],
    [['users', '--format', 'eml', '--from', FROM], 'needs --out'],
    [['users', '--out', 'x'], '--out is only for --format eml'],
    [['users', '--format', 'mbox', '--from', 'not an address'], '--from'],
    [['users', '--format', 'mbox', '--from', FROM, '--set', 'recipient_email=x@y.z'], 'cannot be set'],
    [['users', '--template', 'x.txt'], 'only for --format mbox or eml'],
    [['users', '--format', 'xml'], 'Allowed choices'],
    [['everyone'], 'Allowed choices'],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const r = await report(args as string[]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('a template naming an unknown placeholder is refused before anything is written', async () => {
    const tpl = join(work, 'typo.txt');
    writeFileSync(tpl, 'Dear {{recipent_name}},\n');
    const r = await report(['users', '--format', 'mbox', '--from', FROM, '--template', tpl]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('{{recipent_name}}');
    expect(r.stdout).toBe('');
  });

  it('a missing case and a bad SOURCE_DATE_EPOCH are usage errors', async () => {
    const r = await runCli(['report', 'users', '--case', join(work, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a readable breach-impact case');
    const e = await report(['users', '--format', 'mbox', '--from', FROM], { SOURCE_DATE_EPOCH: 'yesterday' });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('SOURCE_DATE_EPOCH');
  });

  it('--help has an example', async () => {
    const r = await runCli(['report', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Example:\n {2}breach-impact report /);
  });

  it('a closed stdout pipe (| head) ends quietly with exit 0, in every format', async () => {
    const dir = tempDir('bi-report-pipe-');
    const n = 3000;
    const users = Array.from({ length: n }, (_, i) => ({ id: `u${i}`, email: `user${i}@example.com`, name: `User ${i}` }));
    const out = await buildCase(dir, {
      users,
      orgs: [{ id: 'o1', name: 'Org' }],
      memberships: users.map((u) => ({ user_id: u.id, org_id: 'o1', role: 'admin' })),
      events: users.map((u) => ({ distinct_id: u.id, $user_id: u.id, $email: u.email, $city: 'Oslo' })),
    });
    for (const format of ['csv', 'jsonl', 'json', 'table', 'mbox']) {
      const result = await new Promise<{ code: number | null; stderr: string; got: number }>((resolve) => {
        const args = [BIN, 'report', 'users', '--case', out, '--format', format, ...(format === 'mbox' ? ['--from', FROM] : [])];
        const child = spawn(process.execPath, args, {
          env: { ...process.env, NO_COLOR: '1', CI: 'true' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let got = 0;
        let stderr = '';
        child.stdout.once('data', (b: Buffer) => {
          got = b.length;
          child.stdout.destroy(); // what `head` does once it has its lines
        });
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('close', (code) => resolve({ code, stderr, got }));
      });
      expect(result.got, format).toBeGreaterThan(0);
      expect(result.code, `${format}: ${result.stderr}`).toBe(0);
      expect(result.stderr, format).toBe('');
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
