/**
 * `diff`: what changed between two cases of one incident (a vendor's first and second
 * delivery), list by list. Each list is read from both case.sqlite files in key order and
 * merge-joined, so neither case is held in memory, whatever its size.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareCodePoints } from '../core/identity.js';
import { COLUMNS, type Cell, type Row } from '../core/rows.js';
import { UsageError } from '../errors.js';
import { isCase, MANIFEST } from './files.js';
import { CaseReader, DIFF_LISTS, rowOf, type DiffList, type KeyedRow } from './store.js';

/** A stored row with the list's own columns only (what case.sqlite keeps beside them is never printed). */
function listRow(list: DiffList, raw: Record<string, unknown>): Row {
  const all = rowOf(list, raw);
  const row: Row = {};
  for (const c of COLUMNS[list]) row[c] = all[c];
  return row;
}

export type Change = 'added' | 'removed' | 'changed';

export interface DiffRow {
  list: DiffList;
  change: Change;
  key: string;
  /** The differing columns, in the list's column order (empty unless `changed`). */
  changed: string[];
  /** The NEW row (the OLD one for `removed`). */
  row: Row;
  /** For `changed`: the OLD values of the changed columns. */
  was?: Row;
}

/** A case directory, checked: a breach-impact manifest and a case.sqlite beside it. */
export interface CaseDir {
  dir: string;
  manifest: { internal?: { sha256?: string; path?: string } };
  reader: CaseReader;
}

export function openCaseDir(dir: string, role: string): CaseDir {
  if (!isCase(dir) || !existsSync(join(dir, 'case.sqlite'))) {
    throw new UsageError(`${role} ${dir} is not a breach-impact case directory (no manifest.json and case.sqlite written by correlate)`, 'pass two directories written by `breach-impact correlate … --out DIR`');
  }
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as CaseDir['manifest'];
  return { dir, manifest, reader: new CaseReader(join(dir, 'case.sqlite')) };
}

/** Whether two cases were made from the same internal database (by their manifests' hashes); undefined when a manifest names none. */
export function sameInternalDb(a: CaseDir, b: CaseDir): boolean | undefined {
  const x = a.manifest.internal?.sha256;
  const y = b.manifest.internal?.sha256;
  return x === undefined || y === undefined ? undefined : x === y;
}

function compareKeyed(a: KeyedRow, b: KeyedRow): number {
  return compareCodePoints(a.key, b.key) || compareCodePoints(a.tie, b.tie);
}

/** Stored cells compared as stored: text, counts, lists as their JSON text. */
function same(a: unknown, b: unknown): boolean {
  return (a ?? null) === (b ?? null);
}

/** The rows of one list that differ between OLD and NEW, by key. */
export function* diffList(list: DiffList, older: CaseReader, newer: CaseReader): Generator<DiffRow> {
  const columns = COLUMNS[list];
  const a = older.keyedRows(list);
  const b = newer.keyedRows(list);
  let x = a.next();
  let y = b.next();
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : compareKeyed(x.value, y.value);
    if (order < 0) {
      yield { list, change: 'removed', key: x.value!.key, changed: [], row: listRow(list, x.value!.raw) };
      x = a.next();
    } else if (order > 0) {
      yield { list, change: 'added', key: y.value!.key, changed: [], row: listRow(list, y.value!.raw) };
      y = b.next();
    } else {
      const changed = columns.filter((c) => !same(x.value!.raw[c], y.value!.raw[c]));
      if (changed.length > 0) {
        const old = rowOf(list, x.value!.raw);
        const was: Row = {};
        for (const c of changed) was[c] = old[c] as Cell;
        yield { list, change: 'changed', key: y.value!.key, changed, row: listRow(list, y.value!.raw), was };
      }
      x = a.next();
      y = b.next();
    }
  }
}

/** Every list's differences, lists in DIFF_LISTS order, each by key. */
export function* diffCases(older: CaseReader, newer: CaseReader, lists: readonly DiffList[] = DIFF_LISTS): Generator<DiffRow> {
  for (const list of DIFF_LISTS) if (lists.includes(list)) yield* diffList(list, older, newer);
}
