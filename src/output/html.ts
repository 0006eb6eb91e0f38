/**
 * The case report page (`report summary --format html`): one self-contained HTML document for the
 * people who run an incident. Pure: the case's figures in, the page's text out.
 *
 * It shows aggregates, organization names and counts, never a user's email or name. Every string
 * that came from data (org names from the internal database; countries, regions and file names
 * from the export or the command line) is HTML-escaped by escape-html, its control and bidi
 * characters shown as visible escapes, and set in <bdi> so a right-to-left name cannot reorder
 * the text around it. The page holds no script and loads nothing: its Content-Security-Policy
 * forbids both, should anything ever slip through.
 */
import escapeHtml from 'escape-html';
import { CATEGORIES } from '../core/categories.js';
import type { Summary } from '../correlation.js';

/** What manifest.json records of one file (read from a file of the case: every field is checked). */
export interface ManifestFile {
  name: string;
  size: number | null;
  sha256: string | null;
  records: number | null;
  detail: string;
}

export interface CaseManifest {
  tool: string;
  started: string | null;
  finished: string | null;
  since: string | null;
  until: string | null;
  inputs: ManifestFile[];
  internal: ManifestFile | null;
  outputs: ManifestFile[];
}

export interface PageOrg {
  org_id: string;
  org_name: string;
  affected_users: number;
  unattributed: number;
  admins: number;
  exposed: string[];
  first_seen: string | null;
  last_seen: string | null;
}

export interface PageJurisdiction {
  country: string;
  region: string;
  affected_users: number;
}

export interface PageData {
  summary: Summary;
  /** null when the case directory holds no readable manifest.json */
  manifest: CaseManifest | null;
  /** every affected org, in any order (the page sorts them) */
  orgs: PageOrg[];
  jurisdictions: PageJurisdiction[];
  /** rejected records by reason code */
  rejected: Record<string, number>;
  /** the vendor as notices name it */
  vendor: string;
}

/** Rows shown of the orgs and of the jurisdictions; the rest are counted, and are in the CSV files. */
export const PAGE_ROWS = 100;

/** Made on first use: Intl objects cost a few milliseconds each, and this module loads with every `report`. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
const NUMBER = lazy(() => new Intl.NumberFormat('en-US'));
const PERCENT = lazy(() => new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }));
const DECIMAL = lazy(() => new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }));
const DAY = lazy(() => new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }));
const HOUR = lazy(() => new Intl.DateTimeFormat('en-GB', { timeStyle: 'short', timeZone: 'UTC' }));
const REGION_NAMES = lazy(() => new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' }));
const BYTES = [
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
] as const;

/** Words for each category, said of a group of people. */
const CATEGORY_LABELS: Record<string, string> = {
  name: 'names',
  email: 'email addresses',
  location: 'approximate locations',
  device: 'devices, OS, browsers',
  referrer: 'referring websites',
  ids: 'account or device identifiers',
  url: 'page addresses (URLs)',
  ip: 'IP addresses',
  secret: 'credential-like values',
};

const RULE_LABELS: Record<string, string> = {
  user_id: 'the record’s user id is a user’s id',
  email: 'the record’s email is a user’s email',
  distinct_id: 'the record’s distinct_id is a user’s id',
  vendor_link: 'linked by the vendor’s own identity merge',
  device_link: 'shares a device with a matched identity',
};

const UNMATCHED_LABELS: Record<string, string> = {
  no_match: 'no user of ours',
  org_only: 'names one of our orgs, but no user',
};

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Untrusted text as inert HTML: escape-html for markup, and every control, bidi, zero-width or
 * lone-surrogate character replaced by a visible escape (`\u202e`) so what a reader sees is what
 * the data holds.
 */
export function text(s: string): string {
  let out = '';
  let last = 0;
  for (const m of s.matchAll(UNSAFE)) {
    out += escapeHtml(s.slice(last, m.index));
    const code = m[0].charCodeAt(0);
    const shown = code === 0x0a ? '\\n' : code === 0x0d ? '\\r' : code === 0x09 ? '\\t' : code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
    out += `<span class="ctl" title="hidden character U+${hex(code, 4).toUpperCase()}">${shown}</span>`;
    last = m.index + m[0].length;
  }
  return out + escapeHtml(s.slice(last));
}

/** Untrusted text as an attribute value: escaped, hidden characters as character references (the DOM value stays exact). */
function attr(s: string): string {
  return escapeHtml(s).replace(UNSAFE, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Untrusted text in its own bidi isolate. */
function iso(s: string, empty = '—'): string {
  return s === '' ? `<span class="none">${escapeHtml(empty)}</span>` : `<bdi>${text(s)}</bdi>`;
}

function num(n: number): string {
  return NUMBER().format(n);
}

/** A figure of summary.json: the formatted number, its key and exact value in data- attributes. */
function fig(key: string, n: number, tag = 'span', cls = ''): string {
  return `<${tag} class="num${cls === '' ? '' : ' ' + cls}" data-summary="${attr(key)}" data-value="${n}">${num(n)}</${tag}>`;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? PERCENT().format(part / whole) : '—';
}

function bytes(n: number | null): string {
  if (n === null) return '—';
  for (const [unit, name] of BYTES) if (n >= unit) return `${DECIMAL().format(n / unit)} ${name}`;
  return `${num(n)} bytes`;
}

const ISO_SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** An ISO 8601 UTC time as a person reads it, the exact value kept in datetime. */
function when(t: string | null | undefined): string {
  if (t === null || t === undefined || t === '') return '<span class="none">—</span>';
  const ms = Date.parse(t);
  if (!ISO_SECOND.test(t) || !Number.isFinite(ms)) return iso(t);
  return `<time datetime="${attr(t)}"><span class="nw">${escapeHtml(DAY().format(ms))},</span> <span class="nw">${escapeHtml(HOUR().format(ms))} UTC</span></time>`;
}

/** A country code with its English name when it is one (`US — United States`). */
function country(code: string): string {
  if (!/^[A-Z]{2}$/.test(code)) return iso(code);
  let name: string | undefined;
  try {
    name = REGION_NAMES().of(code);
  } catch {
    name = undefined;
  }
  return name === undefined || name === code ? escapeHtml(code) : `${escapeHtml(code)} <span class="aside">${escapeHtml(name)}</span>`;
}

function orderOrgs(orgs: PageOrg[]): PageOrg[] {
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...orgs].sort((a, b) => b.affected_users - a.affected_users || b.unattributed - a.unattributed || byId(a.org_id, b.org_id));
}

interface Bar {
  label: string;
  value: number;
  key: string;
}

/**
 * Horizontal bars as inline SVG, scaled to `whole` (the bar for `whole` fills the track). Labels
 * are escaped: SVG text is parsed as XML-ish HTML like any other element's.
 */
function barChart(bars: Bar[], whole: number, title: string, prefix: string): string {
  const rowH = 26;
  const labelW = 230;
  const trackW = 380;
  const height = bars.length * rowH + 4;
  const width = labelW + trackW + 120;
  const rows = bars
    .map((b, i) => {
      const y = i * rowH + 2;
      const w = whole > 0 ? Math.max(b.value > 0 ? 2 : 0, Math.round((b.value / whole) * trackW)) : 0;
      return (
        `<g class="bar${b.value === 0 ? ' zero' : ''}">` +
        `<text x="${labelW - 10}" y="${y + 17}" text-anchor="end">${text(b.label)}</text>` +
        `<rect class="track" x="${labelW}" y="${y + 4}" width="${trackW}" height="${rowH - 8}" rx="2"/>` +
        `<rect class="fill${b.key === 'secret' ? ' alarm' : ''}" x="${labelW}" y="${y + 4}" width="${w}" height="${rowH - 8}" rx="2"/>` +
        `<text class="value" x="${labelW + trackW + 8}" y="${y + 17}"><tspan class="num" data-summary="${attr(prefix + b.key)}" data-value="${b.value}">${num(b.value)}</tspan>${whole > 0 ? ` · ${pct(b.value, whole)}` : ''}</text>` +
        `</g>`
      );
    })
    .join('\n');
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(title)}</title>\n${rows}\n</svg>`;
}

/** One bar cut into the parts of a whole (the accounting of records). */
function stackedBar(parts: { key: string; value: number; cls: string }[], whole: number): string {
  const width = 730;
  let x = 0;
  const rects = parts
    .filter((p) => p.value > 0 && whole > 0)
    .map((p) => {
      const w = (p.value / whole) * width;
      const r = `<rect class="${p.cls}" x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="22"><title>${escapeHtml(p.key)}: ${num(p.value)}</title></rect>`;
      x += w;
      return r;
    })
    .join('');
  return `<svg class="stack" role="img" aria-label="records by outcome" viewBox="0 0 ${width} 22" width="${width}" height="22" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><rect class="track" x="0" y="0" width="${width}" height="22"/>${rects}</svg>`;
}

function table(head: string[], rows: string[], cls = '', numeric: number[] = []): string {
  const th = head.map((h, i) => `<th${numeric.includes(i) ? ' class="r"' : ''}>${h}</th>`).join('');
  return `<table class="${cls}"><thead><tr>${th}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function sum(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}">\n<h2>${title}</h2>\n${body}\n</section>`;
}

/** The whole page. */
export function renderCasePage(d: PageData): string {
  const s = d.summary;
  const r = s.records;
  const m = d.manifest;
  const accounted = r.accepted + r.rejected + r.filtered + r.duplicates;
  const holds = accounted === r.read;
  const matchedSum = sum(Object.values(s.matched_by ?? {}));
  const identitiesHold = s.identities.matched + s.identities.unmatched === s.identities.vendor && matchedSum === s.identities.matched;

  const alerts: string[] = [];
  if (!s.complete) alerts.push('<p class="alert" data-alert="incomplete"><strong>Incomplete.</strong> An export could not be read to its end: every record before the break is counted, the rest is missing. See “Rejected records” for where reading stopped.</p>');
  if (!holds) alerts.push('<p class="alert" data-alert="accounting"><strong>The records do not add up.</strong> Read ≠ accepted + rejected + filtered + duplicates: do not rely on this case; run correlate again.</p>');
  if (!identitiesHold) alerts.push('<p class="alert" data-alert="identities"><strong>The identities do not add up.</strong> Do not rely on this case; run correlate again.</p>');
  if (s.gates?.max_rejected) alerts.push('<p class="alert" data-alert="max_rejected"><strong>--max-rejected was exceeded:</strong> more records were unreadable than this run allowed.</p>');
  if (s.gates?.max_unmatched) alerts.push('<p class="alert" data-alert="max_unmatched"><strong>--max-unmatched was exceeded:</strong> more vendor identities were left unmatched than this run allowed.</p>');
  if (m === null) alerts.push('<p class="alert" data-alert="manifest"><strong>No manifest.json</strong> in the case directory: the inputs’ and outputs’ SHA-256 cannot be shown.</p>');

  const window =
    m?.since || m?.until
      ? `records from ${m.since ? `<strong>${iso(m.since)}</strong>` : 'the start'} until ${m.until ? `<strong>${iso(m.until)}</strong>` : 'the end'} (exclusive)`
      : 'records of any time';
  const header = `<header>
<p class="kicker">Breach impact · case report</p>
<h1>A breach at ${escapeHtml(d.vendor)}: ${fig('users', s.users)} of our users in ${fig('orgs', s.orgs)} organizations</h1>
<p class="meta">${window}${m?.finished ? ` · case written ${when(m.finished)}` : ''}${m ? ` · ${iso(m.tool)}` : ''}</p>
<p class="privacy">This page holds counts and organization names only: it names no user and shows no email address. The lists of people are in the case directory (users.csv, roster.csv).</p>
</header>`;

  const secretUsers = s.exposed?.secret ?? 0;
  const glance = `<section id="glance" aria-label="at a glance"><div class="tiles">
<div class="tile"><div class="big">${fig('users', s.users)}</div><div>affected users</div></div>
<div class="tile"><div class="big">${fig('orgs', s.orgs)}</div><div>affected organizations</div></div>
<div class="tile"><div class="big">${fig('roster', s.roster)}</div><div>admin notices (roster rows)</div></div>
<div class="tile${s.orgs_without_admin > 0 ? ' warn' : ''}"><div class="big">${fig('orgs_without_admin', s.orgs_without_admin)}</div><div>affected orgs without an admin</div></div>
<div class="tile${secretUsers > 0 ? ' alarm' : ''}"><div class="big">${fig('exposed.secret', secretUsers)}</div><div>users with credential-like values</div></div>
<div class="tile"><div class="big">${fig('identities.unmatched', s.identities.unmatched)}</div><div>vendor identities not matched</div></div>
</div></section>`;

  const parts = [
    { key: 'accepted', value: r.accepted, cls: 'accepted' },
    { key: 'rejected', value: r.rejected, cls: 'rejected' },
    { key: 'filtered', value: r.filtered, cls: 'filtered' },
    { key: 'duplicates', value: r.duplicates, cls: 'duplicates' },
  ];
  const fileRows = (s.files ?? []).map(
    (f) =>
      `<tr><td class="path">${iso(f.file)}</td><td>${iso(f.format)}</td><td class="r">${num(f.records)}</td><td>${f.complete ? 'yes' : '<strong class="bad">no: reading stopped early</strong>'}${f.usable === false ? ' <strong class="bad">nothing in it was usable</strong>' : ''}</td></tr>`,
  );
  const records = section(
    'records',
    'Every record accounted for',
    `<p class="equation${holds ? '' : ' bad'}" data-invariant="${holds ? 'holds' : 'broken'}">${fig('records.read', r.read, 'span', 'eq')} read <span class="op">=</span> ${parts
      .map((p) => `${fig(`records.${p.key}`, p.value, 'span', `eq ${p.cls}`)} ${p.key}`)
      .join(' <span class="op">+</span> ')} <span class="verdict">${holds ? '✓ adds up' : `✗ does not add up (${num(accounted)})`}</span></p>
${stackedBar(parts, r.read)}
<p class="legend">${parts.map((p) => `<span class="key ${p.cls}"></span>${p.key} ${pct(p.value, r.read)}`).join(' ')}</p>
<p class="note">Accepted records (events and profiles) are what the impact is built from. Rejected records could not be read (one row each in rejected.csv); filtered ones fell outside the time window; duplicates repeat an earlier record (same record id, event, identity and time). ${fig('encoding_errors', s.encoding_errors ?? 0)} invalid UTF-8 sequences were replaced; ${fig('untimed', s.untimed ?? 0)} accepted records carry no time (never filtered, no first/last seen).</p>
${fileRows.length > 0 ? table(['export file', 'format', 'records', 'read to its end'], fileRows, 'files', [2]) : ''}`,
  );

  const exposureBars = CATEGORIES.map((c) => ({ key: c, label: CATEGORY_LABELS[c] ?? c, value: s.exposed?.[c] ?? 0 }));
  const exposure = section(
    'exposure',
    'What the dataset held about the affected users',
    `<p>How many of the ${fig('users', s.users)} affected users had each kind of data in their records (a user counts in every kind their records show), and what share of them.</p>
${barChart(exposureBars, s.users, 'affected users by exposure category', 'exposed.')}`,
  );

  const ruleRows = Object.entries(s.matched_by ?? {}).map(
    ([rule, n]) => `<tr><td><code>${text(rule)}</code></td><td>${escapeHtml(RULE_LABELS[rule] ?? '')}</td><td class="r">${fig(`matched_by.${rule}`, n)}</td><td class="r">${pct(n, s.identities.matched)}</td></tr>`,
  );
  const unmatchedRows = Object.entries(s.unmatched_by_reason ?? {}).map(
    ([reason, n]) =>
      `<tr><td><code>${text(reason)}</code></td><td>${escapeHtml(UNMATCHED_LABELS[reason] ?? (reason.startsWith('ambiguous_') ? `the ${reason.slice(10)} rule points at two or more users` : ''))}</td><td class="r">${fig(`unmatched_by_reason.${reason}`, n)}</td></tr>`,
  );
  const identities = section(
    'identities',
    'How vendor identities were matched to our users',
    `<p class="equation${identitiesHold ? '' : ' bad'}" data-invariant="${identitiesHold ? 'holds' : 'broken'}">${fig('identities.vendor', s.identities.vendor, 'span', 'eq')} identities in the export <span class="op">=</span> ${fig('identities.matched', s.identities.matched, 'span', 'eq')} matched <span class="op">+</span> ${fig('identities.unmatched', s.identities.unmatched, 'span', 'eq')} not matched <span class="verdict">${identitiesHold ? '✓ adds up' : '✗ does not add up'}</span></p>
<p>Each identity is matched to at most one user by the first rule that applies, in this order; nothing is guessed.</p>
${table(['rule', 'meaning', 'identities', 'share'], ruleRows.length > 0 ? ruleRows : ['<tr><td colspan="4" class="none">none matched</td></tr>'], 'rules', [2, 3])}
<h3>Not matched</h3>
${table(['reason', 'meaning', 'identities'], unmatchedRows.length > 0 ? unmatchedRows : ['<tr><td colspan="3" class="none">every identity was matched</td></tr>'], 'unmatched', [2])}`,
  );

  const orgs = orderOrgs(d.orgs);
  const shownOrgs = orgs.slice(0, PAGE_ROWS);
  const orgRows = shownOrgs.map(
    (o, i) =>
      `<tr data-org-id="${attr(o.org_id)}" data-affected-users="${o.affected_users}" data-admins="${o.admins}" data-unattributed="${o.unattributed}"><td class="r">${i + 1}</td><td class="name">${o.org_name === '' ? '<span class="none">(no name in the internal database)</span>' : iso(o.org_name)}<div class="aside">id ${iso(o.org_id)}</div></td><td class="r">${num(o.affected_users)}</td><td class="r">${num(o.unattributed)}</td><td class="r${o.admins === 0 ? ' bad' : ''}">${o.admins === 0 ? 'none' : num(o.admins)}</td><td class="cats">${o.exposed.map((c) => `<span class="cat${c === 'secret' ? ' alarm' : ''}">${text(c)}</span>`).join(' ')}</td><td class="t">${when(o.first_seen)}</td><td class="t">${when(o.last_seen)}</td></tr>`,
  );
  const moreOrgs = orgs.length - shownOrgs.length;
  const orgsSection = section(
    'orgs',
    'Affected organizations',
    `<p>Largest first, by affected users (members of the org among the affected users). Unattributed: vendor identities that name the org but no user of ours. Admins: the owners and admins who get the org’s notice.</p>
${table(['#', 'organization', 'affected users', 'unattributed', 'admins', 'exposed', 'first seen', 'last seen'], orgRows.length > 0 ? orgRows : ['<tr><td colspan="8" class="none">no affected organization</td></tr>'], 'orgs', [0, 2, 3, 4])}
${moreOrgs > 0 ? `<p class="more" data-more-orgs="${moreOrgs}">…and ${num(moreOrgs)} more organizations, each with at most ${num(shownOrgs[shownOrgs.length - 1].affected_users)} affected users: orgs.csv lists every one.</p>` : ''}`,
  );

  const places = [...d.jurisdictions].sort((a, b) => b.affected_users - a.affected_users || (a.country < b.country ? -1 : a.country > b.country ? 1 : a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
  const shownPlaces = places.slice(0, PAGE_ROWS);
  const placeRows = shownPlaces.map(
    (p) => `<tr data-country="${attr(p.country)}" data-region="${attr(p.region)}" data-affected-users="${p.affected_users}"><td>${p.country === '' ? '<span class="none">unknown</span>' : country(p.country)}</td><td>${iso(p.region)}</td><td class="r">${num(p.affected_users)}</td></tr>`,
  );
  const morePlaces = places.length - shownPlaces.length;
  const jurisdictions = section(
    'jurisdictions',
    'Affected users by jurisdiction',
    `<p>Where the records place each affected user (country and region, as the vendor recorded them). A user whose records show several places counts once in each, so the rows can add up to more than the users.</p>
${table(['country', 'region', 'affected users'], placeRows.length > 0 ? placeRows : ['<tr><td colspan="3" class="none">no record gave a location</td></tr>'], 'places', [2])}
${morePlaces > 0 ? `<p class="more" data-more-places="${morePlaces}">…and ${num(morePlaces)} more places: jurisdictions.csv lists every one.</p>` : ''}`,
  );

  const reasons = Object.entries(d.rejected).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const rejected = section(
    'rejected',
    'Rejected records by reason',
    `<p>Records that could not be used, one row each in rejected.csv with file, line and reason.</p>
${table(['reason', 'records'], reasons.length > 0 ? reasons.map(([k, n]) => `<tr data-reason="${attr(k)}" data-count="${n}"><td><code>${text(k)}</code></td><td class="r">${num(n)}</td></tr>`) : ['<tr><td colspan="2" class="none">none: every record could be read</td></tr>'], 'reasons', [1])}`,
  );

  const fileRow = (f: ManifestFile, kind: string) =>
    `<tr data-file="${attr(f.name)}" data-kind="${kind}"${f.size === null ? '' : ` data-size="${f.size}"`}${f.sha256 === null ? '' : ` data-sha256="${escapeHtml(f.sha256)}"`}><td class="path">${iso(f.name)}${f.detail === '' ? '' : `<div class="aside">${iso(f.detail)}</div>`}</td><td class="r">${f.records === null ? '—' : num(f.records)}</td><td class="r">${bytes(f.size)}</td><td class="hash">${f.sha256 === null ? '<span class="none">—</span>' : text(f.sha256)}</td></tr>`;
  const custody =
    m === null
      ? ''
      : section(
          'custody',
          'Chain of custody',
          `<p>Every file read and written, as manifest.json records it${m.started ? `: the run started ${when(m.started)}` : ''}${m.finished ? ` and finished ${when(m.finished)}` : ''}. Check a file with <code>sha256sum</code>.</p>
<h3>Read</h3>
${table(['file', 'records', 'size', 'SHA-256'], [...m.inputs.map((f) => fileRow(f, 'input')), ...(m.internal ? [fileRow(m.internal, 'internal')] : [])], 'custody', [1, 2])}
<h3>Written</h3>
${table(['file', 'rows', 'size', 'SHA-256'], m.outputs.map((f) => fileRow(f, 'output')), 'custody', [1, 2])}`,
        );

  return `<!doctype html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Breach impact: case report</title>
<style>${CSS}</style>
</head>
<body>
${header}
${alerts.join('\n')}
${glance}
${records}
${exposure}
${identities}
${orgsSection}
${jurisdictions}
${rejected}
${custody}
<footer><p>Written by ${m ? iso(m.tool) : 'breach-impact'} from the case’s summary.json, case.sqlite and manifest.json. Counts and organization names only.</p></footer>
</body>
</html>
`;
}

const CSS = `
:root { --ink: #1b1f24; --muted: #5b636d; --line: #d5d9de; --soft: #f3f5f7; --accent: #2f5d8a; --good: #2e7d4f; --bad: #b3261e; --warn: #9a6700; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1000px; padding: 24px 28px 48px; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 26px; line-height: 1.25; margin: 4px 0 8px; }
h2 { font-size: 19px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 18px 0 6px; }
section { margin: 28px 0; }
p { margin: 6px 0 10px; }
code, .hash, .path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: var(--muted); margin: 0; }
.meta, .aside, .note, .legend, .more { color: var(--muted); font-size: 13px; }
.aside { font-size: 12px; }
.privacy { border-left: 4px solid var(--accent); background: var(--soft); padding: 8px 12px; font-size: 14px; }
.alert { border: 2px solid var(--bad); background: #fdecea; padding: 10px 14px; font-size: 15px; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; font-size: 13px; color: var(--muted); }
.tile .big { font-size: 30px; font-weight: 650; color: var(--ink); line-height: 1.1; }
.tile.warn { border-color: var(--warn); } .tile.warn .big { color: var(--warn); }
.tile.alarm { border-color: var(--bad); } .tile.alarm .big { color: var(--bad); }
.num { font-variant-numeric: tabular-nums; }
.equation { font-size: 17px; margin: 10px 0; }
.equation .eq { font-weight: 650; }
.equation .op { color: var(--muted); padding: 0 2px; }
.verdict { margin-left: 8px; font-size: 14px; font-weight: 600; color: var(--good); white-space: nowrap; }
.equation.bad .verdict, .bad { color: var(--bad); }
svg { max-width: 100%; height: auto; display: block; }
svg.stack { width: 100%; height: 22px; margin: 4px 0; }
svg text { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg text.value { fill: var(--muted); }
rect.track { fill: var(--soft); }
rect.fill { fill: var(--accent); }
rect.alarm, rect.rejected { fill: var(--bad); }
rect.accepted { fill: var(--good); } rect.filtered { fill: #8c959f; } rect.duplicates { fill: #d4a72c; }
g.zero text { fill: var(--muted); }
.legend .key { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; vertical-align: baseline; }
.legend .key:first-child { margin-left: 0; }
.key.accepted { background: var(--good); } .key.rejected { background: var(--bad); } .key.filtered { background: #8c959f; } .key.duplicates { background: #d4a72c; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 8px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
thead th, thead th.r { white-space: normal; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); border-bottom: 1px solid var(--ink); }
.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { overflow-wrap: anywhere; min-width: 10em; }
td.t { font-size: 13px; }
.nw { white-space: nowrap; }
td.path { overflow-wrap: anywhere; }
td.hash { word-break: break-all; font-size: 12px; min-width: 22ch; }
td.cats { min-width: 11em; }
.cat { display: inline-block; font-size: 11px; padding: 0 5px; margin: 1px 0; border: 1px solid var(--line); border-radius: 3px; white-space: nowrap; }
.cat.alarm { border-color: var(--bad); color: var(--bad); }
.none { color: var(--muted); font-style: italic; }
.ctl { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; color: var(--bad); border: 1px solid var(--bad); border-radius: 2px; padding: 0 2px; unicode-bidi: isolate; }
footer { margin-top: 36px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media (max-width: 760px) { .tiles { grid-template-columns: repeat(2, 1fr); } body { padding: 14px; } th, td { padding: 4px 5px; } thead th { letter-spacing: 0; } td.cats { min-width: 7em; } }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h1 { font-size: 18pt; } h2 { font-size: 13pt; break-after: avoid; } h3 { break-after: avoid; }
  section { margin: 16px 0; }
  .tiles { grid-template-columns: repeat(3, 1fr); }
  .tile .big { font-size: 20pt; }
  table { font-size: 9pt; } th, td { padding: 4px 5px; } td.cats { min-width: 8em; } td.name { min-width: 7em; } td.hash { font-size: 7.5pt; } code, .path { font-size: 8.5pt; }
  tr, .tile, svg, .equation, .alert { break-inside: avoid; }
  thead { display: table-header-group; }
  #glance, #records, #exposure { break-inside: avoid; }
}
`;
