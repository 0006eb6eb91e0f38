/** `breach-impact fixtures`: options → deterministic synthetic export and internal database. */
import { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFixtures, type Planted } from '../fixtures/generate.js';
import { escapeTerminal } from '../output/cells.js';
import { writeText } from '../output/sink.js';
import { parseCount } from './options.js';
import type { Io } from '../cli.js';

const MAX_USERS = 50_000_000;

export function fixturesCommand(io: Io): Command {
  return new Command('fixtures')
    .summary('write a synthetic Mixpanel-shaped export and internal database, of any size')
    .description(
      'Write DIR/events.ndjson (or events.ndjson.gz) and DIR/internal.sqlite: a deterministic synthetic Mixpanel raw event export\n' +
        'and the users/orgs/memberships database it partly matches. Same options give the same bytes. The mix is realistic:\n' +
        'most events carry $user_id, some people are known only by a noisy email, anonymous $device: identities are linked by\n' +
        '$device_id, people belong to several orgs, orgs have 0-3 admins, ~0.01% of lines are malformed, ~1% repeat an\n' +
        '$insert_id, and a few URLs carry credentials. Prints what it planted (counts only), for demos, CI smoke tests and benchmarks.',
    )
    .requiredOption('--out <dir>', 'directory to write into (created if missing; existing fixture files are replaced)')
    .option('--users <n>', 'internal users', '2000')
    .option('--orgs <n>', 'internal orgs', '400')
    .option('--events <n>', 'lines in the export (malformed and repeated ones included)', '10000')
    .option('--seed <s>', 'any text; another seed gives another, equally deterministic, world', '1')
    .option('--gzip', 'gzip the export (events.ndjson.gz)', false)
    .option('--json', 'print what was planted as JSON', false)
    .addHelpText('after', '\nExample:\n  breach-impact fixtures --out demo --users 20000 --orgs 4000 --events 100000\n  breach-impact correlate demo/events.ndjson --internal demo/internal.sqlite --out demo-case')
    .action(async (o: { out: string; users: string; orgs: string; events: string; seed: string; gzip: boolean; json: boolean }) => {
      const users = parseCount('--users', o.users, 0);
      const orgs = parseCount('--orgs', o.orgs, 0);
      const events = parseCount('--events', o.events, 0);
      if (users < 1 || users > MAX_USERS) throw new UsageError(`--users ${o.users} is out of range`, `use 1 to ${MAX_USERS.toLocaleString('en-US')}`);
      if (orgs < 1 || orgs > MAX_USERS) throw new UsageError(`--orgs ${o.orgs} is out of range`, `use 1 to ${MAX_USERS.toLocaleString('en-US')}`);
      const planted = await writeFixtures(o.out, { users, orgs, events, seed: o.seed, gzip: o.gzip });
      await writeText(io.stdout, o.json ? JSON.stringify(planted, null, 2) + '\n' : describePlanted(planted, o.out));
    });
}

function describePlanted(p: Planted, dir: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const events = escapeTerminal(join(dir, p.files.events));
  const internal = escapeTerminal(join(dir, p.files.internal));
  return [
    `fixtures written to ${escapeTerminal(dir)}`,
    `  ${p.files.events}  ${n(p.lines)} lines, ${(p.eventBytes / 1e6).toFixed(1)} MB: ${n(p.malformed)} malformed, ${n(p.duplicates)} repeated $insert_id, ${n(p.secrets)} with a credential in the URL`,
    `  ${p.files.internal}  ${n(p.users)} users, ${n(p.orgs)} orgs, ${n(p.memberships)} memberships`,
    `  expected    ${n(p.identities)} vendor identities: user_id ${n(p.matched_by.user_id)}, email ${n(p.matched_by.email)}, distinct_id ${n(p.matched_by.distinct_id)}, device_link ${n(p.matched_by.device_link)}; ${n(p.affected_users)} affected users`,
    `next: breach-impact correlate ${events} --internal ${internal} --out case`,
    '',
  ].join('\n');
}
