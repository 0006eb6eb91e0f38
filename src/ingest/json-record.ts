/**
 * One JSON record's text → a parsed object ready for canonicalisation, or a reject reason.
 * Long integer literals are kept as exact strings (an ID beyond 2^53 must never be rounded into
 * someone else's ID); nesting is measured without recursion; `__proto__` stays plain data
 * (JSON.parse defines own properties, and lookups below only read own properties).
 */
import { looksLikeSecret, textLooksLikeSecret } from '../core/secrets.js';
import { MAX_DEPTH } from './json-stream.js';

export type JsonObject = Record<string, unknown>;

export type ParseReject = 'invalid_json' | 'not_an_object' | 'max_depth';
export interface Parsed {
  obj: JsonObject;
  secret: boolean;
  /** lone surrogates (from `\uD800`-style escapes) replaced by U+FFFD, counted as encoding errors */
  replaced: number;
}

/**
 * Text that may hold a number literal a double cannot keep as written: 16+ digits (with or
 * without a point), an exponent, a fraction ending in 0, a tiny fraction, or -0. Lines without
 * any of these skip the quoting scan. Only literals in value position are quoted, so the hint
 * looks only right after `:`, `[` or `,` (hex ids such as "9e3f…" inside strings no longer trip it).
 */
export const LOSSY_NUMBER_HINT = /[:[,]\s*(?:-0(?![.\deE])|-?(?:\d[\d.]{15}|\d[\d.]*[eE]|\d+\.\d*0(?!\d)|\d+\.0{6}))/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** A `\uD800`–`\uDFFF` escape: JSON.parse may produce a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * Quote every number literal whose text JSON.parse would not keep (9007199254740993 → …992,
 * 1.0 → 1, 1e-400 → 0), so identifiers keep their exact text and never collide.
 */
export function quoteLongNumbers(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  // Only literals in value position are quoted (after `:`, `[`, or `,` inside an array): a number
  // used as an object key stays invalid JSON.
  const open: number[] = [];
  let prev = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    const before = prev;
    prev = c;
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (c === 0x7b || c === 0x5b) open.push(c);
    else if (c === 0x7d || c === 0x5d) open.pop();
    const valuePosition = before === 0x3a || before === 0x5b || (before === 0x2c && open.at(-1) === 0x5b);
    if (valuePosition && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      let j = i;
      let digits = 0;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) digits++;
        else if (!(d === 0x2d || d === 0x2b || d === 0x2e || d === 0x65 || d === 0x45)) break;
        j++;
      }
      const literal = text.slice(i, j);
      if ((digits >= 16 || String(Number(literal)) !== literal) && JSON_NUMBER.test(literal)) {
        out += text.slice(last, i) + '"' + text.slice(i, j) + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * Parse and check one record's text; `utf8`, the bytes it was decoded from, speeds up the
 * credential check. `exactNumbers`: number literals a double cannot keep as written become
 * strings of their exact text (quoteLongNumbers); without it, JSON.parse's numbers.
 */
export function parseJsonRecord(text: string, utf8?: Uint8Array, exactNumbers = true): Parsed | ParseReject {
  let value: unknown;
  try {
    value = JSON.parse(exactNumbers && LOSSY_NUMBER_HINT.test(text) ? quoteLongNumbers(text) : text);
  } catch {
    return 'invalid_json';
  }
  return checkRecord(value, text, utf8);
}

/** Shape, depth and credential checks on an already parsed value. */
export function checkRecord(value: unknown, text: string | undefined, utf8?: Uint8Array): Parsed | ParseReject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not_an_object';
  // Walk containers iteratively: depth limit, and strings when the raw text cannot be scanned.
  const scanStrings = text === undefined || text.includes('\\');
  // a `\uD800` escape needs a backslash: most records have none and skip this scan
  const fixSurrogates = text === undefined || (scanStrings && SURROGATE_ESCAPE.test(text));
  let secret = !scanStrings && (utf8 === undefined ? looksLikeSecret(text) : textLooksLikeSecret(text, utf8));
  // Nesting can be no deeper than the brackets in the text: a typical record skips the walk.
  if (!scanStrings && !fixSurrogates && openersAtMost(text!, MAX_DEPTH)) return { obj: value as JsonObject, secret, replaced: 0 };
  let replaced = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) return 'max_depth';
    if (fixSurrogates) replaced += wellFormedContainer(v as JsonObject | unknown[]);
    const items = Array.isArray(v) ? v : Object.values(v as object);
    for (const x of items) {
      if (typeof x === 'object' && x !== null) stack.push([x, depth + 1]);
      else if (scanStrings && !secret && typeof x === 'string' && looksLikeSecret(x)) secret = true;
    }
  }
  return { obj: value as JsonObject, secret, replaced };
}

/** Does `text` hold at most `limit` of `{` and `[` (in strings or not)? */
function openersAtMost(text: string, limit: number): boolean {
  let n = 0;
  for (const c of ['{', '[']) {
    for (let i = text.indexOf(c); i !== -1; i = text.indexOf(c, i + 1)) if (++n > limit) return false;
  }
  return true;
}

type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/** `s` with each lone surrogate replaced by U+FFFD, and how many there were. */
function wellFormed(s: string): [string, number] {
  if ((s as unknown as WellFormed).isWellFormed()) return [s, 0];
  const f = (s as unknown as WellFormed).toWellFormed();
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== f.charCodeAt(i)) n++;
  return [f, n];
}

/**
 * Replace lone surrogates in the string keys and values of one container (not its children):
 * UTF-8 outputs cannot hold them, and two ids differing only there would print alike.
 */
function wellFormedContainer(v: JsonObject | unknown[]): number {
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'string') continue;
      const [f, k] = wellFormed(v[i] as string);
      if (k > 0) (v[i] = f), (n += k);
    }
    return n;
  }
  for (const key of Object.keys(v)) {
    const x = v[key];
    const [fk, kk] = wellFormed(key);
    const [fx, kx] = typeof x === 'string' ? wellFormed(x) : [x, 0];
    if (kk === 0 && kx === 0) continue;
    n += kk + kx;
    if (kk > 0) delete v[key];
    // defineProperty: a key is data, never the __proto__ setter
    Object.defineProperty(v, fk, { value: fx, writable: true, enumerable: true, configurable: true });
  }
  return n;
}

function own(o: JsonObject | undefined, k: string): unknown {
  return o !== undefined && Object.hasOwn(o, k) ? o[k] : undefined;
}

/** A profile page `{"results": [...]}` rather than a record. */
export function pageResults(obj: JsonObject): unknown[] | undefined {
  const r = own(obj, 'results');
  if (!Array.isArray(r)) return undefined;
  if (Object.hasOwn(obj, 'event') || Object.hasOwn(obj, '$distinct_id') || Object.hasOwn(obj, 'properties')) return undefined;
  return r;
}
