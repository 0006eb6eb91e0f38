/**
 * Everything for people, on stderr only: messages, warnings, and a spinner with records/s when
 * stderr is a terminal (never in CI, never with --quiet). Colour follows FORCE_COLOR, then
 * NO_COLOR, then whether the stream is a colour terminal (colorLevel). Messages never carry
 * personal data: callers pass files, lines, reasons.
 */
import { Chalk, supportsColor, supportsColorStderr, type ColorSupportLevel } from 'chalk';
import ora, { type Ora } from 'ora';
import { escapeTerminal } from './output/cells.js';

/**
 * The colour level for stdout or stderr. FORCE_COLOR wins (0 or false: none; else at least
 * basic colour), as in Node itself; otherwise a non-empty NO_COLOR turns colour off
 * (no-color.org), which chalk alone does not do; otherwise chalk's judgement of the stream.
 */
export function colorLevel(stream: 'stdout' | 'stderr', env: NodeJS.ProcessEnv = process.env): ColorSupportLevel {
  const detected = ((stream === 'stdout' ? supportsColor : supportsColorStderr) || { level: 0 }).level;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    return Math.max(1, detected) as ColorSupportLevel;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  return detected;
}

export interface Ui {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string, hint?: string): void;
  progress(text: string): void;
  stopProgress(): void;
}

export function makeUi(opts: { quiet?: boolean; stderr?: NodeJS.WriteStream } = {}): Ui {
  const stderr = opts.stderr ?? process.stderr;
  const chalk = new Chalk({ level: colorLevel('stderr') });
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
