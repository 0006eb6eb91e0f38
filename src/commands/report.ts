/** `breach-impact report`: one list of a case, read from case.sqlite, to stdout (or notices to an .eml directory). */
import { Argument, Command, Option } from 'commander';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { CaseReader } from '../case/store.js';
import { MANIFEST } from '../case/files.js';
import { COLUMNS, type ListName, type OrgRow, type Row } from '../core/rows.js';
import type { Summary } from '../correlation.js';
import { UsageError } from '../errors.js';
import { addressProblem, parseFrom, type Mailbox } from '../notice/address.js';
import { builtInTemplate, composeMessage, messageId } from '../notice/compose.js';
import { checkTemplate, readTemplate, renderBody, renderSubject, type Template } from '../notice/template.js';
import { LIST_PLACEHOLDERS, noticeValues, PLACEHOLDERS, SETTABLE, vendorName, type NoticeContext, type NoticeList } from '../notice/values.js';
import { writeCsv } from '../output/csv.js';
import { writeJsonArray, writeJsonl } from '../output/json.js';
import { writeEmlDir, writeMbox, type MailItem } from '../output/mail.js';
import { writeText } from '../output/sink.js';
import { describeCase, flatten } from '../output/summary.js';
import { writeTable } from '../output/table.js';
import { colorLevel, makeUi, type Ui } from '../ui.js';
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
    .addHelpText(
      'after',
      '\nExample:\n  breach-impact report roster --case case --format table\n' +
        '  breach-impact report users --case case --format jsonl | jq -r .email\n' +
        '  breach-impact report roster --case case --format mbox --from "Security <security@example.com>" > notices.mbox\n' +
        '  breach-impact report users --case case --format eml --from security@example.com --set vendor=Mixpanel --out notices/\n' +
        '  breach-impact report summary --case case --format html > report.html',
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
  if (mail && o.from === undefined) {
    // A draft to review, not to send: the reserved .invalid domain can never deliver a reply.
    ui.warn(`no --from: the notices say they come from ${DEFAULT_FROM}; pass --from with your team's address before sending them`);
    o = { ...o, from: DEFAULT_FROM };
  }

  const reader = new CaseReader(join(o.case, 'case.sqlite'));
  try {
    // loaded only for the page, so the other formats do not pay for it at start-up
    if (list === 'summary' && o.format === 'html') return await (await import('./case-page.js')).writeCasePage(io.stdout, o.case, reader);
    if (list === 'summary') return await writeSummary(io.stdout, reader.meta<Summary>('summary'), o.format);
    if (mail) return await writeNotices(io, reader, list as NoticeList, o, ui);
    const columns = COLUMNS[list];
    const rows = reader.rows(list);
    switch (o.format) {
      case 'csv':
        return await writeCsv(io.stdout, columns, rows);
      case 'jsonl':
        return await writeJsonl(io.stdout, columns, rows);
      case 'json':
        return await writeJsonArray(io.stdout, columns, rows);
      case 'table':
        return await writeTable(io.stdout, columns, rows, { width: terminalWidth(io.stdout), color: colorLevel('stdout') > 0 });
    }
  } finally {
    reader.close();
  }
}

/** COLUMNS if set, else the terminal's width, else 120 (a pipe or file). */
function terminalWidth(out: Writable): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  const tty = (out as NodeJS.WriteStream).columns;
  return typeof tty === 'number' && tty > 0 ? tty : 120;
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

async function writeNotices(io: Io, reader: CaseReader, list: NoticeList, o: ReportOptions, ui: Ui): Promise<void> {
  const from: Mailbox = parseFrom(o.from!);
  const extra = parseSets(list, o.set ?? []);
  const template: Template = o.template !== undefined ? readTemplate(o.template) : builtInTemplate(list);
  const subjectText = o.subject ?? template.subject ?? builtInTemplate(list).subject ?? '';
  checkTemplate(template, [...PLACEHOLDERS[list], ...Object.keys(extra)], LIST_PLACEHOLDERS, subjectText);

  const summary = reader.meta<Summary>('summary');
  const orgs = new Map<string, OrgRow>();
  for (const r of reader.rows('orgs')) orgs.set(String(r.org_id), r as OrgRow);
  const date = noticeDate(o.case);
  const ctx: NoticeContext = { vendor: o.vendorName ?? vendorName(summary), from, date, orgs, extra };
  const hash = caseHash(reader.path);
  const newline = o.format === 'eml' ? 'windows' : 'unix';

  let skipped = 0;
  // One notice per row: per affected user, or per (affected org, admin) even when two admins
  // share a mailbox (they are two people to the internal database).
  async function* items(): AsyncGenerator<MailItem> {
    let rowNumber = 0;
    for (const row of reader.rows(list as ListName)) {
      rowNumber++;
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
      const { values, lists } = noticeValues(list, row, ctx);
      const id = messageId(hash, key, from);
      const message = await composeMessage(
        { to: { name: String(row.name ?? ''), address }, subject: renderSubject(subjectText, values), text: renderBody(template.body, values, lists), date, messageId: id },
        from,
        newline,
      );
      yield { message, index: indexRow(list, row, id) };
    }
  }

  if (o.format === 'mbox') {
    await writeMbox(io.stdout, items(), from.address, date);
  } else {
    const n = await writeEmlDir(o.out!, items(), INDEX_COLUMNS[list]);
    ui.info(`wrote ${n} notice${n === 1 ? '' : 's'} to ${o.out} (index.csv says who each one is for)`);
  }
  if (skipped > 0) ui.warn(`${skipped} ${list} row${skipped === 1 ? '' : 's'} got no notice (see the warnings above)`);
}

const INDEX_COLUMNS: Record<NoticeList, readonly string[]> = {
  users: ['user_id', 'email', 'name', 'message_id'],
  roster: ['org_id', 'org_name', 'email', 'name', 'role', 'message_id'],
};

function indexRow(list: NoticeList, row: Row, id: string): string[] {
  const cols = INDEX_COLUMNS[list];
  return cols.map((c) => (c === 'message_id' ? id : String(row[c] ?? '')));
}
