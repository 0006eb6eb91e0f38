/**
 * Huge records: a 50 MiB single line (NDJSON), array element (JSON), unquoted field and quoted
 * multi-line field (CSV) are each rejected as record_too_large at their line, their neighbours
 * kept, and never buffered whole. The child's peak RSS is measured by a preload hook. The read
 * buffers a run drops are freed lazily by V8 (tens of MiB of garbage under CPU load), so the
 * bound asserted is one that does not depend on the record: the same ceiling for 50 MiB records
 * and for a 200 MiB line, which is well below that line's size (holding it would cost 200 MiB).
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { correlateIn, event, expectCase, preloadHook, tempDir, type CaseRun } from './lib.js';

const MiB = 1024 * 1024;

/** Write `head`, then `size` bytes of `fill` (in 1 MiB pieces), then `tail`. */
function writeHuge(path: string, head: string, size: number, fill: string, tail: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    const piece = Buffer.alloc(MiB, fill);
    for (let left = size; left > 0; left -= MiB) writeSync(fd, piece, 0, Math.min(MiB, left));
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
  }
}

describe('a 50 MiB record', () => {
  let dir: string;
  const peak = async (exports: string[], out: string): Promise<{ c: CaseRun; kib: number }> => {
    const rss = join(dir, `${out}.rss`);
    const c = await correlateIn(dir, exports, { out, nodeArgs: ['--require', preloadHook()], env: { BI_RSS_OUT: rss }, timeoutMs: 60_000 });
    return { c, kib: Number(readFileSync(rss, 'utf8')) };
  };
  const ok = (id: string) => event({ distinct_id: id, $insert_id: id });

  beforeAll(() => {
    dir = tempDir();
    const size = 50 * MiB;
    writeHuge(join(dir, 'line.ndjson'), `${ok('n1')}\n{"event":"e","properties":{"distinct_id":"big","pad":"`, size, 'x', `"}}\n${ok('n2')}\n`);
    writeHuge(join(dir, 'element.json'), `[${ok('j1')},\n{"event":"e","properties":{"distinct_id":"big","pad":"`, size, 'y', `"}},\n${ok('j2')}]\n`);
    writeHuge(join(dir, 'field.csv'), 'distinct_id,pad\nc1,short\nbig,', size, 'z', '\nc2,short\n');
    // a quoted field of 50 MiB that spans 25 Mi lines: rejected at the line it starts on
    writeHuge(join(dir, 'quoted.csv'), 'distinct_id,pad\nq1,short\nbig,"', size, '\n', '"\nq2,short\n');
    writeHuge(join(dir, 'line200.ndjson'), `${ok('m1')}\n{"event":"e","properties":{"distinct_id":"big","pad":"`, 200 * MiB, 'x', `"}}\n${ok('m2')}\n`);
    const small = [ok('n1'), ok('n2')].join('\n') + '\n';
    writeHuge(join(dir, 'small.ndjson'), small, 0, 'x', '');
  });

  // 500 MiB of inputs: not left behind in the temporary directory
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is rejected as record_too_large at its line in NDJSON, JSON and CSV, never buffered whole', async () => {
    const base = await peak(['small.ndjson'], 'baseline');
    expect(base.c.r.code).toBe(0);
    const big = await peak(['line.ndjson', 'element.json', 'field.csv', 'quoted.csv'], 'big');
    expectCase(big.c, {
      code: 0,
      records: { read: 12, accepted: 8, rejected: 4, filtered: 0, duplicates: 0 },
      rejected: [
        ['line.ndjson', 2, 'record_too_large'],
        ['element.json', 2, 'record_too_large'],
        ['field.csv', 3, 'record_too_large'],
        ['quoted.csv', 3, 'record_too_large'],
      ],
    });
    const CEILING = 96; // MiB over the baseline, whatever the record's size
    const grew = (big.kib - base.kib) / 1024;
    expect(grew, `four 50 MiB records: peak RSS grew by ${grew.toFixed(1)} MiB over a ${(base.kib / 1024).toFixed(1)} MiB baseline`).toBeLessThan(CEILING);

    const bigger = await peak(['line200.ndjson'], 'bigger');
    expectCase(bigger.c, { code: 0, records: { read: 3, accepted: 2, rejected: 1, filtered: 0, duplicates: 0 }, rejected: [['line200.ndjson', 2, 'record_too_large']] });
    const grew200 = (bigger.kib - base.kib) / 1024;
    expect(grew200, `a 200 MiB line: peak RSS grew by ${grew200.toFixed(1)} MiB`).toBeLessThan(CEILING);
  });
});
