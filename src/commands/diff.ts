/** `breach-impact diff OLD NEW`: what a second delivery changed, list by list, to stdout. */
import { Argument, Command, Option } from 'commander';
import { diffCases, openCaseDir, sameInternalDb, type CaseDir, type DiffRow } from '../case/diff.js';
import { DIFF_LISTS, type DiffList } from '../case/store.js';
import { COLUMNS, type Cell, type Row } from '../core/rows.js';
import { makeUi } from '../ui.js';
import { ROW_FORMATS, writeRows, type RowFormat } from '../output/rows.js';
import type { Io } from '../cli.js';

const FORMATS = ROW_FORMATS;
type Format = RowFormat;

interface DiffOptions {
  list?: DiffList;
  format: Format;
  exitCode?: boolean;
}

const HEAD = ['list', 'change', 'key', 'changed'] as const;

export function diffCommand(io: Io): Command {
  return new Command('diff')
    .summary('compare two cases (a first and a later delivery): rows added, removed and changed, list by list')
    .description(
      'Compare two case directories list by list (users, orgs, roster, unmatched), by key: user_id, org_id, ' +
        '<org_id>:<email>, vendor_id. Prints list, change (added, removed, changed), key and the changed columns; ' +
        'with --list the row itself follows (the new one; the old one when removed). jsonl and json carry the row as ' +
        '"row" and the old values of changed columns as "was". See README, "Re-deliveries: diff and the ledger".',
    )
    .addArgument(new Argument('<old_case>', 'the earlier case directory'))
    .addArgument(new Argument('<new_case>', 'the later case directory'))
    .addOption(new Option('--list <list>', 'compare one list only, and print its rows').choices(DIFF_LISTS))
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('csv'))
    .option('--exit-code', 'exit 3 when the cases differ (0 when they do not), like git diff --exit-code')
    .addHelpText(
      'after',
      '\nExample:\n  breach-impact diff case-delivery-1 case-delivery-2 --format table\n' +
        '  breach-impact diff case-delivery-1 case-delivery-2 --list users --format jsonl | jq -r \'select(.change != "removed") | .key\'\n' +
        '  breach-impact diff case-a case-b --exit-code > /dev/null || echo "the cases differ"',
    )
    .action(async (oldDir: string, newDir: string, o: DiffOptions) => {
      const ui = makeUi();
      const older = openCaseDir(oldDir, 'OLD_CASE');
      let newer: CaseDir | undefined;
      try {
        newer = openCaseDir(newDir, 'NEW_CASE');
        const same = sameInternalDb(older, newer);
        if (same === undefined) ui.warn(`cannot tell whether ${oldDir} and ${newDir} were made from the same internal database: a manifest names no internal.sha256`);
        else if (!same) {
          ui.warn(`${oldDir} and ${newDir} were made from different internal databases (their manifests' internal.sha256 differ): a change may come from your own data (a new admin, a renamed org, a changed address), not only from the vendor's delivery`);
        }
        let differences = 0;
        const rows = counting(diffCases(older.reader, newer.reader, o.list === undefined ? DIFF_LISTS : [o.list]), () => differences++);
        await write(io, o, rows);
        if (o.exitCode && differences > 0) io.exitCode = 3;
      } finally {
        older.reader.close();
        newer?.reader.close();
      }
    });
}

function* counting<T>(items: Iterable<T>, each: () => void): Generator<T> {
  for (const x of items) {
    each();
    yield x;
  }
}

async function write(io: Io, o: DiffOptions, diffs: Iterable<DiffRow>): Promise<void> {
  const own = o.list === undefined ? [] : COLUMNS[o.list];
  if (o.format === 'jsonl' || o.format === 'json') {
    const columns = [...HEAD, 'row', 'was'];
    const rows = mapRows(diffs, (d) => ({ list: d.list, change: d.change, key: d.key, changed: d.changed, row: d.row as unknown as Cell, was: (d.was ?? null) as unknown as Cell }));
    return writeRows(io.stdout, o.format, columns, rows);
  }
  const columns = [...HEAD, ...own];
  const rows = mapRows(diffs, (d) => ({ ...(o.list === undefined ? {} : d.row), list: d.list, change: d.change, key: d.key, changed: d.changed }));
  return writeRows(io.stdout, o.format, columns, rows);
}

function* mapRows(diffs: Iterable<DiffRow>, f: (d: DiffRow) => Row): Generator<Row> {
  for (const d of diffs) yield f(d);
}
