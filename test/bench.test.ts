/**
 * The pure parts of `npm run bench` (scripts/bench-lib.mjs): sizes and shapes, medians, the
 * ratio and the targets' verdicts, the table, and the rewrite of the bench's section of
 * docs/performance.md. No benchmark runs here and nothing depends on timings: the runs are
 * made-up numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';
// @ts-expect-error: a plain ESM script without type declarations
import * as lib from '../scripts/bench-lib.mjs';

type Run = { wall: number; cpu: number; rss: number };
const runs = (walls: number[], rss = 300, cpu = 1): Run[] => walls.map((wall) => ({ wall, cpu, rss }));

describe('bench sizes and shapes', () => {
  it('reads sizes as events and names them back', () => {
    expect(['1m', '5M', '200k', '1500', '0.5m'].map(lib.parseSize)).toEqual([1_000_000, 5_000_000, 200_000, 1500, 500_000]);
    expect([1_000_000, 5_000_000, 200_000, 1500].map(lib.sizeLabel)).toEqual(['1M', '5M', '200k', '1,500']);
    for (const bad of ['', 'm', '1g', '-1m', '0']) expect(() => lib.parseSize(bad), bad).toThrow(/BENCH_SIZES/);
  });

  it('reads BENCH_SHAPES in order, once each, and refuses unknown shapes', () => {
    expect(lib.parseShapes('integer,text')).toEqual(['integer', 'text']);
    expect(lib.parseShapes(' text , integer,text ')).toEqual(['text', 'integer']);
    expect(() => lib.parseShapes('integer,uuid')).toThrow(/uuid is not a shape/);
    expect(() => lib.parseShapes(' , ')).toThrow(/names no shape/);
    expect(() => lib.parseShapes('toString')).toThrow(/not a shape/);
  });

  it('makes the text shape with the fixtures options of issue 25 and the integer shape with the defaults', () => {
    expect(lib.SHAPES.integer.args).toEqual([]);
    expect(lib.SHAPES.text.args).toEqual(['--id-style', 'text', '--no-indexes']);
  });
});

describe('bench threads', () => {
  const help = (options: string) => `Usage: breach-impact correlate [options] <export...>\n\nOptions:\n  --internal <db>         internal database\n${options}  -h, --help              display help for command\n`;

  it('passes BENCH_THREADS as --threads when correlate --help lists it', () => {
    expect(lib.threadsFor('2', help('  --threads <n>           worker threads (default: one per core)\n'))).toEqual({ args: ['--threads', '2'], env: {}, label: '`--threads 2`' });
  });

  it('falls back to BREACH_IMPACT_THREADS when it does not, even if a description mentions threads', () => {
    const fallback = { args: [], env: { BREACH_IMPACT_THREADS: '1' }, label: '`BREACH_IMPACT_THREADS=1`' };
    expect(lib.threadsFor('1', help(''))).toEqual(fallback);
    expect(lib.threadsFor('1', help('  --quiet                 no progress (see --threads of the reader)\n'))).toEqual(fallback);
  });

  it('passes nothing when BENCH_THREADS is unset and refuses what is not a thread count', () => {
    expect(lib.threadsFor(undefined, '')).toEqual({ args: [], env: {}, label: '' });
    for (const bad of ['0', 'two', '-1', '1.5']) expect(() => lib.threadsFor(bad, help('')), bad).toThrow(/BENCH_THREADS/);
  });
});

describe('bench medians and targets', () => {
  it('takes the median of odd and even counts without reordering its input', () => {
    const xs = [3, 1, 2];
    expect(lib.median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    expect(lib.median([4, 1, 3, 2])).toBe(2.5);
    expect(lib.median([7])).toBe(7);
    expect(() => lib.median([])).toThrow();
  });

  it('divides the median correlate time by the median floor, not run by run', () => {
    const row = lib.summarize(1_000_000, 'integer', runs([2, 10, 4]), runs([30, 9, 12], 0).map((r, i) => ({ ...r, rss: [410, 380, 395][i], cpu: [50, 20, 30][i] })));
    expect(row.floor).toBe(4);
    expect(row.correlate).toBe(12);
    expect(row.ratio).toBe(3);
    expect(row.cpu).toBe(30);
    expect(row.rss).toBe(395);
    expect(row.runs).toEqual({ floor: [2, 10, 4], correlate: [30, 9, 12], rss: [410, 380, 395] });
  });

  it('passes 1M at exactly 3.0× and 400 MB and fails just above, on either target alone', () => {
    const at = (ratio: number, rss: number) => lib.verdict({ events: 1_000_000, shape: 'text', ratio, rss });
    expect(at(3.0, 400)).toMatchObject({ ratio: { limit: 3, pass: true }, rss: { limit: 400, pass: true } });
    expect(at(3.01, 400)).toMatchObject({ ratio: { pass: false }, rss: { pass: true } });
    expect(at(2.5, 400.5)).toMatchObject({ ratio: { pass: true }, rss: { pass: false } });
  });

  it('holds 5M to 1.5× and its peak to 1.2× the same shape’s 1M peak, never above 480 MB', () => {
    const oneM = [
      { events: 1_000_000, shape: 'integer', ratio: 2, rss: 300 },
      { events: 1_000_000, shape: 'text', ratio: 2, rss: 450 },
    ];
    const five = (shape: string, ratio: number, rss: number) => ({ events: 5_000_000, shape, ratio, rss });
    expect(lib.verdict(five('integer', 1.5, 360), oneM)).toMatchObject({ ratio: { limit: 1.5, pass: true }, rss: { limit: 360, pass: true } });
    expect(lib.verdict(five('integer', 1.6, 361), oneM)).toMatchObject({ ratio: { pass: false }, rss: { pass: false } });
    // the text 1M peak is over its own target: 1.2× of it would allow 540 MB
    expect(lib.verdict(five('text', 1.0, 500), oneM)).toMatchObject({ rss: { limit: 480, pass: false } });
    // no 1M row in this run: the cap alone
    expect(lib.verdict(five('integer', 1.0, 470), [])).toMatchObject({ rss: { limit: 480, pass: true } });
  });

  it('sets no target for other sizes', () => {
    expect(lib.verdict({ events: 200_000, shape: 'integer', ratio: 99, rss: 9999 })).toEqual({ ratio: undefined, rss: undefined });
  });
});

describe('bench table and docs section', () => {
  const rows = [
    lib.summarize(1_000_000, 'integer', runs([3.2, 3.0, 3.4]), runs([9.1, 9.3, 9.0], 380)),
    lib.summarize(1_000_000, 'text', runs([2.2, 2.4, 2.0]), runs([24.5, 25.0, 24.0], 592)),
    lib.summarize(5_000_000, 'text', runs([11.5]), runs([17.0], 600)),
    lib.summarize(200_000, 'text', runs([1]), runs([2], 100)),
  ];

  it('renders one row per workload with each target’s verdict', () => {
    expect(lib.renderTable(rows)).toBe(
      [
        '| events | shape | parse floor | `correlate` | ÷ floor | CPU | peak RSS | target ÷ floor | target RSS |',
        '|---|---|---:|---:|---:|---:|---:|---|---|',
        '| 1M | integer | 3.20 s | 9.10 s | 2.84× | 1.00 s | 380 MB | ≤ 3.0×: pass | ≤ 400 MB: pass |',
        '| 1M | text | 2.20 s | 24.50 s | 11.14× | 1.00 s | 592 MB | ≤ 3.0×: **fail** | ≤ 400 MB: **fail** |',
        '| 5M | text | 11.50 s | 17.00 s | 1.48× | 1.00 s | 600 MB | ≤ 1.5×: pass | ≤ 1.2× 1M = 480 MB: **fail** |',
        '| 200k | text | 1.00 s | 2.00 s | 2.00× | 1.00 s | 100 MB | — | — |',
      ].join('\n'),
    );
  });

  it('puts the date, commit, machine, table, runs and extra lines in the section', () => {
    const section = lib.renderSection(rows.slice(0, 2), {
      date: '2026-12-06',
      commit: 'abc1234',
      machine: '2 cores (X), 8.0 GiB RAM, Node v20.0.0',
      runs: 3,
      threads: '`--threads 2`',
      load: 'load 1.0',
      note: 'Measured on the code before the redesign.',
      extra: ['`diff` line'],
    });
    expect(section.split('\n').slice(0, 6)).toEqual([
      '## The latest bench',
      '',
      'Written by `npm run bench` on 2026-12-06 at commit abc1234; 2 cores (X), 8.0 GiB RAM, Node v20.0.0.',
      '3 runs of each contender per workload, alternating; medians; `correlate` with `--threads 2`; load 1.0.',
      '',
      'Measured on the code before the redesign.',
    ]);
    expect(section).toContain(lib.renderTable(rows.slice(0, 2)));
    expect(section).toContain('- 1M text: floor 2.2, 2.4, 2.0 s; `correlate` 24.5, 25.0, 24.0 s at 592, 592, 592 MB');
    expect(section.endsWith('\n\n`diff` line')).toBe(true);
  });

  it('replaces only what lies between the markers, and again on the next run', () => {
    const doc = `# Perf\n\nintro\n\n${lib.START_MARKER}\nold table\n${lib.END_MARKER}\n\n## History\n\nkept\n`;
    const once = lib.replaceSection(doc, 'new table\n');
    expect(once).toBe(`# Perf\n\nintro\n\n${lib.START_MARKER}\nnew table\n${lib.END_MARKER}\n\n## History\n\nkept\n`);
    expect(lib.replaceSection(once, 'newer')).toBe(once.replace('new table', 'newer'));
  });

  it('appends the section to a document without markers and refuses broken ones', () => {
    expect(lib.replaceSection('# Perf\n\nhistory\n\n', 'table')).toBe(`# Perf\n\nhistory\n\n${lib.START_MARKER}\ntable\n${lib.END_MARKER}\n`);
    expect(() => lib.replaceSection(`a\n${lib.START_MARKER}\nb\n`, 't')).toThrow(/incomplete or out of order/);
    expect(() => lib.replaceSection(`${lib.END_MARKER}\n${lib.START_MARKER}\n`, 't')).toThrow(/incomplete or out of order/);
    expect(() => lib.replaceSection(`${lib.START_MARKER}\n${lib.END_MARKER}\n${lib.START_MARKER}\n${lib.END_MARKER}\n`, 't')).toThrow(/more than once/);
  });

  it('finds exactly one pair of markers in docs/performance.md, so the bench can write there', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'performance.md'), 'utf8');
    expect(doc.split(lib.START_MARKER).length).toBe(2);
    expect(doc.split(lib.END_MARKER).length).toBe(2);
    const rewritten = lib.replaceSection(doc, 'x');
    expect(rewritten.slice(0, doc.indexOf(lib.START_MARKER))).toBe(doc.slice(0, doc.indexOf(lib.START_MARKER)));
    expect(rewritten.slice(rewritten.indexOf(lib.END_MARKER))).toBe(doc.slice(doc.indexOf(lib.END_MARKER)));
  });
});
