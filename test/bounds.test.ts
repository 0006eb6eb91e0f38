/**
 * scripts/bounds.mjs (the measurements behind docs/performance.md's "what the targets need"), run
 * on a small generated workload: that it still runs against the built reader, and that each step
 * saw every line and every row. Its timings are printed, never checked.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, tempDir } from './helpers.js';

const SCRIPT = join(ROOT, 'scripts', 'bounds.mjs');

function bounds(args: string[]): Record<string, unknown>[] {
  return execFileSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('scripts/bounds.mjs', () => {
  it('parses every line on one thread and on the workers, reads the first --lines records step by step, and scans every internal row', () => {
    const dir = tempDir();
    const made = JSON.parse(
      execFileSync(process.execPath, [BIN, 'fixtures', '--out', dir, '--events', '3000', '--users', '800', '--orgs', '100', '--seed', 'bounds', '--id-style', 'text', '--no-indexes', '--json'], { encoding: 'utf8' }),
    ) as { lines: number; users: number; orgs: number; memberships: number };
    const events = join(dir, 'events.ndjson');
    const [floor, parse, record, internal] = bounds([events, join(dir, 'internal.sqlite'), '--lines', '1000', '--threads', '3']);
    expect(floor).toMatchObject({ step: 'floor', lines: made.lines });
    expect(parse).toMatchObject({ step: 'parse', threads: 3, lines: made.lines });
    expect(record).toMatchObject({ step: 'record', lines: 1000 });
    const micro = record.microseconds as Record<string, number>;
    expect(Object.keys(micro)).toEqual(['parse', 'canonical', 'window', 'dedupe']);
    for (const v of Object.values(micro)) expect(v).toBeGreaterThan(0);
    expect(internal).toMatchObject({ step: 'internal', users: { rows: made.users }, memberships: { rows: made.memberships }, orgs: { rows: made.orgs } });
    for (const step of [floor, parse]) expect(step.seconds).toBeGreaterThan(0);

    // a last line without its line end is parsed too
    const cut = join(dir, 'cut.ndjson');
    writeFileSync(cut, readFileSync(events, 'utf8').split('\n').slice(0, 10).join('\n'));
    const [floorCut, parseCut] = bounds([cut, join(dir, 'internal.sqlite'), '--lines', '5']);
    expect([floorCut.lines, parseCut.lines]).toEqual([10, 10]);
  });

  it('says how it is run, and exits 2, without its two files', () => {
    let failure: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [SCRIPT, 'only-one-file'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr).toMatch(/^usage: node scripts\/bounds\.mjs EVENTS\.ndjson INTERNAL\.sqlite/);
  });
});
