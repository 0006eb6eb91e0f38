/**
 * The public CSV corpora (../shared/corpus) through the real binary: csv-spectrum field for field
 * (one chosen column as the vendor id, one as the email), csvlint.rb's line-ending, encoding and
 * title-row fixtures, and node-csv's BOM files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { correlateIn, expectCase, expectRefused, readList, tempDir } from './lib.js';
import { describeCorpus, HEADERLESS_WARNING, UNUSABLE_WARNING } from '../helpers.js';

const counts = (read: number, accepted = read, rejected = 0) => ({ read, accepted, rejected, filtered: 0, duplicates: 0 });

/** Which column of each csv-spectrum file becomes distinct_id, and which email (if any). */
const SPECTRUM_COLUMNS: Record<string, [string, string?]> = {
  comma_in_quotes: ['city', 'last'],
  empty: ['a', 'b'],
  empty_crlf: ['a', 'b'],
  escaped_quotes: ['b'],
  json: ['val'],
  newlines: ['a', 'b'],
  newlines_crlf: ['a', 'b'],
  quotes_and_newlines: ['b', 'a'],
  simple: ['a', 'c'],
  simple_crlf: ['a', 'c'],
  utf8: ['c', 'a'],
};

describeCorpus('csv-spectrum', (corpusFile) => {
  it('rejects location_coordinates.csv\'s row as stray_quote (a quote inside an unquoted field; upstream issue #20)', async () => {
    // 37…36'37.8"N — csv-parse refuses it too unless relax_quotes; its JSON does not match the CSV anyway
    const dir = tempDir();
    const c = await correlateIn(dir, [corpusFile('csv-spectrum', 'csvs', 'location_coordinates.csv')], { extra: ['--vendor', 'csv'] });
    // and none of its header names is a column the tool knows: the headerless-file warning; its
    // one record rejected, the file gave nothing usable: named, exit 1, the case written
    expectCase(c, { code: 1, complete: true, records: counts(1, 0, 1), rejected: [['location_coordinates.csv', 2, 'stray_quote']], encodingErrors: 0, stderr: /first row/ });
    expect(c.r.stderr).toBe(
      `breach-impact: warning: ${HEADERLESS_WARNING('location_coordinates.csv')}\n` +
        `breach-impact: warning: ${UNUSABLE_WARNING('location_coordinates.csv', 1, 'rejected: stray_quote 1; read as csv, because --vendor csv')}\n`,
    );
  });

  for (const [name, [idColumn, emailColumn]] of Object.entries(SPECTRUM_COLUMNS)) {
    it(`reads ${name}.csv field for field as its JSON says`, async () => {
      const dir = tempDir();
      const rows = JSON.parse(readFileSync(corpusFile('csv-spectrum', 'json', `${name}.json`), 'utf8')) as Record<string, string>[];
      const extra = ['--vendor', 'csv', '--column', `distinct_id=${idColumn}`];
      if (emailColumn) extra.push('--column', `email=${emailColumn}`);
      const c = await correlateIn(dir, [corpusFile('csv-spectrum', 'csvs', `${name}.csv`)], { extra });
      expectCase(c, { code: 0, records: counts(rows.length), rejected: [], encodingErrors: 0 });
      const expected = rows
        .map((r) => ({ vendor_id: r[idColumn].trim(), email: emailColumn ? r[emailColumn].trim().normalize('NFC').toLowerCase() : '' }))
        .sort((a, b) => (a.vendor_id < b.vendor_id ? -1 : 1));
      const got = readList(c.out, 'unmatched.csv').map((u) => ({ vendor_id: u.vendor_id, email: u.email }));
      expect(got).toEqual(expected);
    });
  }
}, { concurrent: true });

describeCorpus('csvlint.rb fixtures', (corpusFile) => {
  const lineEndings = ['cr-line-endings.csv', 'crlf-line-endings.csv', 'lf-line-endings.csv', 'inconsistent-line-endings.csv', 'inconsistent-line-endings-unquoted.csv'];
  it('reads CR, CRLF, LF and inconsistent line endings alike', async () => {
    const dir = tempDir();
    const c = await correlateIn(dir, lineEndings.map((f) => corpusFile('csvlint-rb', f)), { extra: ['--column', 'distinct_id=Foo'] });
    expectCase(c, { code: 0, records: counts(10), rejected: [], encodingErrors: 0 });
    const u = readList(c.out, 'unmatched.csv').map((r) => [r.vendor_id, r.events]);
    expect(u).toEqual([
      ['Biff', '5'],
      ['Qux', '5'],
    ]);
    expect(c.summary.files.map((f) => f.records)).toEqual([2, 2, 2, 2, 2]);
  });

  it('reads valid.csv and windows-line-endings.csv', async () => {
    const dir = tempDir();
    const c = await correlateIn(dir, [corpusFile('csvlint-rb', 'valid.csv'), corpusFile('csvlint-rb', 'windows-line-endings.csv')], {
      // each file lacks the other's column: a warning each
      extra: ['--column', 'distinct_id=Foo', '--column', 'distinct_id=a'],
    });
    expectCase(c, {
      code: 0,
      records: counts(3),
      rejected: [],
      stderr: /valid\.csv: --column distinct_id=a names a column this file does not have[\s\S]*windows-line-endings\.csv: --column distinct_id=Foo names a column this file does not have/,
    });
    expect(readList(c.out, 'unmatched.csv').map((r) => r.vendor_id)).toEqual(['1', '3', 'd']);
  });

  it('reads title-row.csv (its first row has empty column names) under numbered names, and says nothing in it was usable', async () => {
    const dir = tempDir();
    const c = await correlateIn(dir, [corpusFile('csvlint-rb', 'title-row.csv')]);
    expectCase(c, {
      code: 1,
      complete: true,
      records: counts(3, 0, 3),
      rejected: [2, 3, 4].map((line): [string, number, string] => ['title-row.csv', line, 'no_identity']),
      stderr: /./,
    });
    expect(c.r.stderr).toBe(
      [
        'title-row.csv: CSV column 2 has no name: read as column_2',
        'title-row.csv: CSV column 3 has no name: read as column_3',
        HEADERLESS_WARNING('title-row.csv'),
        UNUSABLE_WARNING('title-row.csv', 3, 'rejected: no_identity 3; read as csv, because a CSV with a header row; common column names'),
      ]
        .map((w) => `breach-impact: warning: ${w}\n`)
        .join(''),
    );
  });

  it('reads invalid-byte-sequence.csv with its empty last header name numbered; without it, counts the Latin-1 bytes', async () => {
    const dir = tempDir();
    const original = readFileSync(corpusFile('csvlint-rb', 'invalid-byte-sequence.csv'));
    const lines = original.toString('latin1').split('\r\n').filter((l) => l !== '').length - 1;
    const named = await correlateIn(dir, [corpusFile('csvlint-rb', 'invalid-byte-sequence.csv')], { extra: ['--column', 'distinct_id=Data'], out: 'named-case' });
    expectCase(named, { code: 0, records: counts(lines), rejected: [], stderr: /./ });
    expect(named.r.stderr).toBe('breach-impact: warning: invalid-byte-sequence.csv: CSV column 7 has no name: read as column_7\n');
    // the same bytes with the trailing comma of every line dropped
    const fixed = Buffer.from(original.toString('latin1').replace(/,\r\n/g, '\r\n'), 'latin1');
    writeFileSync(join(dir, 'latin1.csv'), fixed);
    const rows = fixed.toString('latin1').split('\r\n').filter((l) => l !== '').length - 1;
    const invalid = (fixed.toString('utf8').match(/\ufffd/g) ?? []).length;
    expect(invalid).toBeGreaterThan(0);
    const c = await correlateIn(dir, ['latin1.csv'], { extra: ['--column', 'distinct_id=Data'], out: 'latin1-case' });
    expectCase(c, { code: 0, records: counts(rows), rejected: [], encodingErrors: invalid });
  });
}, { concurrent: true });

describeCorpus('node-csv BOM files', (corpusFile) => {
  it('strips the UTF-8 BOM from the first header name', async () => {
    const dir = tempDir();
    const c = await correlateIn(dir, [corpusFile('node-csv', '365-utf8-bom-windows.csv')], { extra: ['--column', 'distinct_id=a'] });
    expectCase(c, { code: 0, records: counts(1), rejected: [] });
    expect(readList(c.out, 'unmatched.csv').map((r) => r.vendor_id)).toEqual(['1']);
  });

  it('refuses the UTF-16LE file with a clear message and what to do', async () => {
    const dir = tempDir();
    expectRefused(await correlateIn(dir, [corpusFile('node-csv', '365-utf16le-bom-windows.csv')]), 2, /365-utf16le-bom-windows\.csv: unsupported encoding UTF-16LE \(BOM FF FE\)/);
  });
}, { concurrent: true });
