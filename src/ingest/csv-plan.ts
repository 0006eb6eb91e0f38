/** Which CSV column feeds which canonical field: recognised header names plus `--column`. */
import { CANONICAL_FIELDS, DEFAULT_SOURCES, type CanonicalField, type Getter, type Plan } from '../core/canonical.js';
import { UsageError } from '../errors.js';
import { nameForMessage } from './text.js';

/** Header names compare case-insensitively, with or without a leading `$`, spaces as `_`. */
export function headerKey(h: string): string {
  return h.trim().toLowerCase().replace(/^\$/, '').replace(/[\s-]+/g, '_');
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

export function csvPlan(header: string[], columns: Map<CanonicalField, string[]>, label: string, warn: (m: string) => void): Plan<string[]> {
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    const k = headerKey(h);
    if (k === '') throw new UsageError(`${label}: CSV header has an empty column name (column ${i + 1})`, 'give every column a name, or remove the empty column');
    if (index.has(k)) {
      const j = index.get(k)!;
      throw new UsageError(
        `${label}: CSV header has a duplicate column name: column ${j + 1} ${JSON.stringify(nameForMessage(header[j]))} and column ${i + 1} ${JSON.stringify(nameForMessage(h))} both read as ${JSON.stringify(nameForMessage(k))}`,
        'rename one of the duplicate columns (names compare case-insensitively, with or without a leading $)',
      );
    }
    index.set(k, i);
  });
  const plan = {} as Plan<string[]>;
  for (const f of CANONICAL_FIELDS) {
    const used: number[] = [];
    for (const src of columns.get(f) ?? []) {
      const i = index.get(headerKey(src));
      if (i === undefined) warn(`${label}: --column ${f}=${src} names a column this file does not have`);
      else used.push(i);
    }
    for (const src of [...DEFAULT_SOURCES[f], ...(EXTRA[f] ?? [])]) {
      const i = index.get(headerKey(src));
      if (i !== undefined && !used.includes(i)) used.push(i);
    }
    plan[f] = used.map((i): Getter<string[]> => (cells) => cells[i]);
  }
  return plan;
}
