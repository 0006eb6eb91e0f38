/**
 * The ledger's failure modes, end to end: whatever goes wrong (locked by another writer, damaged,
 * not a ledger, in a read-only directory, a bad index row, an add interrupted half-way), the
 * command says so naming the path, and the ledger is exactly as it was: nothing half-recorded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, explain, ROOT, runCli, tempDir, type RunResult } from './helpers.js';

const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));
const FROM = 'Example Security <security@example.com>';

let work: string;
let index: string;
/** A ledger holding the users notices of the bundled case, and its `ledger show`. */
let ledger: string;
let shown: string;

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function show(path: string): Promise<RunResult> {
  return runCli(['ledger', 'show', '--ledger', path, '--format', 'jsonl']);
}

/** A fresh copy of the ledger to break. */
function copyLedger(name: string): string {
  const p = join(work, name);
  copyFileSync(ledger, p);
  return p;
}

beforeAll(async () => {
  work = tempDir('bi-ledger-');
  const caseDir = join(work, 'case');
  const c = await runCli(['correlate', ...EXPORTS, '--internal', join('fixtures', 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01', '--out', caseDir]);
  expect(c.code, explain(c)).toBe(0);
  const notices = join(work, 'notices');
  const r = await runCli(['report', 'users', '--case', caseDir, '--format', 'eml', '--from', FROM, '--out', notices]);
  expect(r.code, explain(r)).toBe(0);
  index = join(notices, 'index.csv');
  ledger = join(work, 'ledger.sqlite');
  const a = await runCli(['ledger', 'add', '--ledger', ledger, '--sent-at', '2025-11-17T09:30:00Z', index]);
  expect(a.code, explain(a)).toBe(0);
  shown = (await show(ledger)).stdout;
  expect(shown.split('\n').filter((l) => l !== '')).toHaveLength(8);
});

/** The index with one more message (a new recipient), so an add would change the ledger. */
function biggerIndex(): string {
  const lines = readFileSync(index, 'utf8').split('\n');
  const extra = lines[1].replace(/^000001\.eml,users,1,,1,alice@example\.com/, '000009.eml,users,77,,77,zoe@example.com').replace(/<[0-9a-f]{40}\./, `<${'e'.repeat(40)}.`);
  const p = join(work, `bigger-${Math.random().toString(16).slice(2)}.csv`);
  writeFileSync(p, [...lines.slice(0, -1), extra, ''].join('\n'));
  return p;
}

describe('ledger add: nothing half-recorded', () => {
  it('a ledger locked by another writer: a clear error naming it, and the ledger unchanged', async () => {
    const p = copyLedger('locked.sqlite');
    const before = sha256(p);
    // another process holds the write lock (as a second `ledger add` or a sqlite3 session would)
    const holder = spawn(process.execPath, ['-e', `const D = require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))}); const d = new D(${JSON.stringify(p)}); d.exec('BEGIN IMMEDIATE'); d.prepare("INSERT INTO adds (added_at, source, index_sha256, messages, tool) VALUES ('x', 'x', 'x', 0, 'x')").run(); process.stdout.write('locked\\n'); process.stdin.on('end', () => { d.exec('ROLLBACK'); d.close(); }); process.stdin.resume();`], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    try {
      const r = await runCli(['ledger', 'add', '--ledger', p, biggerIndex()]);
      expect(r.code, explain(r)).toBe(1);
      expect(r.stderr).toContain(`breach-impact: error: the ledger ${p} is locked by another process`);
      expect(r.stderr).toContain('nothing was recorded');
      // readers are not blocked by a writer (WAL): report --unsent and ledger show go on working
      expect((await show(p)).stdout).toBe(shown);
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.on('close', resolve));
    }
    expect(sha256(p)).toBe(before);
    expect((await show(p)).stdout).toBe(shown);
  });

  it('a damaged ledger, or a file that is not SQLite: a clear error, the file untouched', async () => {
    const truncated = join(work, 'truncated.sqlite');
    writeFileSync(truncated, readFileSync(ledger).subarray(0, 5000));
    const garbage = join(work, 'garbage.sqlite');
    writeFileSync(garbage, 'this is not a database\n'.repeat(100));
    const pageBroken = copyLedger('page-broken.sqlite');
    const bytes = readFileSync(pageBroken);
    bytes.fill(0xa5, 4096, 4096 + 12); // page 2's b-tree header made nonsense
    writeFileSync(pageBroken, bytes);
    for (const p of [truncated, garbage, pageBroken]) {
      const before = sha256(p);
      const r = await runCli(['ledger', 'add', '--ledger', p, biggerIndex()]);
      expect(r.code, explain(r)).toBe(1);
      expect(r.stderr).toContain(`breach-impact: error: the ledger ${p} is damaged or not a SQLite database; nothing was recorded`);
      expect(sha256(p), p).toBe(before);
      expect(existsSync(`${p}-wal`) ? readFileSync(`${p}-wal`).length : 0).toBe(0);
    }
    const s = await show(garbage);
    expect(s.code, explain(s)).toBe(1);
    expect(s.stderr).toContain(`the ledger ${garbage} is damaged or not a SQLite database`);
  });

  it('a SQLite file that is not a ledger (e.g. the internal database or a case) is refused, not written into', async () => {
    const other = join(work, 'internal.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE users (id TEXT, email TEXT, name TEXT)');
    db.close();
    const before = sha256(other);
    const r = await runCli(['ledger', 'add', '--ledger', other, index]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`${other} is a SQLite database but not a breach-impact ledger; it was not changed`);
    expect(sha256(other)).toBe(before);
  });

  it('a bad row anywhere in the index records nothing, not even the rows before it', async () => {
    const p = copyLedger('bad-row.sqlite');
    const before = sha256(p);
    const lines = readFileSync(biggerIndex(), 'utf8').split('\n');
    lines[lines.length - 2] = lines[lines.length - 2].replace(',name;email;location;device;referrer;ids;url;secret,<', ',name;email;passport,<');
    const bad = join(work, 'bad-row.csv');
    writeFileSync(bad, lines.join('\n'));
    const r = await runCli(['ledger', 'add', '--ledger', p, bad]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain(`breach-impact: error: ${bad} line 10: exposed names something that is not an exposure category; nothing was recorded`);
    expect(r.stderr).not.toContain('zoe@');
    expect(sha256(p)).toBe(before);

    const notIndex = await runCli(['ledger', 'add', '--ledger', p, join(work, 'case', 'users.csv')]);
    expect(notIndex.code, explain(notIndex)).toBe(2);
    expect(notIndex.stderr).toContain('is not an index.csv written by `report --format eml`');
    // the same message for another recipient: an edited index, refused
    const edited = join(work, 'edited.csv');
    writeFileSync(edited, readFileSync(index, 'utf8').replace('alice@example.com', 'mallory@example.com'));
    const e = await runCli(['ledger', 'add', '--ledger', p, edited]);
    expect(e.code, explain(e)).toBe(1);
    expect(e.stderr).toContain(`${edited} line 2: its message_id is already in the ledger for another recipient or case; nothing was recorded`);
    expect(sha256(p)).toBe(before);
  });

  it('a new ledger whose first add fails is not left behind', async () => {
    const p = join(work, 'never.sqlite');
    const r = await runCli(['ledger', 'add', '--ledger', p, join(work, 'case', 'users.csv')]);
    expect(r.code, explain(r)).toBe(2);
    expect(existsSync(p)).toBe(false);
    const missingDir = await runCli(['ledger', 'add', '--ledger', join(work, 'no-dir', 'l.sqlite'), index]);
    expect(missingDir.code, explain(missingDir)).toBe(2);
    expect(missingDir.stderr).toContain(`cannot create the ledger ${join(work, 'no-dir', 'l.sqlite')}: its directory does not exist`);
  });

  it('an add interrupted half-way (Ctrl-C while the index streams in) leaves the ledger unchanged', async () => {
    const p = copyLedger('interrupted.sqlite');
    const before = sha256(p);
    const text = readFileSync(biggerIndex(), 'utf8');
    const child = spawn(process.execPath, [BIN, 'ledger', 'add', '--ledger', p, '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // every row but the last, then wait until the add holds its transaction open
    child.stdin.write(text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1));
    const probe = new Database(p, { timeout: 0 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        probe.exec('BEGIN IMMEDIATE');
        probe.exec('ROLLBACK');
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_BUSY') break;
        throw e;
      }
      if (Date.now() > deadline) throw new Error('the add never began its transaction');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, Buffer.concat(err).toString()).toBe(130);
    probe.close();
    expect((await show(p)).stdout).toBe(shown);
    // and the next add goes through: no lock or half transaction left behind
    const r = await runCli(['ledger', 'add', '--ledger', p, biggerIndex()]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain('recorded 1 message as sent');
    expect(before).not.toBe(sha256(p));
  });
});

describe('a ledger in a read-only directory', () => {
  // root ignores permissions: run the command as nobody there
  const asNobody = process.getuid?.() === 0;
  function run(args: string[]): RunResult {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: 'true', NO_COLOR: '1' }, encoding: 'utf8', ...(asNobody ? { uid: 65534, gid: 65534 } : {}) });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, command: `breach-impact ${args.join(' ')}` };
  }

  it('add fails clearly and changes nothing; show and report --unsent still read it', () => {
    const dir = join(work, 'read-only');
    mkdirSync(dir);
    const p = join(dir, 'ledger.sqlite');
    copyFileSync(ledger, p);
    const extra = biggerIndex();
    // readable by the one who runs it (nobody, when the tests run as root)
    for (const f of [p, extra, join(work, 'case', 'case.sqlite'), join(work, 'case', 'manifest.json')]) chmodSync(f, 0o644);
    for (const d of [work, join(work, 'case')]) chmodSync(d, 0o755);
    chmodSync(dir, 0o555);
    const before = sha256(p);
    try {
      const r = run(['ledger', 'add', '--ledger', p, extra]);
      expect(r.code, explain(r)).toBe(1);
      expect(r.stderr).toContain(`cannot write the ledger ${p}: the file or its directory is read-only`);
      expect(r.stderr).toContain('nothing was recorded');
      const s = run(['ledger', 'show', '--ledger', p, '--format', 'jsonl']);
      expect(s.code, explain(s)).toBe(0);
      expect(s.stdout).toBe(shown);
      const u = run(['report', 'users', '--case', join(work, 'case'), '--ledger', p, '--unsent']);
      expect(u.code, explain(u)).toBe(0);
      expect(u.stdout).toBe('user_id,email,name,org_ids,matched_by,events,first_seen,last_seen,exposed,countries,regions\n');
    } finally {
      chmodSync(dir, 0o755);
    }
    expect(sha256(p)).toBe(before);
  });
});
