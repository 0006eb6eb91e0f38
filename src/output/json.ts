/** JSON lists: `jsonl` (one object per line) and `json` (one array, one row per line). Exact values, keys in contract order. */
import type { Writable } from 'node:stream';
import type { Row } from '../core/rows.js';
import { writeText } from './sink.js';

/** A row as JSON with its keys in contract order (list cells arrays, counts numbers, missing null). */
export function jsonRow(columns: readonly string[], row: Row): string {
  const o: Record<string, unknown> = {};
  for (const c of columns) o[c] = row[c] ?? null;
  return JSON.stringify(o);
}

async function writeChunked(out: Writable, parts: Iterable<string>): Promise<void> {
  let buf = '';
  for (const p of parts) {
    buf += p;
    if (buf.length > 1 << 16) {
      await writeText(out, buf);
      buf = '';
    }
  }
  await writeText(out, buf);
}

export async function writeJsonl(out: Writable, columns: readonly string[], rows: Iterable<Row>): Promise<void> {
  await writeChunked(out, (function* () {
    for (const r of rows) yield jsonRow(columns, r) + '\n';
  })());
}

export async function writeJsonArray(out: Writable, columns: readonly string[], rows: Iterable<Row>): Promise<void> {
  await writeChunked(out, (function* () {
    let first = true;
    yield '[';
    for (const r of rows) {
      yield (first ? '\n' : ',\n') + jsonRow(columns, r);
      first = false;
    }
    yield first ? ']\n' : '\n]\n';
  })());
}
