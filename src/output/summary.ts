/** summary.json for `report summary`: as JSON, as `key,value` CSV rows, or readable text. */
import { CATEGORIES } from '../core/categories.js';
import type { Summary } from '../correlation.js';
import { escapeTerminal } from './cells.js';

/** Dotted keys to scalar values, in document order: `records.read` → 32, `files.0.file` → … */
export function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object') {
    const out: [string, string][] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out.push(...flatten(v, prefix === '' ? k : `${prefix}.${k}`));
    return out;
  }
  return [[prefix, value === null || value === undefined ? '' : String(value)]];
}

/** The summary for a person: what was read, matched, affected and exposed. */
export function describeCase(s: Summary): string {
  const n = (x: number | undefined) => (x ?? 0).toLocaleString('en-US');
  const pairs = (o: Record<string, number> | undefined) =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${escapeTerminal(k)} ${n(v)}`)
      .join(', ') || 'none';
  const r = s.records;
  const lines = [
    `records      ${n(r.read)} read: ${n(r.accepted)} accepted, ${n(r.rejected)} rejected, ${n(r.filtered)} filtered, ${n(r.duplicates)} duplicates`,
    `identities   ${n(s.identities.vendor)} in the export: ${n(s.identities.matched)} matched, ${n(s.identities.unmatched)} unmatched`,
    `matched by   ${pairs(s.matched_by)}`,
    `unmatched    ${pairs(s.unmatched_by_reason)}`,
    `affected     ${n(s.users)} users in ${n(s.orgs)} orgs; ${n(s.roster)} admin notices (roster rows); orgs without an admin: ${n(s.orgs_without_admin)}`,
    `exposed      ${CATEGORIES.filter((c) => (s.exposed?.[c] ?? 0) > 0).map((c) => `${c} ${n(s.exposed[c])}`).join(', ') || 'nothing'} (users)`,
    `complete     ${s.complete ? 'yes' : 'NO: an export could not be read to its end (see the rejected list)'}`,
    `encoding     ${n(s.encoding_errors)} invalid UTF-8 sequences replaced`,
  ];
  if (s.gates?.max_rejected) lines.push('gate         --max-rejected exceeded');
  if (s.gates?.max_unmatched) lines.push('gate         --max-unmatched exceeded');
  for (const f of s.files ?? []) {
    lines.push(`file         ${escapeTerminal(f.file)}: ${escapeTerminal(f.format)}, ${n(f.records)} records${f.complete ? '' : ', INCOMPLETE'}`);
  }
  return lines.join('\n') + '\n';
}
