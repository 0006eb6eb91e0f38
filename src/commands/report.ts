/** `breach-impact report`: one list of a case, read from case.sqlite, to stdout (or notices to an .eml directory). */
import { Argument, Command, Option } from 'commander';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { CaseReader } from '../case/store.js';
import { MANIFEST } from '../case/files.js';
import type { Category } from '../core/categories.js';
import { COLUMNS, type ListName, type OrgRow, type Row } from '../core/rows.js';
import type { Summary } from '../correlation.js';
import { UsageError } from '../errors.js';
import { openLedgerReadOnly, type LedgerReader } from '../ledger.js';
import { addressProblem, parseFrom, type Mailbox } from '../notice/address.js';
import { builtInTemplate, composeMessage, messageId } from '../notice/compose.js';
import { checkTemplate, placeholdersIn, readTemplate, renderBody, renderSubject, type Template } from '../notice/template.js';
import { LIST_PLACEHOLDERS, noticeValues, PLACEHOLDERS, SETTABLE, vendorName, type NoticeContext, type NoticeList } from '../notice/values.js';
import { cellText } from '../output/cells.js';
import { writeCsv } from '../output/csv.js';
import { writeEmlDir, writeMbox, type MailItem } from '../output/mail.js';
import { writeText } from '../output/sink.js';
import { writeRows, type RowFormat } from '../output/rows.js';
import { describeCase, flatten } from '../output/summary.js';
import { makeUi, type Ui } from '../ui.js';
import { collect } from './options.js';
import type { Io } from '../cli.js';

const REPORTS = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions', 'summary'] as const;
type Report = (typeof REPORTS)[number];
const FORMATS = ['csv', 'jsonl', 'json', 'table', 'mbox', 'eml', 'html'] as const;
type Format = (typeof FORMATS)[number];

/** The sender of notices rendered without --from (RFC 2606 reserves .invalid). */
export const DEFAULT_FROM = 'Security Team <security@example.invalid>';

interface ReportOptions {
  case: string;
  format: Format;
  template?: string;
  from?: string;
  subject?: string;
  set?: string[];
  vendorName?: string;
  out?: string;
  ledger?: string;
  unsent?: boolean;
}

export function reportCommand(io: Io): Command {
  return new Command('report')
    .summary('print one list of a case (csv, jsonl, json, table), render notices (mbox, eml), or the case report page (summary, html)')
    .description(
      'Re-emit one list of a case directory to standard output, read from its case.sqlite (the export is not read again). ' +
        'mbox and eml render one notice per affected user (users) or per affected org and admin (roster) from a plain-text ' +
        'template with {{placeholders}}; eml writes 000001.eml, … and index.csv into --out DIR. See README, "Sending notices".',
    )
    .addArgument(new Argument('<list>', 'the list to print').choices(REPORTS))
    .requiredOption('--case <dir>', 'case directory written by correlate')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('csv'))
    .option('--template <file>', 'notice template (plain text with {{placeholders}}; default: the built-in one)')
    .option('--from <address>', `sender of the notices, e.g. "Security Team <security@example.com>" (mbox, eml; default ${DEFAULT_FROM}, with a warning)`)
    .option('--subject <text>', 'subject of the notices, may hold {{placeholders}} (default: the template\'s)')
    .option('--set <name=value>', 'set a placeholder: vendor, contact, from_name, date, or one of your own (repeatable)', collect)
    .option('--vendor-name <name>', 'the breached vendor as notices name it (default: the case\'s, from the export\'s profile)')
    .option('--out <dir>', 'directory for the .eml files and index.csv (eml only)')
    .option('--ledger <file>', 'the notification ledger (see `breach-impact ledger`), read only, with --unsent')
    .option('--unsent', 'users, roster: only recipients the ledger has no notice for, or whose exposure now holds a category no notice to them named (they get a follow-up)')
    .addHelpText(
      'after',
      '\nExample:\n  breach-impact report roster --case case --format table\n' +
        '  breach-impact report users --case case --format jsonl | jq -r .email\n' +
        '  breach-impact report roster --case case --format mbox --from "Security <security@example.com>" > notices.mbox\n' +
        '  breach-impact report users --case case --format eml --from security@example.com --vendor-name Mixpanel --out notices/\n' +
        '  breach-impact report summary --case case --format html > report.html\n' +
        '  breach-impact report users --case case-2 --ledger notified.sqlite --unsent --format eml --from security@example.com --out notices-2/',
    )
    .action(async (list: Report, o: ReportOptions) => {
      await report(io, list, { ...o, set: o.set ?? [] }, makeUi());
    });
}

async function report(io: Io, list: Report, o: ReportOptions, ui: Ui): Promise<void> {
  const mail = o.format === 'mbox' || o.format === 'eml';
  if (mail && list !== 'users' && list !== 'roster') {
    throw new UsageError(`--format ${o.format} renders notices, and ${list} is not a list of recipients`, 'use report users (one notice per affected user) or report roster (one per affected org and admin)');
  }
  if (o.format === 'html' && list !== 'summary') throw new UsageError(`--format html is the case report page, made from the summary, not from ${list}`, 'use report summary --case DIR --format html > report.html');
  if (o.format === 'eml' && o.out === undefined) throw new UsageError('--format eml needs --out DIR for the .eml files', 'e.g. --format eml --out notices/ (or --format mbox to write to standard output)');
  if (o.format !== 'eml' && o.out !== undefined) throw new UsageError('--out is only for --format eml', 'the other formats write to standard output: redirect it, e.g. > users.csv');
  if (!mail) {
    for (const flag of ['template', 'from', 'subject'] as const) {
      if (o[flag] !== undefined) throw new UsageError(`--${flag} is only for --format mbox or eml`, `add --format mbox, or leave out --${flag}`);
    }
    if (o.set!.length > 0) throw new UsageError('--set is only for --format mbox or eml', 'add --format mbox, or leave out --set');
  }
  if ((o.ledger === undefined) !== (o.unsent !== true)) {
    throw new UsageError(o.unsent ? '--unsent needs --ledger FILE: the ledger says who was already notified' : '--ledger is read only with --unsent', 'e.g. report users --case DIR --ledger notified.sqlite --unsent --format eml --out notices-2/');
  }
  if (o.unsent && list !== 'users' && list !== 'roster') {
    throw new UsageError(`--unsent keeps recipients of notices, and ${list} is not a list of recipients`, 'use report users or report roster with --ledger FILE --unsent');
  }
  if (mail && o.from === undefined) {
    // A draft to review, not to send: the reserved .invalid domain can never deliver a reply.
    ui.warn(`no --from: the notices say they come from ${DEFAULT_FROM}; pass --from with your team's address before sending them`);
    o = { ...o, from: DEFAULT_FROM };
  }

  const reader = new CaseReader(join(o.case, 'case.sqlite'));
  let ledger: LedgerReader | undefined;
  try {
    // loaded only for the page, so the other formats do not pay for it at start-up
    if (list === 'summary' && o.format === 'html') return await (await import('./case-page.js')).writeCasePage(io.stdout, o.case, reader);
    if (list === 'summary') return await writeSummary(io.stdout, reader.meta<Summary>('summary'), o.format);
    if (o.ledger !== undefined) ledger = openLedgerReadOnly(o.ledger);
    const recipients = ledger === undefined ? undefined : new Unsent(list as NoticeList, ledger);
    if (mail) return await writeNotices(io, reader, list as NoticeList, o, ui, recipients);
    const columns = COLUMNS[list];
    const rows = recipients === undefined ? reader.rows(list) : recipients.rowsOnly(reader.rows(list), ui);
    return await writeRows(io.stdout, o.format as RowFormat, columns, rows);
  } finally {
    reader.close();
    ledger?.close();
  }
}

/** A recipient's ledger key: the user id (users) or `<org_id>:<email>` (roster), as `diff` keys them. */
export function recipientKey(list: NoticeList, row: Row): string {
  return list === 'users' ? cellText(row.user_id) : `${cellText(row.org_id)}:${cellText(row.email)}`;
}

/**
 * `--unsent`: which rows of a list still need a notice, going by the ledger. A recipient with no
 * entry gets a first notice; one whose exposure now holds categories no entry for them named gets
 * a follow-up naming those (`newly`); the rest were told everything already and are left out.
 */
export class Unsent {
  first = 0;
  followUps = 0;
  covered = 0;

  constructor(readonly list: NoticeList, private readonly ledger: LedgerReader) {}

  /** undefined: leave the row out; else the categories it is newly to be told of (all, for a first notice). */
  newlyExposed(row: Row): { newly: Category[]; followUp: boolean } | undefined {
    const exposed = (Array.isArray(row.exposed) ? row.exposed : []) as Category[];
    const told = this.ledger.notified(this.list, recipientKey(this.list, row), cellText(row.email));
    if (told === undefined) {
      this.first++;
      return { newly: exposed, followUp: false };
    }
    const newly = exposed.filter((c) => !told.has(c));
    if (newly.length === 0) {
      this.covered++;
      return undefined;
    }
    this.followUps++;
    return { newly, followUp: true };
  }

  *rowsOnly(rows: Iterable<Row>, ui: Ui): Generator<Row> {
    for (const row of rows) if (this.newlyExposed(row) !== undefined) yield row;
    this.tell(ui);
  }

  tell(ui: Ui): void {
    const need = this.first + this.followUps;
    const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
    ui.info(
      `--unsent: ${need} of the ${need + this.covered} ${this.list} rows need a notice: ${n(this.first, 'first notice', 'first notices')}, ` +
        `${n(this.followUps, 'follow-up', 'follow-ups')} (exposure grew); ${n(this.covered, 'was', 'were')} already told of everything now exposed`,
    );
  }
}

async function writeSummary(out: Writable, summary: Summary | undefined, format: Format): Promise<void> {
  if (summary === undefined) throw new UsageError('the case holds no summary', 'run correlate again to rebuild the case');
  switch (format) {
    case 'json':
      return writeText(out, JSON.stringify(summary, null, 2) + '\n');
    case 'jsonl':
      return writeText(out, JSON.stringify(summary) + '\n');
    case 'csv':
      return writeCsv(out, ['key', 'value'], flatten(summary).map(([key, value]) => ({ key, value })));
    default:
      return writeText(out, describeCase(summary));
  }
}

/** Date of every notice: SOURCE_DATE_EPOCH, else when correlate finished, else case.sqlite's mtime. */
export function noticeDate(caseDir: string): Date {
  const epoch = process.env.SOURCE_DATE_EPOCH?.trim();
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d{1,12}$/.test(epoch)) throw new UsageError(`SOURCE_DATE_EPOCH=${epoch} is not a Unix time in seconds`, 'e.g. SOURCE_DATE_EPOCH=1763251200, or unset it to use the case\'s finish time');
    return new Date(Number(epoch) * 1000);
  }
  try {
    const m = JSON.parse(readFileSync(join(caseDir, MANIFEST), 'utf8')) as { finished?: unknown };
    const t = typeof m.finished === 'string' ? Date.parse(m.finished) : NaN;
    if (Number.isFinite(t)) return new Date(Math.floor(t / 1000) * 1000);
  } catch {
    /* no manifest: fall back to the case file's time */
  }
  return new Date(Math.floor(statSync(join(caseDir, 'case.sqlite')).mtimeMs / 1000) * 1000);
}

/** SHA-256 of case.sqlite: what makes Message-IDs unique to this case (and stable across runs of it). */
function caseHash(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function parseSets(list: NoticeList, specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq).trim();
    if (eq <= 0 || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--set ${spec} is not NAME=VALUE`, 'e.g. --set vendor=Mixpanel or --set contact="security@example.com, +1 555 0100"');
    if ((PLACEHOLDERS[list].includes(name) && !SETTABLE.includes(name)) || (LIST_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new UsageError(`--set ${name}: {{${name}}} comes from the case and cannot be set`, `settable: ${SETTABLE.join(', ')}, or a name of your own`);
    }
    out[name] = spec.slice(eq + 1);
  }
  return out;
}

/** A template's file, for its SHA-256 in index.csv: --template, else the built-in one in templates/. */
function builtInPath(name: string): string {
  return fileURLToPath(new URL(`../../templates/${name}.txt`, import.meta.url));
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

interface Rendering {
  template: Template;
  subject: string;
  sha256: string;
}

async function writeNotices(io: Io, reader: CaseReader, list: NoticeList, o: ReportOptions, ui: Ui, unsent?: Unsent): Promise<void> {
  const from: Mailbox = parseFrom(o.from!);
  const extra = parseSets(list, o.set ?? []);
  const known = [...PLACEHOLDERS[list], ...Object.keys(extra)];
  const rendering = (template: Template, path: string): Rendering => {
    const subject = o.subject ?? template.subject ?? builtInTemplate(list).subject ?? '';
    checkTemplate(template, known, LIST_PLACEHOLDERS, subject);
    return { template, subject, sha256: sha256File(path) };
  };
  const first = o.template !== undefined ? rendering(readTemplate(o.template), o.template) : rendering(builtInTemplate(list), builtInPath(`notice-${list}`));
  // Without --template, a follow-up (--unsent, exposure grew) says what is new in a template of its own.
  const followUp =
    o.template !== undefined ? first : rendering({ ...readTemplate(builtInPath(`notice-${list}-followup`)), source: `the built-in ${list} follow-up template` }, builtInPath(`notice-${list}-followup`));

  const summary = reader.meta<Summary>('summary');
  const orgs = new Map<string, OrgRow>();
  for (const r of reader.rows('orgs')) orgs.set(String(r.org_id), r as OrgRow);
  const date = noticeDate(o.case);
  const ctx: NoticeContext = { vendor: o.vendorName ?? vendorName(summary), from, date, orgs, extra };
  const hash = caseHash(reader.path);
  const evidence = o.format === 'eml' ? manifestHash(o.case) : '';
  const newline = o.format === 'eml' ? 'windows' : 'unix';

  let skipped = 0;
  // One notice per row: per affected user, or per (affected org, admin) even when two admins
  // share a mailbox (they are two people to the internal database).
  async function* items(): AsyncGenerator<MailItem> {
    let rowNumber = 0;
    for (const row of reader.rows(list as ListName)) {
      rowNumber++;
      const need = unsent?.newlyExposed(row);
      if (unsent !== undefined && need === undefined) continue;
      const address = typeof row.email === 'string' ? row.email : '';
      const admin = row.admin_user_id === undefined || row.admin_user_id === null ? `roster row ${rowNumber}` : `user ${row.admin_user_id}`;
      const who = list === 'users' ? `user ${row.user_id}` : `the ${row.role} of org ${row.org_id} (${admin})`;
      const problem = addressProblem(address);
      if (problem !== undefined) {
        ui.warn(`no notice for ${who}: the internal database ${problem.replace(/^has /, 'holds ')}`);
        skipped++;
        continue;
      }
      const key = list === 'users' ? ['users', String(row.user_id), address] : ['roster', String(row.org_id), String(row.admin_user_id ?? rowNumber), address];
      const r = need?.followUp ? followUp : first;
      const { values, lists } = noticeValues(list, row, ctx, need?.newly);
      const id = messageId(hash, key, from);
      const message = await composeMessage(
        { to: { name: String(row.name ?? ''), address }, subject: renderSubject(r.subject, values), text: renderBody(r.template.body, values, lists), date, messageId: id },
        from,
        newline,
      );
      yield { message, index: indexRow(list, row, { messageId: id, template: r.sha256, case: evidence, newly: need?.newly }) };
    }
  }

  if (o.format === 'mbox') {
    await writeMbox(io.stdout, items(), from.address, date);
  } else {
    const n = await writeEmlDir(o.out!, items(), INDEX_COLUMNS);
    ui.info(`wrote ${n} notice${n === 1 ? '' : 's'} to ${o.out} (index.csv says who each one is for)`);
  }
  if (skipped > 0) ui.warn(`${skipped} ${list} row${skipped === 1 ? '' : 's'} got no notice (see the warnings above)`);
  if (unsent !== undefined) {
    unsent.tell(ui);
    const usesNewly = (t: Rendering) => [...placeholdersIn(t.template.body), ...placeholdersIn(t.subject)].some((p) => p === 'newly_exposed' || p === 'newly_exposed_item');
    if (unsent.followUps > 0 && !usesNewly(followUp)) {
      ui.warn(`${unsent.followUps} follow-up notice${unsent.followUps === 1 ? ' was' : 's were'} rendered from ${followUp.template.source}, which does not use {{newly_exposed}}: they do not say what is new since the earlier notice`);
    }
  }
}

/** SHA-256 of the case's manifest.json: the evidence a notice came from, named in index.csv and the ledger. */
function manifestHash(caseDir: string): string {
  const path = join(caseDir, MANIFEST);
  if (!existsSync(path)) throw new UsageError(`${caseDir} has no ${MANIFEST}: index.csv could not name the evidence the notices come from`, 'render notices from a case directory written by correlate, with its manifest.json');
  return sha256File(path);
}

/**
 * index.csv: the file, then what the ledger records (SPEC), then what a person checking the
 * notices wants beside it. `key` is the recipient's ledger key (recipientKey); `user_id` is the
 * user (users) or the admin (roster); `exposed` what the notice covers, `newly_exposed` what it
 * says is new (all of it in a first notice).
 */
const INDEX_COLUMNS = ['list', 'key', 'org_id', 'user_id', 'email', 'exposed', 'message_id', 'template_sha256', 'case', 'newly_exposed', 'name', 'role'] as const;

function indexRow(list: NoticeList, row: Row, m: { messageId: string; template: string; case: string; newly?: readonly string[] }): string[] {
  const exposed = Array.isArray(row.exposed) ? row.exposed : [];
  const values: Record<(typeof INDEX_COLUMNS)[number], string> = {
    list,
    key: recipientKey(list, row),
    org_id: list === 'roster' ? cellText(row.org_id) : '',
    user_id: cellText(list === 'users' ? row.user_id : row.admin_user_id),
    email: cellText(row.email),
    exposed: exposed.join(';'),
    message_id: m.messageId,
    template_sha256: m.template,
    case: m.case,
    newly_exposed: (m.newly ?? exposed).join(';'),
    name: cellText(row.name),
    role: list === 'roster' ? cellText(row.role) : '',
  };
  return INDEX_COLUMNS.map((c) => values[c]);
}
