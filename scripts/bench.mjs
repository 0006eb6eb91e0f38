#!/usr/bin/env node
/**
 * npm run bench: correlate end to end against the parse floor (node:readline + JSON.parse per
 * line, nothing else), on cached synthetic workloads of two internal-database shapes,
 * alternating, several times; medians. The results table goes to stdout and replaces the
 * section between `<!-- bench:start -->` and `<!-- bench:end -->` in docs/performance.md.
 * Only the CLI is run, so the harness does not depend on correlate's internals.
 *
 * Environment:
 *   BENCH_SIZES   workloads, comma-separated: 1m, 5m, or any N events (e.g. 200k)   default 1m,5m
 *   BENCH_SHAPES  internal-database shapes, comma-separated                        default integer,text
 *                 integer: integer ids, index on users.email (fixtures' default)
 *                 text: fixtures --id-style text --no-indexes (user-…/org-… ids, no secondary index)
 *   BENCH_RUNS    runs of each contender per workload                               default 3
 *   BENCH_CACHE   where workloads live (never the repo)   default ${XDG_CACHE_HOME:-~/.cache}/breach-impact-bench
 *   BENCH_DUCKDB  1: also time DuckDB (installs @duckdb/node-api into the cache, not the repo);
 *                 0: never; unset: only if already installed there
 *   BENCH_THREADS correlate's threads: `--threads N` when `correlate --help` lists it, else the
 *                 environment variable BREACH_IMPACT_THREADS=N (e.g. 1 for the single-threaded path)
 *   BENCH_DIFF    0: skip timing `diff` of two cases of each workload (the whole window, and the
 *                 window from its second day: most rows change, some go)        default 1
 *   BENCH_NOTE    a sentence written under the heading of the docs section (e.g. what code was measured)
 *
 * Children are timed from the outside (wall) and report their own getrusage at exit (CPU time,
 * peak RSS, all threads included) through a tiny --import hook.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { END_MARKER, SHAPES, START_MARKER, median, parseShapes, parseSize, renderSection, renderTable, replaceSection, sizeLabel, summarize, threadsFor } from './bench-lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The first day of the generator's events (src/fixtures/generate.ts START: 2025-11-01T00:00:00Z). */
const GENERATOR_START = 1761955200;
const BIN = join(ROOT, 'bin', 'breach-impact.js');
const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === '--floor') {
  // The parse floor: what any Node tool must at least pay to read the export.
  let lines = 0;
  let bad = 0;
  const rl = createInterface({ input: createReadStream(process.argv[3]), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line === '') continue;
    lines++;
    try {
      JSON.parse(line);
    } catch {
      bad++;
    }
  }
  process.stdout.write(JSON.stringify({ lines, bad }) + '\n');
  process.exit(0);
}

const cacheRoot = process.env.BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'breach-impact-bench');
if (cacheRoot.startsWith(ROOT + '/')) throw new Error(`BENCH_CACHE ${cacheRoot} is inside the repository; choose a directory outside it`);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_RUNS: ${process.env.BENCH_RUNS} is not a whole number of runs (1 or more)`);
const SIZES = (process.env.BENCH_SIZES ?? '1m,5m').split(',').map((s) => s.trim()).filter(Boolean);
const SHAPE_NAMES = parseShapes(process.env.BENCH_SHAPES ?? 'integer,text');
const DOC = join(ROOT, 'docs', 'performance.md');
if (process.argv[2] === '--duckdb') {
  await duckdbJob(process.argv[3], process.argv[4], process.argv[5]);
  process.exit(0);
}
// Bad settings and broken markers fail now, not after an hour of runs.
for (const size of SIZES) parseSize(size);
replaceSection(readFileSync(DOC, 'utf8'), '');
mkdirSync(cacheRoot, { recursive: true });

const HOOK = join(cacheRoot, 'rusage-hook.mjs');
writeFileSync(
  HOOK,
  `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const u = process.resourceUsage();
  if (process.env.BENCH_RUSAGE_OUT) writeFileSync(process.env.BENCH_RUSAGE_OUT, JSON.stringify({ user: u.userCPUTime, sys: u.systemCPUTime, maxRSS: u.maxRSS }));
});
`,
);

/** The generator's own code, so a changed generator never reuses a stale workload. */
function generatorVersion() {
  const h = createHash('sha256');
  const dir = join(ROOT, 'dist', 'fixtures');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js')).sort()) h.update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 10);
}

/** One workload: every size has the same users and orgs; the shape is the internal database's. */
function workload(size, shape) {
  const w = { events: parseSize(size), users: 1_000_000, orgs: 200_000, seed: 'bench', shape };
  const dir = join(cacheRoot, `w-${w.events}-u${w.users}-o${w.orgs}-s${w.seed}-${shape}-${generatorVersion()}`);
  const plantedFile = join(dir, 'planted.json');
  if (!existsSync(plantedFile)) {
    process.stderr.write(`generating ${size} ${shape} workload in ${dir} …\n`);
    rmSync(dir, { recursive: true, force: true });
    const t = process.hrtime.bigint();
    const out = execFileSync(process.execPath, [BIN, 'fixtures', '--out', dir, '--events', String(w.events), '--users', String(w.users), '--orgs', String(w.orgs), '--seed', w.seed, ...SHAPES[shape].args, '--json']);
    process.stderr.write(`  generated in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s\n`);
    writeFileSync(plantedFile, out);
  }
  const planted = JSON.parse(readFileSync(plantedFile, 'utf8'));
  return { ...w, size, dir, planted, export: join(dir, planted.files.events), internal: join(dir, planted.files.internal) };
}

function run(args, env = {}) {
  const usage = join(cacheRoot, `rusage-${process.pid}.json`);
  rmSync(usage, { force: true });
  return new Promise((resolvePromise, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', HOOK, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, BENCH_RUSAGE_OUT: usage, CI: 'true' },
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t) / 1e9;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}\n${Buffer.concat(err).toString().slice(0, 2000)}`));
      const u = JSON.parse(readFileSync(usage, 'utf8'));
      rmSync(usage, { force: true });
      resolvePromise({ wall, cpu: (u.user + u.sys) / 1e6, rss: u.maxRSS / 1024, stdout: Buffer.concat(out).toString() });
    });
  });
}

function check(summary, planted) {
  const want = {
    'records.read': planted.lines,
    'records.rejected': planted.malformed,
    'records.duplicates': planted.duplicates,
    'records.accepted': planted.accepted,
    'identities.vendor': planted.identities,
    users: planted.affected_users,
    ...Object.fromEntries(Object.entries(planted.matched_by).map(([k, v]) => [`matched_by.${k}`, v])),
  };
  for (const [path, v] of Object.entries(want)) {
    const got = path.split('.').reduce((o, k) => o?.[k], summary);
    if (got !== v) throw new Error(`correlate summary ${path} = ${got}, the generator planted ${v}`);
  }
  const r = summary.records;
  if (r.read !== r.accepted + r.rejected + r.filtered + r.duplicates) throw new Error('summary invariant read = accepted + rejected + filtered + duplicates broken');
}

function duckdbModule() {
  const dir = join(cacheRoot, 'duckdb');
  const mod = join(dir, 'node_modules', '@duckdb', 'node-api');
  if (process.env.BENCH_DUCKDB === '0') return undefined;
  if (!existsSync(mod)) {
    if (process.env.BENCH_DUCKDB !== '1') return undefined;
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"name":"bench-duckdb","private":true}\n');
    try {
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, '@duckdb/node-api'], { stdio: 'inherit' });
    } catch {
      process.stderr.write('@duckdb/node-api could not be installed: skipping DuckDB\n');
      return undefined;
    }
  }
  return existsSync(mod) ? dir : undefined;
}

/** The internal tables as CSV, for DuckDB (its SQLite reader is a download this machine cannot make). */
async function internalCsv(w) {
  const dir = join(w.dir, 'csv');
  if (existsSync(join(dir, 'done'))) return dir;
  mkdirSync(dir, { recursive: true });
  const { default: Database } = await import(join(ROOT, 'node_modules', 'better-sqlite3', 'lib', 'index.js'));
  const db = new Database(w.internal, { readonly: true });
  const quote = (v) => (v === null ? '' : /[",\n\r]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  for (const [table, cols] of [['users', ['id', 'email', 'name']], ['orgs', ['id', 'name']], ['memberships', ['user_id', 'org_id', 'role']]]) {
    const rows = [cols.join(',')];
    for (const r of db.prepare(`SELECT ${cols.join(', ')} FROM ${table}`).raw(true).iterate()) rows.push(r.map(quote).join(','));
    writeFileSync(join(dir, `${table}.csv`), rows.join('\n') + '\n', { mode: 0o600 });
  }
  db.close();
  writeFileSync(join(dir, 'done'), '');
  return dir;
}

/** The same job in DuckDB: read the NDJSON, dedupe, group identities, match, org impact and roster, write CSVs. */
async function duckdbJob(exportPath, csvDir, outDir) {
  const { DuckDBInstance } = await import(join(cacheRoot, 'duckdb', 'node_modules', '@duckdb', 'node-api', 'lib', 'index.js'));
  const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await inst.connect();
  const q = (s) => `'${s.replace(/'/g, "''")}'`;
  mkdirSync(outDir, { recursive: true });
  await con.run(`
    CREATE TABLE users AS SELECT CAST(id AS VARCHAR) id, email, name, lower(trim(email)) norm FROM read_csv(${q(join(csvDir, 'users.csv'))}, all_varchar=true);
    CREATE TABLE orgs AS SELECT CAST(id AS VARCHAR) id, name FROM read_csv(${q(join(csvDir, 'orgs.csv'))}, all_varchar=true);
    CREATE TABLE memberships AS SELECT CAST(user_id AS VARCHAR) user_id, CAST(org_id AS VARCHAR) org_id, role FROM read_csv(${q(join(csvDir, 'memberships.csv'))}, all_varchar=true);
    CREATE TABLE ev AS
      SELECT p.distinct_id did, p."$user_id" uid, lower(trim(p."$email")) email, p."$device_id" dev,
             p."$insert_id" iid, p.time t, p.mp_country_code country, p."$region" region, p.org_id org
      FROM (SELECT properties p FROM read_ndjson(${q(exportPath)}, ignore_errors=true, columns={properties: 'STRUCT(distinct_id VARCHAR, "$user_id" VARCHAR, "$email" VARCHAR, "$device_id" VARCHAR, "$insert_id" VARCHAR, time DOUBLE, mp_country_code VARCHAR, "$region" VARCHAR, org_id VARCHAR)'}))
      WHERE p IS NOT NULL;
    CREATE TABLE dedup AS SELECT * FROM ev QUALIFY row_number() OVER (PARTITION BY iid) = 1;
    CREATE TABLE ident AS
      SELECT did, list_distinct(list(uid)) uids, list_distinct(list(email)) emails, list_distinct(list(dev)) devs,
             count(*) events, min(t) first_t, max(t) last_t, list_distinct(list(country)) countries, list_distinct(list(org)) orgs
      FROM dedup GROUP BY did;
    CREATE TABLE m1 AS SELECT i.did, min(u.id) uid, count(DISTINCT u.id) n FROM ident i, unnest(i.uids) x(v) JOIN users u ON u.id = x.v GROUP BY i.did;
    CREATE TABLE m2 AS SELECT i.did, min(u.id) uid, count(DISTINCT u.id) n FROM ident i, unnest(i.emails) x(v) JOIN users u ON u.norm = x.v GROUP BY i.did;
    CREATE TABLE m3 AS SELECT i.did, u.id uid FROM ident i JOIN users u ON u.id = i.did;
    CREATE TABLE matched AS
      SELECT i.did, coalesce(CASE WHEN m1.n = 1 THEN m1.uid END, CASE WHEN m1.did IS NULL AND m2.n = 1 THEN m2.uid END,
                             CASE WHEN m1.did IS NULL AND m2.did IS NULL THEN m3.uid END) uid, i.events, i.first_t, i.last_t, i.countries
      FROM ident i LEFT JOIN m1 USING (did) LEFT JOIN m2 USING (did) LEFT JOIN m3 USING (did);
    CREATE TABLE affected AS SELECT uid, sum(events) events, min(first_t) first_t, max(last_t) last_t FROM matched WHERE uid IS NOT NULL GROUP BY uid;
    CREATE TABLE aorgs AS SELECT m.org_id, count(DISTINCT a.uid) affected FROM affected a JOIN memberships m ON m.user_id = a.uid GROUP BY m.org_id;
    COPY (SELECT a.uid, u.email, u.name, a.events, a.first_t, a.last_t FROM affected a JOIN users u ON u.id = a.uid ORDER BY a.uid) TO ${q(join(outDir, 'users.csv'))};
    COPY (SELECT o.org_id, g.name, o.affected FROM aorgs o JOIN orgs g ON g.id = o.org_id ORDER BY o.org_id) TO ${q(join(outDir, 'orgs.csv'))};
    COPY (SELECT o.org_id, u.email, u.name, m.role FROM aorgs o JOIN memberships m ON m.org_id = o.org_id AND m.role IN ('owner', 'admin') JOIN users u ON u.id = m.user_id ORDER BY o.org_id, u.email) TO ${q(join(outDir, 'roster.csv'))};
    COPY (SELECT did, events FROM matched WHERE uid IS NULL ORDER BY did) TO ${q(join(outDir, 'unmatched.csv'))};
  `);
}

/** How correlate is told BENCH_THREADS: asks this binary's `correlate --help` whether it has --threads. */
function threadsHow(threads) {
  if (!threads) return threadsFor(threads, '');
  return threadsFor(threads, execFileSync(process.execPath, [BIN, 'correlate', '--help'], { encoding: 'utf8' }));
}

/** The commit measured; "+ uncommitted changes" when the code differs from it (docs aside). */
function commitMeasured() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs', ':!README.md'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

async function main() {
  const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpus()[0]?.model;
  const machine = `${cpus().length} cores (${cpuModel}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`;
  const commit = commitMeasured();
  console.log(`machine: ${machine}; commit ${commit}`);
  console.log(`runs: ${RUNS} per contender, alternating; medians; ratio = correlate's median wall time ÷ the parse floor's`);
  const duck = duckdbModule();
  const caseDir = join(cacheRoot, 'case');
  const threads = threadsHow(process.env.BENCH_THREADS);
  const rows = [];
  const extra = [];
  // The machine's 1-minute load average every 10 s: a busy machine slows correlate (two threads) more than the floor (one).
  const loads = [loadavg()[0]];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 10_000).unref();
  for (const size of SIZES) {
    for (const shape of SHAPE_NAMES) {
      const w = workload(size, shape);
      const bytes = statSync(w.export).size;
      const contenders = [
        { name: 'parse floor (readline + JSON.parse)', args: [SELF, '--floor', w.export] },
        {
          name: `correlate${threads.label ? ` (${threads.label.replace(/`/g, '')})` : ''}`,
          args: [BIN, 'correlate', w.export, '--internal', w.internal, '--out', caseDir, '--force', '--quiet', '--json', ...threads.args],
          env: threads.env,
          check: (r) => check(JSON.parse(r.stdout), w.planted),
        },
      ];
      if (duck) {
        const csvDir = await internalCsv(w);
        contenders.push({ name: 'DuckDB (read_ndjson + SQL joins, 2 threads)', args: [SELF, '--duckdb', w.export, csvDir, join(cacheRoot, 'duck-out')] });
      }
      const results = contenders.map(() => []);
      for (let i = 0; i < RUNS; i++) {
        for (const [k, c] of contenders.entries()) {
          const r = await run(c.args, c.env);
          c.check?.(r);
          results[k].push(r);
          process.stderr.write(`  ${size} ${shape} run ${i + 1}/${RUNS} ${c.name}: ${r.wall.toFixed(2)} s, ${r.rss.toFixed(0)} MB\n`);
        }
      }
      const row = summarize(w.events, shape, results[0], results[1]);
      rows.push(row);
      const what = `${sizeLabel(w.events)} ${shape}: ${w.events.toLocaleString('en-US')} events (${(bytes / 1e6).toFixed(1)} MB NDJSON), ${w.users.toLocaleString('en-US')} users, ${w.orgs.toLocaleString('en-US')} orgs, ${w.planted.memberships.toLocaleString('en-US')} memberships, ${w.planted.identities.toLocaleString('en-US')} vendor identities`;
      console.log(`\n${what}`);
      const table = [`| contender | wall s | CPU s | peak RSS MB | events/s | MB/s | ÷ floor |`, `|---|---:|---:|---:|---:|---:|---:|`];
      for (const [k, c] of contenders.entries()) {
        const med = summarize(w.events, shape, results[0], results[k]);
        table.push(`| ${c.name} | ${med.correlate.toFixed(2)} | ${med.cpu.toFixed(2)} | ${med.rss.toFixed(0)} | ${Math.round(w.events / med.correlate).toLocaleString('en-US')} | ${(bytes / 1e6 / med.correlate).toFixed(0)} | ${med.ratio.toFixed(2)} |`);
      }
      console.log(table.join('\n'));
      if (duck) extra.push(`${what}:\n\n${table.join('\n')}`);
      if (process.env.BENCH_DIFF !== '0') extra.push(await benchDiff(w, caseDir, threads));
    }
  }
  clearInterval(sampler);
  loads.push(loadavg()[0]);
  const load = `the 1-minute load average during the run: median ${median(loads).toFixed(1)}, highest ${Math.max(...loads).toFixed(1)} (${cpus().length} cores)`;
  console.log(`\n${load}\nsummary (targets of issue 25)\n${renderTable(rows)}`);
  const section = renderSection(rows, {
    date: new Date().toISOString().slice(0, 10),
    commit,
    machine,
    runs: RUNS,
    threads: threads.label,
    load,
    note: process.env.BENCH_NOTE,
    extra,
  });
  writeFileSync(DOC, replaceSection(readFileSync(DOC, 'utf8'), section));
  process.stderr.write(`wrote the table to ${DOC} (between ${START_MARKER} and ${END_MARKER})\n`);
}

/**
 * `diff` of two cases of the workload: the one correlate just wrote (every event) and one from
 * the second day of the generator's window on, where most users' counts and times change and
 * some users, orgs and roster rows are gone.
 */
async function benchDiff(w, caseA, threads) {
  const caseB = join(cacheRoot, 'case-b');
  const since = new Date((GENERATOR_START + 86400) * 1000).toISOString().slice(0, 10);
  await run([BIN, 'correlate', w.export, '--internal', w.internal, '--out', caseB, '--force', '--quiet', '--json', '--since', since, ...threads.args], threads.env);
  const runs = [];
  let differences = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await run([BIN, 'diff', caseA, caseB]);
    differences = r.stdout.split('\n').length - 2;
    runs.push(r);
    process.stderr.write(`  ${w.size} ${w.shape} run ${i + 1}/${RUNS} diff: ${r.wall.toFixed(2)} s, ${r.rss.toFixed(0)} MB\n`);
  }
  if (differences <= 0) throw new Error('diff found no difference between the whole window and the window from its second day');
  const m = (f) => median(runs.map(f));
  const line = `\`diff\` of two ${sizeLabel(w.events)} ${w.shape} cases (every event, and from ${since} on; ${differences.toLocaleString('en-US')} rows differ): ${m((r) => r.wall).toFixed(2)} s, CPU ${m((r) => r.cpu).toFixed(2)} s, peak RSS ${m((r) => r.rss).toFixed(0)} MB (medians).`;
  console.log(`\n${line}`);
  return line;
}

await main();
