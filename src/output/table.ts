/**
 * A list for a person at a terminal. Every control, escape and bidi-override character is
 * shown as a visible escape (always, terminal or not). Columns are sized from the first rows;
 * long text cells are cut with `…` down to a readable floor. When even that is wider than the
 * terminal, each row is shown as a block of `column  value` lines instead (like psql's
 * expanded mode), so nothing has to be cut to nonsense. With colour: a bold header, and
 * escapes highlighted so hidden characters stand out.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { Writable } from 'node:stream';
import stringWidth from 'string-width';
import { COUNT_COLUMNS, type Cell, type Row } from '../core/rows.js';
import { escapeTerminal } from './cells.js';
import { writeText } from './sink.js';

export interface TableOptions {
  /** Terminal width in columns. */
  width: number;
  color: boolean;
  /** Rows looked at to size the columns (later rows are cut to those widths). */
  sample?: number;
}

const GAP = '  ';
/** A text column is cut no narrower than this (or its header) before the layout turns expanded; times are never cut. */
const FLOOR = 12;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const ESCAPE = /\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt])/g;

export function tableCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  return escapeTerminal(Array.isArray(v) ? v.join(', ') : String(v));
}

/** `s` cut to at most `width` terminal columns, ending in `…` when cut. */
export function truncate(s: string, width: number): string {
  if (stringWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const { segment } of segmenter.segment(s)) {
    const sw = stringWidth(segment);
    if (w + sw > width - 1) break;
    out += segment;
    w += sw;
  }
  return out + '…';
}

/**
 * Column widths that fit `total`: the column with the most room to give shrunk one step at a
 * time, none below its floor. Undefined when they cannot fit.
 */
export function fitWidths(natural: readonly number[], floor: readonly number[], total: number): number[] | undefined {
  const widths = [...natural];
  const room = total - GAP.length * (widths.length - 1);
  let sum = widths.reduce((a, b) => a + b, 0);
  if (floor.reduce((a, b) => a + b, 0) > room) return undefined;
  while (sum > room) {
    let widest = 0;
    for (let i = 1; i < widths.length; i++) if (widths[i] - floor[i] > widths[widest] - floor[widest]) widest = i;
    widths[widest]--;
    sum--;
  }
  return widths;
}

function highlight(chalk: ChalkInstance, s: string): string {
  return chalk.level > 0 ? s.replace(ESCAPE, (e) => chalk.inverse(e)) : s;
}

export function* tableLines(columns: readonly string[], rows: Iterable<Row>, opts: TableOptions): Generator<string> {
  const chalk = new Chalk({ level: opts.color ? 1 : 0 });
  const it = rows[Symbol.iterator]();
  const head: string[][] = [];
  const sample = opts.sample ?? 1000;
  while (head.length < sample) {
    const r = it.next();
    if (r.done) break;
    head.push(columns.map((c) => tableCell(r.value[c])));
  }
  const rest = (function* () {
    for (let r = it.next(); !r.done; r = it.next()) yield columns.map((c) => tableCell(r.value[c]));
  })();
  const natural = columns.map((c, i) => Math.max(stringWidth(c), ...head.map((cells) => stringWidth(cells[i]))));
  const floor = columns.map((c, i) => (c.endsWith('_seen') || c.endsWith('_at') ? natural[i] : Math.min(natural[i], Math.max(FLOOR, stringWidth(c)))));
  const widths = fitWidths(natural, floor, opts.width);
  if (widths === undefined) {
    yield* expandedLines(columns, head, rest, opts.width, chalk);
    return;
  }
  const right = columns.map((c) => COUNT_COLUMNS.has(c));
  const last = columns.length - 1;
  const line = (cells: string[], style: (s: string) => string) =>
    cells
      .map((cell, i) => {
        const cut = truncate(cell, widths[i]);
        const shown = highlight(chalk, style(cut));
        const fill = ' '.repeat(Math.max(0, widths[i] - stringWidth(cut)));
        if (right[i]) return fill + shown;
        return i === last ? shown : shown + fill;
      })
      .join(GAP)
      .replace(/ +$/, '');
  yield line([...columns], (s) => chalk.bold(s));
  yield chalk.dim(widths.map((w) => '─'.repeat(w)).join(GAP));
  let n = 0;
  for (const cells of [head, rest]) {
    for (const c of cells) {
      n++;
      yield line(c, (s) => s);
    }
  }
  if (n === 0) yield chalk.dim('(no rows)');
}

/** One block per row: a numbered rule, then `column  value` lines cut to the width. */
function* expandedLines(columns: readonly string[], head: string[][], rest: Iterable<string[]>, width: number, chalk: ChalkInstance): Generator<string> {
  const keyWidth = Math.max(...columns.map((c) => stringWidth(c)));
  const valueWidth = Math.max(8, width - keyWidth - GAP.length);
  let n = 0;
  for (const cells of [head, rest]) {
    for (const c of cells) {
      n++;
      const label = `── ${n} `;
      yield chalk.dim(label + '─'.repeat(Math.max(0, Math.min(width, keyWidth + GAP.length + valueWidth) - label.length)));
      for (let i = 0; i < columns.length; i++) {
        yield `${chalk.bold(columns[i].padEnd(keyWidth))}${GAP}${highlight(chalk, truncate(c[i], valueWidth))}`.replace(/ +$/, '');
      }
    }
  }
  if (n === 0) yield chalk.dim('(no rows)');
}

export async function writeTable(out: Writable, columns: readonly string[], rows: Iterable<Row>, opts: TableOptions): Promise<void> {
  let buf = '';
  for (const l of tableLines(columns, rows, opts)) {
    buf += l + '\n';
    if (buf.length > 1 << 16) {
      await writeText(out, buf);
      buf = '';
    }
  }
  await writeText(out, buf);
}
