/** inspect on the bundled fixtures: whole output against golden files, and never a value. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectGolden, explain, HEADERLESS_WARNING, ROOT, runCli, tempDir } from './helpers.js';

const GOLDEN = join(ROOT, 'test', 'golden', 'inspect');
const EXPORTS = ['events.ndjson', 'events-array.json.gz', 'people.json', 'ui-export.csv'].map((f) => join('fixtures', 'export', f));

describe('inspect', () => {
  it('profiles every fixture shape, as the golden text', async () => {
    const r = await runCli(['inspect', ...EXPORTS]);
    expect(r.code, explain(r)).toBe(0);
    expectGolden(GOLDEN, 'fixtures.txt', r.stdout);
    expect(r.stderr).toBe('');
  });

  it('profiles as JSON with --json', async () => {
    const r = await runCli(['inspect', '--json', ...EXPORTS]);
    expect(r.code, explain(r)).toBe(0);
    const j = JSON.parse(r.stdout);
    expectGolden(GOLDEN, 'fixtures.json', r.stdout);
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

  it('numbers the columns of a CSV whose first row may be data (no header row), never printing that row', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'headerless.csv'), 'alice@example.com,Alice Archer,u-77\nbob@example.com,Bob Baker,u-78\n');
    // the responder maps the id column by the value they saw in it
    const r = await runCli(['inspect', '--json', 'headerless.csv', '--column', 'user_id=u-77'], { cwd: dir });
    expect(r.code, explain(r)).toBe(0);
    const f = JSON.parse(r.stdout).files[0];
    expect(f.keys).toEqual([
      { key: 'column 1', filled: 1, fill_rate: 1, field: null, fields: [], exposure: [] },
      { key: 'column 2', filled: 1, fill_rate: 1, field: null, fields: [], exposure: [] },
      { key: 'column 3', filled: 1, fill_rate: 1, field: 'user_id', fields: ['user_id'], exposure: ['ids'] },
    ]);
    // mapped by a value, the reader does not warn; inspect says why the columns are numbered
    expect(r.stderr).toBe("breach-impact: warning: headerless.csv: columns are shown by number: no name in the CSV's first row is a column this tool knows by default, and a --column name may be a value copied from that row\n");
    for (const value of ['alice', 'Alice Archer', 'u-77']) expect(r.stdout, value).not.toContain(value);
    // without --column: the reader's warning, once
    const plain = await runCli(['inspect', 'headerless.csv'], { cwd: dir });
    expect(plain.code, explain(plain)).toBe(0);
    expect(plain.stderr).toBe(`breach-impact: warning: ${HEADERLESS_WARNING('headerless.csv')}\n`);
    for (const value of ['alice', 'Alice Archer', 'u-77']) expect(plain.stdout + plain.stderr, value).not.toContain(value);
    // a header with one known name is a header: its other names are shown as paths (masked where personal)
    writeFileSync(join(dir, 'header.csv'), 'distinct_id,Plan Tier,carol@example.com\nd1,gold,x\n');
    const h = await runCli(['inspect', '--json', 'header.csv'], { cwd: dir });
    expect(h.code, explain(h)).toBe(0);
    expect(JSON.parse(h.stdout).files[0].keys.map((k: { key: string }) => k.key)).toEqual(['Plan Tier', '["[email]"]', 'distinct_id']);
    expect(h.stderr).toBe('');
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
