/**
 * The byte-level splitters every reader stands on: NDJSON lines, streamed JSON arrays and
 * pages, and CSV records, fed in every possible chunking. csv-spectrum is the CSV oracle, and
 * csv-parse cross-checks our splitter on every well-formed corpus file.
 */
import { parse as csvParse } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvSplitter } from '../src/ingest/csv.js';
import { JsonStreamSplitter } from '../src/ingest/json-stream.js';
import fc from 'fast-check';
import { BlockCutter, LineSplitter } from '../src/ingest/lines.js';
import { corpusList, describeCorpus } from './helpers.js';

function lines(input: Buffer, chunk: number, max = 1 << 20): string[] {
  const out: string[] = [];
  const s = new LineSplitter({ line: (n, b) => out.push(`${n}:${b.toString()}`), oversize: (n) => out.push(`${n}:OVERSIZE`) }, max);
  for (let i = 0; i < input.length; i += chunk) s.push(input.subarray(i, i + chunk));
  s.end();
  return out;
}

function values(input: Buffer, chunk: number, max = 1 << 20, depth = 64): string[] {
  const out: string[] = [];
  const s = new JsonStreamSplitter(
    { value: (n, b) => out.push(`${n}:${b.toString()}`), reject: (n, r) => out.push(`${n}!${r}`), stop: (n, r) => out.push(`${n}#${r}`) },
    max,
    depth,
  );
  for (let i = 0; i < input.length; i += chunk) s.push(input.subarray(i, i + chunk));
  s.end();
  return out;
}

function csv(text: string, chunk: number, max = 1 << 20): string[] {
  const out: string[] = [];
  const s = new CsvSplitter({ record: (n, c) => out.push(`${n}:${JSON.stringify(c)}`), reject: (n, r) => out.push(`${n}!${r}`), stop: (n, r) => out.push(`${n}#${r}`) }, 0x2c, max);
  for (let i = 0; i < text.length; i += chunk) s.push(text.slice(i, i + chunk));
  s.end();
  return out;
}

const CHUNKS = [1, 2, 3, 7, 64, 1 << 16];

describe('LineSplitter', () => {
  it('splits LF, CRLF, bare CR and mixed endings, whatever the chunking', () => {
    const input = Buffer.from('a\r\nb\nc\rd\r\n\r\ne\n\nf');
    for (const c of CHUNKS) expect(lines(input, c), `chunk ${c}`).toEqual(['1:a', '2:b', '3:c', '4:d', '5:', '6:e', '7:', '8:f']);
  });

  it('reports an over-long line by its number without keeping it, and goes on', () => {
    const input = Buffer.from(`ok\n${'x'.repeat(100)}\nnext\n${'y'.repeat(101)}`);
    for (const c of CHUNKS) expect(lines(input, c, 100), `chunk ${c}`).toEqual(['1:ok', `2:${'x'.repeat(100)}`, '3:next', '4:OVERSIZE']);
  });
});

/** Lines as `lines` numbers them, fed in chunks of the given sizes (a stop: no end()). */
function linesInChunks(input: Buffer, sizes: number[], max: number, complete: boolean): string[] {
  const out: string[] = [];
  const s = new LineSplitter({ line: (n, b) => out.push(`${n}:${b.toString('latin1')}`), oversize: (n) => out.push(`${n}:OVERSIZE`) }, max);
  for (const part of chunked(input, sizes)) s.push(part);
  if (complete) s.end();
  return out;
}

/** The same input cut into blocks (BlockCutter), each block split on its own and its lines numbered after the blocks before it. */
function linesInBlocks(input: Buffer, sizes: number[], blockBytes: number, max: number, complete: boolean): string[] {
  const parts: (Buffer | 'oversize')[] = [];
  const cutter = new BlockCutter({ buffer: (min) => Buffer.alloc(min, 0x78), block: (buf, end) => void parts.push(Buffer.from(buf.subarray(0, end))), oversize: () => void parts.push('oversize') }, blockBytes, max);
  for (const part of chunked(input, sizes)) cutter.push(part);
  cutter.end(complete);
  const out: string[] = [];
  let before = 0;
  for (const part of parts) {
    if (part === 'oversize') {
      out.push(`${++before}:OVERSIZE`);
      continue;
    }
    const s = new LineSplitter({ line: (n, b) => out.push(`${before + n}:${b.toString('latin1')}`), oversize: (n) => out.push(`${before + n}:OVERSIZE`) }, max);
    s.push(part);
    s.end();
    before += s.lines;
  }
  return out;
}

function* chunked(input: Buffer, sizes: number[]): Generator<Buffer> {
  let at = 0;
  for (let i = 0; at < input.length; i++) {
    const n = sizes.length === 0 ? input.length : sizes[i % sizes.length];
    yield input.subarray(at, at + n);
    at += n;
  }
}

describe('BlockCutter', () => {
  it('cuts an input into blocks whose lines, split block by block, are the lines of the whole input', () => {
    const bytes = fc.array(fc.constantFrom(0x61, 0x62, 0x0a, 0x0d, 0x0d, 0x0a), { maxLength: 300 }).map((b) => Buffer.from(b));
    fc.assert(
      fc.property(bytes, fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 30 }), fc.boolean(), (input, sizes, blockBytes, max, complete) => {
        expect(linesInBlocks(input, sizes, blockBytes, max, complete)).toEqual(linesInChunks(input, sizes, max, complete));
      }),
      { numRuns: 3000 },
    );
  });

  it('never splits a CRLF between two blocks, nor holds an oversize line whole', () => {
    // a CR as the last byte of a full buffer, its LF in the next chunk
    expect(linesInBlocks(Buffer.from('ab\r\ncd\r\n'), [3], 3, 10, true)).toEqual(['1:ab', '2:cd']);
    const held: number[] = [];
    const cutter = new BlockCutter({ buffer: (min) => (held.push(min), Buffer.alloc(min)), block: () => undefined, oversize: () => undefined }, 4, 16);
    for (let i = 0; i < 100; i++) cutter.push(Buffer.from('xxxxxxxx'));
    cutter.end(true);
    expect(Math.max(...held)).toBe(18);
  });
});

describe('JsonStreamSplitter', () => {
  it('yields each element of a top-level array with its starting line', () => {
    const input = Buffer.from('[\n {"a": "x]}"},\r\n {"b": [1, {"c": 2}]},\n 3, "s\\"t", null\n]\n');
    for (const c of CHUNKS) expect(values(input, c), `chunk ${c}`).toEqual(['2:{"a": "x]}"}', '3:{"b": [1, {"c": 2}]}', '4:3', '4:"s\\"t"', '4:null']);
  });

  it('streams the results of a profile page and concatenated pages', () => {
    const input = Buffer.from('{"page": 0, "results": [\n{"$distinct_id": 1},\n{"$distinct_id": 2}\n], "total": 2}\n{"results": [{"$distinct_id": 3}]}');
    for (const c of CHUNKS) expect(values(input, c), `chunk ${c}`).toEqual(['2:{"$distinct_id": 1}', '3:{"$distinct_id": 2}', '5:{"$distinct_id": 3}']);
  });

  it('hands over a pretty-printed object that is not a page whole', () => {
    const input = Buffer.from('{\n  "event": "x",\n  "properties": {"distinct_id": "d"}\n}\n{"event": "y"}\n');
    expect(values(input, 5)).toEqual(['1:{\n  "event": "x",\n  "properties": {"distinct_id": "d"}\n}', '5:{"event": "y"}']);
  });

  it('stops on trailing garbage and on truncation, after keeping what came before', () => {
    expect(values(Buffer.from('[{"a":1}]\n{"b":2}'), 3)).toEqual(['1:{"a":1}', '2#trailing_garbage']);
    expect(values(Buffer.from('[{"a":1},\n{"b":'), 3)).toEqual(['1:{"a":1}', '2#truncated_json']);
    expect(values(Buffer.from('[{"a":1}'), 3)).toEqual(['1:{"a":1}', '1#truncated_json']);
  });

  it('rejects missing or doubled commas, oversize and too-deep elements, and goes on', () => {
    expect(values(Buffer.from('[{"a":1} {"b":2},,{"c":3}]'), 4)).toEqual(['1:{"a":1}', '1!invalid_json', '1:{"b":2}', '1!invalid_json', '1:{"c":3}']);
    expect(values(Buffer.from(`[{"a":"${'x'.repeat(50)}"},\n{"b":1}]`), 8, 40)).toEqual(['1!record_too_large', '2:{"b":1}']);
    expect(values(Buffer.from(`[${'['.repeat(10)}${']'.repeat(10)},{"ok":1}]`), 8, 1000, 5)).toEqual(['1!max_depth', '1:{"ok":1}']);
  });

  it('walks 100,000 nested brackets without recursion', () => {
    const deep = Buffer.from(`[${'['.repeat(100_000)}${']'.repeat(100_000)},{"ok":1}]`);
    expect(values(deep, 1 << 16)).toEqual(['1!max_depth', '1:{"ok":1}']);
  });
});

describe('CsvSplitter', () => {
  it('names each record by its first physical line, across quoted line breaks and every ending', () => {
    const text = 'a,b\r\n1,"x\r\ny"\n\n2,3\r4,"q""uote"\n';
    for (const c of CHUNKS) expect(csv(text, c), `chunk ${c}`).toEqual(['1:["a","b"]', '2:["1","x\\r\\ny"]', '5:["2","3"]', '6:["4","q\\"uote"]']);
  });

  it('rejects stray quotes by line and resynchronises on the next record', () => {
    const text = 'a,b\n1,x"y\n2,"p"q\n3,4\n';
    for (const c of CHUNKS) expect(csv(text, c), `chunk ${c}`).toEqual(['1:["a","b"]', '2!stray_quote', '3!stray_quote', '4:["3","4"]']);
  });

  it('stops at an unclosed quote, named at the line where it opened', () => {
    const text = 'a,b\n1,2\n3,"never\nclosed\n4,5\n';
    for (const c of CHUNKS) expect(csv(text, c), `chunk ${c}`).toEqual(['1:["a","b"]', '2:["1","2"]', '3#unclosed_quote']);
  });

  it('caps a record without keeping it', () => {
    expect(csv(`a\n"${'x'.repeat(60)}"\nb\n`, 7, 50)).toEqual(['1:["a"]', '2!record_too_large', '3:["b"]']);
  });

  it('keeps the last record without a final newline, and empty fields', () => {
    expect(csv('a,b,c\n1,"",""\n2,3,4', 2)).toEqual(['1:["a","b","c"]', '2:["1","",""]', '3:["2","3","4"]']);
  });
});

describeCorpus('csv-spectrum and csvlint.rb corpora', (corpusFile) => {
  const files = corpusList(join('csv-spectrum', 'csvs'), (f) => f !== 'location_coordinates.csv');

  function records(text: string): string[][] {
    const out: string[][] = [];
    const s = new CsvSplitter({ record: (_n, c) => out.push(c), reject: (n, r) => out.push([`REJECT ${r} at ${n}`]), stop: (n, r) => out.push([`STOP ${r} at ${n}`]) });
    s.push(text);
    s.end();
    return out;
  }

  it.each(files)('%s parses to its expected JSON', (f) => {
    const text = readFileSync(corpusFile('csv-spectrum', 'csvs', f), 'utf8');
    const [header, ...rows] = records(text);
    const got = rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
    const want = JSON.parse(readFileSync(corpusFile('csv-spectrum', 'json', f.replace(/\.csv$/, '.json')), 'utf8'));
    expect(got).toEqual(want);
  });

  it.each(files)('%s: csv-parse agrees with our splitter', (f) => {
    const text = readFileSync(corpusFile('csv-spectrum', 'csvs', f), 'utf8');
    // every line ending counts, as in our splitter (empty_crlf.csv ends in a bare CR)
    expect(records(text)).toEqual(csvParse(text, { relax_column_count: true, skip_empty_lines: true, record_delimiter: ['\r\n', '\n', '\r'] }));
  });

  const csvlint = ['cr-line-endings.csv', 'crlf-line-endings.csv', 'lf-line-endings.csv', 'inconsistent-line-endings.csv', 'inconsistent-line-endings-unquoted.csv', 'windows-line-endings.csv', 'valid.csv'];
  it.each(csvlint)('csvlint %s: every line ending gives the same records as csv-parse reading it line-normalised', (f) => {
    const text = readFileSync(corpusFile('csvlint-rb', f), 'latin1');
    const normalised = text.replace(/\r\n?/g, '\n');
    expect(records(text)).toEqual(csvParse(normalised, { relax_column_count: true, skip_empty_lines: true }));
  });
});
