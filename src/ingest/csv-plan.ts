/** Whether a CSV's first row looks like column names at all. */
import type { CanonicalField } from '../core/canonical.js';
import { headerKey } from './plan.js';
import { parsePath } from './resolve.js';
import { PROFILES } from './profiles/index.js';

/** Every name a profile reads a column by, as headerKey gives it (a path's first step too). */
const KNOWN_KEYS = new Set(
  Object.values(PROFILES).flatMap((p) =>
    [p.fields, ...Object.values(p.variants ?? {})].flatMap((table) => Object.values(table).flatMap((sources) => (sources ?? []).flatMap((s) => [headerKey(s), headerKey(parsePath(s)[0])]))),
  ),
);

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
  return ![...columns.values()].some((sources) => sources.some((src) => src !== '' && (keys.has(headerKey(src)) || keys.has(headerKey(parsePath(src)[0])))));
}
