/**
 * End to end, the story of a re-delivery: delivery 1 (the bundled export) → notices → ledger →
 * delivery 2 (fixtures/delivery-2 beside it: a new org, a new user, a user whose exposure grew,
 * a new stranger) → diff → follow-up notices only to those who need them. Whole outputs are
 * compared with golden files (UPDATE_GOLDEN=1 rewrites them); hashes that change with every run
 * (the manifest's times) or with the templates' text are checked against the files they name and
 * masked in the goldens.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as csvParse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, FIXTURES, ROOT, runCli, tempDir } from './helpers.js';
import { parseMail, splitMbox } from './report-helpers.js';

const GOLDEN = join(ROOT, 'test', 'golden', 'redelivery');
const DELIVERY_1 = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));
const DELIVERY_2 = [...DELIVERY_1, join('fixtures', 'delivery-2', 'events.ndjson')];
const WINDOW = ['--internal', join('fixtures', 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01'];
const FROM = 'Example Security <security@example.com>';
const ENV = { SOURCE_DATE_EPOCH: '1763251200' };

let work: string;
let case1: string;
let case2: string;

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual, name).toBe(readFileSync(path, 'utf8'));
}

/** index.csv with its run-dependent hashes checked and masked: case = sha256(manifest.json), template = sha256(template file). */
function maskedIndex(dir: string, caseDir: string): string {
  const text = readFileSync(join(dir, 'index.csv'), 'utf8');
  const rows = csvParse(text, { columns: true }) as Record<string, string>[];
  const templates = new Set(['notice-users', 'notice-roster', 'notice-users-followup', 'notice-roster-followup'].map((t) => sha256(join(ROOT, 'templates', `${t}.txt`))));
  for (const r of rows) {
    expect(r.case).toBe(sha256(join(caseDir, 'manifest.json')));
    expect(templates.has(r.template_sha256), r.template_sha256).toBe(true);
  }
  return maskIds(text.replaceAll(sha256(join(caseDir, 'manifest.json')), '<CASE>')).replace(/,[0-9a-f]{64},<CASE>/g, ',<TEMPLATE>,<CASE>');
}

/** Message-IDs hash case.sqlite: masked, as in the report goldens. */
function maskIds(text: string): string {
  return text.replace(/<[0-9a-f]{40}\.notice@/g, '<HASH.notice@');
}

function cli(args: string[], opts: { input?: string } = {}) {
  return runCli(args, { env: ENV, ...opts });
}

async function ok(args: string[]) {
  const r = await cli(args);
  expect(r.code, explain(r)).toBe(0);
  return r;
}

beforeAll(async () => {
  work = tempDir('bi-redelivery-');
  case1 = join(work, 'case-1');
  case2 = join(work, 'case-2');
  await ok(['correlate', ...DELIVERY_1, ...WINDOW, '--out', case1]);
  await ok(['correlate', ...DELIVERY_2, ...WINDOW, '--out', case2]);
});

describe('re-delivery: diff, notices, ledger, follow-ups', () => {
  it('the whole story: nobody notified twice, nobody newly exposed missed', async () => {
    const ledger = join(work, 'story.sqlite');
    const n1 = join(work, 'notices-1');
    const r1 = join(work, 'roster-1');
    // delivery 1: every affected user and admin gets a first notice
    await ok(['report', 'users', '--case', case1, '--format', 'eml', '--from', FROM, '--out', n1]);
    await ok(['report', 'roster', '--case', case1, '--format', 'eml', '--from', FROM, '--out', r1]);
    golden('notices-1.index.csv', maskedIndex(n1, case1));
    golden('roster-1.index.csv', maskedIndex(r1, case1));

    // recorded once sent: the ledger is created 0600; the roster's index comes on standard input
    const add1 = await ok(['ledger', 'add', '--ledger', ledger, '--sent-at', '2025-11-17T09:30:00Z', join(n1, 'index.csv')]);
    expect(add1.stdout).toBe('');
    expect(add1.stderr).toBe(`recorded 8 messages as sent in the new ledger ${ledger}\n`);
    expect(statSync(ledger).mode & 0o777).toBe(0o600);
    const add2 = await runCli(['ledger', 'add', '--ledger', ledger, '--sent-at', '2025-11-17T09:45:00Z', '-'], { input: readFileSync(join(r1, 'index.csv')) });
    expect(add2.code, explain(add2)).toBe(0);
    expect(add2.stderr).toBe(`recorded 4 messages as sent in the ledger ${ledger}\n`);

    // adding the same index again changes nothing, not a byte
    const before = sha256(ledger);
    const again = await ok(['ledger', 'add', '--ledger', ledger, join(n1, 'index.csv')]);
    expect(again.stderr).toBe(`nothing new: the 8 messages of ${join(n1, 'index.csv')} were already in the ledger ${ledger}\n`);
    expect(sha256(ledger)).toBe(before);

    for (const format of ['csv', 'jsonl']) {
      const show = await ok(['ledger', 'show', '--ledger', ledger, '--format', format]);
      golden(`ledger-1.${format}`, maskIds(show.stdout.replaceAll(sha256(join(case1, 'manifest.json')), '<CASE>')));
    }

    // delivery 2: what changed
    const diff = await ok(['diff', case1, case2]);
    golden('diff.csv', diff.stdout);
    expect(diff.stderr).toBe('');
    golden('diff-users.jsonl', (await ok(['diff', case1, case2, '--list', 'users', '--format', 'jsonl'])).stdout);
    golden('diff-roster.csv', (await ok(['diff', case1, case2, '--list', 'roster'])).stdout);
    golden('diff.table.txt', (await ok(['diff', case1, case2, '--format', 'table'])).stdout);
    const json = JSON.parse((await ok(['diff', case1, case2, '--format', 'json'])).stdout) as unknown[];
    expect(json).toEqual(
      (await ok(['diff', case1, case2, '--format', 'jsonl'])).stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l)),
    );
    const exit = await cli(['diff', case1, case2, '--exit-code']);
    expect(exit.code, explain(exit)).toBe(3);
    expect(exit.stdout).toBe(diff.stdout);

    // only those who need it: Ivan (new) a first notice, Bob (his IP is new) a follow-up
    const unsentCsv = await ok(['report', 'users', '--case', case2, '--ledger', ledger, '--unsent']);
    golden('unsent-users.csv', unsentCsv.stdout);
    expect(unsentCsv.stderr).toBe('--unsent: 2 of the 9 users rows need a notice: 1 first notice, 1 follow-up (exposure grew); 7 were already told of everything now exposed\n');
    const n2 = join(work, 'notices-2');
    const r2 = join(work, 'roster-2');
    const ledgerBefore = sha256(ledger);
    await ok(['report', 'users', '--case', case2, '--ledger', ledger, '--unsent', '--format', 'eml', '--from', FROM, '--out', n2]);
    await ok(['report', 'roster', '--case', case2, '--ledger', ledger, '--unsent', '--format', 'eml', '--from', FROM, '--out', r2]);
    expect(sha256(ledger), 'report never writes the ledger').toBe(ledgerBefore);
    golden('notices-2.index.csv', maskedIndex(n2, case2));
    golden('roster-2.index.csv', maskedIndex(r2, case2));
    const index2 = csvParse(readFileSync(join(n2, 'index.csv')), { columns: true }) as Record<string, string>[];
    const bob = index2.find((x) => x.user_id === '2')!;
    expect(bob.template_sha256).toBe(sha256(join(ROOT, 'templates', 'notice-users-followup.txt')));
    golden('followup-bob.eml', maskIds(readFileSync(join(n2, bob.file), 'utf8').replace(/\r\n/g, '\n')));
    const mail = await parseMail(readFileSync(join(n2, bob.file)));
    expect(mail.text).toContain('What is new:\n\n  - your IP address\n\nEverything the dataset now holds about you:');
    const ivan = index2.find((x) => x.user_id === '9007199254740992')!;
    expect(ivan.template_sha256).toBe(sha256(join(ROOT, 'templates', 'notice-users.txt')));
    expect(ivan.newly_exposed).toBe(ivan.exposed);

    // once those are recorded, nobody is left to notify
    await ok(['ledger', 'add', '--ledger', ledger, '--sent-at', '2025-11-20T10:00:00Z', join(n2, 'index.csv')]);
    await ok(['ledger', 'add', '--ledger', ledger, '--sent-at', '2025-11-20T10:05:00Z', join(r2, 'index.csv')]);
    for (const list of ['users', 'roster']) {
      const none = await ok(['report', list, '--case', case2, '--ledger', ledger, '--unsent', '--format', 'jsonl']);
      expect(none.stdout, list).toBe('');
    }
    const show = await ok(['ledger', 'show', '--ledger', ledger]);
    golden('ledger-2.csv', maskIds(show.stdout.replaceAll(sha256(join(case1, 'manifest.json')), '<CASE-1>').replaceAll(sha256(join(case2, 'manifest.json')), '<CASE-2>')));
  }, 120_000);

  it('a template of your own gets {{newly_exposed}} (all of {{exposed}} in a first notice), and is warned about when it says nothing of what is new', async () => {
    const ledger = join(work, 'template.sqlite');
    const n1 = join(work, 'template-1');
    await ok(['report', 'users', '--case', case1, '--format', 'eml', '--from', FROM, '--out', n1]);
    await ok(['ledger', 'add', '--ledger', ledger, join(n1, 'index.csv')]);
    const template = join(work, 'mine.txt');
    writeFileSync(template, 'Subject: About {{vendor}}\n\nNew: {{newly_exposed}}.\nAll: {{exposed}}.\n  * {{newly_exposed_item}}\n');
    const r = await ok(['report', 'users', '--case', case2, '--ledger', ledger, '--unsent', '--format', 'mbox', '--from', FROM, '--template', template]);
    const bodies = await Promise.all(splitMbox(r.stdout).map(async (m) => (await parseMail(m)).text));
    expect(bodies).toEqual([
      'New: your IP address.\nAll: your email address, your approximate location (city, region, country), your operating system, browser or device model, the websites that referred you, and your IP address.\n  * your IP address\n',
      'New: your email address, your approximate location (city, region, country), your operating system, browser or device model, and account, device or organization identifiers.\nAll: your email address, your approximate location (city, region, country), your operating system, browser or device model, and account, device or organization identifiers.\n  * your email address\n  * your approximate location (city, region, country)\n  * your operating system, browser or device model\n  * account, device or organization identifiers\n',
    ]);
    const plain = join(work, 'plain.txt');
    writeFileSync(plain, 'Hello {{recipient_name}}: {{exposed}}\n');
    const w = await ok(['report', 'users', '--case', case2, '--ledger', ledger, '--unsent', '--format', 'mbox', '--from', FROM, '--template', plain]);
    expect(w.stderr).toContain(`breach-impact: warning: 1 follow-up notice was rendered from ${plain}, which does not use {{newly_exposed}}: they do not say what is new since the earlier notice\n`);
  });

  it('diff: identical cases differ in nothing (exit 0 with --exit-code); a directory that is not a case is a usage error', async () => {
    const same = await cli(['diff', case1, case1, '--exit-code']);
    expect(same.code, explain(same)).toBe(0);
    expect(same.stdout).toBe('list,change,key,changed\n');
    expect((await ok(['diff', case1, case1, '--format', 'jsonl'])).stdout).toBe('');
    const reversed = await ok(['diff', case2, case1, '--list', 'orgs']);
    expect(reversed.stdout).toBe('list,change,key,changed,org_id,org_name,affected_users,unattributed,admins,exposed,first_seen,last_seen\norgs,removed,500,,500,Unaffected Ltd,1,0,1,email;location;device;ids,2025-11-13T02:13:20Z,2025-11-13T02:13:20Z\n');
    for (const dir of [work, join(work, 'nowhere'), FIXTURES]) {
      const r = await cli(['diff', case1, dir]);
      expect(r.code, explain(r)).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`NEW_CASE ${dir} is not a breach-impact case directory`);
    }
    const bad = await cli(['diff', case1, case2, '--list', 'rejected']);
    expect(bad.code, explain(bad)).toBe(2);
  });

  it('diff warns when the cases come from different internal databases, and still compares them', async () => {
    const internal = join(work, 'internal-changed.sql');
    writeFileSync(internal, readFileSync(join(FIXTURES, 'internal.sql'), 'utf8') + "UPDATE orgs SET name = 'Acme Corporation' WHERE id = 100;\n");
    const other = join(work, 'case-other-db');
    await ok(['correlate', ...DELIVERY_1, '--internal', internal, '--since', '2025-11-01', '--until', '2025-12-01', '--out', other]);
    const r = await ok(['diff', case1, other]);
    expect(r.stderr).toBe(`breach-impact: warning: ${case1} and ${other} were made from different internal databases (their manifests' internal.sha256 differ): a change may come from your own data (a new admin, a renamed org, a changed address), not only from the vendor's delivery\n`);
    expect(r.stdout).toBe('list,change,key,changed\norgs,changed,100,org_name\nroster,changed,100:alice@example.com,org_name\nroster,changed,100:judy@example.com,org_name\n');
  });

  it('report --unsent refuses a missing ledger, a ledger without --unsent, and lists that are not recipients', async () => {
    const missing = await cli(['report', 'users', '--case', case2, '--ledger', join(work, 'no-such.sqlite'), '--unsent']);
    expect(missing.code, explain(missing)).toBe(2);
    expect(missing.stderr).toContain(`the ledger ${join(work, 'no-such.sqlite')} does not exist`);
    expect(readdirSync(work)).not.toContain('no-such.sqlite');
    const alone = await cli(['report', 'users', '--case', case2, '--ledger', join(work, 'x.sqlite')]);
    expect(alone.code).toBe(2);
    const orgs = await cli(['report', 'orgs', '--case', case2, '--ledger', join(work, 'x.sqlite'), '--unsent']);
    expect(orgs.code).toBe(2);
  });
});

