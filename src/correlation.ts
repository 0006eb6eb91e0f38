/**
 * The correlate job, end to end: read every export into vendor identities, resolve them against
 * the internal database in one snapshot, build the impact lists and publish the case directory.
 * Files, databases and the clock live here; the decisions live in core/.
 */
import { getRandomValues } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CATEGORIES } from './core/categories.js';
import type { CanonicalField } from './core/canonical.js';
import { RECORD_ID_KEY_BYTES } from './core/identity.js';
import type { ListName } from './core/rows.js';
import { Tally, type Counts, type Window } from './core/tally.js';
import { hashFile, MANIFEST, prepareCaseDir, scratchFile, StagedFile, TOOL, type FileHash } from './case/files.js';
import { IdentityStage, resolveIdentities, RULES, writeListsBesideRoster, writeRosterLists } from './case/join.js';
import { createCaseTables, RejectedStage, storedCell, storedColumns } from './case/store.js';
import { writeListCsv } from './case/writer.js';
import { escapeTerminal } from './output/cells.js';
import { readExport, type FileResult, type Vendor } from './ingest/read.js';
import { vendorOfProfiles } from './ingest/profiles/index.js';
import { UsageError } from './errors.js';
import { takeHashFailure } from './ingest/hasher.js';
import { closeWorkers, writeListsOnWorker } from './ingest/workers.js';
import { HOOKS } from './test-hooks.js';
import { labelOf, stopMeaning, type InputFile } from './ingest/source.js';
import { InternalDb } from './internal/db.js';
import { collectGarbage } from './memory.js';
import { batchInsert } from './sqlite.js';
import type { Ui } from './ui.js';
import { VERSION } from './version.js';

export interface CorrelateOptions {
  exports: string[];
  internal: string;
  out: string;
  vendor?: Vendor;
  columns: Map<CanonicalField, string[]>;
  map?: string;
  adminRoles: string[];
  window: Window;
  maxRejected?: Gate;
  maxUnmatched?: Gate;
  vendorName?: string;
  force: boolean;
  /** threads reading NDJSON (1: the main thread alone) */
  threads: number;
  /** options as the user gave them, for the manifest */
  given: Record<string, unknown>;
}

export interface Gate {
  value: number;
  percent: boolean;
}

export interface Summary {
  records: Counts;
  identities: { vendor: number; matched: number; unmatched: number };
  users: number;
  orgs: number;
  roster: number;
  orgs_without_admin: number;
  matched_by: Record<string, number>;
  unmatched_by_reason: Record<string, number>;
  exposed: Record<string, number>;
  complete: boolean;
  encoding_errors: number;
  gates: { max_rejected: boolean | null; max_unmatched: boolean | null };
  /** accepted records that carry no recognised time (never filtered; no first/last seen) */
  untimed: number;
  /** the vendor notices name: --vendor-name, else the profiles' vendor ('' when they disagree or none says) */
  vendor_name: string;
  files: FileSummary[];
}

export interface FileSummary {
  file: string;
  /** `<profile> (<container>)`, or `empty` */
  format: string;
  profile: string;
  profile_reason: string;
  records: number;
  rejected: number;
  untimed: number;
  /** false when the file gave no record that could be used: see the warning it got */
  usable: boolean;
  complete: boolean;
}

export interface CorrelateResult {
  summary: Summary;
  exitCode: number;
}

export function gateExceeded(g: Gate | undefined, count: number, total: number): boolean | null {
  if (g === undefined) return null;
  return g.percent ? count * 100 > g.value * total : count > g.value;
}

/**
 * HOOKS.phases (BREACH_IMPACT_PHASES=1): each step's wall time and the resident memory after it,
 * on stderr (for the benchmark and profiling; no data from the inputs).
 */
const PHASES = HOOKS.phases;
let phaseStart = performance.now();
let phaseCpu = process.cpuUsage();
let phaseLoop = performance.eventLoopUtilization();
function phase(name: string): void {
  if (!PHASES) return;
  const now = performance.now();
  const cpu = process.cpuUsage(phaseCpu);
  const loop = performance.eventLoopUtilization(phaseLoop);
  const mainCpu = mainThreadCpu();
  // cpu: every thread's; main: the main thread's busy time (wall), and its CPU time (Linux; elsewhere '?')
  process.stderr.write(`phase ${name}: ${((now - phaseStart) / 1000).toFixed(2)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, main ${(loop.active / 1000).toFixed(2)} s (cpu ${mainCpu === undefined || phaseMainCpu === undefined ? '?' : (mainCpu - phaseMainCpu).toFixed(2)} s), rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB, peak ${peakMb()} MB, heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB\n`);
  phaseStart = now;
  phaseCpu = process.cpuUsage();
  phaseLoop = performance.eventLoopUtilization();
  phaseMainCpu = mainCpu;
}

let phaseMainCpu: number | undefined;

/** Linux's clock tick for user-visible CPU times (sysconf(_SC_CLK_TCK) on every Linux Node runs on). */
const USER_HZ = 100;

/** The main thread's own CPU time in seconds (Linux: its /proc task's utime + stime; elsewhere undefined). */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime of stat(5), counted from the state field here; in clock ticks (USER_HZ)
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** The process's peak resident memory so far (Linux; elsewhere '?'). */
function peakMb(): string {
  try {
    const kb = /VmHWM:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? '?' : String(Math.round(Number(kb) / 1024));
  } catch {
    return '?';
  }
}

export async function correlate(opts: CorrelateOptions, ui: Ui): Promise<CorrelateResult> {
  const started = new Date();
  phaseStart = performance.now();
  phaseCpu = process.cpuUsage();
  phaseLoop = performance.eventLoopUtilization();
  phaseMainCpu = mainThreadCpu();
  const mapSql = opts.map === undefined ? undefined : readFileSync(opts.map, 'utf8');
  const internal = new InternalDb(opts.internal, mapSql);
  const rejectedRows = new RejectedStage();
  const stage = new IdentityStage(internal.db);
  let reading: Tally | undefined;
  try {
    prepareCaseDir(opts.out, opts.force);
    const caseFile = new StagedFile(opts.out, 'case.sqlite');

    // 1. Read every export. The keyed records' entries for the dedupe go to a scratch file
    // (core/dedupe.ts), the duplicates found when the reading ends; it is unlinked as soon as
    // it is open (nothing is left of it whatever ends the run).
    const keyedFile = scratchFile('keyed-records');
    const tally = new Tally(opts.window, getRandomValues(new Uint8Array(RECORD_ID_KEY_BYTES)), stage, keyedFile.path);
    keyedFile.remove();
    reading = tally;
    let encodingErrors = 0;
    let complete = true;
    const inputs: (InputFile & Omit<FileSummary, 'file'>)[] = [];
    /** files with records with and without a time (warned of once the untimed are counted) */
    const partlyTimed: number[] = [];
    const windowed = opts.window.since !== undefined || opts.window.until !== undefined;
    const t0 = Date.now();
    for (const [fileIndex, path] of opts.exports.entries()) {
      const file = { path, label: labelOf(path), rawBytes: 0, sha256: '', gzip: false, zip: false, format: '', profile: '', profile_reason: '', records: 0, rejected: 0, untimed: 0, usable: true, complete: true };
      inputs.push(file);
      tally.beginFile(fileIndex);
      const readBefore = tally.counts.read;
      const rejectedBefore = tally.counts.rejected;
      const timedBefore = tally.times.timed;
      const reasons = new Map<string, number>();
      const result = await readExport(
        file,
        { vendor: opts.vendor, columns: opts.columns, threads: opts.threads },
        {
          accept: (_line, rec) => {
            tally.offer(rec);
            if ((tally.counts.read & 0x3fff) === 0) progress();
          },
          tally,
          progress,
          reject: (line, reason, excerpt) => {
            tally.rejected();
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
            rejectedRows.add(fileIndex, file.label, line, reason, excerpt);
          },
          stop: (line, reason) => {
            tally.rejected();
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
            file.complete = false;
            complete = false;
            rejectedRows.add(fileIndex, file.label, line, reason, 'reading stopped here; records before this line were kept');
            ui.warn(`${file.label}: reading stopped at line ${line} (${reason}); the records before it were kept. ${stopMeaning(reason)}`);
          },
          encodingErrors: (n) => (encodingErrors += n),
          warn: (m) => ui.warn(m),
        },
      );
      await closeWorkers(true);
      file.records = tally.counts.read - readBefore;
      file.rejected = tally.counts.rejected - rejectedBefore;
      file.usable = file.records > file.rejected;
      file.format = result.container === 'empty' ? 'empty' : `${result.profile} (${result.container})`;
      file.profile = result.profile;
      file.profile_reason = result.reason;
      const timed = tally.times.timed - timedBefore;
      if (windowed && file.usable && timed === 0) {
        throw new UsageError(`${file.label}: no record in it carries a time this tool recognises, so --since/--until cannot window it`, `name the file's time field with --column time=FIELD (see breach-impact inspect ${file.label}), or leave out --since/--until`);
      }
      if (!file.usable) ui.warn(unusableWarning(file.label, file.records, reasons, result));
      else if (timed > 0) partlyTimed.push(fileIndex);
      function progress() {
        const secs = (Date.now() - t0) / 1000;
        const rate = secs > 0 ? Math.round(tally.counts.read / secs) : 0;
        ui.progress(`reading ${file.label}: ${tally.counts.read.toLocaleString('en-US')} records, ${rate.toLocaleString('en-US')} records/s`);
      }
    }
    tally.endReading();
    // (a duplicate of an untimed record is untimed too: known only now)
    for (const [i, file] of inputs.entries()) file.untimed = tally.untimedByFile[i] ?? 0;
    for (const i of partlyTimed) {
      const file = inputs[i];
      if (file.untimed > 0) ui.warn(`${file.label}: ${file.untimed.toLocaleString('en-US')} accepted records carry no time this tool recognises: they are never filtered by --since/--until and add nothing to first/last seen (--column time=FIELD names the time field)`);
    }
    const hashLost = takeHashFailure();
    if (hashLost !== undefined) throw hashLost;
    // the reading's garbage gone before the identities are staged
    collectGarbage();
    phase('reading');
    ui.progress('matching identities against the internal database');

    // 2. The identities, staged in SQLite, resolved against the internal database in one
    // snapshot; the lists computed into case.sqlite and written from it. The worker reading the
    // admin rows, the memberships and the orgs (if any) starts with the snapshot: it reads them,
    // and hashes the database, while this thread stages the identities and matches them, then
    // builds the roster while this thread writes the lists that need nothing of it.
    const internalRows = internal.internalRows(opts.adminRoles, opts.threads, (why, what) =>
      ui.warn(what === 'rows' ? `the rows of the internal database could not be read ahead on a second thread (${why}); they were read on this one` : `the roster could not be built on a second thread (${why}); it was built on this one`),
    );
    const db = internal.db;
    // Whatever fails while case.sqlite is written (a full disk, say) is the case directory's.
    const caseError = (e: unknown) => ((e as { code?: string }).code?.startsWith('SQLITE_') ? caseFile.failure(e) : e);
    const intoCase = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (e) {
        throw caseError(e);
      }
    };
    // The list files are written from case.sqlite as this connection writes it (it reads its own
    // transaction): first those that need nothing of the roster, while the worker may still be
    // building it; orgs and roster once case.sqlite is committed (below).
    const order = ['users', 'orgs', 'roster', 'unmatched', 'jurisdictions', 'rejected'] as const;
    const besideRoster: ListName[] = ['users', 'unmatched', 'jurisdictions', 'rejected'];
    const files = new Map(order.map((name) => [name, new StagedFile(opts.out, `${name}.csv`)]));
    const rows = new Map<ListName, number>();
    let join;
    let rosterCounts;
    let internalSource: FileHash;
    try {
      const snapshot = await internal.snapshot(async () => {
        internalRows.start();
        stage.end();
        // and the identities, now staged, before the join's page caches fill
        collectGarbage();
        phase('staging identities');
        const resolved = await resolveIdentities(internal.db, internalRows, phase);
        // The database is hashed while the snapshot holds it (no writer can commit to a
        // rollback-journal database meanwhile), so the manifest names the data the join read: by
        // the worker that read its rows ahead, if one did, else here.
        const hashed = await internalRows.hash();
        const source: FileHash = hashed !== undefined ? { path: opts.internal, ...hashed } : hashFile(opts.internal);
        phase('hashing the internal database');
        return { resolved, source };
      });
      const resolved = snapshot.resolved;
      internalSource = snapshot.source;
      join = resolved.counts;
      ui.progress('writing the case');
      caseFile.close();
      intoCase(() => {
        // absolute: a path beginning with file: would be read as a URI
        db.prepare('ATTACH ? AS out').run(resolve(caseFile.tmp));
        db.pragma('out.journal_mode = MEMORY');
        db.pragma('out.synchronous = OFF');
        db.exec('BEGIN');
        createCaseTables(db, 'out');
        writeListsBesideRoster(db, phase);
        const columns = storedColumns('rejected');
        const rejected = batchInsert(db, 'out."rejected"', columns.length);
        for (const row of rejectedRows.rows()) rejected.put(...columns.map((c) => storedCell(c, row[c])));
        rejected.end();
      });
      rejectedRows.close();
      for (const name of besideRoster) rows.set(name, intoCase(() => writeListCsv(db, 'out', name, files.get(name)!)));
      phase('writing the first list files');
      rosterCounts = await writeRosterLists(db, resolved.roster, phase).catch((e: unknown) => {
        throw caseError(e);
      });
    } finally {
      await internalRows.close();
    }

    // 3. Summary and gates.
    const counts = tally.counts;
    const gates = {
      max_rejected: gateExceeded(opts.maxRejected, counts.rejected, counts.read),
      max_unmatched: gateExceeded(opts.maxUnmatched, join.unmatched, join.vendor),
    };
    const summary: Summary = {
      records: { ...counts },
      identities: { vendor: join.vendor, matched: join.matched, unmatched: join.unmatched },
      users: join.users,
      orgs: join.orgs,
      roster: rosterCounts.roster,
      orgs_without_admin: rosterCounts.orgsWithoutAdmin,
      matched_by: Object.fromEntries(RULES.map((r) => [r, join.matchedBy[r]])),
      unmatched_by_reason: Object.fromEntries(Object.entries(join.unmatchedByReason).sort(([a], [b]) => (a < b ? -1 : 1))),
      exposed: Object.fromEntries(CATEGORIES.map((c) => [c, join.exposed[c]])),
      complete,
      encoding_errors: encodingErrors,
      gates,
      untimed: tally.times.untimed,
      vendor_name: opts.vendorName ?? vendorOfProfiles(inputs.map((f) => f.profile)),
      files: inputs.map((f) => ({ file: f.label, format: f.format, profile: f.profile, profile_reason: f.profile_reason, records: f.records, rejected: f.rejected, untimed: f.untimed, usable: f.usable, complete: f.complete })),
    };
    intoCase(() => {
      db.prepare('INSERT INTO out.meta (key, value) VALUES (?, ?)').run('summary', JSON.stringify(summary));
      db.exec('COMMIT');
    });

    // 4. The lists orgs and roster from case.sqlite, summary.json, the manifest; publish. With
    // --threads 2 or more, the longer of the two is written by a worker (a read-only connection
    // of its own to case.sqlite, now committed) while this thread writes the other.
    const aside: ListName[] = opts.threads > 1 ? ['roster'] : [];
    const onWorker = aside.length > 0 ? writeListsOnWorker(resolve(caseFile.tmp), aside.map((name) => [name, files.get(name)!.descriptor])) : undefined;
    for (const name of order) if (!aside.includes(name) && !rows.has(name)) rows.set(name, writeListCsv(db, 'out', name, files.get(name)!));
    if (onWorker !== undefined) {
      const written = await onWorker;
      if (written.rows !== undefined) {
        aside.forEach((name, i) => rows.set(name, written.rows![i]));
      } else {
        const failed = written.failed ?? 'error';
        // a full or failing disk is the case directory's; anything else, written again here
        if (OUTPUT_FAILURES.has(failed)) throw files.get(aside[0])!.failure(Object.assign(new Error(failed), { code: failed }));
        ui.warn(`the list files could not be written on a second thread (${failed}); they were written on this one`);
        for (const name of aside) {
          files.get(name)!.restart();
          rows.set(name, writeListCsv(db, 'out', name, files.get(name)!));
        }
      }
    }
    const staged: { file: StagedFile; rows: number | null }[] = order.map((name) => ({ file: files.get(name)!, rows: rows.get(name)! }));
    db.exec('DETACH out');
    phase('writing the last list files');
    const summaryFile = new StagedFile(opts.out, 'summary.json');
    summaryFile.write(JSON.stringify(summary, null, 2) + '\n');
    staged.push({ file: summaryFile, rows: null });
    staged.push({ file: caseFile, rows: null });

    const outputs = staged.map(({ file, rows }) => {
      file.close();
      const { sha256, bytes } = hashFile(file.tmp);
      return { name: file.name, rows, size: bytes, sha256 };
    });
    const manifest = {
      tool: { name: TOOL, version: VERSION, node: process.version },
      started: started.toISOString(),
      finished: new Date().toISOString(),
      options: opts.given,
      inputs: inputs.map((f) => ({ path: f.path, size: f.rawBytes, sha256: f.sha256, gzip: f.gzip, zip: f.zip ?? false, format: f.format, profile: f.profile, records: f.records, complete: f.complete })),
      internal: { path: internalSource.path, size: internalSource.bytes, sha256: internalSource.sha256, map: opts.map ?? null },
      outputs,
    };
    const manifestFile = new StagedFile(opts.out, MANIFEST);
    manifestFile.write(JSON.stringify(manifest, null, 2) + '\n');
    for (const { file } of staged) file.commit();
    manifestFile.commit();
    phase('publishing');
    ui.stopProgress();

    let exitCode = 0;
    if (!complete || inputs.some((f) => !f.usable)) exitCode = 1;
    else if (gates.max_rejected || gates.max_unmatched) exitCode = 3;
    return { summary, exitCode };
  } finally {
    await closeWorkers(); // after a failure
    reading?.close();
    rejectedRows.close();
    internal.close();
    ui.stopProgress();
  }
}

/** Error codes of a write that fails the same whichever thread writes (a full disk, a read-only one): never retried. */
const OUTPUT_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EROFS', 'EACCES', 'EPERM', 'EBADF']);

/** What to say of a file that gave no usable record: what it held, why it was refused, what to try. */
function unusableWarning(label: string, records: number, reasons: ReadonlyMap<string, number>, result: FileResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const next = `run breach-impact inspect ${label} to see its fields, then choose the format with --vendor or map fields with --column FIELD=PATH`;
  if (result.sqlite) return `${label}: this is a SQLite database, not a vendor export: nothing in it was read (is it the internal database? that goes after --internal)`;
  if (records === 0) return `${label}: the file holds no record: nothing in it was read (${next})`;
  const why = [...reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([r, k]) => `${r} ${n(k)}`).join(', ');
  return `${label}: none of its ${n(records)} records could be used (rejected: ${why}; read as ${result.profile || 'nothing'}, because ${result.reason}): ${next}`;
}

/** The short human summary correlate prints on stdout. */
export function describeSummary(s: Summary, out: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const r = s.records;
  const lines = [
    `case written to ${escapeTerminal(out)}`,
    `  records     ${n(r.read)} read: ${n(r.accepted)} accepted, ${n(r.rejected)} rejected, ${n(r.filtered)} filtered, ${n(r.duplicates)} duplicates`,
    `  identities  ${n(s.identities.vendor)} in the export: ${n(s.identities.matched)} matched, ${n(s.identities.unmatched)} unmatched`,
    `  matched by  ${RULES.map((k) => `${k} ${n(s.matched_by[k])}`).join(', ')}`,
    `  affected    ${n(s.users)} users in ${n(s.orgs)} orgs; ${n(s.roster)} admin notices; orgs without an admin: ${n(s.orgs_without_admin)}`,
    `  exposed     ${CATEGORIES.filter((c) => s.exposed[c] > 0).map((c) => `${c} ${n(s.exposed[c])}`).join(', ') || 'nothing'}`,
  ];
  if (s.encoding_errors > 0) lines.push(`  encoding    ${n(s.encoding_errors)} invalid UTF-8 sequences replaced`);
  if (!s.complete) lines.push('  INCOMPLETE  an export could not be read to its end: see rejected.csv');
  for (const f of s.files) if (!f.usable) lines.push(`  UNUSABLE    ${escapeTerminal(f.file)}: no record could be used (see the warning above)`);
  if (s.untimed > 0) lines.push(`  untimed     ${n(s.untimed)} accepted records carry no time`);
  if (s.gates.max_rejected) lines.push('  GATE        --max-rejected exceeded');
  if (s.gates.max_unmatched) lines.push('  GATE        --max-unmatched exceeded');
  return lines.join('\n') + '\n';
}
