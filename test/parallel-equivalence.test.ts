/**
 * The fast paths must decide exactly what the slow ones do: the credential pre-check against the
 * full pattern, the lossy-number hint against always quoting. (The join's SQL against the
 * JavaScript it replaced: test/join.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksLikeSecret, mayHoldSecret, SECRET_PATTERN, textLooksLikeSecret } from '../src/core/secrets.js';
import { parseJsonRecord, quoteLongNumbers } from '../src/ingest/json-record.js';

const SECRET_PIECES = [
  'eyJ', 'EYj', 'eyJhbGciOiJIUzI1', '.', 'bearer ', 'Bearer\t', 'BEARER  ', 'sk-', 'SK_', 'pk_', 'rk-', 'sk', 'live', 'proj', 'ant-',
  'AKIA', 'akia', 'ABCDEFGHIJKLMNOP', 'ghp_', 'GHO_', 'gh', 'github_pat_', 'glpat-', 'xoxb-', 'XOXA-', 'xox', 'AIza', 'aiza',
  '-----BEGIN ', '-----begin ', 'RSA PRIVATE KEY-----', '?', '&', '#', ';', 'token=', 'API_KEY=', 'password=', 'sig=', '=',
  'https://', 'HTTP://', 'ftp://', ':', '//', 'user', ':pass', 'word', '@', '/', ' ', '\n', 'x', 'ſ', 'K', 'é', '_', '-',
  'abcdefghijklmnopqrstuvwxyz0123456789', 'ABCDEFGHIJ', '0123456789',
];

const TOKEN = fc.stringMatching(/^[A-Za-z0-9_-]{0,44}$/);
const SECRETISH = fc.oneof(
  fc.tuple(fc.constantFrom('https', 'HTTP', 'git+ssh', 'x', '1a'), fc.stringMatching(/^[a-z@:/ ]{0,6}$/), fc.stringMatching(/^[a-z0-9@:/ ]{0,6}$/)).map(([s, u, p]) => `${s}://${u}:${p}@host/`),
  fc.tuple(fc.constantFrom('?', '&', '#', ';', '/'), fc.constantFrom('access_token', 'TOKEN', 'api-key', 'Key', 'pwd', 'sig', 'signature', 'keys'), TOKEN).map(([c, n, v]) => `${c}${n}=${v}`),
  fc.tuple(TOKEN, TOKEN, TOKEN).map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`),
  fc.tuple(fc.constantFrom('bearer', 'Bearer', 'BEARER'), fc.constantFrom(' ', '\t', ''), TOKEN).map(([b, w, t]) => `${b}${w}${t}`),
  fc.tuple(fc.constantFrom('sk', 'PK', 'rk', 'sk-proj', 'sk_live', 'pk-test'), fc.constantFrom('-', '_', ''), TOKEN).map(([p, d, t]) => `${p}${d}${t}`),
  fc.tuple(fc.constantFrom('AKIA', 'akia', 'ghp_', 'gho_', 'GHS_', 'github_pat_', 'glpat-', 'xoxb-', 'xoxq-', 'AIza', '-----BEGIN RSA PRIVATE KEY-----', '-----begin x'), TOKEN).map(([p, t]) => `${p}${t}`),
);
/** A near miss: one code unit dropped or its case flipped. */
const MUTATED = fc.tuple(SECRETISH, fc.nat(60), fc.boolean()).map(([s, i, drop]) => {
  if (s.length === 0) return s;
  const k = i % s.length;
  const c = s[k];
  return s.slice(0, k) + (drop ? '' : c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(k + 1);
});
const NOISE = fc.constantFrom('', ' ', 'x', '"', '=', 'ſ', 'K', 'é', 'https://app.example.com/a?b=c', 'email@example.com');

describe('credential pre-check', () => {
  it('never says no where the full pattern says yes', () => {
    let positives = 0;
    fc.assert(
      fc.property(NOISE, fc.oneof(SECRETISH, MUTATED), NOISE, (a, secret, b) => {
        const s = a + secret + b;
        const slow = s.length >= 12 && SECRET_PATTERN.test(s);
        if (slow) positives++;
        expect(looksLikeSecret(s)).toBe(slow);
      }),
      { numRuns: 30000, seed: 4 },
    );
    expect(positives).toBeGreaterThan(2000);
  });

  it('agrees on arbitrary text too', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (s) => {
        expect(looksLikeSecret(s)).toBe(s.length >= 12 && SECRET_PATTERN.test(s));
      }),
      { numRuns: 5000, seed: 5 },
    );
  });

  it('on UTF-8 bytes, says what it says on the text decoded from them', () => {
    let positives = 0;
    const check = (bytes: Buffer) => {
      const text = bytes.toString('utf8');
      const slow = text.length >= 12 && SECRET_PATTERN.test(text);
      if (slow) positives++;
      expect(textLooksLikeSecret(text, bytes)).toBe(slow);
    };
    // credential-like text between non-ASCII neighbours (é, NBSP, U+FFFD, 4-byte characters) …
    const WIDE = fc.constantFrom('', 'é', '\u00a0', '\ufffd', '😀', 'ſ', '\u212a', ' x:y', '://', '?');
    fc.assert(
      fc.property(WIDE, NOISE, fc.oneof(SECRETISH, MUTATED), WIDE, (a, b, secret, c) => check(Buffer.from(a + b + secret + c, 'utf8'))),
      { numRuns: 20000, seed: 6 },
    );
    expect(positives).toBeGreaterThan(1000);
    // … and arbitrary bytes, invalid UTF-8 included
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => check(Buffer.from(b))),
      { numRuns: 5000, seed: 7 },
    );
    for (const url of ['https://u:pwd@x.example/', 'https://\u00e9t\u00e9:p\u00e0ss@x.example/', 'https://a\u00a0b:pass@x/', 'https://app.example.com/?token=abcd1234']) check(Buffer.from(url, 'utf8'));
  });
});

describe('lossy number hint', () => {
  const literal = fc.oneof(
    fc.stringMatching(/^-?(0|[1-9]\d{0,20})(\.\d{1,20})?([eE][+-]?\d{1,3})?$/),
    fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.constantFrom('0', '1', '12', '123456789012345', '1234567890123456', '9007199254740993'),
        fc.constantFrom('', '.0', '.5', '.10', '.000000', '.0000001', '.000001', '.25', '.1234567890123456', '.00000012'),
        fc.constantFrom('', 'e5', 'E-7', 'e+300', 'e-400'),
      )
      .map((parts) => parts.join('')),
  );
  const ws = fc.constantFrom('', ' ', '\t', '\n ', '\r\n');
  it('parses every number literal exactly as quoting them all would', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(literal, ws, fc.boolean()), { minLength: 1, maxLength: 6 }), fc.constantFrom('"x:1e5"', '"9e3f"', '"a,0.10"', '1'), (nums, str) => {
        const members = nums.map(([n, w, inArray], i) => `"k${i}":${w}${inArray ? `[${w}${n},${w}${n}]` : n}`);
        const text = `{${members.join(',')},"s":${str}}`;
        const fast = parseJsonRecord(text);
        expect(typeof fast).toBe('object');
        expect((fast as { obj: unknown }).obj).toEqual(JSON.parse(quoteLongNumbers(text)));
      }),
      { numRuns: 20000, seed: 6 },
    );
  });
});
