/**
 * End to end: the real binary on the bundled fixtures, every output compared whole with golden
 * files (UPDATE_GOLDEN=1 rewrites them: see CONTRIBUTING.md), plus the case directory's contract: permissions,
 * manifest, determinism, refusal of foreign directories, exit codes and gates.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { expectGolden, explain, FIXTURES, readCase, ROOT, runCli, tempDir } from './helpers.js';

const GOLDEN = join(ROOT, 'test', 'golden', 'correlate');
const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));
const BASE = [...EXPORTS, '--internal', join('fixtures', 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01'];
const LIST_FILES = ['jurisdictions.csv', 'orgs.csv', 'rejected.csv', 'roster.csv', 'summary.json', 'unmatched.csv', 'users.csv'];

async function correlateFixtures(extra: string[] = [], env: Record<string, string> = {}) {
  const out = join(tempDir(), 'case');
  const r = await runCli(['correlate', ...BASE, '--out', out, ...extra], { env });
  return { out, r };
}

describe('correlate on the bundled fixtures', () => {
  it('writes every list exactly as the golden files', async () => {
    const { out, r } = await correlateFixtures();
    expect(r.code, explain(r)).toBe(0);
    const files = readCase(out);
    expect(Object.keys(files)).toEqual(LIST_FILES);
    for (const [f, text] of Object.entries(files)) expectGolden(GOLDEN, f, text);
    expectGolden(GOLDEN, 'stdout.txt', r.stdout.replace(out, '<out>'));
    // stderr is for people, and names no personal data
    expect(r.stderr).toBe('');
  });

  it('keeps the summary invariant and the matched_by sum', async () => {
    const { out, r } = await correlateFixtures();
    expect(r.code, explain(r)).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const c = s.records;
    expect(c.read).toBe(c.accepted + c.rejected + c.filtered + c.duplicates);
    // e-0001 comes again at another time: another event by Mixpanel's dedupe key, not a duplicate
    expect(c).toEqual({ read: 32, accepted: 23, rejected: 7, filtered: 1, duplicates: 1 });
    const byRule = s.matched_by;
    expect(byRule.user_id + byRule.email + byRule.distinct_id + byRule.vendor_link + byRule.device_link).toBe(s.identities.matched);
    expect(s.identities.matched + s.identities.unmatched).toBe(s.identities.vendor);
    // every rule is exercised by the fixtures
    for (const rule of ['user_id', 'email', 'distinct_id', 'device_link']) expect(byRule[rule], rule).toBeGreaterThan(0);
    expect(s.complete).toBe(true);
  });

  it('is private: directory 0700, files 0600, no temporary files left', async () => {
    const { out, r } = await correlateFixtures();
    expect(r.code, explain(r)).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    const names = readdirSync(out).sort();
    expect(names).toEqual(['case.sqlite', 'jurisdictions.csv', 'manifest.json', 'orgs.csv', 'rejected.csv', 'roster.csv', 'summary.json', 'unmatched.csv', 'users.csv']);
    for (const f of names) expect(statSync(join(out, f)).mode & 0o777, f).toBe(0o600);
  });

  it('is deterministic: two runs give byte-identical outputs but for manifest times', async () => {
    const a = await correlateFixtures();
    const b = await correlateFixtures();
    expect(a.r.code).toBe(0);
    expect(b.r.code).toBe(0);
    for (const f of readdirSync(a.out)) {
      if (f === 'manifest.json') continue;
      expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(true);
    }
    const strip = (m: { started?: string; finished?: string; options?: { out?: string } }) => ({ ...m, started: '', finished: '', options: { ...m.options, out: '' } });
    const ma = JSON.parse(readFileSync(join(a.out, 'manifest.json'), 'utf8'));
    const mb = JSON.parse(readFileSync(join(b.out, 'manifest.json'), 'utf8'));
    expect(strip(mb)).toEqual(strip(ma));
  });

  // Large inputs are hashed on a thread of their own; a threshold of 0 puts every input there.
  it.each([
    ['hashed in place', {}],
    ['hashed on a worker thread', { BREACH_IMPACT_HASH_THREAD_MIN_BYTES: '0' }],
  ])('writes a manifest with the chain of custody (inputs %s)', async (_how, env: Record<string, string>) => {
    const { out, r } = await correlateFixtures([], env);
    expect(r.code, explain(r)).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(m.tool.name).toBe('breach-impact');
    expect(m.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse(m.started)).toBeLessThanOrEqual(Date.parse(m.finished));
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(m.inputs.map((i: { path: string }) => i.path)).toEqual(EXPORTS);
    for (const i of m.inputs) {
      expect(i.sha256).toBe(sha(join(ROOT, i.path)));
      expect(i.size).toBe(statSync(join(ROOT, i.path)).size);
    }
    expect(m.inputs.map((i: { records: number }) => i.records)).toEqual([19, 5, 3, 5]);
    expect(m.internal.sha256).toBe(sha(join(FIXTURES, 'internal.sql')));
    const outputs = Object.fromEntries(m.outputs.map((o: { name: string; rows: number | null; sha256: string }) => [o.name, o]));
    for (const f of readdirSync(out)) {
      if (f === 'manifest.json') continue;
      expect(outputs[f]?.sha256, f).toBe(sha(join(out, f)));
    }
    expect(outputs['users.csv'].rows).toBe(readFileSync(join(out, 'users.csv'), 'utf8').trim().split('\n').length - 1);
    expect(m.options.since).toBe('2025-11-01');
  });

  // The hashing thread failing (injected: on its first chunk, or when asked for the digest once
  // the chunk is hashed) stops the run with exit 1 before any output is staged: a manifest
  // without the inputs' hashes would break the chain of custody. A new case directory stays
  // empty; an earlier case in it is left byte for byte as it was. The message names no data.
  it.each([['while hashing', '0'], ['at the digest', '1']])('stops with exit 1 and writes no case when the hashing thread fails %s', async (_when, after) => {
    const env = { BREACH_IMPACT_HASH_THREAD_MIN_BYTES: '0', BREACH_IMPACT_HASH_THREAD_FAIL_AFTER: after };
    const fresh = await correlateFixtures([], env);
    expect(fresh.r.code, explain(fresh.r)).toBe(1);
    expect(fresh.r.stderr).toContain('the thread hashing an export stopped (Error); no case was written');
    expect(fresh.r.stderr).not.toMatch(/@|example\.com/);
    expect(fresh.r.stdout).toBe('');
    expect(readdirSync(fresh.out)).toEqual([]);

    const { out, r } = await correlateFixtures();
    expect(r.code, explain(r)).toBe(0);
    const before = Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f))]));
    const again = await runCli(['correlate', ...BASE, '--out', out], { env });
    expect(again.code, explain(again)).toBe(1);
    expect(readdirSync(out).sort()).toEqual(Object.keys(before).sort());
    for (const [f, bytes] of Object.entries(before)) expect(readFileSync(join(out, f)).equals(bytes), f).toBe(true);
  });

  it('prints summary.json on stdout with --json', async () => {
    const { out, r } = await correlateFixtures(['--json']);
    expect(r.code, explain(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
  });

  it('times its steps on stderr with BREACH_IMPACT_PHASES=1, naming no data, the outputs unchanged', async () => {
    const out = join(tempDir(), 'case');
    const r = await runCli(['correlate', ...BASE, '--out', out, '--quiet'], { env: { BREACH_IMPACT_PHASES: '1' } });
    expect(r.code, explain(r)).toBe(0);
    const steps = r.stderr.split('\n').filter((l) => l !== '').map((l) => /^phase ([a-z +]+): \d+\.\d\d s, cpu \d+\.\d\d s, main \d+\.\d\d s \(cpu (?:\d+\.\d\d|\?) s\), rss \d+ MB, peak (?:\d+|\?) MB, heap \d+ MB$/.exec(l)?.[1] ?? `unexpected: ${l}`);
    expect(steps).toEqual([
      'reading', 'staging identities', 'users', 'matching', 'memberships', 'orgs', 'aggregating', 'starting the roster', 'list cells',
      'counting', 'hashing the internal database', 'writing users', 'writing unmatched', 'writing jurisdictions', 'writing the first list files', 'waiting for the roster',
      'writing orgs', 'writing roster', 'writing the last list files', 'publishing',
    ]);
    const files = readCase(out);
    for (const f of LIST_FILES) expect(files[f], f).toBe(readFileSync(join(GOLDEN, f), 'utf8'));
  });
});

describe('the case directory', () => {
  it('refuses a non-empty directory that is not a case, unless --force', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const refused = await runCli(['correlate', ...BASE, '--out', out]);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/not empty/);
    expect(refused.stderr).toMatch(/--force/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    const forced = await runCli(['correlate', ...BASE, '--out', out, '--force']);
    expect(forced.code, explain(forced)).toBe(0);
    expect(existsSync(join(out, 'users.csv'))).toBe(true);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('replaces an earlier case in place', async () => {
    const { out } = await correlateFixtures();
    const again = await runCli(['correlate', join('fixtures', 'export', 'people.json'), '--internal', join('fixtures', 'internal.sql'), '--out', out]);
    expect(again.code, explain(again)).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.records.read).toBe(3);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('exit codes', () => {
  it('exits 3 when a gate is exceeded, with every output written', async () => {
    const count = await correlateFixtures(['--max-rejected', '6']);
    expect(count.r.code, explain(count.r)).toBe(3);
    expect(existsSync(join(count.out, 'users.csv'))).toBe(true);
    const pct = await correlateFixtures(['--max-unmatched', '40%']);
    expect(pct.r.code, explain(pct.r)).toBe(3); // 7 of 17 identities = 41%
    const within = await correlateFixtures(['--max-rejected', '7', '--max-unmatched', '42%']);
    expect(within.r.code, explain(within.r)).toBe(0);
  });

  it('exits 2 on usage errors, naming the problem and what to do', async () => {
    const cases: [string[], RegExp][] = [
      [['correlate', 'fixtures/export/people.json'], /--internal/],
      [['correlate', 'no-such-file.ndjson', '--internal', 'fixtures/internal.sql'], /no-such-file\.ndjson/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'missing.sqlite'], /missing\.sqlite/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'fixtures/internal.sql', '--since', 'last tuesday'], /--since/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'fixtures/internal.sql', '--vendor', 'heap'], /--vendor/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'fixtures/internal.sql', '--column', 'favourite=x'], /favourite/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'fixtures/internal.sql', '--max-rejected', 'lots'], /--max-rejected/],
      [['correlate', 'fixtures/export/people.json', '--internal', 'fixtures/internal.sql', '--bogus'], /bogus/],
    ];
    const none = await runCli([]);
    expect(none.code, explain(none)).toBe(2);
    expect(none.stderr).toMatch(/Usage: breach-impact/);
    for (const [args, pattern] of cases) {
      const out = join(tempDir(), 'case');
      const r = await runCli([...args, '--out', out]);
      expect(r.code, explain(r)).toBe(2);
      expect(r.stderr, explain(r)).toMatch(pattern);
      expect(existsSync(out), explain(r)).toBe(false);
    }
  });

  it('names a missing table or column and points at --map', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.sql'), 'CREATE TABLE users (id INTEGER, mail TEXT, name TEXT); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    const r = await runCli(['correlate', join(ROOT, 'fixtures/export/people.json'), '--internal', 'bad.sql', '--out', 'case'], { cwd: dir });
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/table users has no column email/);
    expect(r.stderr).toMatch(/--map/);
  });

  it('adapts another schema with --map views', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'crm.sql'),
      `CREATE TABLE accounts (account_id TEXT PRIMARY KEY, contact_email TEXT, display_name TEXT);
       CREATE TABLE companies (company_id TEXT PRIMARY KEY, company_name TEXT);
       CREATE TABLE seats (account_id TEXT, company_id TEXT, is_admin INTEGER);
       INSERT INTO accounts VALUES ('3', 'carol@example.com', 'Carol C'), ('8', 'frank@example.com', 'Frank F'), ('99', 'boss@example.com', 'The Boss');
       INSERT INTO companies VALUES ('c1', 'Carol Co');
       INSERT INTO seats VALUES ('3', 'c1', 0), ('99', 'c1', 1);`,
    );
    writeFileSync(
      join(dir, 'views.sql'),
      `CREATE TEMP VIEW users AS SELECT account_id AS id, contact_email AS email, display_name AS name FROM accounts;
       CREATE TEMP VIEW orgs AS SELECT company_id AS id, company_name AS name FROM companies;
       CREATE TEMP VIEW memberships AS SELECT account_id AS user_id, company_id AS org_id, CASE is_admin WHEN 1 THEN 'admin' ELSE 'member' END AS role FROM seats;`,
    );
    // a real SQLite file, opened read-only: TEMP views still work, and the file is never touched
    const db = new Database(join(dir, 'crm.sqlite'));
    db.exec(readFileSync(join(dir, 'crm.sql'), 'utf8'));
    db.close();
    const before = createHash('sha256').update(readFileSync(join(dir, 'crm.sqlite'))).digest('hex');
    const r = await runCli(['correlate', join(ROOT, 'fixtures/export/people.json'), '--internal', 'crm.sqlite', '--map', 'views.sql', '--out', 'case'], { cwd: dir });
    expect(r.code, explain(r)).toBe(0);
    expect(createHash('sha256').update(readFileSync(join(dir, 'crm.sqlite'))).digest('hex')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['case', 'crm.sql', 'crm.sqlite', 'views.sql']);
    expect(readFileSync(join(dir, 'case', 'roster.csv'), 'utf8')).toBe('org_id,org_name,email,name,role,affected_users,exposed\nc1,Carol Co,boss@example.com,The Boss,admin,1,name;location\n');
    expect(readFileSync(join(dir, 'case', 'users.csv'), 'utf8').split('\n').slice(1, 3)).toEqual([
      '3,carol@example.com,Carol C,c1,distinct_id,1,2025-11-08T10:00:00Z,2025-11-08T10:00:00Z,name;location,DE,Berlin',
      '8,frank@example.com,Frank F,,email,1,2025-11-05T08:30:00Z,2025-11-05T08:30:00Z,name;email;device,,',
    ]);
  });

  it('names each file by --vendor when it is given, whatever its first record looks like', async () => {
    const dir = tempDir();
    const exports = ['people.json', 'events.ndjson'].map((f) => join(FIXTURES, 'export', f));
    const detected = await runCli(['correlate', ...exports, '--internal', join(FIXTURES, 'internal.sql'), '--out', 'a', '--json'], { cwd: dir });
    expect(JSON.parse(detected.stdout).files.map((f: { format: string }) => f.format)).toEqual(['mixpanel-people (json)', 'mixpanel-events (ndjson)']);
    for (const vendor of ['mixpanel-events', 'mixpanel-people']) {
      const r = await runCli(['correlate', ...exports, '--vendor', vendor, '--internal', join(FIXTURES, 'internal.sql'), '--out', vendor, '--json'], { cwd: dir });
      expect(r.code, explain(r)).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.files.map((f: { format: string }) => f.format)).toEqual([`${vendor} (json)`, `${vendor} (ndjson)`]);
      expect(JSON.parse(readFileSync(join(dir, vendor, 'manifest.json'), 'utf8')).inputs.map((i: { format: string }) => i.format)).toEqual(s.files.map((f: { format: string }) => f.format));
      // the records are read the same way: the canonical fields come from either shape
      expect(s.records).toEqual(JSON.parse(detected.stdout).records);
    }
  });

  it('reads standard input with -', async () => {
    const dir = tempDir();
    const input = readFileSync(join(FIXTURES, 'export', 'events.ndjson'));
    const r = await runCli(['correlate', '-', '--internal', join(FIXTURES, 'internal.sql'), '--out', 'case', '--json'], { cwd: dir, input });
    expect(r.code, explain(r)).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.records.read).toBe(19);
    expect(s.files[0].file).toBe('<stdin>');
    expect(readFileSync(join(dir, 'case', 'rejected.csv'), 'utf8').split('\n')[1]).toMatch(/^<stdin>,16,invalid_json,/);
  });

  it('stops at a truncated gzip, keeps what came before, and exits 1 with outputs written', async () => {
    const dir = tempDir();
    const whole = readFileSync(join(FIXTURES, 'export', 'events-array.json.gz'));
    writeFileSync(join(dir, 'cut.json.gz'), whole.subarray(0, whole.length - 40));
    const r = await runCli(['correlate', 'cut.json.gz', '--internal', join(FIXTURES, 'internal.sql'), '--out', 'case', '--json'], { cwd: dir });
    expect(r.code, explain(r)).toBe(1);
    const s = JSON.parse(readFileSync(join(dir, 'case', 'summary.json'), 'utf8'));
    expect(s.complete).toBe(false);
    expect(s.records.read).toBe(s.records.accepted + s.records.rejected + s.records.filtered + s.records.duplicates);
    const rejected = readFileSync(join(dir, 'case', 'rejected.csv'), 'utf8').trim().split('\n');
    expect(rejected.at(-1)).toMatch(/^cut\.json\.gz,\d+,truncated_gzip,/);
    expect(r.stderr).toMatch(/cut\.json\.gz: reading stopped at line \d+ \(truncated_gzip\)/);
  });
});
