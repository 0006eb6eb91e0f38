/**
 * JSONTestSuite through the real binary: every single-line `n_` file placed between valid NDJSON
 * lines is rejected at its exact line while every neighbour is accepted. Needs ../shared/corpus.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { corpusList, describeCorpus, explain, FIXTURES, runCli, tempDir } from './helpers.js';

const SUITE = join('JSONTestSuite', 'test_parsing');

/** The file's bytes as one NDJSON line, or undefined if it cannot be one (embedded CR/LF, or blank). */
function asLine(bytes: Buffer): Buffer | undefined {
  const body = bytes.at(-1) === 0x0a ? bytes.subarray(0, -1) : bytes;
  if (body.includes(0x0a) || body.includes(0x0d)) return undefined;
  if (/^[ \t]*$/.test(body.toString('latin1'))) return undefined; // a blank line is no record
  return body;
}

describeCorpus('JSONTestSuite n_ files as NDJSON lines', (corpusFile) => {
  it('rejects exactly the n_ lines, at their line numbers, and accepts every neighbour', async () => {
    const names = corpusList(SUITE, (f) => f.startsWith('n_'));
    const parts: Buffer[] = [];
    const expected: { name: string; line: number }[] = [];
    let line = 0;
    const valid = (i: number) => Buffer.from(JSON.stringify({ event: 'ok', properties: { distinct_id: `ok-${i}`, $insert_id: `ok-${i}`, time: 1762000000 } }));
    for (const name of names) {
      const body = asLine(readFileSync(corpusFile(SUITE, name)));
      if (body === undefined) continue;
      parts.push(valid(line), Buffer.from('\n'));
      line++;
      parts.push(body, Buffer.from('\n'));
      line++;
      expected.push({ name, line });
    }
    parts.push(valid(line), Buffer.from('\n'));
    line++;
    expect(expected.length).toBeGreaterThan(150);
    const dir = tempDir();
    writeFileSync(join(dir, 'suite.ndjson'), Buffer.concat(parts));
    const r = await runCli(['correlate', 'suite.ndjson', '--vendor', 'mixpanel-events', '--internal', join(FIXTURES, 'internal.sql'), '--out', 'case', '--json'], { cwd: dir });
    expect(r.code, explain(r)).toBe(0);
    const s = JSON.parse(r.stdout);
    const rows = readFileSync(join(dir, 'case', 'rejected.csv'), 'utf8').trim().split('\n').slice(1);
    const rejectedLines = rows.map((row) => Number(row.split(',')[1]));
    expect(rejectedLines).toEqual(expected.map((e) => e.line));
    for (const row of rows) expect(row).toMatch(/^suite\.ndjson,\d+,(invalid_json|not_an_object),/);
    expect(s.records).toEqual({ read: line, accepted: line - expected.length, rejected: expected.length, filtered: 0, duplicates: 0 });
  });
});
