/**
 * Parallel NDJSON reading (worker threads) against the single-threaded path: the case directory
 * must be byte-identical — every list, summary.json and case.sqlite — on the bundled fixtures,
 * on an export with every line-level edge case, and on a generated set.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { explain, FIXTURES, runCli, tempDir } from './helpers.js';

/** Tiny batches: every few lines go to another worker, and batches outnumber the workers. */
const PARALLEL = { BREACH_IMPACT_THREADS: '2', BREACH_IMPACT_BATCH_BYTES: '700' };
/**
 * More workers than cores here: the order results are applied in must not depend on who finishes
 * first. And each aggregation window is handed on once it holds 2 identities.
 */
const PARALLEL_3 = { BREACH_IMPACT_THREADS: '3', BREACH_IMPACT_BATCH_BYTES: '700', BREACH_IMPACT_WINDOW_KEYS: '2' };
const SINGLE = { BREACH_IMPACT_THREADS: '1' };

async function both(args: string[], cwd: string) {
  const runs = [];
  for (const [name, env] of [['single', SINGLE], ['parallel', PARALLEL], ['parallel3', PARALLEL_3]] as const) {
    const out = join(cwd, `case-${name}`);
    const r = await runCli(['correlate', ...args, '--out', out], { cwd, env });
    runs.push({ name, out, r });
  }
  const [a, ...others] = runs;
  const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).inputs;
  const files = readdirSync(a.out).filter((f) => f !== 'manifest.json').sort();
  expect(files).toContain('case.sqlite');
  for (const b of others) {
    expect(b.r.code, explain(b.r)).toBe(a.r.code);
    expect(b.r.stdout.replaceAll(`case-${b.name}`, 'case-single')).toBe(a.r.stdout);
    expect(b.r.stderr).toBe(a.r.stderr);
    expect(readdirSync(b.out).filter((f) => f !== 'manifest.json').sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), `${b.name}: ${f}`).toBe(true);
    expect(manifest(b.out)).toEqual(manifest(a.out));
  }
  return { summary: JSON.parse(readFileSync(join(a.out, 'summary.json'), 'utf8')), code: a.r.code };
}

function edgeCaseExport(): Buffer {
  const ev = (id: string, props: Record<string, unknown>) => JSON.stringify({ event: 'e', properties: { time: 1762000000, $insert_id: id, ...props } });
  const lines: (string | Buffer)[] = [
    '\uFEFF' + ev('a1', { distinct_id: 'u-1', $user_id: '1', $email: 'alice@example.com' }),
    '',
    '   ',
    ev('a1', { distinct_id: 'u-1', $user_id: '1' }), // duplicate
    ev('a2', { distinct_id: 'u-1', mp_country_code: 'US', $region: 'California', $current_url: 'https://x.example/cb?access_token=abcdefghijklmnop' }),
    '{"event":"e","properties":{"distinct_id":"anon-bob","$insert_id":"a3","$email":"  Bob@Example.COM ","time":1762100000}}',
    '{"event":"e","properties":{"distinct_id":9007199254740993,"$insert_id":"a4","time":1.0}}',
    '{"event":"e","properties":{"distinct_id":"x","__proto__":{"$user_id":"2"},"$insert_id":"a5","time":"2025-11-09T14:03:22Z"}}',
    '{"event":"e","properties":{"distinct_id":"\\ud800lone","$insert_id":"a6","time":1762000001}}',
    Buffer.concat([Buffer.from('{"event":"e","properties":{"distinct_id":"bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('utf8","$insert_id":"a7"}}')]),
    '{"results":[{"$distinct_id":"p-1","$properties":{"$email":"carol@example.com","$last_seen":"2025-11-05T10:00:00"}},42,{"$distinct_id":"p-2"}]}',
    '[1,2,3]',
    '{"event":"e","properties":{"time":1762000002}}', // no identity
    '{"event":"e","properties":{"distinct_id":"t","time":"yesterday"}}', // bad time
    '{"event":"e","properties":{"distinct_id":"t","time":1500000000,"$insert_id":"old"}}', // filtered
    '{"event":"e","properties":{"distinct_id":"u-1","$insert_id":"a8"', // truncated
    '{"event":"e","properties":{"distinct_id":"big","pad":"' + 'x'.repeat(1024 * 1024 + 10) + '"}}', // oversize
    '{"event":"e","properties":{"distinct_id":"dev:1","$device_id":"d-1","$insert_id":"a9","time":1762000003}}',
    '{"event":"e","properties":{"distinct_id":"5","$user_id":"5","$device_id":"d-1","$insert_id":"a10","org_id":[100,"100",300],"time":1762000004}}',
  ];
  const parts: Buffer[] = [];
  const ends = ['\n', '\r\n', '\r', '\n'];
  lines.forEach((l, i) => parts.push(Buffer.isBuffer(l) ? l : Buffer.from(l), Buffer.from(ends[i % ends.length])));
  parts.push(Buffer.from(JSON.stringify({ event: 'e', properties: { distinct_id: 'last', $insert_id: 'z', time: 1762000005 } }))); // no final newline
  return Buffer.concat(parts);
}

describe('parallel parsing gives byte-identical case directories', () => {
  it('on the bundled fixtures', async () => {
    const cwd = tempDir();
    const exports = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join(FIXTURES, 'export', f));
    const { summary } = await both([...exports, '--internal', join(FIXTURES, 'internal.sql'), '--since', '2025-11-01', '--until', '2025-12-01'], cwd);
    expect(summary.records.read).toBeGreaterThan(20);
  });

  it('on every line-level edge case, across files, gzip and a truncated gzip', async () => {
    const cwd = tempDir();
    const edge = edgeCaseExport();
    writeFileSync(join(cwd, 'edge.ndjson'), edge);
    writeFileSync(join(cwd, 'edge.ndjson.gz'), gzipSync(edge));
    const gz = gzipSync(Buffer.concat(Array.from({ length: 200 }, () => edge)));
    writeFileSync(join(cwd, 'cut.ndjson.gz'), gz.subarray(0, Math.floor(gz.length * 0.7)));
    const { summary, code } = await both(['edge.ndjson', 'edge.ndjson.gz', 'cut.ndjson.gz', '--internal', join(FIXTURES, 'internal.sql'), '--since', '2025-01-01'], cwd);
    expect(code).toBe(1);
    expect(summary.complete).toBe(false);
    const r = summary.records;
    expect(r.read).toBe(r.accepted + r.rejected + r.filtered + r.duplicates);
    expect(r.filtered).toBeGreaterThan(0);
    expect(r.duplicates).toBeGreaterThan(0);
    expect(summary.encoding_errors).toBeGreaterThan(0);
  });

  it('on a generated set', async () => {
    const cwd = tempDir();
    const fx = await runCli(['fixtures', '--out', 'fx', '--users', '3000', '--orgs', '500', '--events', '30000'], { cwd });
    expect(fx.code, explain(fx)).toBe(0);
    const { summary } = await both(['fx/events.ndjson', '--internal', 'fx/internal.sqlite'], cwd);
    expect(summary.records.read).toBe(30000);
  });
});
