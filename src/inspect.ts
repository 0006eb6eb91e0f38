/**
 * Triage of an export before correlation: per file, the detected format, how many records and
 * how many would be rejected (by reason), and each property key with its fill rate, the canonical
 * field it feeds and its exposure category. Never a value: only key names and counts.
 */
import { CAT, categoriesOf, type Category } from './core/categories.js';
import { DEFAULT_SOURCES, isPresent, type CanonicalField } from './core/canonical.js';
import { looksLikeSecret } from './core/secrets.js';
import { headerKey, headerMayBeData, namesAKnownField } from './ingest/csv-plan.js';
import { readExport, type ReadOptions } from './ingest/read.js';
import { labelOf, type InputFile } from './ingest/source.js';
import { maskPersonal } from './ingest/text.js';
import type { JsonObject } from './ingest/json-record.js';
import { compareCodePoints } from './core/identity.js';

export interface KeyProfile {
  key: string;
  filled: number;
  fill_rate: number;
  field: CanonicalField | null;
  exposure: Category[];
}

export interface FileProfile {
  file: string;
  format: string;
  records: number;
  usable: number;
  rejected: number;
  rejected_by_reason: Record<string, number>;
  complete: boolean;
  encoding_errors: number;
  keys: KeyProfile[];
  /** distinct keys beyond the tracking cap, folded together */
  other_keys: number;
}

const FIELD_CATEGORY: Partial<Record<CanonicalField, number>> = {
  name: CAT.name, first_name: CAT.name, last_name: CAT.name, email: CAT.email,
  city: CAT.location, region: CAT.location, country: CAT.location,
  os: CAT.device, browser: CAT.device, model: CAT.device, referrer: CAT.referrer,
  user_id: CAT.ids, device_id: CAT.ids, org_id: CAT.ids, url: CAT.url, ip: CAT.ip,
};
const MAX_KEYS = 2000;
const BAGS = new Set(['properties', '$properties']);

/** Which canonical field a source key feeds, by the default names and --column mappings. */
function fieldResolver(columns: ReadOptions['columns'], csv: boolean): (key: string) => CanonicalField | null {
  const norm = (k: string) => (csv ? headerKey(k) : k);
  const map = new Map<string, CanonicalField>();
  for (const [field, sources] of columns) for (const s of sources) if (!map.has(norm(s.split('.').pop()!))) map.set(norm(s.split('.').pop()!), field);
  for (const [field, sources] of Object.entries(DEFAULT_SOURCES) as [CanonicalField, string[]][]) {
    for (const s of sources) if (!map.has(norm(s))) map.set(norm(s), field);
  }
  return (key) => map.get(norm(key)) ?? null;
}

export async function inspectFile(path: string, opts: ReadOptions, warn: (m: string) => void): Promise<FileProfile> {
  const file: InputFile = { path, label: labelOf(path), rawBytes: 0, sha256: '', gzip: false };
  const filled = new Map<string, { n: number; secret: boolean }>();
  let other = 0;
  const byReason: Record<string, number> = {};
  let records = 0;
  let usable = 0;
  let complete = true;
  let encodingErrors = 0;
  let header: string[] = [];
  const note = (key: string, value: unknown, secretRecord: boolean) => {
    if (!isPresent(value)) return;
    let k = filled.get(key);
    if (k === undefined) {
      if (filled.size >= MAX_KEYS) {
        other++;
        return;
      }
      filled.set(key, (k = { n: 0, secret: false }));
    }
    k.n++;
    if (secretRecord && !k.secret) k.secret = looksLikeSecret(typeof value === 'string' ? value : JSON.stringify(value));
  };
  const result = await readExport(file, opts, {
    header: (cells) => (header = cells),
    accept: (_line, rec, source) => {
      records++;
      usable++;
      const secret = (rec.exposure & CAT.secret) !== 0;
      if (Array.isArray(source)) {
        source.forEach((v, i) => note(header[i] ?? `column ${i + 1}`, v, secret));
        return;
      }
      for (const [k, v] of Object.entries(source)) {
        if (BAGS.has(k) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
          for (const [bk, bv] of Object.entries(v as JsonObject)) note(bk, bv, secret);
        } else note(k, v, secret);
      }
    },
    reject: (_line, reason) => {
      records++;
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    },
    stop: (_line, reason) => {
      records++;
      complete = false;
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    },
    encodingErrors: (n) => (encodingErrors += n),
    warn,
  });
  const fieldOf = fieldResolver(opts.columns, result.container === 'csv');
  // A CSV whose first row names no field this tool knows by default may have no header row at
  // all: that row is then somebody's data (an email, a name, an id), not column names. Its cells
  // are not shown; the columns are numbered instead. (--column names do not count: a responder
  // may have typed a value seen in that row.) The reader has warned about such a row already,
  // unless a --column name matched one of its cells.
  const headerHidden = result.container === 'csv' && header.length > 0 && !namesAKnownField(header);
  if (headerHidden && !headerMayBeData(header, opts.columns)) warn(`${file.label}: columns are shown by number: no name in the CSV's first row is a column this tool knows by default, and a --column name may be a value copied from that row`);
  const columnNumber = new Map(header.map((h, i) => [h, `column ${i + 1}`]));
  const keys: KeyProfile[] = [...filled]
    .map(([key, k]) => {
      const field = fieldOf(key);
      const mask = (field !== null ? (FIELD_CATEGORY[field] ?? 0) : 0) | (k.secret ? CAT.secret : 0);
      // a key can itself be personal data (an email used as a property name): masked, never printed
      const shown = headerHidden ? (columnNumber.get(key) ?? maskPersonal(key)) : maskPersonal(key);
      return { key: shown, filled: k.n, fill_rate: usable === 0 ? 0 : Math.round((k.n / usable) * 10000) / 10000, field, exposure: categoriesOf(mask) };
    })
    .sort((a, b) => b.filled - a.filled || compareCodePoints(a.key, b.key));
  return {
    file: file.label,
    format: result.container === 'empty' ? 'empty' : `${result.detected} (${result.container})`,
    records,
    usable,
    rejected: records - usable,
    rejected_by_reason: Object.fromEntries(Object.entries(byReason).sort(([a], [b]) => compareCodePoints(a, b))),
    complete,
    encoding_errors: encodingErrors,
    keys,
    other_keys: other,
  };
}
