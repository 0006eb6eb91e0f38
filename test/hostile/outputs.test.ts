/**
 * Hostile values on the way out. Every string of blns.txt (plus NUL, CR, LF, header-injection,
 * escape and bidi strings) as the vendor's name, email, city, region, country, referrer and
 * distinct_id, and as internal user and org names, through correlate and every report format:
 * no formula cell in any CSV, no raw control byte on the terminal, exactly one To and no injected
 * header per message, exact values in JSON. Output names never come from data; outputs are
 * private under any umask; a symlink or hard link planted at an output path is never followed.
 */
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CASE_FILES, correlateIn, event, expectCase, explainCase, FORMULA_START, parseCsv, RAW_TERMINAL_CONTROL, readList, run, tempDir, writeInternalDb, type CaseRun } from './lib.js';
import { describeCorpus } from '../helpers.js';

const EXTRA = [
  '\u0000nul',
  'line\nbreak',
  'carriage\rreturn',
  'x\r\nBcc: injected@evil.example',
  'Subject: injected\r\n\r\nbody',
  '\u001b[0;31mred\u001b[0m',
  '\u001b]0;title\u0007',
  '\u009b31mC1 CSI',
  '\u0085next line',
  '\u202eevil\u202c',
  '\u2066isolate\u2069',
  'zero\u200bwidth',
  '=cmd|\' /C calc\'!A0',
  '\t=1+1',
  '\uFF1D1+1',
  '@SUM(1+1)',
  '+1',
  '-1',
  ' =untrimmed',
  'From the start of a line',
];

/**
 * blns.txt's strings (at `path`, comments left out) and EXTRA, each once after trimming: two equal ids would
 * be one vendor identity (and two users' ids in one identity an ambiguous match).
 */
function naughtyStrings(path: string): string[] {
  const blns = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  const seen = new Set<string>();
  return [...blns, ...EXTRA].filter((s) => {
    const t = s.trim();
    if (t !== '' && seen.has(t)) return false;
    seen.add(t);
    return true;
  });
}

const spreadsheetSafe = (s: string) => (FORMULA_START.test(s) ? `'${s}` : s);

/** Every cell of every CSV file in `dir`: none may start a formula. */
function expectNoFormulaCells(dir: string, files = readdirSync(dir).filter((f) => f.endsWith('.csv'))): number {
  let cells = 0;
  for (const f of files) {
    for (const row of parseCsv(readFileSync(join(dir, f)))) {
      for (const cell of row) {
        cells++;
        expect(FORMULA_START.test(cell), `${f}: ${JSON.stringify(cell)}`).toBe(false);
      }
    }
  }
  return cells;
}

function expectTerminalSafe(text: string, what: string): void {
  const m = RAW_TERMINAL_CONTROL.exec(text);
  expect(m === null, `${what}: raw ${JSON.stringify(m?.[0])} near ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`).toBe(true);
}

/** Messages of an mboxrd stream. */
function splitMbox(text: string): string[] {
  return text.split(/^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/m).filter((m) => m !== '');
}

/** Header names of a message, unfolded. */
function headerNames(message: string): string[] {
  const head = message.split(/\r?\n\r?\n/)[0];
  return head
    .split(/\r?\n(?![ \t])/)
    .map((h) => h.slice(0, h.indexOf(':')).toLowerCase());
}
const ALLOWED_HEADERS = new Set(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'content-transfer-encoding']);

describeCorpus('every naughty string through every output', (corpusFile) => {
  let strings: string[];
  let c: CaseRun;
  let dir: string;
  let noIdentity: number;

  beforeAll(async () => {
    strings = naughtyStrings(corpusFile('blns', 'blns.txt'));
    dir = tempDir();
    const lines: string[] = [];
    const users: [string, string, string][] = [];
    const orgs: [string, string][] = [];
    const memberships: [string, string, string][] = [];
    noIdentity = 0;
    strings.forEach((s, i) => {
      const matched = i % 2 === 0;
      const props: Record<string, unknown> = { distinct_id: s, $insert_id: `r${i}`, $name: s, $email: s, $city: s, $region: s, mp_country_code: s, $initial_referrer: s, org_id: `o${i}` };
      if (matched) props.$user_id = `u${i}`;
      else if (s.trim() === '') noIdentity++;
      lines.push(event(props));
      // half the internal addresses are valid, half are built from the naughty string
      users.push([`u${i}`, i % 4 === 0 ? `user${i}@example.com` : `${s}@example.com`, s]);
      orgs.push([`o${i}`, s]);
      memberships.push([`u${i}`, `o${i}`, ['admin', 'member', 'owner', 'member'][i % 4]]);
    });
    writeFileSync(join(dir, 'naughty.ndjson'), lines.join('\n') + '\n');
    writeInternalDb(join(dir, 'internal.sqlite'), { idType: 'TEXT', users, orgs, memberships });
    c = await correlateIn(dir, ['naughty.ndjson'], { internal: join(dir, 'internal.sqlite') });
  });

  it('correlates them all: whole outcome, only the fixed output names, and no formula cell in any list', () => {
    const n = strings.length;
    const blankRows = c.rejected.map((r) => strings[r.line - 1]);
    expectCase(c, {
      code: 0,
      records: { read: n, accepted: n - noIdentity, rejected: noIdentity, filtered: 0, duplicates: 0 },
      rejected: c.rejected.map((r) => ['naughty.ndjson', r.line, 'no_identity']),
    });
    for (const s of blankRows) expect(s.trim()).toBe('');
    expect(readdirSync(c.out).sort()).toEqual(CASE_FILES);
    expect(expectNoFormulaCells(c.out)).toBeGreaterThan(5000);
    expectTerminalSafe(c.r.stdout + c.r.stderr, 'correlate --json');
  });

  it('keeps every value, neutralised for spreadsheets only: users, orgs, unmatched', () => {
    const names = new Map(readList(c.out, 'users.csv').map((u) => [u.user_id, u.name]));
    const orgNames = new Map(readList(c.out, 'orgs.csv').map((o) => [o.org_id, o.org_name]));
    const vendorIds = new Set(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id));
    strings.forEach((s, i) => {
      const t = s.trim();
      if (i % 2 === 0) {
        expect(names.get(`u${i}`), `user u${i}`).toBe(spreadsheetSafe(t));
        expect(orgNames.get(`o${i}`), `org o${i}`).toBe(spreadsheetSafe(t));
      } else if (t !== '') {
        expect(vendorIds.has(spreadsheetSafe(t)), `vendor id ${JSON.stringify(t)}`).toBe(true);
      }
    });
  });

  it('prints the human summary without a raw control byte', async () => {
    const r = await run(['correlate', 'naughty.ndjson', '--internal', 'internal.sqlite', '--out', 'human-case'], { cwd: dir });
    expect(r.code, explainCase({ r })).toBe(0);
    expectTerminalSafe(r.stdout + r.stderr, 'correlate');
    const i = await run(['inspect', 'naughty.ndjson'], { cwd: dir });
    expect(i.code).toBe(0);
    expectTerminalSafe(i.stdout + i.stderr, 'inspect');
  });

  it('reports every list in csv, jsonl, json and table: no formula cell, exact JSON values, no raw control byte', async () => {
    const lists = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions', 'summary'];
    const formats = ['csv', 'jsonl', 'json', 'table'];
    const runs = await Promise.all(lists.flatMap((l) => formats.map(async (f) => ({ l, f, r: await run(['report', l, '--case', c.out, '--format', f]) }))));
    for (const { l, f, r } of runs) {
      const why = `report ${l} --format ${f}\n${explainCase({ r })}`;
      expect(r.code, why).toBe(0);
      expect(r.stderr, why).toBe('');
      if (f === 'csv') {
        for (const row of parseCsv(r.stdout)) for (const cell of row) expect(FORMULA_START.test(cell), `${why}\n${JSON.stringify(cell)}`).toBe(false);
      }
      if (f === 'table') expectTerminalSafe(r.stdout, `report ${l} --format table`);
      if (f === 'json') expect(() => JSON.parse(r.stdout), why).not.toThrow();
      if (f === 'jsonl' && l === 'users') {
        const byId = new Map(r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { user_id: string; name: string }).map((u) => [u.user_id, u.name]));
        strings.forEach((s, i) => {
          if (i % 2 === 0) expect(byId.get(`u${i}`), `jsonl name of u${i}`).toBe(s.trim());
        });
      }
    }
  });

  it('renders mbox notices with exactly one To, no injected header, and warnings that name ids only', async () => {
    for (const list of ['users', 'roster']) {
      const r = await run(['report', list, '--case', c.out, '--format', 'mbox', '--from', 'Security <security@example.com>']);
      const why = `report ${list} --format mbox\n${explainCase({ r })}`;
      expect(r.code, why).toBe(0);
      expectTerminalSafe(r.stderr, why);
      for (const line of r.stderr.split('\n').filter((l) => l !== '')) expect(line, why).toMatch(/^breach-impact: warning: no notice for (user u\d+|the \w+ of org o\d+ \(user u\d+\))|row.* got no notice/);
      const messages = splitMbox(r.stdout);
      expect(messages.length, why).toBeGreaterThan(100);
      for (const m of messages) {
        const names = headerNames(m);
        expect(names.filter((h) => h === 'to'), m.slice(0, 400)).toEqual(['to']);
        for (const h of names) expect(ALLOWED_HEADERS.has(h), `${h} in\n${m.slice(0, 400)}`).toBe(true);
        const parsed = await PostalMime.parse(m);
        expect(parsed.to?.length, m.slice(0, 400)).toBe(1);
        expect(parsed.to?.[0].address, m.slice(0, 400)).toMatch(/^[^\s@]+@example\.com$/);
        expect(parsed.bcc ?? [], m.slice(0, 400)).toEqual([]);
        expect(parsed.cc ?? [], m.slice(0, 400)).toEqual([]);
      }
    }
  });

  it('writes eml notices under names from their position only, private, with a formula-free index', async () => {
    const out = join(dir, 'notices');
    const r = await run(['report', 'roster', '--case', c.out, '--format', 'eml', '--from', 'security@example.com', '--out', out]);
    expect(r.code, explainCase({ r })).toBe(0);
    expectTerminalSafe(r.stdout + r.stderr, 'report --format eml');
    const files = readdirSync(out).sort();
    expect(files.at(-1)).toBe('index.csv');
    const emls = files.slice(0, -1);
    expect(emls.length).toBeGreaterThan(100);
    emls.forEach((f, i) => expect(f).toBe(`${String(i + 1).padStart(6, '0')}.eml`));
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(out, f)).mode & 0o777, f).toBe(0o600);
    expectNoFormulaCells(out, ['index.csv']);
    for (const f of emls) {
      const m = readFileSync(join(out, f), 'utf8');
      expect(headerNames(m).filter((h) => h === 'to'), f).toEqual(['to']);
      expect(m.replace(/\r\n/g, ''), `${f} has a bare CR or LF`).not.toMatch(/[\r\n]/);
    }
  });
});

describe('output files and directories', () => {
  function smallCase() {
    const dir = tempDir();
    writeFileSync(join(dir, 'e.ndjson'), [event({ distinct_id: 'a', $user_id: '1' }), event({ distinct_id: 'b' })].join('\n') + '\n');
    writeInternalDb(join(dir, 'internal.sqlite'), { idType: 'TEXT', users: [['1', 'one@example.com', 'One']], orgs: [['o', 'Org']], memberships: [['1', 'o', 'owner']] });
    return dir;
  }
  const umask000 = ['sh', '-c', 'umask 000 && exec "$0" "$@"'];

  it('creates the case directory 0700 (and missing parents) and every file 0600, even under umask 000', async () => {
    const dir = smallCase();
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite', out: 'deep/er/case', wrap: umask000 });
    expectCase(c, { code: 0, records: { read: 2, accepted: 2, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] });
    for (const d of ['deep', 'deep/er', 'deep/er/case']) expect(statSync(join(dir, d)).mode & 0o777, d).toBe(0o700);
    for (const f of CASE_FILES) expect(statSync(join(c.out, f)).mode & 0o777, f).toBe(0o600);
    const eml = await run(['report', 'users', '--case', c.out, '--format', 'eml', '--from', 'security@example.com', '--out', 'notices'], { cwd: dir, wrap: umask000 });
    expect(eml.code, explainCase({ r: eml })).toBe(0);
    expect(statSync(join(dir, 'notices')).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(join(dir, 'notices'))) expect(statSync(join(dir, 'notices', f)).mode & 0o777, f).toBe(0o600);
  });

  it('replaces a symlink or hard link planted at any output name, never writing through it', async () => {
    const dir = smallCase();
    const first = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite' });
    expect(first.r.code).toBe(0);
    mkdirSync(join(dir, 'victim'));
    for (const f of CASE_FILES) {
      if (f === 'manifest.json') continue; // it marks the directory as a case; planted below as a hard link
      writeFileSync(join(dir, 'victim', f), `precious ${f}\n`);
      const p = join(first.out, f);
      unlinkSync(p);
      symlinkSync(join(dir, 'victim', f), p);
    }
    writeFileSync(join(dir, 'victim', 'manifest-copy.json'), readFileSync(join(first.out, 'manifest.json')));
    unlinkSync(join(first.out, 'manifest.json'));
    linkSync(join(dir, 'victim', 'manifest-copy.json'), join(first.out, 'manifest.json'));
    const manifestBefore = readFileSync(join(dir, 'victim', 'manifest-copy.json'), 'utf8');

    const again = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite' });
    expectCase(again, {
      code: 0,
      records: { read: 2, accepted: 2, rejected: 0, filtered: 0, duplicates: 0 },
      rejected: [],
      files: [...CASE_FILES].sort(),
    });
    for (const f of CASE_FILES) {
      expect(lstatSync(join(first.out, f)).isFile(), f).toBe(true);
      expect(lstatSync(join(first.out, f)).nlink, f).toBe(1);
      if (f !== 'manifest.json') expect(readFileSync(join(dir, 'victim', f), 'utf8'), f).toBe(`precious ${f}\n`);
    }
    expect(readFileSync(join(dir, 'victim', 'manifest-copy.json'), 'utf8')).toBe(manifestBefore);
  });

  it('refuses an output directory that is a symlink, and writes nothing through it', async () => {
    const dir = smallCase();
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'link'));
    const r = await run(['correlate', 'e.ndjson', '--internal', 'internal.sqlite', '--out', 'link'], { cwd: dir });
    expect(r.code, explainCase({ r })).toBe(2);
    expect(r.stderr).toMatch(/--out link exists and is not a directory/);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual([]);
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite' });
    mkdirSync(join(dir, 'mail-elsewhere'));
    symlinkSync(join(dir, 'mail-elsewhere'), join(dir, 'mail-link'));
    const eml = await run(['report', 'users', '--case', c.out, '--format', 'eml', '--from', 'security@example.com', '--out', 'mail-link'], { cwd: dir });
    expect(eml.code, explainCase({ r: eml })).toBe(2);
    expect(readdirSync(join(dir, 'mail-elsewhere'))).toEqual([]);
  });

  it('never names an output after data: the case holds the fixed names whatever the export says', async () => {
    const dir = tempDir();
    const evil = ['../escape', '/etc/passwd', 'users.csv', 'CON', 'x\u0000y', '..', '$(touch pwned)'];
    writeFileSync(join(dir, 'e.ndjson'), evil.map((s, i) => event({ distinct_id: s, $insert_id: `${i}`, org_id: s, $name: s })).join('\n') + '\n');
    const c = await correlateIn(dir, ['e.ndjson']);
    expectCase(c, { code: 0, records: { read: evil.length, accepted: evil.length, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] });
    expect(readdirSync(dir).sort()).toEqual(['case', 'e.ndjson', 'internal-empty.sql']);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });
});
