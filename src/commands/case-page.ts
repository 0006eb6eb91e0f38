/**
 * `report summary --format html`: gathers what the case report page shows (summary, affected
 * orgs, jurisdictions and rejected reasons from case.sqlite; the chain of custody from
 * manifest.json beside it) and writes the page (output/html.ts) to standard output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { MANIFEST } from '../case/files.js';
import type { CaseReader } from '../case/store.js';
import type { Summary } from '../correlation.js';
import { UsageError } from '../errors.js';
import { vendorName } from '../notice/values.js';
import { renderCasePage, type CaseManifest, type ManifestFile, type PageData } from '../output/html.js';
import { writeText } from '../output/sink.js';

export async function writeCasePage(out: Writable, caseDir: string, reader: CaseReader): Promise<void> {
  await writeText(out, renderCasePage(casePageData(caseDir, reader)));
}

export function casePageData(caseDir: string, reader: CaseReader): PageData {
  const summary = reader.meta<Summary>('summary');
  if (summary === undefined) throw new UsageError('the case holds no summary', 'run correlate again to rebuild the case');
  const orgs: PageData['orgs'] = [];
  for (const r of reader.rows('orgs')) {
    orgs.push({
      org_id: str(r.org_id),
      org_name: str(r.org_name),
      affected_users: count(r.affected_users),
      unattributed: count(r.unattributed),
      admins: count(r.admins),
      exposed: Array.isArray(r.exposed) ? r.exposed.map(String) : [],
      first_seen: typeof r.first_seen === 'string' ? r.first_seen : null,
      last_seen: typeof r.last_seen === 'string' ? r.last_seen : null,
    });
  }
  const jurisdictions: PageData['jurisdictions'] = [];
  for (const r of reader.rows('jurisdictions')) jurisdictions.push({ country: str(r.country), region: str(r.region), affected_users: count(r.affected_users) });
  const rejected: Record<string, number> = {};
  for (const r of reader.rows('rejected')) {
    const reason = str(r.reason);
    rejected[reason] = (rejected[reason] ?? 0) + 1;
  }
  return {
    summary,
    manifest: readManifest(caseDir),
    orgs,
    jurisdictions,
    rejected,
    vendor: vendorName(summary),
  };
}

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** manifest.json as the page shows it; null when it is missing or not a manifest. */
function readManifest(caseDir: string): CaseManifest | null {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(readFileSync(join(caseDir, MANIFEST), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (m === null || typeof m !== 'object') return null;
  const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(obj) : []);
  const tool = obj(m.tool);
  const options = obj(m.options);
  const internal = obj(m.internal);
  const file = (f: Record<string, unknown>, name: unknown, records: unknown, detail: string): ManifestFile => ({
    name: text(name) ?? '',
    size: n(f.size),
    sha256: text(f.sha256),
    records: n(records),
    detail,
  });
  return {
    tool: [text(tool.name) ?? 'breach-impact', text(tool.version)].filter((x) => x !== null).join(' '),
    started: text(m.started),
    finished: text(m.finished),
    since: text(options.since),
    until: text(options.until),
    inputs: arr(m.inputs).map((f) => file(f, f.path, f.records, [text(f.format), f.gzip === true ? 'gzip' : null, f.complete === false ? 'not read to its end' : null].filter((x) => x !== null).join(', '))),
    internal: text(internal.path) === null ? null : file(internal, internal.path, null, ['internal database', text(internal.map) === null ? null : `--map ${text(internal.map)}`].filter((x) => x !== null).join(', ')),
    outputs: arr(m.outputs).map((f) => file(f, f.name, f.rows, '')),
  };
}
