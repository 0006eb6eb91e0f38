/**
 * Shared test helpers: run the real binary in a fresh directory and capture everything; compare
 * with golden files; count the corpus files a test file ran.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, type RunnerTask } from 'vitest';

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
  /** Command words placed before `node bin/breach-impact.js` (e.g. ['unshare', '-rn']). */
  wrap?: string[];
  /** Extra node options (e.g. ['--require', hook]). */
  nodeArgs?: string[];
  /** Called with the child once spawned (to signal it, or close its stdout). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/** Run `node bin/breach-impact.js ...args` (optionally wrapped); never throws on a non-zero exit. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const argv = [...(opts.wrap ?? []), process.execPath, ...(opts.nodeArgs ?? []), BIN, ...args];
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdout.on('error', () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        command: `${(opts.wrap ?? []).join(' ')} breach-impact ${args.join(' ')} (cwd ${opts.cwd ?? ROOT})`.trim(),
      });
    });
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    opts.onSpawn?.(child);
  });
}

/** the temporary directories of this test file, removed after its last test (they hold cases: personal data of the fixtures) */
const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A new private directory under the system's temporary directory, removed when the test file's tests are done. */
export function tempDir(prefix = 'bi-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
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

/**
 * Compare `actual` with the golden file `dir/name`. With UPDATE_GOLDEN=1 the file is rewritten
 * first and its name printed when it changed (the run then passes: review the diff in git).
 * Under CI=true UPDATE_GOLDEN is refused, so CI always compares against the committed files.
 */
export function expectGolden(dir: string, name: string, actual: string): void {
  const path = join(dir, name);
  const shown = relative(ROOT, path);
  if (process.env.UPDATE_GOLDEN) {
    if (process.env.CI === 'true') throw new Error(`UPDATE_GOLDEN is set under CI=true: refusing to rewrite ${shown}; golden files are updated on a developer's machine and committed (see CONTRIBUTING.md)`);
    const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (before !== actual) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, actual);
      console.warn(`UPDATE_GOLDEN: ${before === undefined ? 'created' : 'rewrote'} ${shown}`);
    }
  }
  if (!existsSync(path)) throw new Error(`no golden file ${shown}: run UPDATE_GOLDEN=1 npx vitest run ${relative(ROOT, expect.getState().testPath ?? '')} to create it, then review and commit it`);
  expect(actual, shown).toBe(readFileSync(path, 'utf8'));
}

/**
 * The names in a corpus directory that `keep` accepts, sorted ([] without the corpus). With the
 * corpus present an empty listing throws: a moved or emptied corpus must not pass as zero cases.
 */
export function corpusList(dir: string, keep: (name: string) => boolean = () => true): string[] {
  if (!HAS_CORPUS) return [];
  const names = readdirSync(join(CORPUS, dir)).filter(keep).sort();
  if (names.length === 0) throw new Error(`the corpus is present (${CORPUS}) but ${dir} holds no file this suite reads`);
  return names;
}

/** Was every test of these tasks selected to run (no -t filter, .only or skip left one out)? */
function allSelected(tasks: readonly RunnerTask[]): boolean {
  return tasks.every((t) => t.mode === 'run' && (t.type !== 'suite' || allSelected(t.tasks)));
}

/** A corpus file's path (parts below CORPUS), counted as read by the suite that was handed it. */
export type CorpusFile = (...parts: string[]) => string;

/**
 * A suite whose tests read the corpus, through the `corpusFile` it is handed: call that inside
 * the test that reads the file, so what is counted is files that tests actually read. At the
 * suite's end it prints how many corpus files its tests read, by corpus, so the test output
 * (and CI's log) shows them; with the corpus present and every test of the suite run, reading
 * none fails. Without the corpus the suite skips and its name says why, except under CI=true
 * (CI always has ../shared): there it fails.
 */
export function describeCorpus(name: string, fn: (corpusFile: CorpusFile) => void, options: { concurrent?: boolean } = {}): void {
  const read = new Map<string, Set<string>>();
  const corpusFile: CorpusFile = (...parts) => {
    const path = join(CORPUS, ...parts);
    const [corpus] = relative(CORPUS, path).split(sep);
    read.set(corpus, (read.get(corpus) ?? new Set<string>()).add(path));
    return path;
  };
  if (!HAS_CORPUS) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        it('has the corpus (CI always has ../shared/corpus)', () => expect.fail(`CI=true but the corpus is absent at ${CORPUS}: this suite would skip`));
      });
    } else {
      // a clone without ../shared: the suite is reported as skipped, with the reason in its name
      describe.skipIf(!HAS_CORPUS)(`${name} (needs the corpus at ${CORPUS}: absent, skipped)`, () => fn(corpusFile));
    }
    return;
  }
  describe(name, options, () => {
    fn(corpusFile);
    afterAll((suite) => {
      const by = [...read].sort(([a], [b]) => (a < b ? -1 : 1)).map(([corpus, files]) => `${corpus} ${files.size}`);
      const total = [...read.values()].reduce((n, files) => n + files.size, 0);
      console.log(`corpus: "${name}" read ${total} corpus files (${by.join(', ') || 'none'})`);
      if (total === 0 && allSelected(suite.tasks)) throw new Error(`the corpus is present (${CORPUS}) but the suite "${name}" read no corpus file`);
    });
  });
}

/** The warning about a file that gave no usable record: `why` is its rejections and the profile it was read with, as correlate words them. */
export const UNUSABLE_WARNING = (file: string, records: number, why: string) =>
  `${file}: none of its ${records} records could be used (${why}): run breach-impact inspect ${file} to see its fields, then choose the format with --vendor or map fields with --column FIELD=PATH`;
