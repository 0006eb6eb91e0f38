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
const JSON_VALUE = /("(?:[^"\\]|\\.)*")(\s*[,}\]])/g;
const EXCERPT_CHARS = 80;

/**
 * A short view of a rejected record that helps find what is malformed without carrying personal
 * data: string values are masked (keys are kept), emails and credentials are masked everywhere.
 */
export function excerptOf(text: string): string {
  let s = text.length > 4 * EXCERPT_CHARS ? text.slice(0, 4 * EXCERPT_CHARS) : text;
  s = s.replace(JSON_VALUE, (_m, _v: string, tail: string) => `"…"${tail}`);
  s = s.replace(EMAIL, '[email]');
  s = s
    .split(/(\s+)/)
    .map((w) => (looksLikeSecret(w) ? '[secret]' : w))
    .join('');
  if (s.length > EXCERPT_CHARS) s = s.slice(0, EXCERPT_CHARS) + '…';
  return s;
}
