/** `breach-impact inspect`: triage exports before correlating them. Prints key names and counts, never values. */
import { Command } from 'commander';
import { inspectFile, type FileProfile } from '../inspect.js';
import { checkReadable } from '../ingest/source.js';
import { UsageError } from '../errors.js';
import { escapeTerminal } from '../output/cells.js';
import { writeText } from '../output/sink.js';
import { makeUi } from '../ui.js';
import { collect, parseColumns, parseVendor } from './options.js';
import { VENDORS } from '../ingest/read.js';
import type { Io } from '../cli.js';

export function inspectCommand(io: Io): Command {
  return new Command('inspect')
    .summary('triage an export: format, record counts, property keys with fill rate and exposure')
    .description('Look at vendor export(s) before correlating: detected format, how many records and how many would be rejected (by reason), and each property key with its fill rate, the canonical field it feeds and its exposure category. Prints no personal values.')
    .argument('<export...>', 'export files, or - for standard input')
    .option('--vendor <profile>', `read the exports with this vendor profile instead of detecting it: ${VENDORS.join(', ')}`)
    .option('--column <field=path>', 'read a canonical field from this CSV column or JSON path (repeatable); FIELD= reads it from nowhere', collect, [])
    .option('--json', 'print the profile as JSON', false)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  breach-impact inspect export.ndjson.gz people.json\n' +
        '  breach-impact inspect --json export.csv | jq \'.files[].keys[] | select(.exposure | length > 0)\'\n' +
        '  breach-impact inspect events.csv --column user_id=properties.user_id   (check a mapping before correlating)',
    )
    .action(async (exports: string[], o: { vendor?: string; column: string[]; json: boolean }) => {
      const ui = makeUi();
      if (exports.filter((e) => e === '-').length > 1) throw new UsageError('standard input (-) can be read only once', 'name - at most once');
      for (const e of exports) checkReadable(e);
      const opts = { vendor: parseVendor(o.vendor), columns: parseColumns(o.column) };
      const files: FileProfile[] = [];
      for (const e of exports) files.push(await inspectFile(e, opts, (m) => ui.warn(m)));
      if (files.some((f) => !f.complete)) io.exitCode = 1; // before writing: a closed pipe exits with it
      await writeText(io.stdout, o.json ? JSON.stringify({ files }, null, 2) + '\n' : files.map(describeProfile).join('\n'));
    });
}

export function describeProfile(f: FileProfile): string {
  const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
  const reasons = Object.entries(f.rejected_by_reason).map(([r, n]) => `${r} ${n}`).join(', ');
  const lines = [
    `${escapeTerminal(f.file)}  ${f.format}${f.complete ? '' : '  (INCOMPLETE: reading stopped early)'}`,
    ...(f.profile_reason !== '' ? [`  profile ${f.profile || '-'}: ${escapeTerminal(f.profile_reason)}`] : []),
    `  records ${f.records}: ${f.usable} usable, ${f.rejected} rejected${reasons ? ` (${reasons})` : ''}${f.encoding_errors ? `; ${f.encoding_errors} invalid UTF-8 sequences` : ''}`,
  ];
  if (f.keys.length > 0) {
    const shown = f.keys.map((k) => ({ ...k, key: escapeTerminal(k.key.length > 40 ? k.key.slice(0, 39) + '…' : k.key) }));
    const w = Math.max(3, ...shown.map((k) => k.key.length));
    const fieldsOf = (k: { fields: string[] }) => k.fields.join(', ') || '-';
    const fw = Math.max(5, ...shown.map((k) => fieldsOf(k).length));
    lines.push(`  ${'key'.padEnd(w)}  ${'filled'.padStart(7)}  ${'field'.padEnd(fw)}  exposure`);
    for (const k of shown) lines.push(`  ${k.key.padEnd(w)}  ${pct(k.fill_rate).padStart(7)}  ${fieldsOf(k).padEnd(fw)}  ${k.exposure.join(', ') || '-'}`);
    if (f.other_keys > 0) lines.push(`  (${f.other_keys} values under further keys not tracked)`);
  }
  return lines.join('\n') + '\n';
}
