/**
 * Everything for people, on stderr only: messages, warnings, and a spinner with records/s when
 * stderr is a terminal (never in CI, never with --quiet). Colour follows NO_COLOR / FORCE_COLOR
 * (chalk reads them, judging stderr's colour support, not stdout's). Messages never carry personal data: callers pass files, lines, reasons.
 */
import { chalkStderr as chalk } from 'chalk';
import ora, { type Ora } from 'ora';
import { escapeTerminal } from './output/cells.js';

export interface Ui {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string, hint?: string): void;
  progress(text: string): void;
  stopProgress(): void;
}

export function makeUi(opts: { quiet?: boolean; stderr?: NodeJS.WriteStream } = {}): Ui {
  const stderr = opts.stderr ?? process.stderr;
  // A terminal that reports no width (a pty nobody sized: `script`, some CI and container
  // consoles) would make ora count Infinity lines to clear and spin forever: no spinner there.
  const interactive = !opts.quiet && stderr.isTTY === true && !process.env.CI && (stderr.columns ?? 0) > 0;
  let spinner: Ora | undefined;
  const line = (s: string) => {
    if (spinner) spinner.clear();
    stderr.write(s + '\n');
    if (spinner) spinner.render();
  };
  return {
    info: (msg) => {
      if (!opts.quiet) line(escapeTerminal(msg));
    },
    warn: (msg) => line(`${chalk.yellow('breach-impact: warning:')} ${escapeTerminal(msg)}`),
    error: (msg, hint) => {
      if (spinner) {
        spinner.stop();
        spinner = undefined;
      }
      stderr.write(`${chalk.red('breach-impact: error:')} ${escapeTerminal(msg)}\n`);
      if (hint) stderr.write(`${chalk.dim('  what to do:')} ${escapeTerminal(hint)}\n`);
    },
    progress: (text) => {
      if (!interactive) return;
      if (!spinner) spinner = ora({ stream: stderr, text: escapeTerminal(text) }).start();
      else spinner.text = escapeTerminal(text);
    },
    stopProgress: () => {
      if (spinner) {
        spinner.stop();
        spinner = undefined;
      }
    },
  };
}
