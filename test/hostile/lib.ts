/**
 * Helpers for the hostile-input suite: run the real binary (optionally wrapped in `sh -c 'umask
 * …'`, `unshare`, `strace`), read a case back, and assert a run's whole outcome at once: exit code,
 * the rejected rows (file, line, reason), the summary counts and their invariant, completeness,
 * encoding errors, and exactly which files were published.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse as csvParse } from 'csv-parse/sync';
import { expect } from 'vitest';
import type { Counts } from '../../src/core/tally.js';
import type { Summary } from '../../src/correlation.js';
import { runCli, tempDir as tempDirRaw, type RunOptions, type RunResult } from '../helpers.js';

export { explain, tempDir } from '../helpers.js';
export type { Counts, Summary };

/** Every file a finished case directory holds, in readdir order. */
export const CASE_FILES = ['case.sqlite', 'jurisdictions.csv', 'manifest.json', 'orgs.csv', 'rejected.csv', 'roster.csv', 'summary.json', 'unmatched.csv', 'users.csv'];

/** The suite runs the binary through helpers.runCli (wrappers and node options included). */
export type HostileRunOptions = RunOptions;
export const run = runCli;

/** Does this command work here? (unshare, strace, … may be missing or forbidden in CI.) */
export function works(cmd: string[]): boolean {
  try {
    return spawnSync(cmd[0], cmd.slice(1), { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

export interface RejectedRow {
  file: string;
  line: number;
  reason: string;
  excerpt: string;
}

export interface CaseRun {
  r: RunResult;
  /** the directory the command ran in */
  dir: string;
  /** the case directory */
  out: string;
  summary: Summary;
  rejected: RejectedRow[];
}

export function parseCsv(text: string | Buffer): string[][] {
  return csvParse(text, { relax_column_count: false, bom: false }) as string[][];
}

/** A list of the case as objects keyed by its header. */
export function readList(out: string, name: string): Record<string, string>[] {
  const rows = parseCsv(readFileSync(join(out, name)));
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

export function readRejected(out: string): RejectedRow[] {
  return readList(out, 'rejected.csv').map((r) => ({ file: r.file, line: Number(r.line), reason: r.reason, excerpt: r.excerpt }));
}

/** An internal database with nobody in it: every vendor identity is unmatched. */
export const EMPTY_SQL = 'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\nCREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT);\nCREATE TABLE memberships (user_id INTEGER, org_id INTEGER, role TEXT);\n';

export interface InternalData {
  users?: [string | number | bigint, string | null, string | null][];
  orgs?: [string | number | bigint, string | null][];
  memberships?: [string | number | bigint, string | number | bigint, string][];
  /** column type of the id columns */
  idType?: 'INTEGER' | 'TEXT';
}

/** Write a real SQLite internal database (values bound, so any string survives) and return its path. */
export function writeInternalDb(path: string, data: InternalData = {}): string {
  const t = data.idType ?? 'INTEGER';
  const db = new Database(path);
  db.exec(`CREATE TABLE users (id ${t} PRIMARY KEY, email TEXT, name TEXT);
    CREATE TABLE orgs (id ${t} PRIMARY KEY, name TEXT);
    CREATE TABLE memberships (user_id ${t}, org_id ${t}, role TEXT);`);
  const u = db.prepare('INSERT INTO users VALUES (?, ?, ?)');
  const o = db.prepare('INSERT INTO orgs VALUES (?, ?)');
  const m = db.prepare('INSERT INTO memberships VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const row of data.users ?? []) u.run(...row);
    for (const row of data.orgs ?? []) o.run(...row);
    for (const row of data.memberships ?? []) m.run(...row);
  })();
  db.close();
  return path;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** One NDJSON event line (a Mixpanel raw-export record). */
export function event(props: Record<string, unknown>): string {
  return JSON.stringify({ event: 'Page View', properties: { time: 1762000000, ...props } });
}

export interface CorrelateOptions extends HostileRunOptions {
  internal?: string;
  extra?: string[];
  out?: string;
}

/**
 * `correlate <exports> --internal … --out case --json` in `dir`; reads summary.json and
 * rejected.csv back when they were published. The internal database defaults to an empty one.
 */
export async function correlateIn(dir: string, exports: string[], opts: CorrelateOptions = {}): Promise<CaseRun> {
  let internal = opts.internal;
  if (internal === undefined) {
    internal = join(dir, 'internal-empty.sql');
    if (!existsSync(internal)) writeFileSync(internal, EMPTY_SQL);
  }
  const out = join(dir, opts.out ?? 'case');
  const r = await run(['correlate', ...exports, '--internal', internal, '--out', out, '--json', ...(opts.extra ?? [])], { cwd: dir, ...opts });
  const summaryPath = join(out, 'summary.json');
  const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary) : (undefined as unknown as Summary);
  const rejected = existsSync(join(out, 'rejected.csv')) ? readRejected(out) : [];
  return { r, dir, out, summary, rejected };
}

export interface Expected {
  code: number;
  records: Counts;
  /** [file, line, reason] in list order */
  rejected: [string, number, string][];
  /** default: true unless code is 1 */
  complete?: boolean;
  encodingErrors?: number;
  /** default: CASE_FILES */
  files?: string[];
  /** stderr must match (default: stderr must be empty when the run is complete and exits 0) */
  stderr?: RegExp;
}

/** The whole outcome of a correlate run, asserted at once. */
export function expectCase(c: CaseRun, e: Expected): void {
  const why = explainCase(c);
  expect(c.r.code, why).toBe(e.code);
  expect(existsSync(c.out) ? readdirSync(c.out).sort() : [], why).toEqual(e.files ?? CASE_FILES);
  const s = c.summary;
  expect(s, why).toBeDefined();
  const n = s.records;
  expect(n.read, `invariant read = accepted + rejected + filtered + duplicates\n${why}`).toBe(n.accepted + n.rejected + n.filtered + n.duplicates);
  expect(n, why).toEqual(e.records);
  expect(c.rejected.map((x) => [x.file, x.line, x.reason]), why).toEqual(e.rejected);
  expect(c.rejected.length, why).toBe(n.rejected);
  expect(s.complete, why).toBe(e.complete ?? e.code !== 1);
  if (e.encodingErrors !== undefined) expect(s.encoding_errors, why).toBe(e.encodingErrors);
  // --json prints summary.json on stdout
  expect(JSON.parse(c.r.stdout), why).toEqual(s);
  if (e.stderr) expect(c.r.stderr, why).toMatch(e.stderr);
  else if (e.code === 0) expect(c.r.stderr, why).toBe('');
  expect(existsSync(c.out) ? readdirSync(c.out).filter((f) => f.endsWith('.tmp')) : [], why).toEqual([]);
}

/**
 * A refused run: the exit code, a message on stderr naming the problem, nothing on stdout, and
 * no list published (the case directory absent, empty, or holding only what was there before).
 */
export function expectRefused(c: { r: RunResult; out: string }, code: number, stderr: RegExp, before: string[] = []): void {
  const why = explainCase(c);
  expect(c.r.code, why).toBe(code);
  expect(c.r.stderr, why).toMatch(stderr);
  expect(c.r.stderr, why).toMatch(/what to do:/);
  expect(c.r.stdout, why).toBe('');
  expect(existsSync(c.out) ? readdirSync(c.out).sort() : [], why).toEqual(before);
}

export function explainCase(c: { r: RunResult; out?: string }): string {
  let s = `${c.r.command}\nexit ${c.r.code}${c.r.signal ? ` (${c.r.signal})` : ''}\n--- stdout\n${c.r.stdout.slice(0, 4000)}\n--- stderr\n${c.r.stderr.slice(0, 4000)}`;
  if (c.out && existsSync(join(c.out, 'rejected.csv'))) s += `\n--- rejected.csv\n${readFileSync(join(c.out, 'rejected.csv'), 'utf8').slice(0, 4000)}`;
  return s;
}

/** C0 controls but LF, DEL, C1 controls, and bidi / zero-width format characters: never raw on a terminal. */
// eslint-disable-next-line no-control-regex
export const RAW_TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u;

/** A spreadsheet formula trigger at the start of a cell. */
export const FORMULA_START = /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/u;

const HOOK = `
// Preloaded into the tool by the hostile suite (node --require; worker threads inherit it). Jobs:
//  - BI_NET_LOG: every attempt to open a network connection or resolve a name is appended to that
//    file and fails; the suite asserts the file never appears.
//  - BI_NET_ARMED: once the guard is in place, "armed PID THREAD" is appended to that file, so a
//    test can show the guard was loaded into the very process it ran.
//  - BI_RSS_OUT: at exit, the process's peak resident set size (KiB) is written to that file.
//  - BI_WORKER_TERMINATE_NEVER: a worker thread's terminate() stops nothing and never settles, and
//    lets the process end without it: the event loop runs dry while the tool awaits it.
'use strict';
const fs = require('node:fs');
const netLog = process.env.BI_NET_LOG;
if (netLog) {
  const deny = (what) => function () {
    fs.appendFileSync(netLog, what + '\\n');
    throw new Error('network access attempted: ' + what);
  };
  const patch = (mod, names) => {
    const m = require(mod);
    for (const n of names) if (typeof m[n] === 'function') m[n] = deny(mod + '.' + n);
  };
  patch('node:net', ['connect', 'createConnection', 'createServer']);
  require('node:net').Socket.prototype.connect = deny('net.Socket.connect');
  patch('node:tls', ['connect']);
  patch('node:dgram', ['createSocket']);
  patch('node:http', ['request', 'get', 'createServer']);
  patch('node:https', ['request', 'get', 'createServer']);
  patch('node:http2', ['connect']);
  patch('node:dns', ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveMx', 'resolveTxt', 'reverse']);
  const dnsp = require('node:dns').promises;
  for (const n of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) dnsp[n] = deny('dns.promises.' + n);
  if (typeof globalThis.fetch === 'function') globalThis.fetch = deny('fetch');
  if (typeof globalThis.WebSocket === 'function') globalThis.WebSocket = deny('WebSocket');
  require('node:module').syncBuiltinESMExports();
  const armed = process.env.BI_NET_ARMED;
  if (armed) fs.appendFileSync(armed, 'armed ' + process.pid + ' ' + require('node:worker_threads').threadId + '\\n');
}
if (process.env.BI_WORKER_TERMINATE_NEVER) {
  const { Worker } = require('node:worker_threads');
  Worker.prototype.terminate = function () {
    this.unref();
    return new Promise(() => undefined);
  };
}
const rssOut = process.env.BI_RSS_OUT;
if (rssOut) process.on('exit', () => fs.writeFileSync(rssOut, String(process.resourceUsage().maxRSS)));
`;

let hookPath: string | undefined;
/** The preload hook above, written once per test process; pass it as nodeArgs: ['--require', hook]. */
export function preloadHook(): string {
  if (hookPath === undefined) {
    hookPath = join(tempDirRaw(), 'bi-hook.cjs');
    writeFileSync(hookPath, HOOK);
  }
  return hookPath;
}
