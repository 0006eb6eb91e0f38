/** `breach-impact fixtures`: options → deterministic synthetic export and internal database. */
import { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFixtures, type Planted } from '../fixtures/generate.js';
import { FIXTURE_VENDORS, TRAITS, type FixtureVendor } from '../fixtures/vendors.js';
import { ID_STYLES, type IdStyle } from '../fixtures/world.js';
import { escapeTerminal } from '../output/cells.js';
import { writeText } from '../output/sink.js';
import { parseCount } from './options.js';
import type { Io } from '../cli.js';

const MAX_USERS = 50_000_000;

interface Options {
  out: string;
  users: string;
  orgs: string;
  events: string;
  seed: string;
  gzip: boolean;
  json: boolean;
  vendor: string;
  idStyle: string;
  indexes: boolean;
  vendorLinks?: boolean;
}

const DESCRIPTION =
  'Write a deterministic synthetic vendor export and DIR/internal.sqlite, the users/orgs/memberships database it partly\n' +
  'matches. Same options give the same bytes. Every --vendor renders the same people in its own shape:\n' +
  '  mixpanel-events  events.ndjson: Raw Event Export (the default)\n' +
  '  mixpanel-people  people.ndjson: Engage profiles of the identified people\n' +
  '  mixpanel-etl     airbyte-mixpanel.jsonl: Airbyte {"stream":"export","data":{…}}, $ stripped, values as text\n' +
  '  amplitude        amplitude-export.zip: Export API ZIP of gzipped NDJSON, one member an hour\n' +
  '  segment          segment.ndjson: track/identify/page calls\n' +
  '  posthog          posthog-events.jsonl: event export\n' +
  '  ga4              ga4-events.ndjson: BigQuery export (no email: those people stay unmatched)\n' +
  '  csv              events.csv: a generic UI export\n' +
  'The mix is realistic: most people are logged in, some known only by a noisy email, pre-login identities are linked by\n' +
  'device id or by the vendor itself (vendor_link), people belong to several orgs, orgs have 0-3 admins, ~0.01% of lines are\n' +
  'malformed, ~1% repeat a record id, and a few URLs carry credentials. Prints what it planted (counts only): the numbers\n' +
  'a correct correlate run reports, for demos, CI smoke tests and benchmarks.';

const EXAMPLE =
  '\nExample:\n' +
  '  breach-impact fixtures --out demo --users 20000 --orgs 4000 --events 100000\n' +
  '  breach-impact correlate demo/events.ndjson --internal demo/internal.sqlite --out demo-case\n' +
  '  breach-impact fixtures --out seg --vendor segment --id-style text --no-indexes --json\n';

function parseChoice<T extends string>(flag: string, v: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`${flag} ${v} is not one of the choices`, `use one of: ${choices.join(', ')}`);
  return v as T;
}

function parseSize(flag: string, v: string): number {
  const n = parseCount(flag, v, 0);
  if (n < 1 || n > MAX_USERS) throw new UsageError(`${flag} ${v} is out of range`, `use 1 to ${MAX_USERS.toLocaleString('en-US')}`);
  return n;
}

export function fixturesCommand(io: Io): Command {
  return new Command('fixtures')
    .summary('write a synthetic vendor export and internal database, of any size')
    .description(DESCRIPTION)
    .requiredOption('--out <dir>', 'directory to write into (created if missing; existing fixture files are replaced)')
    .option('--users <n>', 'internal users', '2000')
    .option('--orgs <n>', 'internal orgs', '400')
    .option('--events <n>', 'events in the export (malformed and repeated ones included; a people export has a profile per person they show)', '10000')
    .option('--seed <s>', 'any text; another seed gives another, equally deterministic, world', '1')
    .option('--vendor <name>', `export shape: ${FIXTURE_VENDORS.join(', ')}`, 'mixpanel-events')
    .option('--id-style <style>', 'internal ids: integer (1, 2, …) or text (user-…, org-…, TEXT columns)', 'integer')
    .option('--no-indexes', 'leave out the secondary indexes (users.email, memberships) of the internal database')
    .option('--vendor-links', "plant the vendor's own identity links ($identify, alias, $anon_distinct_id, user_pseudo_id; default for every vendor that has them but mixpanel-events, whose default bytes are those of earlier versions)")
    .option('--no-vendor-links', 'plant no vendor links')
    .option('--gzip', 'gzip the export (not amplitude: its archive holds gzipped members)', false)
    .option('--json', 'print what was planted as JSON', false)
    .addHelpText('after', EXAMPLE)
    .action(async (o: Options) => {
      const vendor = parseChoice<FixtureVendor>('--vendor', o.vendor, FIXTURE_VENDORS);
      if (o.gzip && vendor === 'amplitude') throw new UsageError('--gzip does not apply to --vendor amplitude', "leave out --gzip: Amplitude's ZIP archive already holds gzipped members");
      const planted = await writeFixtures(o.out, {
        users: parseSize('--users', o.users),
        orgs: parseSize('--orgs', o.orgs),
        events: parseCount('--events', o.events, 0),
        seed: o.seed,
        gzip: o.gzip,
        vendor,
        idStyle: parseChoice<IdStyle>('--id-style', o.idStyle, ID_STYLES),
        indexes: o.indexes,
        links: o.vendorLinks,
      });
      await writeText(io.stdout, o.json ? JSON.stringify(planted, null, 2) + '\n' : describePlanted(planted, o.out));
    });
}

function describePlanted(p: Planted, dir: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const events = escapeTerminal(join(dir, p.files.events));
  const internal = escapeTerminal(join(dir, p.files.internal));
  const recordId = TRAITS[p.vendor].recordId;
  const repeated = recordId === undefined ? 'no record id' : `${n(p.duplicates)} repeated ${recordId}`;
  const m = p.matched_by;
  return [
    `fixtures written to ${escapeTerminal(dir)}`,
    `  ${p.files.events}  ${n(p.lines)} lines, ${(p.eventBytes / 1e6).toFixed(1)} MB: ${n(p.malformed)} malformed, ${repeated}, ${n(p.secrets)} with a credential in the URL`,
    `  ${p.files.internal}  ${n(p.users)} users, ${n(p.orgs)} orgs, ${n(p.memberships)} memberships`,
    `  expected    ${n(p.identities)} vendor identities: user_id ${n(m.user_id)}, email ${n(m.email)}, distinct_id ${n(m.distinct_id)}, vendor_link ${n(m.vendor_link)}, device_link ${n(m.device_link)}; ${n(p.affected_users)} affected users`,
    `next: breach-impact correlate ${events} --internal ${internal} --out case`,
    '',
  ].join('\n');
}
