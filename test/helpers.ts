/** Shared test helpers: run the real binary in a fresh directory and capture everything. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'breach-impact.js');
export const FIXTURES = join(ROOT, 'fixtures');
/** The shared malformed-input corpus, beside the clone; tests that need it skip when it is absent. */
export const CORPUS = resolve(ROOT, '..', 'shared', 'corpus');
export const HAS_CORPUS = existsSync(CORPUS);

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  command: string;
}

export interface RunOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Run `node bin/breach-impact.js ...args`; never throws on a non-zero exit. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        command: `breach-impact ${args.join(' ')} (cwd ${opts.cwd ?? ROOT})`,
      });
    });
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

export function tempDir(prefix = 'bi-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every file of a case directory, name → content (case.sqlite and manifest.json left out). */
export function readCase(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (f === 'case.sqlite' || f === 'manifest.json') continue;
    out[f] = readFileSync(join(dir, f), 'utf8');
  }
  return out;
}

/** A message for failed expectations: the command, its exit and both streams. */
export function explain(r: RunResult): string {
  return `${r.command}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The reader's warning about a CSV whose first row names no known column (it quotes nothing of that row). */
export const HEADERLESS_WARNING = (file: string) =>
  `${file}: no name in the CSV's first row is a column this tool knows by default: if the file has no header row, that row was read as the header (not counted as a record, and never shown); give the file a header row, or map its columns by name with --column FIELD=NAME`;
