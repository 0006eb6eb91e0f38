/** UTF-8 decoding that counts what it had to replace, and redacted excerpts for rejected rows. */
import { isUtf8 } from 'node:buffer';
import { looksLikeSecret } from '../core/secrets.js';

const EFBFBD = Buffer.from([0xef, 0xbf, 0xbd]);

function countChar(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

function countBytes(b: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(needle); i !== -1; i = b.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Replacement characters this decode introduced (not ones already in the input). */
export function replacedCount(raw: Buffer, decoded: string): number {
  if (isUtf8(raw)) return 0;
  return Math.max(0, countChar(decoded, '\uFFFD') - countBytes(raw, EFBFBD));
}

const EMAIL = /[^\s"'<>,;:@]+@[^\s"'<>,;:@]+/g;
const EXCERPT_CHARS = 80;
const STRUCTURE = /[\s{}[\]:,]/;
/** Bare words kept in excerpts: JSON literals and numbers. */
const KEPT_WORD = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)$/;

function maskInline(s: string): string {
  return s
    .replace(EMAIL, '[email]')
    .split(/(\s+)/)
    .map((w) => (looksLikeSecret(w) ? '[secret]' : w))
    .join('');
}

/** A key or header name shown to people (inspect): emails and credentials in it masked. */
export function maskPersonal(s: string): string {
  return maskInline(s);
}

/** A name from the data (a CSV header) fit for a message: emails and credentials masked, at most 40 characters. */
export function nameForMessage(s: string): string {
  const m = maskInline(s);
  return m.length > 40 ? m.slice(0, 39) + '…' : m;
}

function cut(s: string): string {
  return s.length > EXCERPT_CHARS ? s.slice(0, EXCERPT_CHARS) + '…' : s;
}

/**
 * A short view of a rejected JSON record that helps find what is malformed without carrying
 * personal data: the structure, keys, numbers and literals stay; every string value (closed or
 * not) and every other bare word becomes `…`; emails and credentials in keys are masked too.
 */
export function excerptOf(text: string): string {
  const src = text.length > 4 * EXCERPT_CHARS ? text.slice(0, 4 * EXCERPT_CHARS) : text;
  let out = '';
  let i = 0;
  while (i < src.length && out.length <= EXCERPT_CHARS) {
    const c = src[i];
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) {
        out += '"…';
        break;
      }
      let k = j + 1;
      while (k < src.length && /\s/.test(src[k])) k++;
      out += src[k] === ':' ? maskInline(src.slice(i, j + 1)) : '"…"';
      i = j + 1;
    } else if (STRUCTURE.test(c)) {
      out += c;
      i++;
    } else {
      let j = i;
      while (j < src.length && !STRUCTURE.test(src[j]) && src[j] !== '"') j++;
      const word = src.slice(i, j);
      out += KEPT_WORD.test(word) ? word : '…';
      i = j;
    }
  }
  return cut(out);
}

/** A rejected CSV record's excerpt: its shape (how many cells, which are empty), never a value. */
export function csvExcerptOf(cells: string[]): string {
  return cut(cells.map((c) => (c === '' ? '' : '…')).join(','));
}
