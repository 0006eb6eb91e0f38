/**
 * Faults while running: Ctrl-C in the middle of a large run, an output directory that cannot be
 * written (under a file, read-only, full), and a reader that closes the pipe early. Nothing is
 * ever published as complete when the run did not complete, and no temporary file is left.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers.js';
import { CASE_FILES, correlateIn, event, expectRefused, explainCase, preloadHook, run, sha256, tempDir, works } from './lib.js';

/** A large NDJSON export (n records, ~150 bytes each). */
function largeExport(path: string, n: number): void {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(event({ distinct_id: `user-${i % 50_000}`, $insert_id: `e${i}`, $city: 'Berlin', $os: 'Linux' }));
  writeFileSync(path, parts.join('\n') + '\n');
}

/** Files in `dir` and what they hold, to compare before and after. */
function snapshot(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, sha256(join(dir, f))]));
}

const IS_ROOT = process.getuid?.() === 0;
/** A private mount namespace (as root, or as a mapped root in a user namespace). */
function mountNamespace(): string[] | undefined {
  const probe = tempDir();
  for (const cmd of [['unshare', '-m'], ['unshare', '-rm']]) {
    if (works([...cmd, 'sh', '-c', `mount -t tmpfs -o size=64k none '${probe}'`])) return cmd;
  }
  return undefined;
}

describe('Ctrl-C during a large run', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    largeExport(join(dir, 'large.ndjson'), 300_000);
    writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function interrupt(out: string) {
    const t = Date.now();
    const r = await run(['correlate', 'large.ndjson', '--internal', 'internal.sql', '--out', out], {
      cwd: dir,
      timeoutMs: 60_000,
      onSpawn: (child) => {
        // wait until the run is reading (its staged case.sqlite exists), then press Ctrl-C
        const poll = setInterval(() => {
          const staged = existsSync(join(dir, out)) && readdirSync(join(dir, out)).some((f) => f.startsWith('.case.sqlite.') && f.endsWith('.tmp'));
          if (staged || Date.now() - t > 20_000) {
            clearInterval(poll);
            setTimeout(() => child.kill('SIGINT'), 150);
          }
        }, 5);
      },
    });
    return r;
  }

  it('exits 130, publishes nothing under a final name and leaves no temporary file', async () => {
    const r = await interrupt('fresh');
    expect(r.code, explainCase({ r })).toBe(130);
    expect(r.stderr).toMatch(/interrupted; no partial output was published/);
    expect(r.stdout).toBe('');
    expect(readdirSync(join(dir, 'fresh'))).toEqual([]);
  });

  it('leaves an earlier case in the directory exactly as it was', async () => {
    writeFileSync(join(dir, 'small.ndjson'), event({ distinct_id: 'earlier' }) + '\n');
    const first = await correlateIn(dir, ['small.ndjson'], { internal: 'internal.sql', out: 'earlier' });
    expect(first.r.code).toBe(0);
    const before = snapshot(join(dir, 'earlier'));
    expect(Object.keys(before)).toEqual(CASE_FILES);
    const r = await interrupt('earlier');
    expect(r.code, explainCase({ r })).toBe(130);
    expect(snapshot(join(dir, 'earlier'))).toEqual(before);
  });
});

describe('a parsing worker that dies', () => {
  it('stops the run (exit 1) with a clear message and publishes nothing, never a case short of its identities', async () => {
    const dir = tempDir();
    // a worker capped at 2 MB of heap runs out of memory parsing a batch of these (1 MiB of lines)
    writeFileSync(join(dir, 'e.ndjson'), Array.from({ length: 40_000 }, (_, i) => event({ distinct_id: `d-${i}`, $insert_id: `i-${i}`, $email: `p${i}@example.com`, $city: 'Lyon' })).join('\n') + '\n');
    writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sql', env: { BREACH_IMPACT_THREADS: '2', BREACH_IMPACT_WORKER_HEAP_MB: '2' } });
    expectRefused(c, 1, /breach-impact: error: a parsing worker ran out of memory; the reading is incomplete and no case was written/);
    expect(c.r.stderr).toMatch(/--threads 1/);
    const ok = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sql', out: 'case-ok', env: { BREACH_IMPACT_THREADS: '2' } });
    expect(ok.r.code, explainCase(ok)).toBe(0);
    expect(ok.summary.identities.vendor).toBe(40_000);
  });
});

describe('parsing workers stopped while their replies are on the way', () => {
  // the parsing workers are stopped with replies still to come after a failure in the middle of
  // the reading, such as the full TMPDIR below
  it('are awaited until they have stopped: closeWorkers() settles (the process once ended first, with exit 0)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'test', 'hostile', 'close-workers.mjs'), ROOT], {
      encoding: 'utf8',
      env: { ...process.env, BREACH_IMPACT_BATCH_BYTES: '1024' },
      timeout: 60_000,
    });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, 'closed; unref after terminate: 0\n', '']);
  });

  it('never make a silent success: a run whose event loop runs dry before it has finished exits 1, saying so, and publishes nothing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'e.ndjson'), Array.from({ length: 2_000 }, (_, i) => event({ distinct_id: `d-${i}`, $insert_id: `i-${i}` })).join('\n') + '\n');
    // the parsing workers' terminate() never settles and keeps nothing alive
    const c = await correlateIn(dir, ['e.ndjson'], { nodeArgs: ['--require', preloadHook()], env: { BI_WORKER_TERMINATE_NEVER: '1', BREACH_IMPACT_THREADS: '2' } });
    expectRefused(c, 1, /^breach-impact: error: unexpected failure: the run ended before it finished; nothing it wrote can be trusted$/m);
    expect(c.r.stderr).toMatch(/what to do: run again; if it repeats, try --threads 1/);
  });
});

describe('an output directory that cannot be written', () => {
  function setup() {
    const dir = tempDir();
    writeFileSync(join(dir, 'e.ndjson'), [event({ distinct_id: 'a' }), event({ distinct_id: 'b' })].join('\n') + '\n');
    writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    return dir;
  }

  it('is a clear error (exit 1) when a parent of --out is a file', async () => {
    const dir = setup();
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    const r = await run(['correlate', 'e.ndjson', '--internal', 'internal.sql', '--out', 'not-a-dir/case'], { cwd: dir });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory not-a-dir\/case: a parent of it is not a directory/);
    expect(r.stderr).toMatch(/what to do: choose another --out directory/);
    expect(readFileSync(join(dir, 'not-a-dir'), 'utf8')).toBe('x');
  });

  it('is a clear error (exit 1) under /proc, which no one can write', async () => {
    const dir = setup();
    const r = await run(['correlate', 'e.ndjson', '--internal', 'internal.sql', '--out', '/proc/breach-impact-case'], { cwd: dir });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory \/proc\/breach-impact-case: /);
  });

  it.skipIf(IS_ROOT)('is a clear error (exit 1) in a directory without write permission (not as root: root ignores it)', async () => {
    const dir = setup();
    mkdirSync(join(dir, 'locked'), { mode: 0o500 });
    const r = await run(['correlate', 'e.ndjson', '--internal', 'internal.sql', '--out', 'locked/case'], { cwd: dir });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory locked\/case: permission denied/);
  });

  const ns = mountNamespace();
  it.skipIf(!ns)('is a clear error (exit 1) on a read-only mount, and an earlier case there stays as it was (needs a mount namespace: unshare -m)', async () => {
    const dir = setup();
    const first = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sql', out: 'ro/case' });
    expect(first.r.code).toBe(0);
    const before = snapshot(join(dir, 'ro', 'case'));
    writeFileSync(join(dir, 'e2.ndjson'), event({ distinct_id: 'new' }) + '\n');
    const ro = join(dir, 'ro');
    const r = await run(['correlate', 'e2.ndjson', '--internal', 'internal.sql', '--out', 'ro/case'], {
      cwd: dir,
      wrap: [...ns!, 'sh', '-c', 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', ro],
    });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory ro\/case: read-only file system/);
    expect(snapshot(join(dir, 'ro', 'case'))).toEqual(before);
  });

  // the lists are computed into case.sqlite by SQLite (its write fails: SQLITE_FULL) and written out from it
  it.skipIf(!ns)('is a clear error (exit 1) when the disk fills up, with nothing published and no temporary file (needs a mount namespace: unshare -m)', async () => {
    const dir = setup();
    // enough records that the staged case outgrows a 128 KiB file system
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(event({ distinct_id: `u${i}`, $insert_id: `i${i}` }));
    writeFileSync(join(dir, 'big.ndjson'), lines.join('\n') + '\n');
    mkdirSync(join(dir, 'small-disk'));
    const r = await run(['correlate', 'big.ndjson', '--internal', 'internal.sql', '--out', 'small-disk/case'], {
      cwd: dir,
      // list what the full file system holds once the tool has exited, before the mount goes away
      wrap: [...ns!, 'sh', '-c', 'mount -t tmpfs -o size=128k none "$0" && "$@"; rc=$?; ls -A "$0/case" > "$0.listing"; exit $rc', join(dir, 'small-disk')],
    });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the case directory small-disk\/case: no space left on the device/);
    expect(readFileSync(join(dir, 'small-disk.listing'), 'utf8')).toBe('');
  });
});

describe('a full temporary directory', () => {
  const ns = mountNamespace();
  // the dedupe writes 36 bytes a keyed record to a scratch file in TMPDIR (unlinked at once), in
  // chunks of 512 records of one of 256 buckets: 150,000 records make several
  it.skipIf(!ns)('is a clear error (exit 1) when the dedupe fills TMPDIR, with nothing published and nothing left there (needs a mount namespace: unshare -m)', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++) lines.push(event({ distinct_id: `u${i}`, $insert_id: `i${i}` }));
    writeFileSync(join(dir, 'big.ndjson'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    mkdirSync(join(dir, 'small-tmp'));
    const r = await run(['correlate', 'big.ndjson', '--internal', 'internal.sql', '--out', 'case'], {
      cwd: dir,
      env: { TMPDIR: join(dir, 'small-tmp') },
      wrap: [...ns!, 'sh', '-c', 'mount -t tmpfs -o size=128k none "$0" && "$@"; rc=$?; ls -A "$0" > "$0.listing"; exit $rc', join(dir, 'small-tmp')],
    });
    expect(r.code, explainCase({ r })).toBe(1);
    expect(r.stderr).toMatch(/cannot write the dedupe's scratch file in the temporary directory: no space left on the device; no case was written/);
    expect(r.stderr).toMatch(/what to do: free space there, or set TMPDIR to a directory on a larger disk/);
    expect(readFileSync(join(dir, 'small-tmp.listing'), 'utf8')).toBe('');
    expect(readdirSync(join(dir, 'case'))).toEqual([]);
  });
});

describe('a reader that closes the pipe early', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(event({ distinct_id: `vendor-${String(i).padStart(6, '0')}`, $insert_id: `i${i}`, $email: `person${i}@example.com` }));
    writeFileSync(join(dir, 'e.ndjson'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
    writeFileSync(join(dir, 'cut.csv'), 'distinct_id,city\na,Oslo\nb,"never closed\n');
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sql' });
    expect(c.r.code).toBe(0);
  });

  const closeAtOnce = (child: { stdout: NodeJS.ReadableStream & { destroy(): void } | null }) => child.stdout?.destroy();
  const closeAfterFirstChunk = (child: { stdout: (NodeJS.ReadableStream & { destroy(): void }) | null }) => child.stdout?.once('data', () => child.stdout?.destroy());

  it('is quiet: report stops with exit 0 and nothing on stderr (like `| head`)', async () => {
    for (const format of ['csv', 'jsonl', 'json', 'table']) {
      const r = await run(['report', 'unmatched', '--case', 'case', '--format', format], { cwd: dir, onSpawn: closeAfterFirstChunk as never });
      expect([r.code, r.signal, r.stderr], `${format}\n${explainCase({ r })}`).toEqual([0, null, '']);
    }
  });

  it('is quiet for correlate and inspect, and keeps their own exit code', async () => {
    const ok = await run(['correlate', 'e.ndjson', '--internal', 'internal.sql', '--out', 'case2'], { cwd: dir, onSpawn: closeAtOnce as never });
    expect([ok.code, ok.signal, ok.stderr], explainCase({ r: ok })).toEqual([0, null, '']);
    expect(readdirSync(join(dir, 'case2')).sort()).toEqual(CASE_FILES);
    // an incomplete input still exits 1 when nobody reads the summary
    const incomplete = await run(['correlate', 'cut.csv', '--internal', 'internal.sql', '--out', 'case3', '--quiet'], { cwd: dir, onSpawn: closeAtOnce as never });
    expect([incomplete.code, incomplete.signal], explainCase({ r: incomplete })).toEqual([1, null]);
    expect(incomplete.stderr).not.toMatch(/EPIPE|Error:|unexpected/);
    const inspected = await run(['inspect', 'e.ndjson', 'cut.csv'], { cwd: dir, onSpawn: closeAtOnce as never });
    expect([inspected.code, inspected.signal], explainCase({ r: inspected })).toEqual([1, null]);
    expect(inspected.stderr).not.toMatch(/EPIPE|Error:|unexpected/);
  });

  it.skipIf(!works(['bash', '-c', 'set -o pipefail']))('behaves the same in a real shell pipeline with head (set -o pipefail)', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" report unmatched --case case | head -n 2`], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('vendor_id,reason,email,events,first_seen,last_seen,exposed,org_ids\nvendor-000000,no_match,person0@example.com,1,2025-11-01T12:26:40Z,2025-11-01T12:26:40Z,email,\n');
    expect(r.stderr).toBe('');
  });
});

/** SIGKILL a process and every descendant (script puts the tool in a session of its own). */
function killTree(pid: number): void {
  const children = (p: number): number[] =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === p;
        } catch {
          return false;
        }
      })
      .map(Number);
  const all: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const p = queue.shift()!;
    all.push(p);
    queue.push(...children(p));
  }
  for (const p of all.reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

describe('a terminal', () => {
  // util-linux script runs the tool on a pseudo-terminal; without a real terminal around it that
  // pty has no size (0 columns) unless stty gives it one
  const hasScript = works(['script', '-qec', 'true', '/dev/null']);
  for (const [what, size] of [['that reports no width', ''], ['80 columns wide', 'stty cols 80 rows 24; ']] as const) {
    it.skipIf(!hasScript)(`${what}: correlate shows its progress, finishes and stops writing (needs script)`, async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'e.ndjson'), event({ distinct_id: 'a' }) + '\n');
      writeFileSync(join(dir, 'internal.sql'), 'CREATE TABLE users (id, email, name); CREATE TABLE orgs (id, name); CREATE TABLE memberships (user_id, org_id, role);');
      const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
      const cmd = `${size}exec ${[process.execPath, BIN, 'correlate', 'e.ndjson', '--internal', 'internal.sql', '--out', 'case'].map(quote).join(' ')}`;
      const r = await new Promise<{ code: number | null; out: number; text: string }>((resolve) => {
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env: { ...process.env, CI: undefined, NO_COLOR: '1' } });
        let out = 0;
        let text = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.length;
          if (text.length < 4096) text += b.toString('utf8');
        });
        const timer = setTimeout(() => killTree(child.pid!), 20_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, text });
        });
      });
      expect(r.code, r.text.slice(0, 300)).toBe(0);
      expect(r.out, 'bytes written to the terminal').toBeLessThan(4096);
      expect(r.text).toMatch(/case written to case/);
      expect(readdirSync(join(dir, 'case')).sort()).toEqual(CASE_FILES);
    });
  }
});
