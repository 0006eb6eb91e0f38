/** `breach-impact ledger add|show`: record sent notices in the ledger, and list them. */
import { Argument, Command, Option } from 'commander';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import { addToLedger, openLedgerReadOnly, SHOW_COLUMNS } from '../ledger.js';
import { makeUi } from '../ui.js';
import { parseInstant } from './options.js';
import { ROW_FORMATS, writeRows, type RowFormat } from '../output/rows.js';
import type { Io } from '../cli.js';

const FORMATS = ROW_FORMATS;
type Format = RowFormat;

export function ledgerCommand(io: Io): Command {
  const ledger = new Command('ledger')
    .summary('record sent notices (add) and list them (show): who was told what, from which case')
    .description(
      'The notification ledger is a SQLite file recording every notice sent, read from the index.csv that ' +
        '`report … --format eml --out DIR` writes. `report users|roster --ledger FILE --unsent` then renders notices ' +
        'only for those not yet told what is now exposed. See README, "Re-deliveries: diff and the ledger".',
    )
    .addHelpText('after', '\nExample:\n  breach-impact ledger add --ledger notified.sqlite notices/index.csv\n  breach-impact ledger show --ledger notified.sqlite --format table');

  ledger.addCommand(
    new Command('add')
      .summary('record the messages of an index.csv as sent (one transaction; the same index twice changes nothing)')
      .description(
        'Record every message of an index.csv as sent, in one transaction (all of it or, on any error, none). ' +
          'Messages already recorded (by Message-ID) are left as they are, so adding the same index twice changes nothing. ' +
          'The ledger is created (mode 0600) when it does not exist; a file that is not a ledger is refused.',
      )
      .addArgument(new Argument('<index>', 'the index.csv written by report --format eml, or - for standard input'))
      .requiredOption('--ledger <file>', 'the ledger file (created if absent)')
      .option('--sent-at <time>', 'when the messages were sent, ISO 8601 (default: now)')
      .addHelpText('after', '\nExample:\n  breach-impact ledger add --ledger notified.sqlite notices/index.csv\n  breach-impact ledger add --ledger notified.sqlite --sent-at 2025-11-17T09:30:00Z - < notices/index.csv')
      .action(async (index: string, o: { ledger: string; sentAt?: string }) => {
        const ui = makeUi();
        const now = Date.now();
        const sentAt = parseInstant('--sent-at', o.sentAt) ?? now;
        if (sentAt > now + 60_000) throw new UsageError(`--sent-at ${o.sentAt} is in the future`, 'record messages once they were sent, with the time they were sent');
        const input: Readable = index === '-' ? process.stdin : createReadStream(index);
        const r = await addToLedger({ ledger: o.ledger, input, source: index, sentAt, now });
        const n = (k: number) => `${k} message${k === 1 ? '' : 's'}`;
        if (r.added === 0) ui.info(`nothing new: the ${n(r.rows)} of ${index} ${r.rows === 1 ? 'was' : 'were'} already in the ledger ${o.ledger}`);
        else ui.info(`recorded ${n(r.added)} as sent in ${r.created ? 'the new ledger' : 'the ledger'} ${o.ledger}${r.added < r.rows ? ` (${r.rows - r.added} of ${index} already were)` : ''}`);
      }),
  );

  ledger.addCommand(
    new Command('show')
      .summary('list what the ledger records as sent, oldest first')
      .description('List what the ledger records as sent: sent_at, list, key, email, exposed, message_id, case (the SHA-256 of the manifest.json of the case the notice came from), oldest first.')
      .requiredOption('--ledger <file>', 'the ledger file')
      .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('csv'))
      .addHelpText('after', '\nExample:\n  breach-impact ledger show --ledger notified.sqlite --format table\n  breach-impact ledger show --ledger notified.sqlite --format jsonl | jq -r .email | sort -u')
      .action(async (o: { ledger: string; format: Format }) => {
        const reader = openLedgerReadOnly(o.ledger);
        try {
          const rows = reader.sent();
          return await writeRows(io.stdout, o.format, SHOW_COLUMNS, rows);
        } finally {
          reader.close();
        }
      }),
  );
  return ledger;
}
