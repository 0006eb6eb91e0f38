/**
 * The correlate job, end to end: read every export into vendor identities, resolve them against
 * the internal database in one snapshot, build the impact lists and publish the case directory.
 * Files, databases and the clock live here; the decisions live in core/.
 */
import { getRandomValues } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CATEGORIES } from './core/categories.js';
import type { CanonicalField } from './core/canonical.js';
import { buildImpact, handOver, type Impact, type InternalUser } from './core/impact.js';
import { RECORD_ID_KEY_BYTES, textsOf, type Identity, type Texts } from './core/identity.js';
import { forgetMatchingDetails, matchIdentities, RULES, type Match } from './core/match.js';
import { type ListName, type Row } from './core/rows.js';
import { MemorySink } from './core/stage.js';
import { Tally, type Counts, type Window } from './core/tally.js';
import { MANIFEST, prepareCaseDir, StagedFile, TOOL } from './case/files.js';
import { RejectedStage } from './case/store.js';
import { CaseWriter, WRITER_THREAD_MIN_ROWS } from './case/writer.js';
import { escapeTerminal } from './output/cells.js';
import { readExport, type FileResult, type Vendor } from './ingest/read.js';
import { vendorOfProfiles } from './ingest/profiles/index.js';
import { UsageError } from './errors.js';
import { takeHashFailure } from './ingest/hasher.js';
import { closeWorkers } from './ingest/workers.js';
import { HOOKS } from './test-hooks.js';
import { labelOf, stopMeaning, type InputFile } from './ingest/source.js';
import { hashFile, InternalDb } from './internal/db.js';
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

/** The main thread's own CPU time in seconds (Linux: its /proc task's utime + stime; elsewhere undefined). */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat(5), counted from the state (field 3) here; in clock ticks of 1/100 s
    return (Number(fields[11]) + Number(fields[12])) / 100;
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
  let writer: CaseWriter | undefined;
  try {
    prepareCaseDir(opts.out, opts.force);
    const caseFile = new StagedFile(opts.out, 'case.sqlite');

    // 1. Read every export.
    const stage = new MemorySink();
    const tally = new Tally(opts.window, getRandomValues(new Uint8Array(RECORD_ID_KEY_BYTES)), stage);
    let encodingErrors = 0;
    let complete = true;
    const inputs: (InputFile & Omit<FileSummary, 'file'>)[] = [];
    const windowed = opts.window.since !== undefined || opts.window.until !== undefined;
    const t0 = Date.now();
    for (const [fileIndex, path] of opts.exports.entries()) {
      const file = { path, label: labelOf(path), rawBytes: 0, sha256: '', gzip: false, zip: false, format: '', profile: '', profile_reason: '', records: 0, rejected: 0, untimed: 0, usable: true, complete: true };
      inputs.push(file);
      const readBefore = tally.counts.read;
      const rejectedBefore = tally.counts.rejected;
      const timesBefore = { ...tally.times };
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
      file.untimed = tally.times.untimed - timesBefore.untimed;
      file.usable = file.records > file.rejected;
      file.format = result.container === 'empty' ? 'empty' : `${result.profile} (${result.container})`;
      file.profile = result.profile;
      file.profile_reason = result.reason;
      const timed = tally.times.timed - timesBefore.timed;
      if (windowed && file.usable && timed === 0) {
        throw new UsageError(`${file.label}: no record in it carries a time this tool recognises, so --since/--until cannot window it`, `name the file's time field with --column time=FIELD (see breach-impact inspect ${file.label}), or leave out --since/--until`);
      }
      if (!file.usable) ui.warn(unusableWarning(file.label, file.records, reasons, result));
      else if (file.untimed > 0 && timed > 0) ui.warn(`${file.label}: ${file.untimed.toLocaleString('en-US')} accepted records carry no time this tool recognises: they are never filtered by --since/--until and add nothing to first/last seen (--column time=FIELD names the time field)`);
      function progress() {
        const secs = (Date.now() - t0) / 1000;
        const rate = secs > 0 ? Math.round(tally.counts.read / secs) : 0;
        ui.progress(`reading ${file.label}: ${tally.counts.read.toLocaleString('en-US')} records, ${rate.toLocaleString('en-US')} records/s`);
      }
    }
    tally.endReading();
    const hashLost = takeHashFailure();
    if (hashLost !== undefined) throw hashLost;
    phase('reading');
    ui.progress('matching identities against the internal database');

    // 2. Resolve identities against the internal database, in one snapshot.
    // The sorted array is the one reference to the identities from here on: buildImpact lets
    // the matched ones go as it counts them (handOver clears its entries; nothing reads it after).
    const identities = stage.takeSorted();
    const vendorIdentities = identities.length;
    phase('sorting identities');
    // 3. The lists, each written under a temporary name (its CSV and its case.sqlite rows in one
    // pass) and let go before the next; all published together at the end. On the list thread
    // when the case is long and there are cores to spare. The users list is written inside the
    // snapshot, before the admins are read: the users' facts go before the admins' come (see
    // Impact.withAdmins).
    const staged: { file: StagedFile; rows: number | null }[] = [];
    const write = async (name: ListName, rows: () => Iterable<Row>) => {
      const file = new StagedFile(opts.out, `${name}.csv`);
      const list = writer!.list(name, file);
      let n = 0;
      for (const row of rows()) {
        n++;
        const wait = list.put(row);
        if (wait !== undefined) await wait;
      }
      await list.end();
      staged.push({ file, rows: n });
      phase(`writing ${name}`);
    };
    const { impact, admin } = await internal.snapshot(async () => {
      const impact = await impactOfUsers(internal, identities, opts.threads > 1);
      phase('aggregating');
      ui.progress('writing the case');
      // (the roster is not counted yet: it comes after the users list)
      const caseRows = impact.count.users + impact.count.orgs + impact.count.unmatched + tally.counts.rejected;
      writer = new CaseWriter(caseFile, opts.threads > 1 && caseRows >= WRITER_THREAD_MIN_ROWS);
      await write('users', impact.users);
      impact.usersWritten();
      const admins = internal.admins(new Set(impact.orgIds), opts.adminRoles);
      const admin = impact.withAdmins(admins.admins, admins.info);
      phase('admins');
      return { impact, admin };
    });
    if (writer === undefined) throw new Error('the case writer was not made');
    const internalSource = hashFile(opts.internal);
    phase('hashing the internal database');

    // 4. Summary and gates.
    const counts = tally.counts;
    const gates = {
      max_rejected: gateExceeded(opts.maxRejected, counts.rejected, counts.read),
      max_unmatched: gateExceeded(opts.maxUnmatched, impact.count.unmatched, vendorIdentities),
    };
    const summary: Summary = {
      records: { ...counts },
      identities: { vendor: vendorIdentities, matched: impact.matchedIdentities, unmatched: impact.count.unmatched },
      users: impact.count.users,
      orgs: impact.count.orgs,
      roster: admin.count.roster,
      orgs_without_admin: admin.count.orgsWithoutAdmin,
      matched_by: Object.fromEntries(RULES.map((r) => [r, impact.matchedBy[r]])),
      unmatched_by_reason: Object.fromEntries(Object.entries(impact.unmatchedByReason).sort(([a], [b]) => (a < b ? -1 : 1))),
      exposed: Object.fromEntries(CATEGORIES.map((c) => [c, impact.exposedUsers[c]])),
      complete,
      encoding_errors: encodingErrors,
      gates,
      untimed: tally.times.untimed,
      vendor_name: opts.vendorName ?? vendorOfProfiles(inputs.map((f) => f.profile)),
      files: inputs.map((f) => ({ file: f.label, format: f.format, profile: f.profile, profile_reason: f.profile_reason, records: f.records, rejected: f.rejected, untimed: f.untimed, usable: f.usable, complete: f.complete })),
    };

    // 5. The other lists, summary.json, the manifest; publish.
    const lists: [ListName, () => Iterable<Row>][] = [
      ['orgs', admin.orgs],
      ['roster', admin.roster],
      ['unmatched', impact.unmatched],
      ['jurisdictions', impact.jurisdictions],
      ['rejected', () => rejectedRows.rows()],
    ];
    for (const [name, rows] of lists) await write(name, rows);
    rejectedRows.close();
    const summaryFile = new StagedFile(opts.out, 'summary.json');
    summaryFile.write(JSON.stringify(summary, null, 2) + '\n');
    staged.push({ file: summaryFile, rows: null });
    writer.meta('summary', summary);
    await writer.close();
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
    writer?.abandon();
    rejectedRows.close();
    internal.close();
    ui.stopProgress();
  }
}

/**
 * The identities matched to internal users and the lists' first step (see Impact), from the
 * users, memberships and orgs tables: each step's sets and lookups held in this function's frame,
 * let go when it returns (a caller writing the users list next does not hold them).
 */
async function impactOfUsers(internal: InternalDb, identities: (Identity | undefined)[], threaded: boolean): Promise<Impact> {
  const { matches, info } = await matchUsers(internal, identities as Identity[], threaded);
  const memberships = internal.membershipsOf(matchedUsersOf(matches));
  phase('memberships');
  const orgs = internal.orgNames(orgsNamed(identities as Identity[], matches, memberships));
  phase('orgs');
  // buildImpact lets the matched identities go as it counts them (handOver clears the entries)
  return buildImpact(handOver(identities, matches), { users: info, memberships, orgs });
}

/** The internal users the identities name (by id or email), and each identity's match. */
async function matchUsers(internal: InternalDb, identities: readonly Identity[], threaded: boolean): Promise<{ matches: Match[]; info: Map<string, InternalUser> }> {
  const wantedIds = new Set<string>();
  const wantedEmails = new Set<string>();
  for (const id of identities) {
    for (const u of textsOf(id.userIds)) wantedIds.add(u);
    if (id.distinctId !== undefined) wantedIds.add(id.distinctId);
    for (const e of textsOf(id.emails)) wantedEmails.add(e);
  }
  phase('wanted ids and emails');
  const { lookup, info, thread } = await internal.scanUsersBeside(wantedIds, wantedEmails, threaded);
  phase(thread ? 'users + email thread' : 'users');
  const matches = matchIdentities(identities, lookup);
  forgetMatchingDetails(identities, matches);
  phase('matching');
  return { matches, info };
}

function matchedUsersOf(matches: readonly Match[]): Set<string> {
  const users = new Set<string>();
  for (const m of matches) if (m.userId !== undefined) users.add(m.userId);
  return users;
}

/** The orgs the lists may name: of the matched users' memberships, and of unmatched identities, in first-seen order. */
function orgsNamed(identities: readonly Identity[], matches: readonly Match[], memberships: ReadonlyMap<string, Texts>): Set<string> {
  const all = new Set<string>();
  for (const list of memberships.values()) for (const o of textsOf(list)) all.add(o);
  identities.forEach((id, i) => {
    if (matches[i].userId === undefined) for (const o of textsOf(id.orgIds)) all.add(o);
  });
  return all;
}

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
