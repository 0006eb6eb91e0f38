/**
 * The case's list files, written from case.sqlite: each list's rows as stored there (in list
 * order), turned into CSV (lists `;`-joined, formula-looking cells neutralized) and appended to
 * the list's staged file. One pass over the table; memory holds a few hundred rows.
 */
import { COLUMNS, LIST_COLUMNS, type ListName } from '../core/rows.js';
import { cellText, neutralizeFormula } from '../output/cells.js';
import { csvLine, csvLines, ROWS_PER_CALL } from '../output/csv.js';
import type { DB } from '../sqlite.js';
import type { StagedFile } from './files.js';
import type { Stored } from './store.js';

/** Writes list `name` of case.sqlite (attached as `schema`) to `file`, its header first; returns its rows. */
export function writeListCsv(db: DB, schema: string, name: ListName, file: Pick<StagedFile, 'write'>): number {
  const columns = COLUMNS[name];
  file.write(csvLine([...columns]));
  const rows = db.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${schema}."${name}" ORDER BY rowid`).raw(true).iterate() as IterableIterator<Stored[]>;
  let lines: string[][] = [];
  let n = 0;
  for (const row of rows) {
    const csv: string[] = new Array(columns.length);
    for (let j = 0; j < columns.length; j++) csv[j] = neutralizeFormula(csvText(columns[j], row[j]));
    lines.push(csv);
    n++;
    if (lines.length === ROWS_PER_CALL) {
      file.write(csvLines(lines));
      lines = [];
    }
  }
  if (lines.length > 0) file.write(csvLines(lines));
  return n;
}

/** A stored cell's CSV text: a list (JSON in case.sqlite) `;`-joined, NULL empty. */
export function csvText(column: string, v: Stored): string {
  if (v === null) return '';
  if (typeof v === 'string' && LIST_COLUMNS.has(column)) return listText(v);
  return String(v);
}

/**
 * A JSON list's items `;`-joined, as cellText joins the list. Most lists are strings with nothing
 * JSON escapes (no quote, backslash or control character): then the only quotes are the ones
 * around each item, and the text between `["` and `"]` with each `","` made `;` is the answer,
 * without parsing. Anything else (an escape, a non-string item) is parsed.
 */
function listText(json: string): string {
  if (json === '[]') return '';
  if (json.startsWith('["') && json.endsWith('"]') && !json.includes('\\')) {
    const joined = json.slice(2, -2).replaceAll('","', ';');
    if (!joined.includes('"')) return joined;
  }
  return cellText(JSON.parse(json) as string[]);
}

