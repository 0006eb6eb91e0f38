/**
 * The case report page as a person sees it: `report summary --format html` rendered by headless
 * Chromium (Debian's chromium, driven by puppeteer-core). The page makes no request and logs no
 * error, its figures are summary.json's, its orgs, places, reasons and hashes are the case's, it
 * names no user, a hostile org name is text, and it fits a printed A4 or Letter page. The
 * fixtures' page is saved as docs/report-page.png, the README's picture of it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as csvParse } from 'csv-parse/sync';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatten } from '../src/output/summary.js';
import { explain, ROOT, runCli, tempDir } from './helpers.js';
import { buildCase } from './report-helpers.js';

/** Debian's chromium; .ci/run installs it. */
const CHROMIUM = '/usr/bin/chromium';
const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));
const SCREENSHOT = join(ROOT, 'docs', 'report-page.png');
const NUMBER = new Intl.NumberFormat('en-US');

let browser: Browser;
let work: string;

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  work = tempDir('bi-page-');
});

afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  requests: string[];
  problems: string[];
}

/** Render the case's page to a file and open it; every request but the page's own is recorded and refused. */
async function openPage(caseDir: string, name: string): Promise<Opened> {
  const r = await runCli(['report', 'summary', '--case', caseDir, '--format', 'html']);
  expect(r.code, explain(r)).toBe(0);
  expect(r.stderr).toBe('');
  const file = join(work, `${name}.html`);
  writeFileSync(file, r.stdout);
  const url = pathToFileURL(file).href;
  const page = await browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    requests.push(req.url());
    if (req.url() === url) void req.continue();
    else void req.abort();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  expect(requests).toEqual([url]);
  return { page, requests, problems };
}

function csv(caseDir: string, list: string): Record<string, string>[] {
  return csvParse(readFileSync(join(caseDir, `${list}.csv`)), { columns: true }) as Record<string, string>[];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The page's width at a printed page's text width (A4 or Letter less 12 mm margins, at 96 px an inch). */
async function printWidth(page: Page, widthPx: number): Promise<number> {
  await page.emulateMediaType('print');
  await page.setViewport({ width: widthPx, height: 1000 });
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.emulateMediaType('screen');
  return w;
}

describe('the case report page in a browser', () => {
  let caseDir: string;
  let opened: Opened;

  beforeAll(async () => {
    caseDir = join(work, 'case');
    const r = await runCli(['correlate', ...EXPORTS, '--internal', join('fixtures', 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01', '--out', caseDir]);
    expect(r.code, explain(r)).toBe(0);
    // The page shows when the case was written: pinned, so the committed screenshot changes only when the page does.
    const manifestPath = join(caseDir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, started: '2025-11-16T09:30:00.000Z', finished: '2025-11-16T09:30:01.000Z' }, null, 2) + '\n');
    opened = await openPage(caseDir, 'fixtures');
  });

  it('loads nothing and logs no error', () => {
    expect(opened.problems).toEqual([]);
    expect(opened.requests).toHaveLength(1);
  });

  it("shows summary.json's figures, each as Intl formats it", async () => {
    const summary = JSON.parse(readFileSync(join(caseDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    const expected = new Map(flatten(summary).filter(([k]) => !k.startsWith('files.') && !k.startsWith('gates.') && !['complete', 'vendor_name'].includes(k)));
    const shown = await opened.page.$$eval('[data-summary]', (els) => els.map((e) => ({ key: e.getAttribute('data-summary')!, value: e.getAttribute('data-value')!, text: e.textContent! })));
    for (const s of shown) {
      expect(expected.has(s.key), s.key).toBe(true);
      expect(s.value, s.key).toBe(expected.get(s.key));
      expect(s.text, s.key).toBe(NUMBER.format(Number(s.value)));
    }
    expect(new Set(shown.map((s) => s.key))).toEqual(new Set(expected.keys()));
    const invariants = await opened.page.$$eval('[data-invariant]', (els) => els.map((e) => [e.getAttribute('data-invariant'), e.textContent]));
    expect(invariants).toEqual([
      ['holds', '32 read = 23 accepted + 7 rejected + 1 filtered + 1 duplicates ✓ adds up'],
      ['holds', '17 identities in the export = 10 matched + 7 not matched ✓ adds up'],
    ]);
    // the rules in summary.json's order
    const rules = shown.filter((s) => s.key.startsWith('matched_by.')).map((s) => s.key);
    expect(rules).toEqual(Object.keys(summary.matched_by as object).map((k) => `matched_by.${k}`));
  });

  it('lists every affected org largest first, with the case’s counts', async () => {
    const rows = await opened.page.$$eval('tr[data-org-id]', (els) =>
      els.map((e) => ({ org_id: e.getAttribute('data-org-id'), affected_users: e.getAttribute('data-affected-users'), admins: e.getAttribute('data-admins'), unattributed: e.getAttribute('data-unattributed'), name: e.querySelector('td.name > bdi')?.textContent ?? '' })),
    );
    const orgs = csv(caseDir, 'orgs')
      .map((o) => ({ org_id: o.org_id, affected_users: o.affected_users, admins: o.admins, unattributed: o.unattributed, name: o.org_name }))
      .sort((a, b) => Number(b.affected_users) - Number(a.affected_users) || Number(b.unattributed) - Number(a.unattributed) || (a.org_id < b.org_id ? -1 : 1));
    expect(rows).toEqual(orgs);
    expect(rows.map((r) => r.name)).toEqual(['Acme Corp', 'Initech', 'Globex', 'Umbrella (no admins)']);
  });

  it('shows the jurisdictions, the rejected reasons and every file’s size and SHA-256', async () => {
    const page = opened.page;
    const places = await page.$$eval('tr[data-country]', (els) => els.map((e) => `${e.getAttribute('data-country')}/${e.getAttribute('data-region')}/${e.getAttribute('data-affected-users')}`));
    expect(places.sort()).toEqual(csv(caseDir, 'jurisdictions').map((j) => `${j.country}/${j.region}/${j.affected_users}`).sort());

    const reasons = Object.fromEntries(await page.$$eval('tr[data-reason]', (els) => els.map((e) => [e.getAttribute('data-reason')!, Number(e.getAttribute('data-count'))])));
    const counted: Record<string, number> = {};
    for (const r of csv(caseDir, 'rejected')) counted[r.reason] = (counted[r.reason] ?? 0) + 1;
    expect(reasons).toEqual(counted);

    const files = await page.$$eval('tr[data-file]', (els) => els.map((e) => ({ file: e.getAttribute('data-file')!, kind: e.getAttribute('data-kind')!, size: e.getAttribute('data-size'), sha256: e.getAttribute('data-sha256') })));
    const outputs = ['users.csv', 'orgs.csv', 'roster.csv', 'unmatched.csv', 'jurisdictions.csv', 'rejected.csv', 'summary.json', 'case.sqlite'];
    expect(files.map((f) => `${f.kind} ${f.file}`)).toEqual([...EXPORTS.map((f) => `input ${f}`), 'internal fixtures/internal.sql', ...outputs.map((f) => `output ${f}`)]);
    for (const f of files) {
      const path = f.kind === 'output' ? join(caseDir, f.file) : join(ROOT, f.file);
      expect(f.sha256, f.file).toBe(sha256(path));
      expect(f.size, f.file).toBe(String(statSync(path).size));
    }
  });

  it('names no user: no email address or name from the lists appears on the page', async () => {
    const html = await opened.page.content();
    const seen = await opened.page.evaluate(() => document.body.innerText);
    const people = [
      ...csv(caseDir, 'users').flatMap((u) => [u.email, u.name]),
      ...csv(caseDir, 'roster').flatMap((u) => [u.email, u.name.replace(/^'/, '')]),
      ...csv(caseDir, 'unmatched').flatMap((u) => u.email.split(';')),
    ].filter((x) => x !== '');
    expect(people.length).toBeGreaterThan(10);
    for (const p of people) {
      expect(html.includes(p), p).toBe(false);
      expect(seen.includes(p), p).toBe(false);
    }
    expect(seen).not.toMatch(/@/);
  });

  it('fits the width of a printed A4 or Letter page, and prints', async () => {
    expect(await printWidth(opened.page, 700)).toBeLessThanOrEqual(700);
    const pdf = await opened.page.pdf({ format: 'A4', printBackground: true });
    expect(Buffer.from(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    const letter = await opened.page.pdf({ format: 'Letter', printBackground: true });
    expect(Buffer.from(letter).subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('saves the picture of the page the README shows (docs/report-page.png)', async () => {
    await opened.page.setViewport({ width: 1000, height: 800 });
    const png = await opened.page.screenshot({ fullPage: true, type: 'png' });
    expect(Buffer.from(png).subarray(1, 4).toString()).toBe('PNG');
    writeFileSync(SCREENSHOT, png);
  });
});

describe('the case report page on hostile names', () => {
  const ORG = '<script>window.__pwned=1</script>\u202Egnp.exe';
  const ORG2 = '"><img src=x onerror="window.__pwned=2">';

  it('renders a hostile org name and vendor place as text: no script, no image, no request, the override visible', async () => {
    const dir = tempDir('bi-page-hostile-');
    const caseDir = await buildCase(dir, {
      users: [
        { id: '1', email: 'victim@example.com', name: 'Victim One' },
        { id: '2', email: 'other@example.com', name: '<b>Bold</b>' },
      ],
      orgs: [
        { id: '10', name: ORG },
        { id: '20', name: ORG2 },
      ],
      memberships: [
        { user_id: '1', org_id: '10', role: 'admin' },
        { user_id: '2', org_id: '20', role: 'owner' },
      ],
      events: [
        { distinct_id: '1', $user_id: '1', mp_country_code: '<img src=x onerror="window.__pwned=3">', $region: '\u202Eevil' },
        { distinct_id: '2', $user_id: '2', mp_country_code: 'US' },
      ],
    });
    const { page, problems } = await openPage(caseDir, 'hostile');
    expect(problems).toEqual([]);
    const dom = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
      active: document.querySelectorAll('script, img, iframe, object, embed, link, base, form').length,
      styles: document.querySelectorAll('style').length,
      names: [...document.querySelectorAll('tr[data-org-id] td.name > bdi')].map((e) => e.textContent),
      countries: [...document.querySelectorAll('tr[data-country]')].map((e) => e.textContent),
      text: document.body.innerText,
    }));
    expect(dom.pwned).toBeNull();
    expect(dom.active).toBe(0);
    expect(dom.styles).toBe(1);
    expect(dom.names.sort()).toEqual([ORG.replace('\u202E', '\\u202e'), ORG2].sort());
    expect(dom.countries.sort()).toEqual(['<img src=x onerror="window.__pwned=3">\\u202eevil1', 'US United States—1']);
    expect(dom.text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    for (const p of ['victim@example.com', 'other@example.com', 'Victim One', '<b>Bold</b>']) expect(dom.text.includes(p), p).toBe(false);
    await page.close();
  });
});

describe('report --format html: usage', () => {
  let caseDir: string;
  beforeAll(async () => {
    caseDir = await buildCase(tempDir('bi-page-usage-'), { users: [{ id: '1', email: 'a@example.com', name: 'A' }], orgs: [], memberships: [], events: [{ distinct_id: '1', $user_id: '1' }] });
  });

  it.each([
    [['orgs', '--format', 'html'], '--format html is the case report page, made from the summary, not from orgs'],
    [['summary', '--format', 'html', '--out', 'x'], '--out is only for --format eml'],
    [['summary', '--format', 'html', '--from', 'security@example.com'], '--from is only for --format mbox or eml'],
  ])('%j is a usage error (exit 2), nothing on stdout', async (args, message) => {
    const r = await runCli(['report', ...args, '--case', caseDir]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('renders a case whose manifest.json is gone, saying the hashes cannot be shown', async () => {
    rmSync(join(caseDir, 'manifest.json'));
    const r = await runCli(['report', 'summary', '--case', caseDir, '--format', 'html']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('data-alert="manifest"');
    expect(r.stdout).toContain('data-summary="users" data-value="1"');
    expect(r.stdout).not.toContain('a@example.com');
  });
});
