/**
 * Huge records: a 50 MiB single line (NDJSON), array element (JSON), unquoted field and quoted
 * multi-line field (CSV) are each rejected as record_too_large at their line, their neighbours
 * kept, and never buffered whole: the child's peak RSS (measured by a preload hook) stays below a
 * baseline run plus the line's size, and does not grow when the line triples.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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
    writeHuge(join(dir, 'line150.ndjson'), `${ok('m1')}\n{"event":"e","properties":{"distinct_id":"big","pad":"`, 150 * MiB, 'x', `"}}\n${ok('m2')}\n`);
    const small = [ok('n1'), ok('n2')].join('\n') + '\n';
    writeHuge(join(dir, 'small.ndjson'), small, 0, 'x', '');
  });

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
    const grew = (big.kib - base.kib) / 1024;
    // holding any one of these records whole would cost at least 50 MiB more than the baseline
    expect(grew, `peak RSS grew by ${grew.toFixed(1)} MiB over a ${(base.kib / 1024).toFixed(1)} MiB baseline`).toBeLessThan(50);

    const bigger = await peak(['line150.ndjson'], 'bigger');
    expectCase(bigger.c, { code: 0, records: { read: 3, accepted: 2, rejected: 1, filtered: 0, duplicates: 0 }, rejected: [['line150.ndjson', 2, 'record_too_large']] });
    // three times the line, no more memory: the cost is bounded, not proportional
    const more = (bigger.kib - big.kib) / 1024;
    expect(more, `a 150 MiB line peaked ${more.toFixed(1)} MiB above the 50 MiB ones`).toBeLessThan(16);
  });
});
