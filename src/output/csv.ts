/** CSV lists: header row, formula-neutralised cells, RFC 4180 quoting (csv-stringify), LF ends. */
import { stringify } from 'csv-stringify/sync';
import type { Writable } from 'node:stream';
import type { Row } from '../core/rows.js';
import { cellText, neutralizeFormula } from './cells.js';
import { writeText } from './sink.js';

export function csvLine(values: string[]): string {
  // csv-stringify quotes a field holding the record delimiter (LF) but not a bare CR, which
  // spreadsheets and RFC 4180 readers take for a line break: quote those too.
  return stringify([values], { eof: true, record_delimiter: 'unix', quoted_match: /\r/ });
}

export function csvRow(columns: readonly string[], row: Row): string {
  return csvLine(columns.map((c) => neutralizeFormula(cellText(row[c]))));
}

/** The whole list as text, in chunks of about 64 KiB (header first). */
export function* csvChunks(columns: readonly string[], rows: Iterable<Row>): Generator<string> {
  let buf = csvLine([...columns]);
  for (const row of rows) {
    buf += csvRow(columns, row);
    if (buf.length > 1 << 16) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
}

export async function writeCsv(out: Writable, columns: readonly string[], rows: Iterable<Row>): Promise<void> {
  for (const chunk of csvChunks(columns, rows)) await writeText(out, chunk);
}
