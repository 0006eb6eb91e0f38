/** inspect on the bundled fixtures: whole output against golden files, and never a value. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explain, ROOT, runCli, tempDir } from './helpers.js';

const GOLDEN = join(ROOT, 'test', 'golden', 'inspect');
const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));

function golden(name: string, text: string): string {
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(join(GOLDEN, name), text);
  }
  return readFileSync(join(GOLDEN, name), 'utf8');
}

describe('inspect', () => {
  it('profiles every fixture shape, as the golden text', async () => {
    const r = await runCli(['inspect', ...EXPORTS]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe(golden('fixtures.txt', r.stdout));
    expect(r.stderr).toBe('');
  });

  it('profiles as JSON with --json', async () => {
    const r = await runCli(['inspect', '--json', ...EXPORTS]);
    expect(r.code, explain(r)).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(r.stdout).toBe(golden('fixtures.json', r.stdout));
    expect(j.files.map((f: { records: number; usable: number; rejected: number }) => [f.records, f.usable, f.rejected])).toEqual([
      [19, 15, 4],
      [5, 4, 1],
      [3, 3, 0],
      [5, 3, 2],
    ]);
  });

  it('prints no personal value from the export', async () => {
    const r = await runCli(['inspect', ...EXPORTS]);
    const everything = r.stdout + r.stderr;
    for (const value of ['alice@example.com', 'Bob@Example.COM', 'Alice Archer', 'San Francisco', '203.0.113.9', 'sk-proj-', 'Bearer', 'stranger', 'u-alice', 'Carol Cooper']) {
      expect(everything, value).not.toContain(value);
    }
  });

  it('exits 1 when a file cannot be read to its end, and 2 on a missing file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cut.csv'), 'distinct_id,email\na,"unclosed\n');
    const cut = await runCli(['inspect', 'cut.csv'], { cwd: dir });
    expect(cut.code, explain(cut)).toBe(1);
    expect(cut.stdout).toMatch(/INCOMPLETE/);
    expect(cut.stdout).toMatch(/unclosed_quote 1/);
    const missing = await runCli(['inspect', 'nope.csv'], { cwd: dir });
    expect(missing.code, explain(missing)).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv/);
  });
});
