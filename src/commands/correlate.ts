/** `breach-impact correlate`: options → correlation → summary on stdout. */
import { Command } from 'commander';
import { correlate, describeSummary } from '../correlation.js';
import { checkReadable } from '../ingest/source.js';
import { UsageError } from '../errors.js';
import { writeText } from '../output/sink.js';
import { makeUi } from '../ui.js';
import { collect, parseColumns, parseGate, parseInstant, parseRoles, parseThreads, parseVendor } from './options.js';
import { VENDORS } from '../ingest/read.js';
import type { Io } from '../cli.js';

export function correlateCommand(io: Io): Command {
  return new Command('correlate')
    .summary('correlate a vendor export with your users and orgs, and write the case directory')
    .description('Read the vendor export(s), match every vendor identity to your internal users, and write the case directory:\nusers.csv, orgs.csv, roster.csv, unmatched.csv, rejected.csv, jurisdictions.csv, summary.json, manifest.json, case.sqlite.')
    .argument('<export...>', 'export files (NDJSON, JSON, CSV; gzip or not), or - for standard input')
    .requiredOption('--internal <db>', 'internal database: SQLite file (opened read-only) or .sql dump')
    .option('--out <dir>', 'case directory', 'breach-impact-out')
    .option('--vendor <profile>', `read the exports with this vendor profile instead of detecting it: ${VENDORS.join(', ')}`)
    .option('--vendor-name <name>', 'the breached vendor as notices name it (default: from the profile, e.g. Segment)')
    .option('--column <field=path>', 'read a canonical field from this CSV column or JSON path (repeatable); FIELD= reads it from nowhere', collect, [])
    .option('--map <views.sql>', 'SQL creating TEMP views users/orgs/memberships over another schema')
    .option('--admin-roles <roles>', 'membership roles that receive the admin roster', 'owner,admin')
    .option('--since <time>', 'ignore records before this ISO 8601 time (inclusive)')
    .option('--until <time>', 'ignore records from this ISO 8601 time on (exclusive)')
    .option('--max-rejected <N|P%>', 'exit 3 if more than N (or P% of) records are rejected')
    .option('--max-unmatched <N|P%>', 'exit 3 if more than N (or P% of) vendor identities are unmatched')
    .option('--threads <n>', 'threads reading NDJSON exports and the internal database (default: one per core; 1: read on one thread; same output either way)')
    .option('--force', 'write into a non-empty directory that holds no case', false)
    .option('--quiet', 'no progress or notes on stderr', false)
    .option('--json', 'print summary.json instead of the human summary', false)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  breach-impact correlate export.ndjson.gz people.json --internal app.sqlite --out case-2025-11\n' +
        '  breach-impact correlate - --internal app.sqlite --since 2025-11-01 < export.ndjson\n' +
        '  breach-impact correlate events.csv --internal app.sqlite --column user_id=properties.user_id   (JSON inside a CSV cell)\n' +
        '  breach-impact correlate amplitude.zip --internal app.sqlite --column \'url=event_properties["[Amplitude] Page URL"]\'\n' +
        '  breach-impact correlate export.ndjson --internal app.sqlite --column email=$properties.work_email --column name=',
    )
    .action(async (exports: string[], o: Record<string, string | string[] | boolean | undefined>) => {
      const ui = makeUi({ quiet: o.quiet as boolean });
      if (exports.filter((e) => e === '-').length > 1) throw new UsageError('standard input (-) can be read only once', 'name - at most once');
      for (const e of exports) checkReadable(e);
      const since = parseInstant('--since', o.since as string | undefined);
      const until = parseInstant('--until', o.until as string | undefined);
      if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since is not before --until', 'swap them, or widen the window');
      const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
      const result = await correlate(
        {
          exports,
          internal: o.internal as string,
          out: o.out as string,
          vendor: parseVendor(o.vendor as string | undefined),
          columns: parseColumns(o.column as string[]),
          map: o.map as string | undefined,
          adminRoles: parseRoles(o.adminRoles as string),
          window: { since, until },
          maxRejected: parseGate('--max-rejected', o.maxRejected as string | undefined),
          maxUnmatched: parseGate('--max-unmatched', o.maxUnmatched as string | undefined),
          vendorName: o.vendorName as string | undefined,
          force: o.force as boolean,
          threads: parseThreads(o.threads as string | undefined),
          given: { exports, ...given },
        },
        ui,
      );
      // set before writing: a reader that closes the pipe early must not turn exit 1 or 3 into 0
      io.exitCode = result.exitCode;
      await writeText(io.stdout, o.json ? JSON.stringify(result.summary, null, 2) + '\n' : describeSummary(result.summary, o.out as string));
    });
}
