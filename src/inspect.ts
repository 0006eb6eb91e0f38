/**
 * Triage of an export before correlation: per file, the detected format, how many records and
 * how many would be rejected (by reason), and each property key with its fill rate, the canonical
 * field it feeds and its exposure category. Never a value: only key names and counts.
 */
import { CAT, categoriesOf, type Category } from './core/categories.js';
import { CANONICAL_FIELDS, EMAIL_SHAPE, isPresent, type CanonicalField } from './core/canonical.js';
import { looksLikeSecret } from './core/secrets.js';
import { headerMayBeData, namesAKnownField } from './ingest/csv-plan.js';
import { embeddedJson, entryValue, formatPath, isEntryList } from './ingest/resolve.js';
import { readExport, type ReadOptions } from './ingest/read.js';
import { labelOf, type InputFile } from './ingest/source.js';
import { maskPersonal } from './ingest/text.js';
import type { JsonObject } from './ingest/json-record.js';
import { compareCodePoints } from './core/identity.js';

export interface KeyProfile {
  /** the key's path from the record (resolve.ts syntax), as --column takes it */
  key: string;
  filled: number;
  fill_rate: number;
  /** the canonical field it feeds (the first, when it feeds several), as correlate reads it */
  field: CanonicalField | null;
  fields: CanonicalField[];
  exposure: Category[];
}

export interface FileProfile {
  file: string;
  format: string;
  /** the vendor profile it is read with, and why */
  profile: string;
  profile_reason: string;
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
/** A string holding JSON is looked into when it is no longer than this. */
const MAX_EMBEDDED = 1 << 16;

/**
 * Every leaf of a record as (path, value): objects by key, `{key, value}` entry lists by their
 * keys, lists of objects through each element, a string holding a JSON object or list through
 * its content; a list of plain values is one leaf.
 */
function leaves(v: unknown, path: string[], out: (path: string[], value: unknown) => void): void {
  if (typeof v === 'string' && v.length <= MAX_EMBEDDED && path.length > 0) {
    const inner = embeddedJson(v);
    if (typeof inner === 'object' && inner !== null) return leaves(inner, path, out);
  }
  if (typeof v !== 'object' || v === null) return out(path, v);
  if (Array.isArray(v)) {
    if (isEntryList(v)) {
      for (const e of v) if (typeof e === 'object' && e !== null && typeof (e as JsonObject).key === 'string') leaves(entryValue(e as JsonObject), [...path, (e as JsonObject).key as string], out);
      return;
    }
    if (!v.some((x) => typeof x === 'object' && x !== null)) return out(path, v);
    for (const x of v) leaves(x, path, out);
    return;
  }
  for (const [k, x] of Object.entries(v)) leaves(x, [...path, k], out);
}

export async function inspectFile(path: string, opts: ReadOptions, warn: (m: string) => void): Promise<FileProfile> {
  const file: InputFile = { path, label: labelOf(path), rawBytes: 0, sha256: '', gzip: false };
  const filled = new Map<string, { n: number; secret: boolean; fields: Set<CanonicalField> }>();
  let other = 0;
  const byReason: Record<string, number> = {};
  let records = 0;
  let usable = 0;
  let complete = true;
  let encodingErrors = 0;
  let header: string[] = [];
  let hidden = false;
  let noted = new Set<string>();
  const note = (key: string, value: unknown, secretRecord: boolean, fields: readonly CanonicalField[] | undefined) => {
    if (!isPresent(value) || noted.has(key)) return;
    noted.add(key);
    let k = filled.get(key);
    if (k === undefined) {
      if (filled.size >= MAX_KEYS) {
        other++;
        return;
      }
      filled.set(key, (k = { n: 0, secret: false, fields: new Set() }));
    }
    k.n++;
    for (const f of fields ?? []) k.fields.add(f);
    // correlate takes an email-shaped user id or distinct_id for an email too
    if (typeof value === 'string' && (fields?.includes('user_id') || fields?.includes('distinct_id')) && EMAIL_SHAPE.test(value.trim())) k.fields.add('email');
    if (secretRecord && !k.secret) k.secret = looksLikeSecret(typeof value === 'string' ? value : JSON.stringify(value));
  };
  const result = await readExport(file, opts, {
    header: (names) => {
      header = names;
      hidden = !namesAKnownField(names);
    },
    accept: (_line, rec, source, addresses) => {
      records++;
      usable++;
      noted = new Set();
      const secret = (rec.exposure & CAT.secret) !== 0;
      const visit = (path: string[], value: unknown) => {
        const key = formatPath(path);
        note(key, value, secret, addresses.get(key));
      };
      // a cell's JSON is looked into only under a header that is not somebody's data
      if (Array.isArray(source)) source.forEach((v, i) => (hidden ? visit([header[i]], v) : leaves(v, [header[i]], visit)));
      else leaves(source, [], visit);
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
  // A CSV whose first row names no field this tool knows by default may have no header row at
  // all: that row is then somebody's data (an email, a name, an id), not column names. Its cells
  // are not shown; the columns are numbered instead. (--column names do not count: a responder
  // may have typed a value seen in that row.) The reader has warned about such a row already,
  // unless a --column name matched one of its cells.
  const headerHidden = result.container === 'csv' && header.length > 0 && !namesAKnownField(header);
  if (headerHidden && !headerMayBeData(header, opts.columns)) warn(`${file.label}: columns are shown by number: no name in the CSV's first row is a column this tool knows by default, and a --column name may be a value copied from that row`);
  const columnNumber = new Map(header.map((h, i) => [formatPath([h]), `column ${i + 1}`]));
  const keys: KeyProfile[] = [...filled]
    .map(([key, k]) => {
      const fields = CANONICAL_FIELDS.filter((f) => k.fields.has(f));
      const mask = fields.reduce((m, f) => m | (FIELD_CATEGORY[f] ?? 0), 0) | (k.secret ? CAT.secret : 0);
      // a key can itself be personal data (an email used as a property name): masked, never printed
      const shown = headerHidden ? (columnNumber.get(key) ?? maskPersonal(key)) : maskPersonal(key);
      return { key: shown, filled: k.n, fill_rate: usable === 0 ? 0 : Math.round((k.n / usable) * 10000) / 10000, field: fields[0] ?? null, fields, exposure: categoriesOf(mask) };
    })
    .sort((a, b) => b.filled - a.filled || compareCodePoints(a.key, b.key));
  return {
    file: file.label,
    format: result.container === 'empty' ? 'empty' : `${result.profile} (${result.container})`,
    profile: result.profile,
    profile_reason: result.reason,
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
