/**
 * The pure parts of `npm run bench` (scripts/bench.mjs): workload sizes and shapes, medians,
 * the targets of issue 25 and their verdicts, the results table, and the replacement of the
 * bench's section in docs/performance.md. Nothing here runs a process or reads a clock, so
 * test/bench.test.ts checks it without running a benchmark.
 */

/** The internal database's shapes: extra `fixtures` options, and how the table names them. */
export const SHAPES = {
  integer: { args: [], label: 'integer ids, index on `users.email`' },
  text: { args: ['--id-style', 'text', '--no-indexes'], label: 'text ids (`user-…`, `org-…`), no secondary indexes' },
};

/** The markers around the section the bench rewrites in docs/performance.md. */
export const START_MARKER = '<!-- bench:start -->';
export const END_MARKER = '<!-- bench:end -->';

/** Targets of issue 25: correlate's wall time ÷ the parse floor's (medians), and peak RSS. */
export const TARGETS = {
  ratio: { 1_000_000: 3.0, 5_000_000: 1.5 },
  rssMB1M: 400,
  /** the 5M peak: at most this times the 1M peak (of the same shape, when measured in the same run) */
  rssGrowth5M: 1.2,
};

/** "1m" → 1000000, "200k" → 200000, "1500" → 1500. */
export function parseSize(size) {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(String(size).trim());
  if (!m) throw new Error(`BENCH_SIZES: ${size} is not a size like 1m, 5m or 200k`);
  const n = Math.round(Number(m[1]) * { m: 1e6, k: 1e3, '': 1 }[m[2].toLowerCase()]);
  if (n < 1) throw new Error(`BENCH_SIZES: ${size} is no events`);
  return n;
}

/** 1000000 → "1M", 200000 → "200k", 1500 → "1,500". */
export function sizeLabel(events) {
  if (events % 1e6 === 0) return `${events / 1e6}M`;
  if (events % 1e3 === 0) return `${events / 1e3}k`;
  return events.toLocaleString('en-US');
}

/** BENCH_SHAPES ("integer,text") → the known shape names, in the order given, once each. */
export function parseShapes(list) {
  const names = [...new Set(String(list).split(',').map((s) => s.trim()).filter(Boolean))];
  if (names.length === 0) throw new Error('BENCH_SHAPES names no shape (integer, text)');
  for (const n of names) if (!Object.hasOwn(SHAPES, n)) throw new Error(`BENCH_SHAPES: ${n} is not a shape (integer, text)`);
  return names;
}

/**
 * How correlate is told BENCH_THREADS (`threads`, unset or a whole number): `--threads N` when
 * its `correlate --help` text lists that option, else the environment variable
 * BREACH_IMPACT_THREADS=N. Returns { args, env, label } (label: how the docs name it).
 */
export function threadsFor(threads, correlateHelp) {
  if (threads === undefined || threads === '') return { args: [], env: {}, label: '' };
  if (!/^[1-9]\d*$/.test(threads)) throw new Error(`BENCH_THREADS: ${threads} is not a whole number of threads`);
  if (/^\s*(-\w, )?--threads\b/m.test(correlateHelp)) return { args: ['--threads', threads], env: {}, label: `\`--threads ${threads}\`` };
  return { args: [], env: { BREACH_IMPACT_THREADS: threads }, label: `\`BREACH_IMPACT_THREADS=${threads}\`` };
}

export function median(xs) {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * One table row from the runs of one workload: `floor` and `correlate` are arrays of
 * { wall, cpu, rss } (seconds, seconds, MB). The ratio is the median over the median.
 */
export function summarize(events, shape, floor, correlate) {
  const floorWall = median(floor.map((r) => r.wall));
  const wall = median(correlate.map((r) => r.wall));
  return {
    events,
    shape,
    floor: floorWall,
    correlate: wall,
    ratio: wall / floorWall,
    cpu: median(correlate.map((r) => r.cpu)),
    rss: median(correlate.map((r) => r.rss)),
    runs: { floor: floor.map((r) => r.wall), correlate: correlate.map((r) => r.wall), rss: correlate.map((r) => r.rss) },
  };
}

/**
 * The targets that apply to a row, and whether it meets them: { ratio, rss }, each
 * undefined for a size the issue sets no target for, else { limit, text, pass }. At 5M the
 * peak's limit is 1.2× the same shape's 1M peak when the same run measured it, and never more
 * than 1.2× the 1M target.
 */
export function verdict(row, rows = []) {
  const out = { ratio: undefined, rss: undefined };
  const ratioLimit = TARGETS.ratio[row.events];
  if (ratioLimit !== undefined) out.ratio = { limit: ratioLimit, text: `≤ ${ratioLimit.toFixed(1)}×`, pass: row.ratio <= ratioLimit };
  if (row.events === 1_000_000) {
    out.rss = { limit: TARGETS.rssMB1M, text: `≤ ${TARGETS.rssMB1M} MB`, pass: row.rss <= TARGETS.rssMB1M };
  } else if (row.events === 5_000_000) {
    const cap = TARGETS.rssGrowth5M * TARGETS.rssMB1M;
    const oneM = rows.find((r) => r.events === 1_000_000 && r.shape === row.shape);
    const limit = oneM ? Math.min(cap, TARGETS.rssGrowth5M * oneM.rss) : cap;
    const text = oneM ? `≤ ${TARGETS.rssGrowth5M}× 1M = ${Math.round(limit)} MB` : `≤ ${Math.round(limit)} MB`;
    out.rss = { limit, text, pass: row.rss <= limit };
  }
  return out;
}

const cell = (t) => (t === undefined ? '—' : `${t.text}: ${t.pass ? 'pass' : '**fail**'}`);

/** The results as a Markdown table, one row per (size, shape), in the order given. */
export function renderTable(rows) {
  const lines = [
    '| events | shape | parse floor | `correlate` | ÷ floor | CPU | peak RSS | target ÷ floor | target RSS |',
    '|---|---|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const v = verdict(r, rows);
    lines.push(
      `| ${sizeLabel(r.events)} | ${r.shape} | ${r.floor.toFixed(2)} s | ${r.correlate.toFixed(2)} s | ${r.ratio.toFixed(2)}× | ${r.cpu.toFixed(2)} s | ${Math.round(r.rss)} MB | ${cell(v.ratio)} | ${cell(v.rss)} |`,
    );
  }
  return lines.join('\n');
}

/** Each row's separate runs, in the order they ran: what the medians were taken of. */
export function renderRuns(rows) {
  const s = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
  return rows
    .map((r) => `- ${sizeLabel(r.events)} ${r.shape}: floor ${s(r.runs.floor)} s; \`correlate\` ${s(r.runs.correlate)} s at ${r.runs.rss.map((x) => Math.round(x)).join(', ')} MB`)
    .join('\n');
}

/**
 * The whole section the bench writes: a heading, when and where it ran, the table, how the
 * workloads are made, the runs, and any extra lines (DuckDB, diff, a note).
 * `info`: { date, commit, machine, runs, threads, load?, note?, extra?: string[] }.
 */
export function renderSection(rows, info) {
  const parts = [
    '## The latest bench',
    '',
    `Written by \`npm run bench\` on ${info.date} at commit ${info.commit}; ${info.machine}.`,
    `${info.runs} run${info.runs === 1 ? '' : 's'} of each contender per workload, alternating; medians` +
      `${info.threads ? `; \`correlate\` with ${info.threads}` : ''}${info.load ? `; ${info.load}` : ''}.`,
  ];
  if (info.note) parts.push('', info.note);
  parts.push(
    '',
    renderTable(rows),
    '',
    [
      'Shapes: `integer` is `breach-impact fixtures --seed bench --events N --users 1000000 --orgs',
      '200000`; `text` is the same with `--id-style text --no-indexes`. ÷ floor is the median',
      '`correlate` wall time over the median parse floor (`node:readline` + `JSON.parse`) on the same',
      "export in the same run; CPU (all threads) and peak RSS are `correlate`'s medians. Targets (issue",
      '25): ≤ 3.0× at 1M on both shapes, ≤ 1.5× at 5M; peak RSS ≤ 400 MB at 1M and at most 1.2× that',
      "at 5M (the same shape's 1M peak when this run measured it, and never above 480 MB).",
    ].join('\n'),
    '',
    'The runs:',
    '',
    renderRuns(rows),
  );
  for (const e of info.extra ?? []) parts.push('', e);
  return parts.join('\n');
}

/**
 * `doc` with the text between the bench's markers replaced by `section` (markers kept). A
 * document without the markers gets them, and the section, at its end; one with only one of
 * them, or with them out of order, is an error rather than a guess.
 */
export function replaceSection(doc, section) {
  const start = doc.indexOf(START_MARKER);
  const end = doc.indexOf(END_MARKER);
  const block = `${START_MARKER}\n${section.trim()}\n${END_MARKER}`;
  if (start === -1 && end === -1) return `${doc.replace(/\n*$/, '')}\n\n${block}\n`;
  if (start === -1 || end === -1 || end < start) throw new Error(`the bench's markers (${START_MARKER} … ${END_MARKER}) are incomplete or out of order`);
  if (doc.indexOf(START_MARKER, start + 1) !== -1 || doc.indexOf(END_MARKER, end + 1) !== -1) throw new Error("the bench's markers appear more than once");
  return doc.slice(0, start) + block + doc.slice(end + END_MARKER.length);
}
