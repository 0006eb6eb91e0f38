/**
 * The case report page builder (src/output/html.ts) on a hostile case: every string that came
 * from data arrives as text, never as markup, and hidden characters are shown.
 */
import { describe, expect, it } from 'vitest';
import type { Summary } from '../src/correlation.js';
import { PAGE_ROWS, renderCasePage, text, type PageData, type PageOrg } from '../src/output/html.js';

/** Every tag the builder itself writes: anything else in a page came from data. */
const OWN_TAGS = new Set([
  '!doctype', 'html', 'head', 'meta', 'title', 'style', 'body', 'header', 'footer', 'section', 'h1', 'h2', 'h3', 'p', 'div', 'span', 'strong', 'code', 'bdi', 'time',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'svg', 'g', 'rect', 'text', 'tspan',
]);

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '</style><style>body{display:none}</style>',
  'Acme\u202Egnp.exe',
  'line\nbreak\u0000nul\u001b[31m',
  '\u2066isolate\u2069 \u200Bzero-width \uFEFFbom',
  "O'Reilly & Sons <tag>",
];

function summary(over: Partial<Summary> = {}): Summary {
  return {
    records: { read: 1_234_567, accepted: 1_000_000, rejected: 200_000, filtered: 34_000, duplicates: 567 },
    identities: { vendor: 10, matched: 7, unmatched: 3 },
    users: 5,
    orgs: HOSTILE.length,
    roster: 4,
    orgs_without_admin: 1,
    matched_by: { user_id: 3, email: 2, distinct_id: 1, vendor_link: 1, device_link: 0 },
    unmatched_by_reason: { 'ambiguous_<b>': 1, no_match: 2 },
    exposed: { name: 1, email: 2, location: 3, device: 4, referrer: 0, ids: 5, url: 0, ip: 1, secret: 2 },
    complete: true,
    encoding_errors: 0,
    gates: { max_rejected: null, max_unmatched: null },
    files: [{ file: 'exports/<evil>\u202E.ndjson', format: 'mixpanel-events (ndjson)', records: 1_234_567, complete: true }],
    ...over,
  };
}

function org(i: number, name: string, affected: number): PageOrg {
  return { org_id: `o${i}`, org_name: name, affected_users: affected, unattributed: 0, admins: i % 2, exposed: ['email', 'secret'], first_seen: '2025-11-01T12:26:40Z', last_seen: '2025-11-09T14:03:22Z' };
}

function page(over: Partial<PageData> = {}): string {
  return renderCasePage({
    summary: summary(),
    manifest: {
      tool: 'breach-impact 0.1.0',
      started: '2025-11-16T00:00:00Z',
      finished: '2025-11-16T00:00:05Z',
      since: '2025-11-01',
      until: '<b>2025-12-01</b>',
      inputs: [{ name: 'exports/<evil>\u202E.ndjson', size: 3310, sha256: 'a'.repeat(64), records: 19, detail: 'mixpanel-events (ndjson)' }],
      internal: { name: 'internal.sqlite', size: 2048, sha256: 'b'.repeat(64), records: null, detail: 'internal database' },
      outputs: [{ name: 'users.csv', size: 100, sha256: 'c'.repeat(64), records: 5, detail: '' }],
    },
    orgs: HOSTILE.map((name, i) => org(i, name, i + 1)),
    jurisdictions: [
      { country: 'US', region: 'California', affected_users: 3 },
      { country: '<img src=x>', region: '\u202Eevil', affected_users: 1 },
    ],
    rejected: { invalid_json: 3, '<script>': 1 },
    vendor: 'Mixpanel',
    ...over,
  });
}

describe('the case report page builder', () => {
  it('writes only its own tags: hostile org names, places, file names and reasons stay text', () => {
    const html = page();
    const tags = new Set([...html.matchAll(/<\/?([!a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[1].toLowerCase()));
    expect([...tags].filter((t) => !OWN_TAGS.has(t))).toEqual([]);
    expect(html).not.toMatch(/<script|<img|<\/style><style>/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('O&#39;Reilly &amp; Sons &lt;tag&gt;');
    expect(html).toContain('&lt;b&gt;2025-12-01&lt;/b&gt;');
    // one <style> element, the page's own
    expect(html.match(/<style>/g)).toHaveLength(1);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  });

  it('shows control, bidi and zero-width characters as visible escapes and writes none of them', () => {
    const html = page();
    // eslint-disable-next-line no-control-regex
    expect(html.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g)).toBeNull();
    expect(html).toContain('<bdi>Acme<span class="ctl" title="hidden character U+202E">\\u202e</span>gnp.exe</bdi>');
    expect(text('line\nbreak\u0000nul\u001b[31m')).toBe(
      'line<span class="ctl" title="hidden character U+000A">\\n</span>break<span class="ctl" title="hidden character U+0000">\\x00</span>nul<span class="ctl" title="hidden character U+001B">\\x1b</span>[31m',
    );
    expect(text('\u2066a\u2069 \u200Bb \uFEFFc')).toBe(
      '<span class="ctl" title="hidden character U+2066">\\u2066</span>a<span class="ctl" title="hidden character U+2069">\\u2069</span> <span class="ctl" title="hidden character U+200B">\\u200b</span>b <span class="ctl" title="hidden character U+FEFF">\\ufeff</span>c',
    );
    expect(text('\ud800x')).toBe('<span class="ctl" title="hidden character U+D800">\\ud800</span>x');
    expect(text('Ünïcødé 日本 עברית 😀')).toBe('Ünïcødé 日本 עברית 😀');
  });

  it('formats numbers with Intl and carries the exact values in data- attributes', () => {
    const html = page();
    expect(html).toContain('<span class="num eq" data-summary="records.read" data-value="1234567">1,234,567</span> read');
    expect(html).toContain('data-invariant="holds"');
    for (const rule of ['user_id', 'email', 'distinct_id', 'vendor_link', 'device_link']) expect(html).toContain(`data-summary="matched_by.${rule}"`);
    // the rules in summary.json's order
    const rules = [...html.matchAll(/data-summary="matched_by\.([a-z_]+)"/g)].map((m) => m[1]);
    expect(rules).toEqual(['user_id', 'email', 'distinct_id', 'vendor_link', 'device_link']);
  });

  it('says loudly when the records do not add up, the case is incomplete, or a gate was exceeded', () => {
    const html = page({
      summary: summary({ records: { read: 10, accepted: 5, rejected: 1, filtered: 1, duplicates: 1 }, complete: false, gates: { max_rejected: true, max_unmatched: false } }),
    });
    expect(html).toContain('data-invariant="broken"');
    expect(html).toContain('✗ does not add up (8)');
    for (const a of ['incomplete', 'accounting', 'max_rejected']) expect(html).toContain(`data-alert="${a}"`);
    expect(html).not.toContain('data-alert="max_unmatched"');
    expect(page()).not.toContain('data-alert=');
  });

  it('lists orgs largest first, the first PAGE_ROWS of them, and counts the rest', () => {
    const orgs = Array.from({ length: PAGE_ROWS + 5 }, (_, i) => org(i, `Org ${i}`, (i * 7) % 23));
    const html = page({ orgs });
    const shown = [...html.matchAll(/data-org-id="([^"]+)" data-affected-users="(\d+)"/g)].map((m) => ({ id: m[1], n: Number(m[2]) }));
    expect(shown).toHaveLength(PAGE_ROWS);
    const expected = [...orgs].sort((a, b) => b.affected_users - a.affected_users || (a.org_id < b.org_id ? -1 : 1)).slice(0, PAGE_ROWS);
    expect(shown).toEqual(expected.map((o) => ({ id: o.org_id, n: o.affected_users })));
    expect(html).toContain(`data-more-orgs="5">…and 5 more organizations, each with at most ${expected[PAGE_ROWS - 1].affected_users} affected users`);
  });

  it('renders without a manifest, and says the hashes are missing', () => {
    const html = page({ manifest: null });
    expect(html).toContain('data-alert="manifest"');
    expect(html).not.toContain('id="custody"');
  });
});
