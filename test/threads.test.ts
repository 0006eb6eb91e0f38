/**
 * `--threads 1` and `--threads 2` give the same case: every list, summary.json and every table
 * of case.sqlite, row by row. Tiny batches and aggregation windows (test hooks) make the bundled
 * fixtures go through many batches, both workers, and many hand-overs of the same identity in
 * parts (in the workers and on the single-threaded path alike), which the sink must merge.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explain, FIXTURES, ROOT, runCli, tempDir } from './helpers.js';

const HOOKS = { BREACH_IMPACT_BATCH_BYTES: '300', BREACH_IMPACT_WINDOW_KEYS: '3' };
const LISTS = ['users.csv', 'orgs.csv', 'roster.csv', 'unmatched.csv', 'rejected.csv', 'jurisdictions.csv', 'summary.json'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Every table of a case.sqlite, its rows in rowid order. */
function tables(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    return Object.fromEntries(names.map((n) => [n, db.prepare(`SELECT * FROM "${n}" ORDER BY rowid`).raw().all()]));
  } finally {
    db.close();
  }
}

/** The manifest's entry for the internal database. */
function internalEntry(caseDir: string): unknown {
  return (JSON.parse(readFileSync(join(caseDir, 'manifest.json'), 'utf8')) as { internal: unknown }).internal;
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** fixtures/internal.sql as a SQLite file (a .sql dump lives in one connection: only a file is read on a second one). */
function sqliteInternal(): string {
  const internal = join(tempDir(), 'internal.sqlite');
  const db = new Database(internal);
  db.exec(readFileSync(join(FIXTURES, 'internal.sql'), 'utf8'));
  db.close();
  return internal;
}

async function sameWithOneAndTwoThreads(exports: string[], internal: string, env: Record<string, string> = {}) {
  const dir = tempDir();
  const cases = [];
  for (const threads of ['1', '2']) {
    const out = join(dir, `case-${threads}`);
    const r = await runCli(['correlate', ...exports, '--internal', internal, '--out', out, '--threads', threads], { env: { ...HOOKS, ...env } });
    expect(r.code === 0 || r.code === 1, explain(r)).toBe(true);
    cases.push({ out, r });
  }
  const [one, two] = cases;
  expect(two.r.code).toBe(one.r.code);
  expect(two.r.stderr).toBe(one.r.stderr);
  for (const f of LISTS) expect(readFileSync(join(two.out, f), 'utf8'), f).toBe(readFileSync(join(one.out, f), 'utf8'));
  // the internal database's hash, taken on this thread or by the worker that read its rows ahead
  expect(internalEntry(two.out)).toEqual(internalEntry(one.out));
  expect(internalEntry(one.out)).toEqual({ path: internal, size: statSync(internal).size, sha256: sha256Of(internal), map: null });
  const t1 = tables(join(one.out, 'case.sqlite'));
  expect(Object.keys(t1).length).toBeGreaterThan(1);
  expect(tables(join(two.out, 'case.sqlite'))).toEqual(t1);
  return JSON.parse(readFileSync(join(one.out, 'summary.json'), 'utf8')) as { records: { read: number; duplicates: number }; identities: { vendor: number } };
}

describe('--threads 1 and --threads 2 give the same case', () => {
  it('on fixtures/export', async () => {
    const exports = filesUnder(join(FIXTURES, 'export')).sort();
    const s = await sameWithOneAndTwoThreads(exports, join(FIXTURES, 'internal.sql'));
    expect(s.records.read).toBe(32);
    // more identities than a window holds: each is handed on in parts
    expect(s.identities.vendor).toBeGreaterThan(3);
  });

  it('on fixtures/vendors', async () => {
    const exports = filesUnder(join(FIXTURES, 'vendors')).filter((f) => !/\.(md|sql)$/.test(f)).sort();
    const s = await sameWithOneAndTwoThreads(exports, join(FIXTURES, 'vendors', 'internal.sql'));
    expect(s.identities.vendor).toBeGreaterThan(3);
  });

  it('on fixtures/export with the internal database as a SQLite file (the internal rows read ahead on a second connection)', async () => {
    const internal = sqliteInternal();
    const exports = filesUnder(join(FIXTURES, 'export')).sort();
    // the worker's scratch file is made under TMPDIR, and gone once the run is over
    const tmp = tempDir();
    // (the join waits for every table the worker reads: on a database this small it would claim them all first)
    const s = await sameWithOneAndTwoThreads(exports, internal, { TMPDIR: tmp, BREACH_IMPACT_INTERNAL_THREAD_WAIT: '1' });
    expect(s.records.read).toBe(32);
    expect(readdirSync(tmp)).toEqual([]);
    // and as it runs, the join claiming whichever tables the worker has not begun
    await sameWithOneAndTwoThreads(exports, internal, { TMPDIR: tmp });
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.each([
    {
      // the worker reads the admin rows, then fails before the memberships
      hook: 'BREACH_IMPACT_INTERNAL_THREAD_FAIL',
      warning: 'the rows of the internal database could not be read ahead on a second thread (EINJECTED); they were read on this one',
    },
    {
      // the worker reads every table, then fails as it begins the roster
      hook: 'BREACH_IMPACT_ROSTER_THREAD_FAIL',
      warning: 'the roster could not be built on a second thread (EINJECTED); it was built on this one',
    },
  ])('does on this thread what the worker reading the internal rows ahead fails to do ($hook)', async ({ hook, warning }) => {
    const internal = sqliteInternal();
    const exports = filesUnder(join(FIXTURES, 'export')).sort();
    const dir = tempDir();
    const tmp = tempDir();
    const run = (threads: string, env: Record<string, string>) =>
      runCli(['correlate', ...exports, '--internal', internal, '--out', join(dir, `case-${threads}`), '--threads', threads], { env: { ...HOOKS, TMPDIR: tmp, ...env } });
    const one = await run('1', {});
    const two = await run('2', { [hook]: 'EINJECTED', BREACH_IMPACT_INTERNAL_THREAD_WAIT: '1' });
    expect(two.code, explain(two)).toBe(one.code);
    const line = `breach-impact: warning: ${warning}\n`;
    expect(two.stderr).toContain(line);
    expect(two.stderr.replace(line, '')).toBe(one.stderr);
    for (const f of LISTS) expect(readFileSync(join(dir, 'case-2', f), 'utf8'), f).toBe(readFileSync(join(dir, 'case-1', f), 'utf8'));
    expect(tables(join(dir, 'case-2', 'case.sqlite'))).toEqual(tables(join(dir, 'case-1', 'case.sqlite')));
    expect(internalEntry(join(dir, 'case-2'))).toEqual(internalEntry(join(dir, 'case-1')));
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.each(['1', '2'])('names in the manifest the internal database as the join read it when a writer commits to it during the run (--threads %s)', async (threads) => {
    const dir = tempDir();
    const made = join(dir, 'made');
    const gen = await runCli(['fixtures', '--out', made, '--events', '20000', '--users', '4000', '--orgs', '400', '--seed', 'writer', '--json']);
    expect(gen.code, explain(gen)).toBe(0);
    const internal = join(made, 'internal.sqlite');
    const before = sha256Of(internal);
    // an affected user, from a run before the writer's
    const first = await runCli(['correlate', join(made, 'events.ndjson'), '--internal', internal, '--out', join(dir, 'first')]);
    expect(first.code === 0 || first.code === 1, explain(first)).toBe(true);
    const user = readFileSync(join(dir, 'first', 'users.csv'), 'utf8').split('\n')[1].split(',')[0];
    const renamed = 'Renamed During The Run';
    // The writer starts once the reading is over, as the join's snapshot begins: it can commit
    // only once the snapshot ends, and the manifest must then name the file as it was before.
    const writer = (): Promise<number | null> =>
      new Promise((resolve) => {
        const code = `const D = require('better-sqlite3'); const db = new D(process.argv[1], { timeout: 30000 }); db.prepare('UPDATE users SET name = ? WHERE CAST(id AS TEXT) = ?').run(process.argv[2], process.argv[3]); db.close();`;
        spawn(process.execPath, ['-e', code, internal, renamed, user], { cwd: ROOT, stdio: 'ignore' }).on('close', resolve);
      });
    let wrote: Promise<number | null> | undefined;
    // (stderr as it comes, whole: a line may arrive in two chunks)
    let stderr = '';
    const r = await runCli(['correlate', join(made, 'events.ndjson'), '--internal', internal, '--out', join(dir, 'case'), '--threads', threads], {
      env: { BREACH_IMPACT_PHASES: '1' },
      onSpawn: (child) =>
        child.stderr!.on('data', (b: Buffer) => {
          stderr += b.toString();
          if (stderr.includes('phase reading:')) wrote ??= writer();
        }),
    });
    expect(r.code === 0 || r.code === 1, explain(r)).toBe(true);
    expect(await wrote).toBe(0);
    const after = sha256Of(internal);
    expect(after).not.toBe(before);
    const row = readFileSync(join(dir, 'case', 'users.csv'), 'utf8').split('\n').find((l) => l.startsWith(`${user},`))!;
    const sha256 = JSON.parse(readFileSync(join(dir, 'case', 'manifest.json'), 'utf8')).internal.sha256;
    // the lists show the data of one state of the database; the manifest names that state
    expect(sha256).toBe(row.includes(renamed) ? after : before);
  });

  it('writes the list files again on this thread when the worker writing them fails part way', async () => {
    const exports = filesUnder(join(FIXTURES, 'export')).sort();
    const dir = tempDir();
    const run = (threads: string, env: Record<string, string>) =>
      runCli(['correlate', ...exports, '--internal', join(FIXTURES, 'internal.sql'), '--out', join(dir, `case-${threads}`), '--threads', threads], { env: { ...HOOKS, ...env } });
    const one = await run('1', {});
    // the worker writes roster.csv's header, then fails
    const two = await run('2', { BREACH_IMPACT_LIST_THREAD_FAIL: 'EINJECTED' });
    expect(two.code, explain(two)).toBe(one.code);
    const warning = 'breach-impact: warning: the list files could not be written on a second thread (EINJECTED); they were written on this one\n';
    expect(two.stderr).toContain(warning);
    expect(two.stderr.replace(warning, '')).toBe(one.stderr);
    for (const f of LISTS) expect(readFileSync(join(dir, 'case-2', f), 'utf8'), f).toBe(readFileSync(join(dir, 'case-1', f), 'utf8'));
  });

  it('fails the run as one thread would when the worker writing a list file finds the disk full: nothing published', async () => {
    const dir = tempDir();
    const out = join(dir, 'case');
    const r = await runCli(['correlate', join(FIXTURES, 'export', 'events.ndjson'), '--internal', join(FIXTURES, 'internal.sql'), '--out', out, '--threads', '2'], { env: { ...HOOKS, BREACH_IMPACT_LIST_THREAD_FAIL: 'ENOSPC' } });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory .*: no space left on the device/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses --threads 0', async () => {
    const r = await runCli(['correlate', join(FIXTURES, 'export', 'events.ndjson'), '--internal', join(FIXTURES, 'internal.sql'), '--out', join(tempDir(), 'c'), '--threads', '0']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/--threads 0 is not a whole number of at least 1/);
  });
});
