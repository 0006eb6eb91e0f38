/** Which CSV column feeds which canonical field: recognised header names plus `--column`. */
import { CANONICAL_FIELDS, DEFAULT_SOURCES, type CanonicalField, type Getter, type Plan } from '../core/canonical.js';
import { UsageError } from '../errors.js';
import { nameForMessage } from './text.js';

/** A header name as compared: case-insensitively, spaces and dashes as `_` (`Distinct ID` = `distinct_id`). */
function headerName(h: string): string {
  return h.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** The same without a leading `$`: what a source name matches when no column has it exactly. */
export function headerKey(h: string): string {
  return headerName(h).replace(/^\$/, '');
}

const EXTRA: Partial<Record<CanonicalField, string[]>> = {
  record_id: ['insert_id'],
  country: ['country_code'],
  referrer: ['referring_domain'],
  url: ['current_url', 'url'],
  time: ['last_seen', 'timestamp'],
  first_name: ['first_name'],
  last_name: ['last_name'],
};

const KNOWN_KEYS = new Set(CANONICAL_FIELDS.flatMap((f) => [...DEFAULT_SOURCES[f], ...(EXTRA[f] ?? [])].map(headerKey)));

/**
 * Does a CSV's first row name a column this tool knows by default? If not, the file may have no
 * header row, and that row is somebody's data (never to be shown as names).
 */
export function namesAKnownField(header: readonly string[]): boolean {
  return header.some((h) => KNOWN_KEYS.has(headerKey(h)));
}

/**
 * Should the reader warn that a CSV may have no header row? When its first row names no column
 * known by default and no --column source names one of its columns either (a responder who
 * mapped a column by its header name knows the file has a header).
 */
export function headerMayBeData(header: readonly string[], columns: Map<CanonicalField, string[]>): boolean {
  if (namesAKnownField(header)) return false;
  const keys = new Set(header.map(headerKey));
  return ![...columns.values()].some((sources) => sources.some((src) => keys.has(headerKey(src))));
}

export function csvPlan(header: string[], columns: Map<CanonicalField, string[]>, label: string, warn: (m: string) => void): Plan<string[]> {
  // `email` and `$email` are two columns (a custom property beside Mixpanel's own), both kept;
  // `Email` and `email` are one name twice.
  const exact = new Map<string, number>();
  const loose = new Map<string, number[]>();
  header.forEach((h, i) => {
    const name = headerName(h);
    const k = headerKey(h);
    if (k === '') throw new UsageError(`${label}: CSV header has an empty column name (column ${i + 1})`, 'give every column a name, or remove the empty column');
    if (exact.has(name)) {
      const j = exact.get(name)!;
      throw new UsageError(
        `${label}: CSV header has a duplicate column name: column ${j + 1} ${JSON.stringify(nameForMessage(header[j]))} and column ${i + 1} ${JSON.stringify(nameForMessage(h))} both read as ${JSON.stringify(nameForMessage(name))}`,
        'rename one of the duplicate columns (names compare case-insensitively)',
      );
    }
    exact.set(name, i);
    loose.set(k, [...(loose.get(k) ?? []), i]);
  });
  /** Columns a source name matches: the exact name first, then the same name with or without `$`. */
  const lookup = (src: string): number[] => {
    const i = exact.get(headerName(src));
    const rest = (loose.get(headerKey(src)) ?? []).filter((j) => j !== i);
    return i === undefined ? rest : [i, ...rest];
  };
  const plan = {} as Plan<string[]>;
  for (const f of CANONICAL_FIELDS) {
    const used: number[] = [];
    for (const src of columns.get(f) ?? []) {
      const found = lookup(src);
      if (found.length === 0) warn(`${label}: --column ${f}=${src} names a column this file does not have`);
      for (const i of found) if (!used.includes(i)) used.push(i);
    }
    for (const src of [...DEFAULT_SOURCES[f], ...(EXTRA[f] ?? [])]) {
      for (const i of lookup(src)) if (!used.includes(i)) used.push(i);
    }
    plan[f] = used.map((i): Getter<string[]> => (cells) => cells[i]);
  }
  // The row's names are not shown: in a file without a header they are personal data.
  if (headerMayBeData(header, columns)) {
    warn(`${label}: no name in the CSV's first row is a column this tool knows by default: if the file has no header row, that row was read as the header (not counted as a record, and never shown); give the file a header row, or map its columns by name with --column FIELD=NAME`);
  }
  return plan;
}
