/** One list of rows to a Writable in any of the list formats: the one dispatch `report`, `diff` and `ledger show` share. */
import type { Writable } from 'node:stream';
import type { Row } from '../core/rows.js';
import { colorLevel } from '../ui.js';
import { writeCsv } from './csv.js';
import { writeJsonArray, writeJsonl } from './json.js';
import { writeTable } from './table.js';

export const ROW_FORMATS = ['csv', 'jsonl', 'json', 'table'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

/** COLUMNS if set, else the terminal's width, else 120 (a pipe or file). */
export function terminalWidth(out: Writable): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  const tty = (out as NodeJS.WriteStream).columns;
  return typeof tty === 'number' && tty > 0 ? tty : 120;
}

export function writeRows(out: Writable, format: RowFormat, columns: readonly string[], rows: Iterable<Row>): Promise<void> {
  switch (format) {
    case 'csv':
      return writeCsv(out, columns, rows);
    case 'jsonl':
      return writeJsonl(out, columns, rows);
    case 'json':
      return writeJsonArray(out, columns, rows);
    case 'table':
      return writeTable(out, columns, rows, { width: terminalWidth(out), color: colorLevel('stdout') > 0 });
  }
}
