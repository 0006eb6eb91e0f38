/** CSV lists: header row, formula-neutralised cells, RFC 4180 quoting (csv-stringify), LF ends. */
import { stringify } from 'csv-stringify/sync';
import type { Writable } from 'node:stream';
import type { Row } from '../core/rows.js';
import { cellText, neutralizeFormula } from './cells.js';
import { writeText } from './sink.js';

// csv-stringify quotes a field holding the record delimiter (LF) but not a bare CR, which
// spreadsheets and RFC 4180 readers take for a line break: quote those too.
const OPTIONS = { eof: true, record_delimiter: 'unix', quoted_match: /\r/ } as const;

/** Records as CSV text, each ending in LF. */
export function csvLines(records: string[][]): string {
  return records.length === 0 ? '' : stringify(records, OPTIONS);
}

export function csvLine(values: string[]): string {
  return csvLines([values]);
}

/** A row's cells, as they are written: text, formula-neutralised. */
export function csvCells(columns: readonly string[], row: Row): string[] {
  return columns.map((c) => neutralizeFormula(cellText(row[c])));
}

/** Rows stringified together: csv-stringify's cost is mostly per call. */
export const ROWS_PER_CALL = 512;

/** The whole list as text, in chunks of a few hundred rows (header first). */
export function* csvChunks(columns: readonly string[], rows: Iterable<Row>): Generator<string> {
  yield csvLine([...columns]);
  let batch: string[][] = [];
  for (const row of rows) {
    batch.push(csvCells(columns, row));
    if (batch.length === ROWS_PER_CALL) {
      yield csvLines(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield csvLines(batch);
}

export async function writeCsv(out: Writable, columns: readonly string[], rows: Iterable<Row>): Promise<void> {
  for (const chunk of csvChunks(columns, rows)) await writeText(out, chunk);
}
