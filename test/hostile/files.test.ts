/**
 * Hostile files: byte order marks, every line ending (also split across read chunks), missing
 * final newlines, empty and header-only files, UTF-16, invalid UTF-8, ragged CSV, stray and
 * unclosed quotes, bad header names, and every way a gzip stream can be wrong.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../helpers.js';
import { correlateIn, event, expectCase, expectRefused, readList, tempDir } from './lib.js';

const NO_REJECTS = { code: 0, rejected: [] as [string, number, string][] };
const counts = (read: number, accepted = read, rejected = 0) => ({ read, accepted, rejected, filtered: 0, duplicates: 0 });

describe.concurrent('byte order marks', () => {
  it('strips a UTF-8 BOM from NDJSON, a JSON array, CSV (its first header name) and inside gzip', async () => {
    const dir = tempDir();
    const bom = '\ufeff';
    writeFileSync(join(dir, 'bom.ndjson'), `${bom}${event({ distinct_id: 'b1' })}\n${event({ distinct_id: 'b2' })}\n`);
    writeFileSync(join(dir, 'bom.json'), `${bom}[${event({ distinct_id: 'b3' })}]`);
    writeFileSync(join(dir, 'bom.csv'), `${bom}distinct_id,email\nb4,b4@example.com\n`);
    writeFileSync(join(dir, 'bom.ndjson.gz'), gzipSync(`${bom}${event({ distinct_id: 'b5' })}\n`));
    const c = await correlateIn(dir, ['bom.ndjson', 'bom.json', 'bom.csv', 'bom.ndjson.gz']);
    expectCase(c, { ...NO_REJECTS, records: counts(5), encodingErrors: 0 });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);
    expect(c.summary.files.map((f) => f.format)).toEqual(['mixpanel-events (ndjson)', 'mixpanel-events (json)', 'csv (csv)', 'mixpanel-events (ndjson)']);
  });

  it('treats a BOM that is not at the start of the file as data: that line is invalid_json', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mid.ndjson'), `${event({ distinct_id: 'm1' })}\n\ufeff${event({ distinct_id: 'm2' })}\n\ufeff\n`);
    const c = await correlateIn(dir, ['mid.ndjson']);
    expectCase(c, { code: 0, records: counts(3, 1, 2), rejected: [['mid.ndjson', 2, 'invalid_json'], ['mid.ndjson', 3, 'invalid_json']] });
  });
});

describe.concurrent('line endings', () => {
  const rec = (id: string) => event({ distinct_id: id, $insert_id: id });
  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
    it(`numbers physical lines with ${name} endings in NDJSON, JSON and CSV, blank lines included`, async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'e.ndjson'), [rec('n1'), '', rec('n2'), '{bad', rec('n3')].join(eol) + eol);
      writeFileSync(join(dir, 'e.json'), ['[', `${rec('j1')},`, '', '"not a record",', rec('j2'), ']'].join(eol) + eol);
      writeFileSync(join(dir, 'e.csv'), ['distinct_id,city', 'c1,Berlin', '', '"c2 with', 'a line break",Paris', 'ragged', 'c3,Rome'].join(eol) + eol);
      const c = await correlateIn(dir, ['e.ndjson', 'e.json', 'e.csv']);
      expectCase(c, {
        code: 0,
        records: counts(11, 8, 3),
        rejected: [
          ['e.ndjson', 4, 'invalid_json'],
          ['e.json', 4, 'not_an_object'],
          ['e.csv', 6, 'missing_columns'],
        ],
      });
      expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['c1', `c2 with${eol}a line break`, 'c3', 'j1', 'j2', 'n1', 'n2', 'n3']);
    });
  }

  it('numbers lines in a file that mixes CR, LF and CRLF', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mixed.ndjson'), `${rec('a')}\r\n${rec('b')}\r${rec('c')}\n\r\n{bad\r${rec('d')}`);
    writeFileSync(join(dir, 'mixed.csv'), 'distinct_id,city\r\na,x\nb,"y\r\nz"\rc\r\nd,w');
    const c = await correlateIn(dir, ['mixed.ndjson', 'mixed.csv']);
    expectCase(c, {
      code: 0,
      records: counts(9, 7, 2),
      rejected: [
        ['mixed.ndjson', 5, 'invalid_json'],
        ['mixed.csv', 5, 'missing_columns'],
      ],
    });
  });

  it('counts a CRLF split across read chunks once, at every power-of-two chunk size up to 2 MiB', async () => {
    // Every line is padded so that its CR is the last byte of a 64 KiB block and its LF the first
    // byte of the next: whatever chunk size (64 KiB … 2 MiB) the reader, gunzip or a pipe uses,
    // CRLF pairs straddle chunk boundaries. A quoted CSV field holds one such CRLF.
    const BLOCK = 65536;
    const padded = (id: string, len: number) => {
      const head = `{"event":"e","properties":{"time":1762000000,"distinct_id":"${id}","pad":"`;
      return head + 'x'.repeat(len - head.length - 3) + '"}}';
    };
    const lines = [padded('k0', BLOCK - 1)];
    for (let i = 1; i < 34; i++) lines.push(padded(`k${i}`, BLOCK - 2));
    const ndjson = lines.join('\r\n') + '\r\n{bad\r\n' + event({ distinct_id: 'after' }) + '\r\n';
    for (let i = 1; i <= 34; i++) expect(ndjson.slice(i * BLOCK - 1, i * BLOCK + 1)).toBe('\r\n');

    const header = 'distinct_id,pad\r\n';
    // the quoted field's CR at BLOCK - 1, then each row's CR at the end of the next block
    const rows = [`"q-${'y'.repeat(BLOCK - 1 - header.length - 3)}\r\nz",p`, `r01,${'p'.repeat(BLOCK - 8 - 4)}`];
    for (let i = 2; i < 34; i++) rows.push(`r${String(i).padStart(2, '0')},${'p'.repeat(BLOCK - 2 - 4)}`);
    const csv = header + rows.join('\r\n') + '\r\nragged\r\nlast,row\r\n';
    expect(csv.slice(BLOCK - 1, BLOCK + 1)).toBe('\r\n');
    for (let i = 2; i <= 34; i++) expect(csv.slice(i * BLOCK - 1, i * BLOCK + 1)).toBe('\r\n');

    const dir = tempDir();
    writeFileSync(join(dir, 'split.ndjson'), ndjson);
    writeFileSync(join(dir, 'split.ndjson.gz'), gzipSync(ndjson));
    writeFileSync(join(dir, 'split.csv'), csv);
    const c = await correlateIn(dir, ['split.ndjson', 'split.ndjson.gz', 'split.csv']);
    expectCase(c, {
      code: 0,
      records: counts(36 + 36 + 36, 35 + 35 + 35, 3),
      rejected: [
        ['split.ndjson', 35, 'invalid_json'],
        ['split.ndjson.gz', 35, 'invalid_json'],
        ['split.csv', 37, 'missing_columns'],
      ],
      encodingErrors: 0,
    });
    const quoted = readList(c.out, 'unmatched.csv').find((u) => u.vendor_id.startsWith('q-'));
    expect(quoted?.vendor_id.endsWith('y\r\nz')).toBe(true);
    // the same bytes through a pipe
    const s = await correlateIn(dir, ['-'], { input: ndjson, out: 'stdin-case' });
    expectCase(s, { code: 0, records: counts(36, 35, 1), rejected: [['<stdin>', 35, 'invalid_json']] });
  });
});

describe.concurrent('the end of a file', () => {
  it('reads a last record without a final newline in NDJSON, JSON and CSV (also a ragged one)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'nofinal.ndjson'), `${event({ distinct_id: 'a' })}\n${event({ distinct_id: 'b' })}`);
    writeFileSync(join(dir, 'nofinal.json'), `[${event({ distinct_id: 'c' })}]`);
    writeFileSync(join(dir, 'nofinal.csv'), 'distinct_id,city\nd,"Paris"');
    writeFileSync(join(dir, 'nofinal-ragged.csv'), 'distinct_id,city\ne,Rome\nf');
    writeFileSync(join(dir, 'nofinal.json.gz'), gzipSync(`[${event({ distinct_id: 'g' })}]`));
    const c = await correlateIn(dir, ['nofinal.ndjson', 'nofinal.json', 'nofinal.csv', 'nofinal-ragged.csv', 'nofinal.json.gz']);
    expectCase(c, { code: 0, records: counts(7, 6, 1), rejected: [['nofinal-ragged.csv', 3, 'missing_columns']] });
  });

  it('reads empty, blank, BOM-only and header-only files as no records, and never passes them silently: each named, exit 1', async () => {
    const dir = tempDir();
    const files: Record<string, string | Buffer> = {
      'empty.ndjson': '',
      'empty.csv': '',
      'blank.ndjson': '\n\r\n \t\n',
      'bom-only.json': '\ufeff',
      'empty.ndjson.gz': gzipSync(''),
      'header-only.csv': 'distinct_id,email\n',
      'header-only-no-newline.csv': 'distinct_id,email',
      'header-only-blank-lines.csv': 'distinct_id,email\r\n\r\n\r\n',
      'empty-array.json': '[]',
    };
    for (const [f, body] of Object.entries(files)) writeFileSync(join(dir, f), body);
    const c = await correlateIn(dir, Object.keys(files));
    const named = Object.keys(files).map((f) => `breach-impact: warning: ${f}: the file holds no record: nothing in it was read (run breach-impact inspect ${f} to see its fields, then choose the format with --vendor or map fields with --column FIELD=PATH)\n`);
    expectCase(c, { code: 1, complete: true, rejected: [], records: counts(0) });
    expect(c.r.stderr).toBe(named.join(''));
    expect(c.summary.files.map((f) => [f.file, f.format, f.records, f.usable])).toEqual([
      ['empty.ndjson', 'empty', 0, false],
      ['empty.csv', 'empty', 0, false],
      ['blank.ndjson', 'empty', 0, false],
      ['bom-only.json', 'empty', 0, false],
      ['empty.ndjson.gz', 'empty', 0, false],
      ['header-only.csv', 'csv (csv)', 0, false],
      ['header-only-no-newline.csv', 'csv (csv)', 0, false],
      ['header-only-blank-lines.csv', 'csv (csv)', 0, false],
      ['empty-array.json', 'mixpanel-events (json)', 0, false],
    ]);
    const stdin = await correlateIn(dir, ['-'], { input: '', out: 'stdin-case' });
    expectCase(stdin, { code: 1, complete: true, rejected: [], records: counts(0), stderr: /<stdin>: the file holds no record/ });
  });
});

describe.concurrent('encodings', () => {
  const utf16 = (text: string, be: boolean, bom: boolean) => {
    const le = Buffer.from((bom ? '\ufeff' : '') + text, 'utf16le');
    if (be) for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
    return le;
  };
  const cases: [string, Buffer, RegExp][] = [
    ['le-bom.csv', utf16('distinct_id\nu1\n', false, true), /le-bom\.csv: unsupported encoding UTF-16LE \(BOM FF FE\)/],
    ['be-bom.csv', utf16('distinct_id\nu1\n', true, true), /be-bom\.csv: unsupported encoding UTF-16BE \(BOM FE FF\)/],
    ['le.ndjson', utf16(event({ distinct_id: 'u1' }) + '\n', false, false), /le\.ndjson: unsupported encoding UTF-16LE \(no BOM/],
    ['be.ndjson', utf16(event({ distinct_id: 'u1' }) + '\n', true, false), /be\.ndjson: unsupported encoding UTF-16BE \(no BOM/],
    ['le-bom.ndjson.gz', gzipSync(utf16(event({ distinct_id: 'u1' }), false, true)), /le-bom\.ndjson\.gz: unsupported encoding UTF-16LE/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`refuses UTF-16 input (${name}) as a usage error naming the encoding, and publishes nothing`, async () => {
      const dir = tempDir();
      writeFileSync(join(dir, name), bytes);
      writeFileSync(join(dir, 'good.ndjson'), event({ distinct_id: 'g' }) + '\n');
      const c = await correlateIn(dir, ['good.ndjson', name]);
      expectRefused(c, 2, message);
      expect(c.r.stderr).toMatch(/iconv -f UTF-16 -t UTF-8/);
    });
  }

  it('replaces and counts invalid UTF-8, keeps the records, and never miscounts a character split across chunks', async () => {
    const dir = tempDir();
    const bad = (s: string, bytes: number[]) => Buffer.concat([Buffer.from(s), Buffer.from(bytes)]);
    // NDJSON: a lone continuation byte, a truncated 3-byte sequence, an overlong encoding, a surrogate encoded in UTF-8
    writeFileSync(
      join(dir, 'bad.ndjson'),
      Buffer.concat([
        bad('{"event":"e","properties":{"distinct_id":"x1","$name":"a', [0x80]),
        Buffer.from('"}}\n'),
        bad('{"event":"e","properties":{"distinct_id":"x2","$city":"', [0xe2, 0x82]),
        Buffer.from('"}}\n'),
        bad('{"event":"e","properties":{"distinct_id":"x3","$os":"', [0xc0, 0xaf]),
        Buffer.from('"}}\n'),
        bad('{"event":"e","properties":{"distinct_id":"x4","$os":"', [0xed, 0xa0, 0x80]),
        Buffer.from('"}}\n'),
      ]),
    );
    // CSV: Latin-1 bytes, and a file cut inside a multi-byte character
    writeFileSync(join(dir, 'bad.csv'), Buffer.concat([bad('distinct_id,city\ny1,S', [0xe3, 0x6f]), Buffer.from(' Paulo\ny2,'), Buffer.from([0xe6, 0x97])]));
    // Valid 3- and 4-byte characters straddling every 64 KiB boundary up to 1.25 MiB (one record
    // per block): no error at all, whatever the chunk size
    const straddle = (head: (k: number) => string, tail: string, ch: string, n: number) => {
      let s = head(0);
      for (let k = 1; k <= n; k++) {
        if (k > 1) s += tail + head(k);
        s += 'p'.repeat(k * 65536 - 1 - Buffer.byteLength(s)) + ch;
      }
      return s + tail;
    };
    writeFileSync(join(dir, 'straddle.ndjson'), straddle((k) => `{"event":"e","properties":{"distinct_id":"s${k}","pad":"`, '"}}\n', '€', 20));
    writeFileSync(join(dir, 'straddle.csv'), straddle((k) => (k === 0 ? 'distinct_id,pad\nt0,' : `t${k},`), '\n', '😀', 20));
    const c = await correlateIn(dir, ['bad.ndjson', 'bad.csv', 'straddle.ndjson', 'straddle.csv']);
    // 1 + 1 (truncated sequence) + 2 (overlong) + 3 (surrogate) in NDJSON; 1 + 1 in CSV
    expectCase(c, { code: 0, records: counts(6 + 20 + 20), rejected: [], encodingErrors: 9 });
    expect(c.r.stdout).not.toMatch(/\ufffd/);
  });
});

describe.concurrent('CSV rows that cannot be used', () => {
  it('rejects ragged rows and stray quotes by their line, masks their values, and reads on', async () => {
    const dir = tempDir();
    const text = [
      'distinct_id,email,city', // 1
      'a,a@example.com,Oslo', // 2
      'b,b@example.com', // 3: too few
      'c,c@example.com,Rome,extra', // 4: too many
      'd,d"quote@example.com,Lyon', // 5: quote inside an unquoted field
      '"e","e@example.com"x,Nice', // 6: text after a closing quote
      '"f","multi', // 7: a record over two lines ...
      'line",Bonn,too-many', // 8  ... too many cells: rejected at its first line
      '', // 9: blank line
      'g,g@example.com,Riga', // 10
      'h,"h@example.com"', // 11: too few
    ].join('\n');
    writeFileSync(join(dir, 'ragged.csv'), text + '\n');
    const c = await correlateIn(dir, ['ragged.csv']);
    expectCase(c, {
      code: 0,
      records: counts(8, 2, 6),
      rejected: [
        ['ragged.csv', 3, 'missing_columns'],
        ['ragged.csv', 4, 'too_many_columns'],
        ['ragged.csv', 5, 'stray_quote'],
        ['ragged.csv', 6, 'stray_quote'],
        ['ragged.csv', 7, 'too_many_columns'],
        ['ragged.csv', 11, 'missing_columns'],
      ],
    });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['a', 'g']);
    // an excerpt shows the shape of the row, never a value
    expect(c.rejected.map((r) => r.excerpt)).toEqual(['…,…', '…,…,…,…', '', '', '…,…,…,…', '…,…']);
  });

  it('stops at an unclosed quote, naming the line where it opened; keeps every record before it; exit 1', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'unclosed.csv'), 'distinct_id,city\na,Oslo\nb,"Ro\nme"\nc,"never closed\nd,Paris\ne,Rome\n');
    writeFileSync(join(dir, 'next.csv'), 'distinct_id\nz\n');
    const c = await correlateIn(dir, ['unclosed.csv', 'next.csv']);
    expectCase(c, {
      code: 1,
      records: counts(4, 3, 1),
      rejected: [['unclosed.csv', 5, 'unclosed_quote']],
      stderr: /unclosed\.csv: reading stopped at line 5 \(unclosed_quote\)[^\n]*quoted CSV field opened on this line is never closed/,
    });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['a', 'b', 'z']);
    expect(c.summary.files.map((f) => [f.file, f.records, f.complete])).toEqual([
      ['unclosed.csv', 3, false],
      ['next.csv', 1, true],
    ]);
  });
});

describe.concurrent('CSV header names', () => {
  // the evidence is never edited to be read: a repeated name gets a suffix, an empty one a number, each with a warning
  const cases: [string, string, string[], string[]][] = [
    ['dup.csv', 'distinct_id,email,email\n', ['distinct_id', 'email', 'email_2'], ['CSV column 3 repeats the name "email": read as "email_2"']],
    ['dup-case.csv', 'distinct_id,Email,$email,EMAIL\n', ['distinct_id', 'Email', '$email', 'EMAIL_2'], ['CSV column 4 repeats the name "EMAIL": read as "EMAIL_2"']],
    ['empty.csv', 'distinct_id,,email\n', ['distinct_id', 'column_2', 'email'], ['CSV column 2 has no name: read as column_2']],
    ['blank.csv', 'distinct_id, \t ,email\n', ['distinct_id', 'column_2', 'email'], ['CSV column 2 has no name: read as column_2']],
    ['trailing.csv', 'distinct_id,email,\r\n', ['distinct_id', 'email', 'column_3'], ['CSV column 3 has no name: read as column_3']],
    ['ga4-flat.csv', 'event_timestamp,user_pseudo_id,param_value,param_value,param_value\n', ['event_timestamp', 'user_pseudo_id', 'param_value', 'param_value_2', 'param_value_3'], ['CSV column 4 repeats the name "param_value": read as "param_value_2"', 'CSV column 5 repeats the name "param_value": read as "param_value_3"']],
  ];
  for (const [name, header, keys, warnings] of cases) {
    it(`reads ${name}, naming each renamed column in a warning, in correlate and inspect alike`, async () => {
      const dir = tempDir();
      const row = (name.startsWith('ga4') ? ['1762000000000000', 'p1', 'a', 'b', 'c'] : ['x', 'y@example.com', 'z', 'w']).slice(0, keys.length).join(',') + '\n';
      writeFileSync(join(dir, name), header + row);
      const c = await correlateIn(dir, [name]);
      expectCase(c, { code: 0, records: counts(1), rejected: [], stderr: /./ });
      expect(c.r.stderr).toBe(warnings.map((w) => `breach-impact: warning: ${name}: ${w}\n`).join(''));
      const i = await run(['inspect', name, '--json'], { cwd: dir });
      expect(i.code).toBe(0);
      expect(i.stderr).toBe(c.r.stderr);
      const shown = (JSON.parse(i.stdout) as { files: { keys: { key: string }[] }[] }).files[0].keys.map((k) => k.key);
      expect(shown.sort()).toEqual(keys.filter((k, j) => row.trim().split(',')[j] !== '').sort());
    });
  }

  it('reads `email` and `$email` as two columns, Mixpanel\'s own first, the other when it is empty', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'both.csv'), 'Distinct ID,email,$email,$City\na,custom@example.com,OWN@example.com,Oslo\nb,only-custom@example.com,,Bergen\n');
    const c = await correlateIn(dir, ['both.csv']);
    expectCase(c, { code: 0, records: counts(2), rejected: [] });
    expect(readList(c.out, 'unmatched.csv').map((u) => [u.vendor_id, u.email, u.exposed])).toEqual([
      ['a', 'own@example.com', 'email;location'],
      ['b', 'only-custom@example.com', 'email;location'],
    ]);
  });
});

describe.concurrent('gzip', () => {
  const body = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => event({ distinct_id: `${prefix}${i}`, $insert_id: `${prefix}${i}` })).join('\n') + '\n';

  it('detects gzip by magic bytes whatever the name; a .gz name that is not gzip is read as it is', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain.ndjson.gz'), body(3, 'p'));
    writeFileSync(join(dir, 'packed.txt'), gzipSync(body(2, 'z')));
    const c = await correlateIn(dir, ['plain.ndjson.gz', 'packed.txt']);
    expectCase(c, { ...NO_REJECTS, records: counts(5) });
    const m = JSON.parse(readFileSync(join(c.out, 'manifest.json'), 'utf8'));
    expect(m.inputs.map((i: { gzip: boolean }) => i.gzip)).toEqual([false, true]);
  });

  it('reads every member of a multi-member gzip', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'multi.ndjson.gz'), Buffer.concat([gzipSync(body(2, 'a')), gzipSync(''), gzipSync(body(3, 'b'))]));
    const c = await correlateIn(dir, ['multi.ndjson.gz']);
    expectCase(c, { ...NO_REJECTS, records: counts(5) });
  });

  it('stops at a truncated gzip: every complete record before the cut is kept, then one stop row; exit 1', async () => {
    const dir = tempDir();
    const text = body(3000);
    const gz = gzipSync(text);
    const cut = gz.subarray(0, Math.floor(gz.length / 2));
    writeFileSync(join(dir, 'cut.ndjson.gz'), cut);
    writeFileSync(join(dir, 'header-only.gz'), gz.subarray(0, 10));
    // how many whole lines the cut keeps: what a decoder that tolerates the cut can inflate
    const { gunzipSync, constants } = await import('node:zlib');
    const inflated = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
    const whole = inflated.split('\n').length - 1;
    expect(whole).toBeGreaterThan(500);
    const c = await correlateIn(dir, ['cut.ndjson.gz', 'header-only.gz']);
    expectCase(c, {
      code: 1,
      records: counts(whole + 2, whole, 2),
      rejected: [
        ['cut.ndjson.gz', whole + 1, 'truncated_gzip'],
        ['header-only.gz', 1, 'truncated_gzip'],
      ],
      stderr: /cut\.ndjson\.gz: reading stopped at line \d+ \(truncated_gzip\)[^\n]*the file is truncated/,
    });
  });

  it('stops at corrupt gzip data, keeping every record inflated before the damage; exit 1', async () => {
    const dir = tempDir();
    const text = body(20000);
    const gz = Buffer.from(gzipSync(text));
    const at = Math.floor(gz.length * 0.6);
    for (let i = at; i < at + 64; i++) gz[i] ^= 0xff;
    writeFileSync(join(dir, 'corrupt.ndjson.gz'), gz);
    writeFileSync(join(dir, 'garbage-member.ndjson.gz'), Buffer.concat([gzipSync(body(2, 'g')), Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff])]));
    const c = await correlateIn(dir, ['corrupt.ndjson.gz', 'garbage-member.ndjson.gz']);
    const why = JSON.stringify(c.summary?.records);
    expect(c.r.code, why).toBe(1);
    expect(c.summary.complete).toBe(false);
    const n = c.summary.records;
    expect(n.read).toBe(n.accepted + n.rejected + n.filtered + n.duplicates);
    const stops = c.rejected.filter((r) => r.reason === 'corrupt_gzip');
    expect(stops.map((r) => r.file)).toEqual(['corrupt.ndjson.gz', 'garbage-member.ndjson.gz']);
    const [first] = c.summary.files;
    // what a tolerant decoder inflates from the bytes before the damage
    const { gunzipSync, constants } = await import('node:zlib');
    const before = gunzipSync(gz.subarray(0, at), { finishFlush: constants.Z_SYNC_FLUSH });
    const wholeBefore = before.toString('utf8').split('\n').length - 1;
    const keptLines = stops[0].line - 1;
    // (past the damage deflate may decode garbage, rejected line by line, until zlib or the CRC notices)
    expect(keptLines, why).toBeGreaterThanOrEqual(wholeBefore);
    expect(first.records).toBe(keptLines + 1);
    expect(c.rejected.filter((r) => r.file === 'corrupt.ndjson.gz').at(-1)).toEqual(stops[0]);
    expect(c.r.stderr).toMatch(/corrupt\.ndjson\.gz: reading stopped at line \d+ \(corrupt_gzip\)/);
  });

  it('keeps every record of a small file damaged mid-stream, and of one whose trailer (CRC, length) is damaged', async () => {
    const dir = tempDir();
    const text = body(40, 's');
    const gz = Buffer.from(gzipSync(text));
    const crc = Buffer.from(gz);
    crc[crc.length - 6] ^= 0x55; // the CRC-32
    writeFileSync(join(dir, 'crc.ndjson.gz'), crc);
    const size = Buffer.from(gz);
    size[size.length - 2] ^= 0x01; // the length
    writeFileSync(join(dir, 'size.ndjson.gz'), size);
    // a second member whose data is damaged from its first byte: the first member is whole
    writeFileSync(join(dir, 'second.ndjson.gz'), Buffer.concat([gz, Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff])]));
    const c = await correlateIn(dir, ['crc.ndjson.gz', 'size.ndjson.gz', 'second.ndjson.gz']);
    expectCase(c, {
      code: 1,
      records: { read: 3 * 41, accepted: 40, rejected: 3, filtered: 0, duplicates: 80 },
      rejected: [
        ['crc.ndjson.gz', 41, 'corrupt_gzip'],
        ['size.ndjson.gz', 41, 'corrupt_gzip'],
        ['second.ndjson.gz', 41, 'corrupt_gzip'],
      ],
      stderr: /crc\.ndjson\.gz: reading stopped at line 41 \(corrupt_gzip\)/,
    });
    // a small file damaged in its deflate data: what a tolerant decoder reads before the damage is kept
    const mid = Buffer.from(gzipSync(body(400, 'm')));
    const at = Math.floor(mid.length / 2);
    for (let i = at; i < at + 16; i++) mid[i] ^= 0xa5;
    writeFileSync(join(dir, 'mid.ndjson.gz'), mid);
    const { gunzipSync, constants } = await import('node:zlib');
    const before = gunzipSync(mid.subarray(0, at), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8').split('\n').length - 1;
    expect(before).toBeGreaterThan(100);
    const m = await correlateIn(dir, ['mid.ndjson.gz'], { out: 'case-mid' });
    expect(m.r.code).toBe(1);
    const stop = m.rejected.at(-1)!;
    expect(stop.reason).toBe('corrupt_gzip');
    expect(stop.line - 1).toBeGreaterThanOrEqual(before);
    expect(m.summary.records.accepted).toBeGreaterThanOrEqual(before);
    const manifest = JSON.parse(readFileSync(join(m.out, 'manifest.json'), 'utf8'));
    expect(manifest.inputs[0].sha256).toBe(createHash('sha256').update(mid).digest('hex'));
  });

  it('keeps every record up to damage that follows a flush point, even in very repetitive data', async () => {
    const dir = tempDir();
    const { constants, deflateRawSync } = await import('node:zlib');
    const lines = body(5000, 'r').split('\n');
    const before = lines.slice(0, 2508).join('\n') + '\n';
    // the deflate data of 2,508 records up to a full flush, then a block of the invalid type 3
    const data = deflateRawSync(before, { finishFlush: constants.Z_FULL_FLUSH });
    const gz = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), data, Buffer.from([0x07, 0, 0, 0, 0, 0, 0, 0, 0])]);
    writeFileSync(join(dir, 'flushed.ndjson.gz'), gz);
    const c = await correlateIn(dir, ['flushed.ndjson.gz']);
    expectCase(c, {
      code: 1,
      records: counts(2509, 2508, 1),
      rejected: [['flushed.ndjson.gz', 2509, 'corrupt_gzip']],
      stderr: /flushed\.ndjson\.gz: reading stopped at line 2509 \(corrupt_gzip\)/,
    });
  });
});

/**
 * The shipped caps, tested as shipped: a gzip stream stops past max(1 GiB, 1000 × its compressed
 * size). No setting changes them, so the files are real: deflate inflates at most about 1032 ×,
 * so a bomb that beats both terms inflates past 1 GiB from a little over 1 MB. They are built
 * from one 64 MiB member of spaces, compressed once and repeated.
 */
describe('a gzip bomb, against the shipped caps', () => {
  const MiB = 1024 * 1024;
  const GiB = 1024 * MiB;
  let dir: string;
  /** gzip members: `before-bomb`'s record, the spaces after it, `after-bomb`'s record */
  let head: Buffer;
  let spaces: Buffer;
  let tail: Buffer;
  const cap = (compressed: number) => Math.max(GiB, 1000 * compressed);

  beforeAll(() => {
    dir = tempDir();
    head = gzipSync(event({ distinct_id: 'before-bomb' }) + '\n');
    spaces = gzipSync(Buffer.alloc(64 * MiB, 0x20), { level: 9 });
    tail = gzipSync('\n' + event({ distinct_id: 'after-bomb' }) + '\n');
  });
  // the inflated gigabytes are never written; the files are a few MB, removed with the directory
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `before-bomb`, then `members` × 64 MiB of spaces (each member's header padded with `extra` bytes), then `after-bomb`. */
  function bomb(name: string, members: number, extra = 0): { size: number; inflated: number } {
    let member = spaces;
    if (extra > 0) {
      // FEXTRA: a header field of `extra` random (incompressible) bytes, skipped by readers
      const field = Buffer.concat([Buffer.from([extra & 0xff, extra >> 8]), randomBytes(extra)]);
      member = Buffer.concat([spaces.subarray(0, 3), Buffer.from([spaces[3] | 0x04]), spaces.subarray(4, 10), field, spaces.subarray(10)]);
    }
    const file = Buffer.concat([head, ...Array<Buffer>(members).fill(member), tail]);
    writeFileSync(join(dir, name), file);
    return { size: file.length, inflated: members * 64 * MiB };
  }

  it('stops a bomb that beats both terms at the cap with a clear message; exit 1, the record before it kept', async () => {
    const b = bomb('bomb.ndjson.gz', 20);
    expect(b.size).toBeLessThan(2 * MiB);
    expect(b.inflated).toBeGreaterThan(cap(b.size));
    const c = await correlateIn(dir, ['bomb.ndjson.gz'], { out: 'bomb-case' });
    expectCase(c, {
      code: 1,
      records: counts(2, 1, 1),
      rejected: [['bomb.ndjson.gz', 2, 'decompressed_size_cap']],
      stderr: /^breach-impact: warning: bomb\.ndjson\.gz: reading stopped at line 2 \(decompressed_size_cap\); the records before it were kept\. The gzip stream or ZIP archive inflates beyond max\(1 GiB, 1000 × its compressed size\): a possible decompression bomb\./,
    });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['before-bomb']);
  });

  it('reads to its end a stream under 1 GiB however high its ratio', async () => {
    const b = bomb('under-a-gib.ndjson.gz', 15);
    expect(b.inflated / b.size).toBeGreaterThan(1000);
    expect(b.inflated).toBeLessThan(GiB);
    const c = await correlateIn(dir, ['under-a-gib.ndjson.gz'], { out: 'under-case' });
    expectCase(c, { code: 0, records: counts(3, 2, 1), rejected: [['under-a-gib.ndjson.gz', 2, 'record_too_large']] });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['after-bomb', 'before-bomb']);
  });

  it('reads to its end a stream over 1 GiB that stays under 1000 × its compressed size', async () => {
    const b = bomb('large.ndjson.gz', 20, 65_535);
    expect(b.inflated).toBeGreaterThan(GiB);
    expect(b.inflated).toBeLessThan(cap(b.size));
    const c = await correlateIn(dir, ['large.ndjson.gz'], { out: 'large-case' });
    expectCase(c, { code: 0, records: counts(3, 2, 1), rejected: [['large.ndjson.gz', 2, 'record_too_large']] });
    expect(readList(c.out, 'unmatched.csv').map((u) => u.vendor_id)).toEqual(['after-bomb', 'before-bomb']);
  });
});
