/**
 * `breach-impact fixtures`: deterministic bytes, the requested sizes, and a correlate run over a
 * generated set that reproduces exactly what the generator says it planted.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { explain, runCli, tempDir } from './helpers.js';

const SMALL = ['--users', '2000', '--orgs', '400', '--events', '20000'];

async function fixtures(args: string[]) {
  const out = join(tempDir(), 'fx');
  const r = await runCli(['fixtures', '--out', out, '--json', ...args]);
  expect(r.code, explain(r)).toBe(0);
  return { out, planted: JSON.parse(r.stdout), r };
}

describe('fixtures', () => {
  it('gives byte-identical files for the same arguments, and other bytes for another seed', async () => {
    const a = await fixtures(SMALL);
    const b = await fixtures(SMALL);
    const c = await fixtures([...SMALL, '--seed', '2']);
    expect(readdirSync(a.out).sort()).toEqual(['events.ndjson', 'internal.sqlite']);
    for (const f of ['events.ndjson', 'internal.sqlite']) {
      expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(true);
      expect(readFileSync(join(c.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(false);
      expect(statSync(join(a.out, f)).mode & 0o777, f).toBe(0o600);
    }
    expect(b.planted).toEqual(a.planted);
    expect(a.r.stderr).toBe('');
  });

  it('writes the requested counts, with every planted oddity', async () => {
    const { out, planted } = await fixtures(SMALL);
    const lines = readFileSync(join(out, 'events.ndjson'), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(20000);
    expect(planted.lines).toBe(20000);
    const bad = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(bad.length).toBe(planted.malformed);
    expect(planted.malformed).toBe(2);
    const ids = lines.filter((l) => !bad.includes(l)).map((l) => JSON.parse(l).properties.$insert_id as string);
    expect(ids.length - new Set(ids).size).toBe(planted.duplicates);
    expect(planted.duplicates).toBeGreaterThan(0);
    expect(planted.secrets).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('"distinct_id":"$device:'))).toBe(true);
    expect(lines.some((l) => /"\$email":"\s+\S+@/.test(l))).toBe(true);

    const db = new Database(join(out, 'internal.sqlite'), { readonly: true });
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect(count('users')).toBe(2000);
    expect(count('orgs')).toBe(400);
    expect(count('memberships')).toBe(planted.memberships);
    const roles = db.prepare("SELECT org_id, sum(role IN ('owner', 'admin')) AS admins FROM memberships GROUP BY org_id").all() as { admins: number }[];
    expect(new Set(roles.map((r) => Math.min(r.admins, 3)))).toEqual(new Set([0, 1, 2, 3]));
    const multi = db.prepare('SELECT count(*) AS n FROM (SELECT user_id FROM memberships GROUP BY user_id HAVING count(*) > 1)').get() as { n: number };
    expect(multi.n).toBeGreaterThan(0);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index'").get()).toEqual({ n: 3 });
    db.close();
  });

  it('gzips the same export with --gzip', async () => {
    const plain = await fixtures(['--users', '300', '--orgs', '50', '--events', '3000']);
    const gz = await fixtures(['--users', '300', '--orgs', '50', '--events', '3000', '--gzip']);
    expect(readdirSync(gz.out).sort()).toEqual(['events.ndjson.gz', 'internal.sqlite']);
    expect(gunzipSync(readFileSync(join(gz.out, 'events.ndjson.gz'))).equals(readFileSync(join(plain.out, 'events.ndjson')))).toBe(true);
  });

  it('correlates to exactly what was planted', async () => {
    const { out, planted } = await fixtures(SMALL);
    const caseDir = join(tempDir(), 'case');
    const r = await runCli(['correlate', join(out, 'events.ndjson'), '--internal', join(out, 'internal.sqlite'), '--out', caseDir]);
    expect(r.code, explain(r)).toBe(0);
    const s = JSON.parse(readFileSync(join(caseDir, 'summary.json'), 'utf8'));
    const c = s.records;
    expect(c.read).toBe(c.accepted + c.rejected + c.filtered + c.duplicates);
    expect(c).toEqual({ read: planted.lines, accepted: planted.accepted, rejected: planted.malformed, filtered: 0, duplicates: planted.duplicates });
    expect(s.identities.vendor).toBe(planted.identities);
    expect(s.matched_by).toEqual(planted.matched_by);
    expect(s.unmatched_by_reason).toEqual(planted.unmatched_by_reason);
    for (const n of [...Object.values(planted.matched_by), ...Object.values(planted.unmatched_by_reason)]) expect(n).toBeGreaterThan(0);
    expect(s.users).toBe(planted.affected_users);
    expect(s.orgs_without_admin).toBeGreaterThan(0);
    expect(s.exposed.secret).toBeGreaterThan(0);
    // Credentials planted in URLs are flagged, never stored.
    const tokens = readFileSync(join(out, 'events.ndjson'), 'utf8').match(/(?:access_token=|sk-proj-|password=)[A-Za-z0-9]{8,}/g) ?? [];
    expect(tokens.length).toBeGreaterThan(0);
    for (const f of readdirSync(caseDir)) {
      const text = readFileSync(join(caseDir, f)).toString('latin1');
      for (const t of tokens) expect(text.includes(t.split(/=|sk-proj-/)[1]), `${f} holds a planted credential`).toBe(false);
    }
    const rejected = readFileSync(join(caseDir, 'rejected.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rejected.map((l) => l.split(',').slice(1, 3).join(','))).toEqual(['5001,invalid_json', '15001,invalid_json']);
  });

  it('refuses sizes that are not counts, and has an example in --help', async () => {
    const r = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--users', 'many']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/--users many is not a whole number/);
    const z = await runCli(['fixtures', '--out', join(tempDir(), 'x'), '--orgs', '0']);
    expect(z.code, explain(z)).toBe(2);
    const h = await runCli(['fixtures', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/Example:\n {2}breach-impact fixtures --out/);
  });
});
