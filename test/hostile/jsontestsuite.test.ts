/**
 * JSONTestSuite (../shared/corpus) through the real binary, three ways:
 *  - every single-line n_, i_ and y_ file as one NDJSON line between valid lines: exactly the right
 *    line rejected (n_ always invalid_json), every neighbour accepted;
 *  - every array-shaped i_ file's element as a record's distinct_id: the documented outcome below;
 *  - every file as a whole JSON document: n_ always yields a syntax rejection (or no record), y_ never.
 *
 * The i_ ("implementation defined") outcomes are ours to choose; these tables document them:
 * numbers keep their literal text, invalid UTF-8 bytes and lone surrogates become U+FFFD (counted
 * in encoding_errors), 500-deep nesting is max_depth, UTF-16 is refused as a file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { correlateIn, event, expectCase, expectRefused, readList, tempDir } from './lib.js';
import { corpusList, describeCorpus } from '../helpers.js';

const SUITE = join('JSONTestSuite', 'test_parsing');
const names = (prefix: string) => corpusList(SUITE, (f) => f.startsWith(prefix));

/** The file's bytes as one NDJSON line (one trailing LF removed), or undefined when it holds CR/LF. */
function asLine(bytes: Buffer): Buffer | undefined {
  const body = bytes.at(-1) === 0x0a ? bytes.subarray(0, -1) : bytes;
  return body.includes(0x0a) || body.includes(0x0d) ? undefined : body;
}

/** Outcome of each i_ file used whole as one NDJSON line. */
const I_AS_LINE: Record<string, string> = {
  // a BOM or UTF-16 in the middle of a UTF-8 file is not JSON
  'i_string_UTF-16LE_with_BOM.json': 'invalid_json',
  'i_string_utf16BE_no_BOM.json': 'invalid_json',
  'i_string_utf16LE_no_BOM.json': 'invalid_json',
  'i_structure_UTF-8_BOM_empty_object.json': 'invalid_json',
  // {"\uDFAA":0}: parsed (the key becomes U+FFFD), but it names nobody
  'i_object_key_lone_2nd_surrogate.json': 'no_identity',
  // every other i_ file is a top-level array
};

const FFFD = '\uFFFD';
/** Outcome of each array-shaped i_ file's element used as `properties.distinct_id`: the vendor_id, or the reject reason. */
const I_AS_DISTINCT_ID: Record<string, { vendorId: string } | { reason: string }> = {
  'i_number_double_huge_neg_exp.json': { vendorId: '123.456e-789' },
  'i_number_huge_exp.json': { vendorId: '0.4e00669999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999969999999006' },
  'i_number_neg_int_huge_exp.json': { vendorId: '-1e+9999' },
  'i_number_pos_double_huge_exp.json': { vendorId: '1.5e+9999' },
  'i_number_real_neg_overflow.json': { vendorId: '-123123e100000' },
  'i_number_real_pos_overflow.json': { vendorId: '123123e100000' },
  'i_number_real_underflow.json': { vendorId: '123e-10000000' },
  'i_number_too_big_neg_int.json': { vendorId: '-123123123123123123123123123123' },
  'i_number_too_big_pos_int.json': { vendorId: '100000000000000000000' },
  'i_number_very_big_negative_int.json': { vendorId: '-237462374673276894279832749832423479823246327846' },
  'i_string_1st_surrogate_but_2nd_missing.json': { vendorId: FFFD },
  'i_string_1st_valid_surrogate_2nd_invalid.json': { vendorId: `${FFFD}\u1234` },
  'i_string_UTF-8_invalid_sequence.json': { vendorId: `日ш${FFFD}` },
  'i_string_UTF8_surrogate_U+D800.json': { vendorId: FFFD.repeat(3) },
  'i_string_incomplete_surrogate_and_escape_valid.json': { vendorId: FFFD }, // "\uD800\n", trimmed
  'i_string_incomplete_surrogate_pair.json': { vendorId: `${FFFD}a` },
  'i_string_incomplete_surrogates_escape_valid.json': { vendorId: FFFD.repeat(2) },
  'i_string_invalid_lonely_surrogate.json': { vendorId: FFFD },
  'i_string_invalid_surrogate.json': { vendorId: `${FFFD}abc` },
  'i_string_invalid_utf-8.json': { vendorId: FFFD },
  'i_string_inverted_surrogates_U+1D11E.json': { vendorId: FFFD.repeat(2) },
  'i_string_iso_latin_1.json': { vendorId: FFFD },
  'i_string_lone_second_surrogate.json': { vendorId: FFFD },
  'i_string_lone_utf8_continuation_byte.json': { vendorId: FFFD },
  'i_string_not_in_unicode_range.json': { vendorId: FFFD.repeat(4) },
  'i_string_overlong_sequence_2_bytes.json': { vendorId: FFFD.repeat(2) },
  'i_string_overlong_sequence_6_bytes.json': { vendorId: FFFD.repeat(6) },
  'i_string_overlong_sequence_6_bytes_null.json': { vendorId: FFFD.repeat(6) },
  'i_string_truncated-utf-8.json': { vendorId: FFFD.repeat(2) },
  'i_structure_500_nested_arrays.json': { reason: 'max_depth' },
};

/** Reasons that say the JSON itself is malformed (as opposed to a well-formed non-record). */
const SYNTAX = new Set(['invalid_json', 'truncated_json', 'trailing_garbage', 'max_depth']);

describeCorpus('JSONTestSuite', (corpusFile) => {
  it('rejects exactly each n_ / i_ / y_ line placed between valid NDJSON lines, at its line', async () => {
    const parts: Buffer[] = [];
    const expected: [string, number, string][] = [];
    let line = 0;
    let blank = 0;
    let valid = 0;
    const ok = () => {
      parts.push(Buffer.from(event({ distinct_id: `ok-${line}`, $insert_id: `ok-${line}` }) + '\n'));
      line++;
      valid++;
    };
    for (const name of [...names('n_'), ...names('i_'), ...names('y_')]) {
      const body = asLine(readFileSync(corpusFile(SUITE, name)));
      if (body === undefined) continue;
      ok();
      parts.push(body, Buffer.from('\n'));
      line++;
      if (/^[ \t]*$/.test(body.toString('latin1'))) {
        blank++; // n_single_space, n_structure_no_data: a blank NDJSON line is no record
        continue;
      }
      let reason: string;
      if (name.startsWith('n_')) reason = 'invalid_json';
      else if (name.startsWith('i_')) reason = I_AS_LINE[name] ?? 'not_an_object';
      else {
        const v: unknown = JSON.parse(body.toString('utf8'));
        reason = typeof v === 'object' && v !== null && !Array.isArray(v) ? 'no_identity' : 'not_an_object';
      }
      expected.push(['suite.ndjson', line, reason]);
    }
    ok();
    expect(expected.length).toBe(309);
    expect(blank).toBe(2);
    const dir = tempDir();
    writeFileSync(join(dir, 'suite.ndjson'), Buffer.concat(parts));
    const c = await correlateIn(dir, ['suite.ndjson'], { extra: ['--vendor', 'mixpanel-events'] });
    expectCase(c, {
      code: 0,
      records: { read: line - blank, accepted: valid, rejected: expected.length, filtered: 0, duplicates: 0 },
      rejected: expected,
      // 44 invalid UTF-8 sequences in the n_/i_ lines, and the lone surrogate key of the one i_ object
      encodingErrors: 45,
    });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toHaveLength(valid);
  });

  it('gives each i_ value used as a distinct_id its documented outcome', async () => {
    const dir = tempDir();
    const lines: Buffer[] = [];
    const shaped = names('i_').filter((n) => {
      const b = readFileSync(corpusFile(SUITE, n));
      const body = b.at(-1) === 0x0a ? b.subarray(0, -1) : b;
      return body[0] === 0x5b && body.at(-1) === 0x5d;
    });
    expect(shaped.sort()).toEqual(Object.keys(I_AS_DISTINCT_ID).sort());
    for (const [i, name] of shaped.entries()) {
      const b = readFileSync(corpusFile(SUITE, name));
      const inner = (b.at(-1) === 0x0a ? b.subarray(0, -1) : b).subarray(1, -1);
      lines.push(Buffer.from(`{"event":"i","properties":{"time":1762000000,"$insert_id":"i-${i}","distinct_id":`), inner, Buffer.from('}}\n'));
    }
    writeFileSync(join(dir, 'embedded.ndjson'), Buffer.concat(lines));
    const c = await correlateIn(dir, ['embedded.ndjson']);
    const rejected = shaped.flatMap((n, i): [string, number, string][] => {
      const o = I_AS_DISTINCT_ID[n];
      return 'reason' in o ? [['embedded.ndjson', i + 1, o.reason]] : [];
    });
    expectCase(c, {
      code: 0,
      records: { read: shaped.length, accepted: shaped.length - rejected.length, rejected: rejected.length, filtered: 0, duplicates: 0 },
      rejected,
      // 27 invalid UTF-8 sequences and 11 lone surrogates, each replaced by U+FFFD
      encodingErrors: 38,
    });
    // ids that differ only in invalid sequences print alike, so they are one identity
    const events = new Map<string, number>();
    for (const o of Object.values(I_AS_DISTINCT_ID)) if ('vendorId' in o) events.set(o.vendorId, (events.get(o.vendorId) ?? 0) + 1);
    const unmatched = readList(c.out, 'unmatched.csv').map((u) => [u.vendor_id.replace(/^'/, ''), Number(u.events)]);
    expect(new Map(unmatched as [string, number][])).toEqual(events);
  });

  it('gives every n_ file as a whole document a syntax rejection (or no record), and never a y_ file', async () => {
    const dir = tempDir();
    // the two upstream files left out of the corpus for size, regenerated
    writeFileSync(join(dir, 'n_structure_100000_opening_arrays.json'), '['.repeat(100_000));
    writeFileSync(join(dir, 'n_structure_open_array_object.json'), '[{"":'.repeat(50_000) + '\n');
    const nFiles = [...names('n_').map((n) => corpusFile(SUITE, n)), join(dir, 'n_structure_100000_opening_arrays.json'), join(dir, 'n_structure_open_array_object.json')];
    const n = await correlateIn(dir, nFiles, { extra: ['--vendor', 'mixpanel-events'], out: 'n-case' });
    expect(n.r.code).toBe(1);
    expect(n.summary.complete).toBe(false);
    const reasonsOf = new Map<string, string[]>();
    for (const row of n.rejected) reasonsOf.set(row.file, [...(reasonsOf.get(row.file) ?? []), row.reason]);
    const noData = ['n_single_space.json', 'n_structure_UTF8_BOM_no_data.json', 'n_structure_no_data.json'];
    for (const f of n.summary.files) {
      const reasons = reasonsOf.get(f.file) ?? [];
      if (noData.includes(f.file)) expect([f.file, f.records, f.format]).toEqual([f.file, 0, 'empty']);
      else expect(reasons.some((r) => SYNTAX.has(r)), `${f.file}: ${reasons.join(', ')}`).toBe(true);
    }
    expect(n.summary.files).toHaveLength(nFiles.length);
    const counts = n.summary.records;
    expect(counts.read).toBe(counts.accepted + counts.rejected + counts.filtered + counts.duplicates);
    expect(counts.accepted).toBe(0);

    const y = await correlateIn(dir, names('y_').map((f) => corpusFile(SUITE, f)), { extra: ['--vendor', 'mixpanel-events'], out: 'y-case' });
    expect(y.rejected.filter((r) => !['not_an_object', 'no_identity'].includes(r.reason))).toEqual([]);
    expect(y.summary.complete).toBe(true);
    // valid JSON, but no y_ document is a record with an identity: each file is named as giving
    // nothing usable, and the run exits 1 (never a silent success)
    expect(y.r.code).toBe(1);
    expect(y.summary.files.filter((f) => f.usable)).toEqual([]);
    for (const f of y.summary.files) expect(y.r.stderr).toContain(`${f.file}: ${f.records === 0 ? 'the file holds no record' : `none of its ${f.records} records could be used`}`);
  });

  it('reads the i_ files as whole documents deterministically, and refuses the UTF-16 ones by name', async () => {
    const dir = tempDir();
    const utf16 = ['i_string_UTF-16LE_with_BOM.json', 'i_string_utf16BE_no_BOM.json', 'i_string_utf16LE_no_BOM.json'];
    const files = names('i_').filter((f) => !utf16.includes(f));
    const c = await correlateIn(dir, files.map((f) => corpusFile(SUITE, f)), { extra: ['--vendor', 'mixpanel-events'] });
    const rejected = files.map((f): [string, number, string] => [
      f,
      1,
      f === 'i_structure_500_nested_arrays.json' ? 'max_depth' : f.includes('object') ? 'no_identity' : 'not_an_object',
    ]);
    // every record rejected: each file named as unusable, exit 1, the case written
    expectCase(c, {
      code: 1,
      complete: true,
      stderr: new RegExp(files.map((f) => `${f.replace(/[.+]/g, '\\$&')}: none of its 1 records could be used`).join('[\\s\\S]*')),
      records: { read: files.length, accepted: 0, rejected: files.length, filtered: 0, duplicates: 0 },
      rejected,
      // the 27 invalid UTF-8 sequences of the i_string files, and the lone surrogate key (the
      // only i_ object; the surrogates in arrays are never read, as those records are rejected)
      encodingErrors: 28,
    });
    const expectedEncoding: Record<string, RegExp> = {
      'i_string_UTF-16LE_with_BOM.json': /i_string_UTF-16LE_with_BOM\.json: unsupported encoding UTF-16LE \(BOM FF FE\)/,
      'i_string_utf16BE_no_BOM.json': /i_string_utf16BE_no_BOM\.json: unsupported encoding UTF-16BE/,
      'i_string_utf16LE_no_BOM.json': /i_string_utf16LE_no_BOM\.json: unsupported encoding UTF-16LE/,
    };
    for (const f of utf16) {
      const u = await correlateIn(dir, [corpusFile(SUITE, f)], { out: `case-${f}` });
      expectRefused(u, 2, expectedEncoding[f]);
    }
  });
});
