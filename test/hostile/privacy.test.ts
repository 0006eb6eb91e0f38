/**
 * Privacy: a canary email planted all over an export (valid records, malformed lines, an
 * oversize line, a JSON key, CSV rows and headers, a broken gzip, a UTF-16 file) never appears on
 * stdout or stderr of any command, nor in any file of the case, since no list has a column for
 * where it was planted. And the tool opens no network connection: every command line (a table,
 * one row per command, format and input kind) runs the real binary with a preload hook that
 * fails and records any attempt and shows it was loaded; a positive control shows the same hook
 * catches a deliberate attempt. correlate also runs in an empty network namespace (unshare -n)
 * and under strace when those are available.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CASE_FILES, correlateIn, event, expectCase, explainCase, preloadHook, run, tempDir, writeInternalDb, works, type CaseRun, type HostileRunOptions } from './lib.js';
import { FIXTURES, type RunResult } from '../helpers.js';

const CANARY = 'Canary.Q7x3@Leak-Check.example';
/** Any trace of the canary: its local part in any case, also JSON-escaped or percent-encoded around it. */
const TRACE = /canary\.q7x3|leak-check\.example/i;

describe('a canary email planted in the export', () => {
  let dir: string;
  let c: CaseRun;
  /** the commands run so far in this describe (the beforeAll's correlate first) */
  const results: { what: string; r: RunResult }[] = [];

  const exec = async (what: string, args: string[], opts: HostileRunOptions = {}) => {
    const r = await run(args, { cwd: dir, ...opts });
    results.push({ what, r });
    return r;
  };

  beforeAll(async () => {
    dir = tempDir();
    const escaped = CANARY.replace('@', '\\u0040');
    const ndjson = [
      // 1: a usable record; the canary only where no list has a column
      event({ distinct_id: 'known-1', $insert_id: 'k1', $name: CANARY, $city: CANARY, $initial_referrer: `https://ref.example/?who=${CANARY}`, $current_url: `https://app.example/u/${encodeURIComponent(CANARY)}` }),
      // 2: malformed JSON, cut inside the canary's string
      `{"event":"e","properties":{"distinct_id":"c2","$email":"${CANARY}`,
      // 3: bad time
      event({ distinct_id: 'c3', $email: CANARY, time: `when ${CANARY} logged in` }),
      // 4: no identity
      event({ $name: CANARY, $city: CANARY }),
      // 5: not an object
      JSON.stringify([CANARY, { $email: CANARY }]),
      // 6: the canary as a property name, escaped
      `{"event":"e","properties":{"distinct_id":"c6","${escaped}":"${escaped}"}}`,
      // 7: too deep
      `{"event":"e","properties":{"distinct_id":"c7","x":${'['.repeat(70)}"${CANARY}"${']'.repeat(70)}}}`,
      // 8: over 1 MiB
      event({ distinct_id: 'c8', $name: `${CANARY} `.repeat(40_000) }),
      // 9: bare words around it
      `{"event": e, "who": ${CANARY}}`,
    ];
    writeFileSync(join(dir, 'canary.ndjson'), ndjson.join('\n') + '\n');
    writeFileSync(join(dir, 'canary.csv'), ['distinct_id,name,city', `d1,${CANARY},Oslo`, `d2,${CANARY}`, `d3,x"${CANARY},y`, `d4,"${CANARY}`, 'd5,y,z'].join('\n') + '\n');
    writeFileSync(join(dir, 'canary.json'), `[${event({ distinct_id: 'j1', $name: CANARY })},\n"${CANARY}",\n{"properties": {"distinct_id": "j2", "$name": "${CANARY}" "x": 1}}\n]`);
    const gz = Buffer.from(gzipSync(Array.from({ length: 3000 }, (_, i) => event({ distinct_id: `z${i}`, $name: CANARY })).join('\n') + '\n'));
    writeFileSync(join(dir, 'canary.ndjson.gz'), gz.subarray(0, gz.length - 200));
    writeInternalDb(join(dir, 'internal.sqlite'), {
      idType: 'TEXT',
      users: [['known-1', 'known@example.com', 'Known Person']],
      orgs: [['org-1', 'Org One']],
      memberships: [['known-1', 'org-1', 'owner']],
    });
    c = await correlateIn(dir, ['canary.ndjson', 'canary.csv', 'canary.json', 'canary.ndjson.gz'], { internal: 'internal.sqlite' });
    results.push({ what: 'correlate --json', r: c.r });
  });

  it('is kept out of every list: the whole outcome of the run', () => {
    const rows = c.rejected;
    const gzKept = c.summary.files[3].records - 1;
    expectCase(c, {
      code: 1,
      // NDJSON 9 lines; CSV 3 rows and the stop (d5 is inside the unclosed quote); JSON 3 elements; the gzip's lines and its stop
      records: { read: 9 + 4 + 3 + gzKept + 1, accepted: 2 + 1 + 1 + gzKept, rejected: 7 + 3 + 2 + 1, filtered: 0, duplicates: 0 },
      rejected: [
        ['canary.ndjson', 2, 'invalid_json'],
        ['canary.ndjson', 3, 'bad_time'],
        ['canary.ndjson', 4, 'no_identity'],
        ['canary.ndjson', 5, 'not_an_object'],
        ['canary.ndjson', 7, 'max_depth'],
        ['canary.ndjson', 8, 'record_too_large'],
        ['canary.ndjson', 9, 'invalid_json'],
        ['canary.csv', 3, 'missing_columns'],
        ['canary.csv', 4, 'stray_quote'],
        ['canary.csv', 5, 'unclosed_quote'],
        ['canary.json', 2, 'not_an_object'],
        ['canary.json', 3, 'invalid_json'],
        ['canary.ndjson.gz', gzKept + 1, 'truncated_gzip'],
      ],
      stderr: /canary\.csv: reading stopped at line 5 \(unclosed_quote\)[\s\S]*canary\.ndjson\.gz: reading stopped at line \d+ \(truncated_gzip\)/,
    });
    expect(gzKept).toBeGreaterThan(1000);
    for (const f of CASE_FILES) expect(TRACE.test(readFileSync(join(c.out, f)).toString('latin1')), f).toBe(false);
    expect(rows.map((r) => r.excerpt).join('\n')).not.toMatch(TRACE);
  });

  // some forty runs of the binary, one after another
  it('never reaches stdout or stderr of correlate, inspect or report, in any format', { timeout: 240_000 }, async () => {
    await exec('correlate (human)', ['correlate', 'canary.ndjson', 'canary.csv', 'canary.json', 'canary.ndjson.gz', '--internal', 'internal.sqlite', '--out', 'human']);
    await exec('correlate --quiet over the gate', ['correlate', 'canary.ndjson', '--internal', 'internal.sqlite', '--out', 'gated', '--max-rejected', '0', '--quiet']);
    await exec('inspect', ['inspect', 'canary.ndjson', 'canary.csv', 'canary.json', 'canary.ndjson.gz']);
    await exec('inspect --json', ['inspect', '--json', 'canary.ndjson', 'canary.csv', 'canary.json', 'canary.ndjson.gz']);
    await exec('inspect from stdin', ['inspect', '-'], { input: readFileSync(join(dir, 'canary.ndjson')) });
    const lists = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions', 'summary'];
    await Promise.all(lists.flatMap((l) => ['csv', 'jsonl', 'json', 'table'].map((f) => exec(`report ${l} --format ${f}`, ['report', l, '--case', c.out, '--format', f]))));
    await exec('report summary --format html', ['report', 'summary', '--case', c.out, '--format', 'html']);
    for (const l of ['users', 'roster']) await exec(`report ${l} --format mbox`, ['report', l, '--case', c.out, '--format', 'mbox', '--from', 'security@example.com']);
    await exec('report --format eml', ['report', 'roster', '--case', c.out, '--format', 'eml', '--from', 'security@example.com', '--out', 'notices']);
    for (const f of readdirSync(join(dir, 'notices'))) expect(readFileSync(join(dir, 'notices', f), 'utf8'), f).not.toMatch(TRACE);
    for (const { what, r } of results) {
      expect(r.signal, what).toBeNull();
      expect(TRACE.test(r.stdout), `${what}: stdout\n${explainCase({ r })}`).toBe(false);
      expect(TRACE.test(r.stderr), `${what}: stderr\n${explainCase({ r })}`).toBe(false);
    }
    const codes = Object.fromEntries(results.map(({ what, r }) => [what, r.code]));
    expect(codes['correlate (human)']).toBe(1);
    expect(codes['correlate --quiet over the gate']).toBe(3);
    expect(codes['inspect']).toBe(1);
    expect(codes['report users --format mbox']).toBe(0);
  });

  it('never reaches stderr in the warnings and errors about its own file: duplicate header, UTF-16', async () => {
    writeFileSync(join(dir, 'dup-header.csv'), `distinct_id,${CANARY},${CANARY.toUpperCase()}\nx,y,z\n`);
    writeFileSync(join(dir, 'utf16.ndjson'), Buffer.from('\ufeff' + event({ distinct_id: 'u', $email: CANARY }) + '\n', 'utf16le'));
    // a repeated header name is read under a suffix, with a warning that masks the name
    const warned = [
      await exec('duplicate header', ['correlate', 'dup-header.csv', '--internal', 'internal.sqlite', '--out', 'e1']),
      await exec('inspect duplicate header', ['inspect', 'dup-header.csv']),
    ];
    for (const r of warned) {
      expect(r.code, explainCase({ r })).toBe(0);
      expect(r.stderr, explainCase({ r })).toMatch(/breach-impact: warning: dup-header\.csv: CSV column 3 repeats the name "\[email\]"/);
      expect(r.stderr + r.stdout).not.toMatch(TRACE);
    }
    const refused = await exec('UTF-16', ['correlate', 'utf16.ndjson', '--internal', 'internal.sqlite', '--out', 'e2']);
    expect(refused.code, explainCase({ r: refused })).toBe(2);
    expect(refused.stderr, explainCase({ r: refused })).toMatch(/breach-impact: error: utf16\.ndjson: unsupported encoding UTF-16LE/);
    expect(refused.stderr + refused.stdout).not.toMatch(TRACE);
  });
});

describe('a credential in any field that a list keeps', () => {
  it('is stored nowhere: not in a list, not in case.sqlite, not on stdout or stderr; the record still counts, flagged secret', async () => {
    const dir = tempDir();
    const KEY = 'sk-proj-Q7x3LeakCheckABCDEFGHIJKLMNOP';
    const AWS = 'AKIAQ7X3LEAKCHECK999';
    writeInternalDb(join(dir, 'internal.sqlite'), { idType: 'TEXT', users: [['u1', 'u1@example.com', 'User One']], orgs: [['org-1', 'Org One']], memberships: [['u1', 'org-1', 'owner']] });
    writeFileSync(
      join(dir, 'e.ndjson'),
      [
        event({ distinct_id: 'u1', $user_id: 'u1', $insert_id: 'i1', $region: KEY, mp_country_code: AWS, $city: KEY }),
        event({ distinct_id: 'anon-1', $insert_id: 'i2', org_id: ['org-1', KEY], $device_id: AWS, $email: `${KEY}@example.com` }),
        event({ distinct_id: KEY, $insert_id: 'i3', $user_id: 'u1' }),
      ].join('\n') + '\n',
    );
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite' });
    expectCase(c, { code: 0, records: { read: 3, accepted: 3, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] });
    const users = readFileSync(join(c.out, 'users.csv'), 'utf8');
    expect(users).toBe('user_id,email,name,org_ids,matched_by,events,first_seen,last_seen,exposed,countries,regions\nu1,u1@example.com,User One,org-1,user_id,2,2025-11-01T12:26:40Z,2025-11-01T12:26:40Z,location;ids;secret,,\n');
    expect(readFileSync(join(c.out, 'unmatched.csv'), 'utf8')).toBe('vendor_id,reason,email,events,first_seen,last_seen,exposed,org_ids\nanon-1,org_only,,1,2025-11-01T12:26:40Z,2025-11-01T12:26:40Z,email;ids;secret,org-1\n');
    expect(readFileSync(join(c.out, 'jurisdictions.csv'), 'utf8')).toBe('country,region,affected_users\n');
    for (const f of CASE_FILES) {
      const text = readFileSync(join(c.out, f)).toString('latin1');
      for (const secret of ['Q7x3LeakCheck', 'Q7X3LEAKCHECK']) expect(text.includes(secret), `${f} holds a credential`).toBe(false);
    }
    expect(c.r.stdout + c.r.stderr).not.toMatch(/q7x3leakcheck/i);
  });
});

// ---------------------------------------------------------------- no network connection

/**
 * Every command line of the tool, run for real under the network guard (the preload hook in
 * lib.ts). Placeholders: {case} and {case_b} are case directories made before the rows run
 * ({case} from every fixture export, {case_b} from events.ndjson alone), {cases} their directory
 * (with notices/ of {case}'s users and ledger.sqlite recording them), {dir} is the row's own
 * directory (its cwd, where `fixtures` is the repo's fixtures/ and `urls.ndjson` an export whose
 * every URL-like field points at a host). A new command is one more row.
 */
interface CommandRow {
  args: string;
  code: number;
  /** a file of the row's directory fed to standard input */
  stdin?: string;
  /** a command run first in the row's directory, unguarded (to make its input) */
  before?: string;
}
const FROM = '--from security@example.com';
const LISTS = ['users', 'orgs', 'roster', 'unmatched', 'rejected', 'jurisdictions', 'summary'];
const COMMANDS: CommandRow[] = [
  { args: 'correlate fixtures/export/events.ndjson fixtures/export/events-array.json.gz fixtures/export/people.json fixtures/export/ui-export.csv --internal fixtures/internal.sql --out case', code: 0 },
  { args: 'correlate fixtures/export/events.ndjson fixtures/export/ui-export.csv --internal fixtures/internal.sql --out case --json --since 2025-11-01 --until 2025-12-01', code: 0 },
  { args: 'correlate urls.ndjson --internal fixtures/internal.sql --out case --quiet', code: 0 },
  { args: 'correlate - --internal fixtures/internal.sql --out case --json', code: 0, stdin: 'urls.ndjson' },
  { args: 'correlate fixtures/export/events.ndjson --internal fixtures/internal.sql --out case --max-rejected 0', code: 3 },
  { args: 'inspect fixtures/export/events.ndjson fixtures/export/events-array.json.gz fixtures/export/people.json fixtures/export/ui-export.csv urls.ndjson', code: 0 },
  { args: 'inspect --json fixtures/export/events.ndjson urls.ndjson', code: 0 },
  { args: 'inspect -', code: 0, stdin: 'urls.ndjson' },
  // every list in one format, and every format of the two lists that render notices
  ...LISTS.map((list) => ({ args: `report ${list} --case {case} --format csv`, code: 0 })),
  ...['users', 'roster'].flatMap((list) => ['jsonl', 'json', 'table'].map((format) => ({ args: `report ${list} --case {case} --format ${format}`, code: 0 }))),
  { args: 'report summary --case {case} --format table', code: 0 },
  { args: `report users --case {case} --format mbox ${FROM}`, code: 0 },
  { args: `report roster --case {case} --format mbox ${FROM}`, code: 0 },
  { args: `report users --case {case} --format eml ${FROM} --out notices`, code: 0 },
  { args: `report roster --case {case_b} --format eml ${FROM} --out notices`, code: 0 },
  { args: 'fixtures --out generated --users 50 --orgs 10 --events 500', code: 0 },
  { args: 'fixtures --out generated --users 50 --orgs 10 --events 500 --gzip --json', code: 0 },
  { args: '--help', code: 0 },
  { args: '--version', code: 0 },
  { args: 'report summary --case {case} --format html', code: 0 },
  { args: 'diff {case_b} {case}', code: 0 },
  { args: 'diff {case_b} {case} --list users --format jsonl --exit-code', code: 3 },
  { args: 'ledger add --ledger {dir}/ledger.sqlite {cases}/notices/index.csv', code: 0 },
  { args: 'ledger show --ledger {cases}/ledger.sqlite --format json', code: 0 },
  { args: 'report users --case {case} --ledger {cases}/ledger.sqlite --unsent --format csv', code: 0 },
  { args: 'fixtures --out generated --users 50 --orgs 10 --events 500 --vendor amplitude --id-style text', code: 0 },
  { args: 'inspect generated-ga4/ga4-events.ndjson', code: 0, before: 'fixtures --out generated-ga4 --users 20 --orgs 5 --events 100 --vendor ga4' },
];

describe('no network connection', () => {
  let cases: string;
  /** A fresh directory for one command: `fixtures` (the repo's, linked) and urls.ndjson. */
  function workspace(): string {
    const dir = tempDir();
    symlinkSync(FIXTURES, join(dir, 'fixtures'));
    writeFileSync(
      join(dir, 'urls.ndjson'),
      [
        event({ distinct_id: 'u1', $user_id: '1', $email: 'someone@mail.example', $current_url: 'https://app.example/welcome', $referrer: 'https://evil.example/ping', $initial_referrer: 'http://198.51.100.7:8080/x', $referring_domain: 'evil.example' }),
        event({ distinct_id: 'u2', $avatar: 'https://cdn.example/a.png', $website: 'ftp://files.example/', mp_lib: 'web', $browser: 'Chrome' }),
      ].join('\n') + '\n',
    );
    return dir;
  }
  /** Run a command under the guard, with its own log files; the guard's evidence comes back with the result. */
  async function guarded(args: string[], dir: string, opts: HostileRunOptions = {}): Promise<{ r: RunResult; pid: number; armed: string; attempts: string }> {
    const log = join(dir, 'network-attempts.log');
    const armedLog = join(dir, 'guard-armed.log');
    let pid = 0;
    const r = await run(args, { cwd: dir, nodeArgs: ['--require', preloadHook()], env: { BI_NET_LOG: log, BI_NET_ARMED: armedLog }, onSpawn: (child) => (pid = child.pid ?? 0), ...opts });
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    return { r, pid, armed: read(armedLog), attempts: read(log) };
  }

  beforeAll(async () => {
    cases = workspace();
    for (const [out, exports] of [['case', ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv']], ['case-b', ['events.ndjson']]] as const) {
      const r = await run(['correlate', ...exports.map((f) => join('fixtures', 'export', f)), '--internal', join('fixtures', 'internal.sql'), '--out', out, '--quiet'], { cwd: cases });
      expect(r.code, explainCase({ r })).toBe(0);
    }
    // notices and a ledger for the ledger rows
    for (const args of [['report', 'users', '--case', 'case', '--format', 'eml', ...FROM.split(' '), '--out', 'notices'], ['ledger', 'add', '--ledger', 'ledger.sqlite', join('notices', 'index.csv')]]) {
      const r = await run(args, { cwd: cases });
      expect(r.code, explainCase({ r })).toBe(0);
    }
  });

  it('the guard catches a deliberate connection, name lookup and fetch in a child process, which connects without it', async () => {
    const server = createServer((_req, res) => res.end());
    await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
    let connections = 0;
    server.on('connection', () => connections++);
    const port = (server.address() as AddressInfo).port;
    // named ESM imports, as the tool's own modules use them, and the CommonJS require
    const script = [
      "import { connect } from 'node:net';",
      "import { lookup } from 'node:dns';",
      "import { createRequire } from 'node:module';",
      'const tries = [',
      `  () => new Promise((ok, no) => { const s = connect(${port}, '127.0.0.1', () => { s.end(); ok(); }); s.on('error', no); }),`,
      `  () => new Promise((ok, no) => { const s = createRequire(import.meta.url)('node:net').createConnection(${port}, '127.0.0.1', () => { s.end(); ok(); }); s.on('error', no); }),`,
      "  () => new Promise((ok, no) => lookup('localhost', (e) => (e ? no(e) : ok()))),",
      `  () => fetch('http://127.0.0.1:${port}/').then((r) => r.text()),`,
      '];',
      'let made = 0;',
      'for (const t of tries) { try { await t(); made++; } catch {} }',
      'process.stdout.write(String(made));',
    ].join('\n');
    const dir = tempDir();
    const probe = (nodeArgs: string[], env: Record<string, string>) =>
      new Promise<{ made: string; code: number | null }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
        let made = '';
        child.stdout.on('data', (b: Buffer) => (made += b.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolvePromise({ made, code }));
      });
    try {
      // unguarded, all four get through, and three connections reach the server
      const open = await probe([], {});
      expect(open.made).toBe('4');
      expect(connections).toBe(3);
      const seen = connections;
      const log = join(dir, 'network-attempts.log');
      const armedLog = join(dir, 'guard-armed.log');
      const shut = await probe(['--require', preloadHook()], { BI_NET_LOG: log, BI_NET_ARMED: armedLog });
      expect(shut.code).toBe(0);
      expect(shut.made).toBe('0');
      expect(connections, 'a connection reached the server through the guard').toBe(seen);
      expect(readFileSync(log, 'utf8').split('\n').filter((l) => l !== '')).toEqual(['node:net.connect', 'node:net.createConnection', 'node:dns.lookup', 'fetch']);
      expect(readFileSync(armedLog, 'utf8')).toMatch(/^armed \d+ 0\n$/);
    } finally {
      server.close();
    }
  });

  for (const { args, code, stdin, before } of COMMANDS) it.concurrent(`breach-impact ${args}${stdin ? ` < ${stdin}` : ''}: exit ${code}, the guard loaded, no connection attempted`, async () => {
    const dir = workspace();
    if (before !== undefined) {
      const b = await run(before.split(' '), { cwd: dir });
      expect(b.code, explainCase({ r: b })).toBe(0);
    }
    const argv = args
      .split(' ')
      .map((a) => a.replace('{case_b}', join(cases, 'case-b')).replace('{case}', join(cases, 'case')).replace('{cases}', cases).replace('{dir}', dir));
    const { r, pid, armed, attempts } = await guarded(argv, dir, stdin ? { input: readFileSync(join(dir, stdin)) } : {});
    expect(r.code, explainCase({ r })).toBe(code);
    expect(r.signal, explainCase({ r })).toBeNull();
    expect(armed.split('\n'), `the guard was not loaded into the command's process\n${explainCase({ r })}`).toContain(`armed ${pid} 0`);
    expect(attempts, explainCase({ r })).toBe('');
  });

  function setup() {
    const dir = tempDir();
    writeFileSync(join(dir, 'e.ndjson'), [event({ distinct_id: 'a', $user_id: '1', $email: 'a@example.com' }), event({ distinct_id: 'b', $referrer: 'https://evil.example/ping' })].join('\n') + '\n');
    writeInternalDb(join(dir, 'internal.sqlite'), { idType: 'TEXT', users: [['1', 'a@example.com', 'A']], orgs: [['o', 'O']], memberships: [['1', 'o', 'admin']] });
    return dir;
  }
  const expected = { code: 0, records: { read: 2, accepted: 2, rejected: 0, filtered: 0, duplicates: 0 }, rejected: [] as [string, number, string][] };

  const netns = ['unshare -n', 'unshare -rn'].map((c) => c.split(' ')).find((c) => works([...c, 'true']));
  it.skipIf(!netns)('correlates inside an empty network namespace exactly as outside it (needs unshare -n)', async () => {
    const dir = setup();
    const outside = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite', out: 'outside' });
    const inside = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite', out: 'inside', wrap: netns });
    expectCase(outside, expected);
    expectCase(inside, expected);
    for (const f of CASE_FILES.filter((f) => f !== 'manifest.json')) expect(readFileSync(join(inside.out, f)).equals(readFileSync(join(outside.out, f))), f).toBe(true);
    const r = await run(['report', 'users', '--case', inside.out, '--format', 'mbox', '--from', 'security@example.com'], { cwd: dir, wrap: netns });
    expect(r.code, explainCase({ r })).toBe(0);
  });

  const strace = works(['strace', '-f', '-o', '/dev/null', 'true']);
  it.skipIf(!strace)('makes no socket(2) of any internet family, as strace sees it (needs strace)', async () => {
    const dir = setup();
    const trace = join(dir, 'trace.txt');
    const c = await correlateIn(dir, ['e.ndjson'], { internal: 'internal.sqlite', wrap: ['strace', '-f', '-qq', '-e', 'trace=socket,connect', '-o', trace] });
    expectCase(c, expected);
    const calls = readFileSync(trace, 'utf8').split('\n').filter((l) => /socket\(|connect\(/.test(l));
    // AF_NETLINK is nodemailer listing the network interfaces when it loads (no traffic): see the README's Guarantees
    expect(calls.filter((l) => /AF_INET|AF_INET6|AF_PACKET/.test(l) || (/connect\(/.test(l) && !/AF_UNIX/.test(l)))).toEqual([]);
  });
});
