/**
 * Plans: for one profile (and record variant) and the user's --column mappings, the getters that
 * read each canonical field from a record, each with the address `inspect` shows for it. JSON
 * records are read by paths from the record (resolve.ts); a CSV row by its header: a path names a
 * column whose name it is (case-insensitive; ` `, `-` and `.` alike; a leading `$` optional), or
 * a column holding JSON and a path inside it.
 */
import { CANONICAL_FIELDS, type CanonicalField, type Getter, type Plan } from '../core/canonical.js';
import { formatPath, getPath, parsePath, type Path } from './resolve.js';
import type { JsonObject } from './json-record.js';
import type { Profile } from './profiles/index.js';

/** --column mappings: sources per field; an empty source unmaps the profile's own. */
export type Columns = Map<CanonicalField, string[]>;

/** A plan and, per address it reads, the fields that address feeds. */
export interface ReadPlan<R> {
  plan: Plan<R>;
  addresses: Map<string, CanonicalField[]>;
}

function sourcesOf(profile: Profile, variant: string | undefined, columns: Columns, field: CanonicalField): { custom: string[]; table: readonly string[] } {
  const given = columns.get(field) ?? [];
  const custom = given.filter((s) => s !== '');
  if (given.includes('')) return { custom, table: [] };
  const v = variant !== undefined ? profile.variants?.[variant] : undefined;
  return { custom, table: v?.[field] ?? profile.fields[field] ?? [] };
}

function rootsOf(profile: Profile): Path[] {
  return (profile.roots ?? ['']).map((r) => (r === '' ? [] : parsePath(r)));
}

/**
 * The paths a field is read from, in order: a --column source with a dot or bracket is a path from
 * the record; a plain --column key and every table source are looked for under each root.
 */
function pathsOf(profile: Profile, variant: string | undefined, columns: Columns, field: CanonicalField): Path[] {
  return sourcePathsOf(profile, variant, columns, field).flat();
}

/** pathsOf, by source: each source's paths under the roots, together. */
function sourcePathsOf(profile: Profile, variant: string | undefined, columns: Columns, field: CanonicalField): Path[][] {
  const { custom, table } = sourcesOf(profile, variant, columns, field);
  const roots = rootsOf(profile);
  const out: Path[][] = [];
  for (const src of custom) {
    const p = parsePath(src);
    out.push(p.length > 1 ? [p] : roots.map((r) => [...r, ...p]));
  }
  for (const src of table) out.push(roots.map((r) => [...r, ...parsePath(src)]));
  return out;
}

function add(addresses: Map<string, CanonicalField[]>, address: string, field: CanonicalField): void {
  const fields = addresses.get(address);
  if (fields === undefined) addresses.set(address, [field]);
  else if (!fields.includes(field)) fields.push(field);
}

/** The first value the getters find (not undefined), or undefined. */
function firstDefined(getters: Getter<JsonObject>[]): Getter<JsonObject> {
  if (getters.length === 1) return getters[0];
  if (getters.length === 2) {
    const [g, h] = getters;
    return (r) => {
      const v = g(r);
      return v !== undefined ? v : h(r);
    };
  }
  return (r) => {
    for (const g of getters) {
      const v = g(r);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

/**
 * A getter of one path. The common shapes (a key of the record, a key of one of its objects) read
 * the objects directly; anything else (lists, JSON held in strings) goes through getPath.
 */
function jsonGetter(p: Path): Getter<JsonObject> {
  const [a, b] = p;
  if (p.length === 1) return (r) => (Object.hasOwn(r, a) ? r[a] : undefined);
  if (p.length === 2) {
    return (r) => {
      if (!Object.hasOwn(r, a)) return undefined;
      const o = r[a];
      if (typeof o === 'object' && o !== null && !Array.isArray(o)) return Object.hasOwn(o, b) ? (o as JsonObject)[b] : undefined;
      return getPath(r, p);
    };
  }
  return (r) => getPath(r, p);
}

/**
 * JSON plans of one profile, one per record variant and set of the profile's root objects the
 * record has (a path under an absent root reads nothing, so its getter is left out), made when
 * first needed.
 */
export class JsonPlans {
  /** by variant, then by the bits of the roots present */
  private readonly plans = new Map<string | undefined, ReadPlan<JsonObject>[]>();
  /** the first key of each root (`properties`, `$properties`, `data`, …) */
  private readonly heads: string[];

  constructor(
    readonly profile: Profile,
    private readonly columns: Columns,
  ) {
    this.heads = [...new Set(rootsOf(profile).filter((r) => r.length > 0).map((r) => r[0]))];
  }

  forRecord(rec: JsonObject): ReadPlan<JsonObject> {
    const variant = this.profile.variantOf?.(rec);
    let present = 0;
    for (let i = 0; i < this.heads.length; i++) if (Object.hasOwn(rec, this.heads[i])) present |= 1 << i;
    let byPresent = this.plans.get(variant);
    if (byPresent === undefined) this.plans.set(variant, (byPresent = []));
    return (byPresent[present] ??= this.make(variant, present));
  }

  private make(variant: string | undefined, present: number): ReadPlan<JsonObject> {
    const absent = new Set(this.heads.filter((_, i) => (present & (1 << i)) === 0));
    const plan = {} as Plan<JsonObject>;
    const addresses = new Map<string, CanonicalField[]>();
    for (const f of CANONICAL_FIELDS) {
      const sources = sourcePathsOf(this.profile, variant, this.columns, f)
        .map((paths) => paths.filter((p) => !absent.has(p[0])))
        .filter((paths) => paths.length > 0);
      // one getter a source: its value under the first root that has the key, as a source is
      // looked up in Mixpanel's properties before the record's top
      plan[f] = sources.map((paths) => firstDefined(paths.map(jsonGetter)));
      for (const p of sources.flat()) add(addresses, formatPath(p), f);
    }
    return { plan, addresses };
  }
}

/** A header name as compared: trimmed, lower-case, white space, `-` and `.` as `_`. */
export function headerName(h: string): string {
  return h.trim().toLowerCase().replace(/[\s.-]+/g, '_');
}

/** The same without a leading `$`. */
export function headerKey(h: string): string {
  return headerName(h).replace(/^\$/, '');
}

/**
 * A bare `name` column may be the person's or the event's: it is read only by a source that
 * says `name` itself, never by a `$name` source that matches it loosely.
 */
const NEVER_LOOSE = new Set(['name']);

export class CsvColumns {
  private readonly exact = new Map<string, number>();
  private readonly loose = new Map<string, number[]>();

  /** `header`: names already made unique (uniqueHeader). */
  constructor(readonly header: readonly string[]) {
    header.forEach((h, i) => {
      if (!this.exact.has(headerName(h))) this.exact.set(headerName(h), i);
      const k = headerKey(h);
      this.loose.set(k, [...(this.loose.get(k) ?? []), i]);
    });
  }

  /** Columns a name matches: the exact name first, then the same name with or without `$`. */
  lookup(name: string): number[] {
    const i = this.exact.get(headerName(name));
    const rest = (this.loose.get(headerKey(name)) ?? []).filter((j) => j !== i && !(NEVER_LOOSE.has(headerName(this.header[j])) && headerName(name) !== headerName(this.header[j])));
    return i === undefined ? rest : [i, ...rest];
  }

  get keys(): Set<string> {
    return new Set(this.header.map(headerKey));
  }
}

interface CsvSource {
  column: number;
  /** a path inside the column's JSON, if any */
  inner: Path;
}

/** Where a path is in a CSV row: a column named by its longest prefix, then a path into that column's JSON. */
function csvSources(cols: CsvColumns, path: Path): CsvSource[] {
  for (let k = path.length; k >= 1; k--) {
    const found = cols.lookup(path.slice(0, k).join('.'));
    if (found.length > 0) return found.map((column) => ({ column, inner: path.slice(k) }));
  }
  return [];
}

export function csvPlanOf(profile: Profile, cols: CsvColumns, columns: Columns, warn: (m: string) => void, label: string): ReadPlan<string[]> {
  const variant = profile.csvVariant?.(cols.keys);
  const plan = {} as Plan<string[]>;
  const addresses = new Map<string, CanonicalField[]>();
  for (const f of CANONICAL_FIELDS) {
    for (const src of columns.get(f) ?? []) {
      if (src !== '' && csvSources(cols, parsePath(src)).length === 0 && cols.lookup(src).length === 0) warn(`${label}: --column ${f}=${src} names a column this file does not have`);
    }
    const seen = new Set<string>();
    const getters: Getter<string[]>[] = [];
    for (const p of pathsOf(profile, variant, columns, f)) {
      for (const s of csvSources(cols, p)) {
        const address = formatPath([cols.header[s.column], ...s.inner]);
        if (seen.has(address)) continue;
        seen.add(address);
        add(addresses, address, f);
        const { column, inner } = s;
        getters.push(inner.length === 0 ? (cells) => cells[column] : (cells) => getPath(cells[column], inner));
      }
    }
    plan[f] = getters;
  }
  return { plan, addresses };
}

/**
 * Header names made unique, with a warning for each renamed: a repeated name gets `_2`, `_3`, …
 * (compared as headerName does) and an empty one becomes `column_<N>`. The evidence is never
 * edited to be read.
 */
export function uniqueHeader(header: readonly string[], label: string, warn: (m: string) => void, show: (name: string) => string): string[] {
  const taken = new Set(header.map(headerName).filter((n) => n !== ''));
  const used = new Set<string>();
  return header.map((h, i) => {
    let name = h;
    if (headerName(h) === '' || headerKey(h) === '') {
      name = `column_${i + 1}`;
      for (let n = 2; taken.has(headerName(name)) || used.has(headerName(name)); n++) name = `column_${i + 1}_${n}`;
      warn(`${label}: CSV column ${i + 1} has no name: read as ${name}`);
    } else if (used.has(headerName(h))) {
      for (let n = 2; ; n++) {
        name = `${h}_${n}`;
        if (!taken.has(headerName(name)) && !used.has(headerName(name))) break;
      }
      warn(`${label}: CSV column ${i + 1} repeats the name ${JSON.stringify(show(h))}: read as ${JSON.stringify(show(name))}`);
    }
    used.add(headerName(name));
    return name;
  });
}
