/**
 * The breach-impact program: lists the commands and is the one place where errors become exit
 * codes (0 ok, 1 runtime/unreadable input, 2 usage, 3 gate exceeded, 130 interrupted).
 * A closed stdout pipe is not an error.
 */
import { Command, CommanderError } from 'commander';
import type { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { removeTemporaries } from './case/files.js';
import { correlateCommand } from './commands/correlate.js';
import { diffCommand } from './commands/diff.js';
import { fixturesCommand } from './commands/fixtures.js';
import { inspectCommand } from './commands/inspect.js';
import { ledgerCommand } from './commands/ledger.js';
import { reportCommand } from './commands/report.js';
import { InputError, UsageError } from './errors.js';
import { makeUi } from './ui.js';
import { VERSION } from './version.js';

export interface Io {
  stdout: Writable;
  exitCode: number;
}

export function buildProgram(io: Io): Command {
  const program = new Command('breach-impact')
    .description('Find who is affected when a vendor hands you the dataset an attacker exported: impact lists, admin rosters, notices.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage and an example)')
    .addHelpText('after', '\nExample:\n  breach-impact correlate fixtures/export/* --internal fixtures/internal.sql --out case\n  breach-impact report roster --case case --format csv | head');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void process.stderr.write(s) });
  const commands = [correlateCommand(io), reportCommand(io), diffCommand(io), ledgerCommand(io), inspectCommand(io), fixturesCommand(io)];
  const configure = (c: Command) => {
    c.exitOverride();
    c.showHelpAfterError('(run with --help for usage and an example)');
    c.configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void process.stderr.write(s) });
    for (const sub of c.commands) configure(sub); // `ledger add`, `ledger show`
  };
  for (const c of commands) {
    configure(c);
    program.addCommand(c);
  }
  return program;
}

/**
 * V8 grows the heap by up to several times what survived its last full collection; with the few
 * hundred MB of identities and internal facts of a large export, the garbage between collections
 * was most of the peak memory. Growing by 30% at most: at 5M events peak RSS 1.32 GB → 0.83 GB,
 * the same wall time (a few more collections, on a heap that is mostly live data).
 */
export const HEAP_GROWING_PERCENT = 30;

export async function main(argv: string[]): Promise<number> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const io: Io = { stdout: process.stdout, exitCode: 0 };
  // `| head` closing the pipe: stop quietly, with success.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(io.exitCode);
    throw e;
  });
  const onSignal = () => {
    removeTemporaries();
    process.stderr.write('\nbreach-impact: interrupted; no partial output was published\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const verbose = argv.includes('--verbose');
  const ui = makeUi();
  // The event loop running dry while the command has not finished (a promise nothing will ever
  // settle) is a defect of this tool; Node would end the process with exit 0, a silent success.
  const unfinished = () => {
    removeTemporaries();
    ui.error('unexpected failure: the run ended before it finished; nothing it wrote can be trusted', 'run again; if it repeats, try --threads 1 and report it with the command you ran (not the data)');
    process.exitCode = 1;
  };
  process.once('beforeExit', unfinished);
  try {
    await buildProgram(io).parseAsync(argv.filter((a) => a !== '--verbose'));
    return io.exitCode;
  } catch (e) {
    removeTemporaries();
    if (e instanceof CommanderError) {
      // --help, help and --version succeed; help shown for a missing command is a usage error
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      ui.error(e.message, e.hint);
      return 2;
    }
    if (e instanceof InputError) {
      ui.error(e.message, e.hint);
      return 1;
    }
    const err = e as Error;
    ui.error(`unexpected failure: ${err.name}`, 'run again with --verbose for details, and report it with the command you ran (not the data)');
    if (verbose) process.stderr.write(`${err.stack}\n`);
    return 1;
  } finally {
    process.off('beforeExit', unfinished);
  }
}
