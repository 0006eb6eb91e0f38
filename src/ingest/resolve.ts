/**
 * The one field resolver: how a source path names a value in a record, for `correlate` and
 * `inspect` alike. A path is dotted (`context.location.city`); a key that itself holds a dot or a
 * bracket is written in brackets (`event_properties["[Amplitude] Page URL"]`). A step into an
 * array of `{key, value}` entries (GA4's `event_params[]`, `user_properties[]`) takes the entry of
 * that key and unwraps its typed value (`string_value`, `int_value`, …); a step into a string that
 * holds a JSON object or array (a CSV cell, Data Pipelines' `properties`) parses it first.
 * Lookups read own properties only: `__proto__` is data.
 */
import { quoteLongNumbers, type JsonObject } from './json-record.js';
import { MAX_DEPTH } from './json-stream.js';

export type Path = readonly string[];

/** `a.b["c.d"].e` → ['a', 'b', 'c.d', 'e']. A malformed bracket is read as plain text. */
export function parsePath(src: string): Path {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '.') {
      out.push(cur);
      cur = '';
      i++;
    } else if (c === '[' && (src[i + 1] === '"' || src[i + 1] === "'")) {
      const end = closingBracket(src, i);
      if (end === -1) {
        cur += src.slice(i);
        break;
      }
      if (cur !== '') out.push(cur);
      out.push(unquote(src.slice(i + 1, end)));
      cur = '';
      i = end + 1;
      if (src[i] === '.') i++;
      if (i >= src.length) return out;
    } else {
      cur += c;
      i++;
    }
  }
  out.push(cur);
  return out;
}

function closingBracket(src: string, open: number): number {
  const q = src[open + 1];
  for (let i = open + 2; i < src.length; i++) {
    if (src[i] === '\\') i++;
    else if (src[i] === q) return src[i + 1] === ']' ? i + 1 : -1;
  }
  return -1;
}

function unquote(quoted: string): string {
  if (quoted[0] === '"') {
    try {
      return JSON.parse(quoted) as string;
    } catch {
      /* fall through: the text between the quotes */
    }
  }
  return quoted.slice(1, -1);
}

/** A key parsePath reads back as itself: no dot, no opening `["`/`['`, no white space at its ends. */
function plain(seg: string): boolean {
  return seg !== '' && seg === seg.trim() && !seg.includes('.') && !/\[["']/.test(seg);
}

/** A path as `inspect` shows it and `--column` takes it back. */
export function formatPath(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (plain(seg)) s += (s === '' ? '' : '.') + seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function own(o: object, k: string): unknown {
  return Object.hasOwn(o, k) ? (o as JsonObject)[k] : undefined;
}

const TYPED_VALUES = ['string_value', 'int_value', 'double_value', 'float_value'];

/** A `{key, value}` entry's value: BigQuery's typed `value{string_value, int_value, …}` unwrapped. */
export function entryValue(entry: JsonObject): unknown {
  const v = own(entry, 'value');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  let typed = false;
  for (const t of TYPED_VALUES) {
    if (!Object.hasOwn(v, t)) continue;
    typed = true;
    const x = (v as JsonObject)[t];
    if (x !== null && x !== undefined) return x;
  }
  return typed ? undefined : v;
}

/** Is this array a list of `{key, value}` entries? */
export function isEntryList(a: readonly unknown[]): boolean {
  const e = a[0];
  return typeof e === 'object' && e !== null && !Array.isArray(e) && typeof own(e, 'key') === 'string' && Object.hasOwn(e, 'value');
}

/**
 * A JSON object or array held in a string, or undefined. Number literals keep their exact text
 * (an id beyond 2^53 is never rounded); nesting deeper than the reader allows yields nothing.
 * The last few texts are remembered: one record's paths parse a cell once, not once a field.
 */
export function embeddedJson(s: string): unknown {
  const c = s.trimStart()[0];
  if (c !== '{' && c !== '[') return undefined;
  for (const [text, value] of recent) if (text === s) return value;
  let value: unknown;
  try {
    value = JSON.parse(quoteLongNumbers(s));
    if (depthOver(value, MAX_DEPTH)) value = undefined;
  } catch {
    value = undefined;
  }
  recent.unshift([s, value]);
  if (recent.length > 4) recent.pop();
  return value;
}
const recent: [string, unknown][] = [];

function depthOver(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > limit) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) if (typeof y === 'object' && y !== null) stack.push([y, d + 1]);
  }
  return false;
}

/** One step of a path from `cur`, or undefined. */
export function step(cur: unknown, seg: string): unknown {
  if (typeof cur === 'string') cur = embeddedJson(cur);
  if (typeof cur !== 'object' || cur === null) return undefined;
  if (!Array.isArray(cur)) return own(cur, seg);
  if (isEntryList(cur)) {
    for (const e of cur) if (typeof e === 'object' && e !== null && own(e, 'key') === seg) return entryValue(e as JsonObject);
    return undefined;
  }
  return /^\d+$/.test(seg) ? cur[Number(seg)] : undefined;
}

/** The value at `path` from `root` (the whole path), or undefined. */
export function getPath(root: unknown, path: Path, from = 0): unknown {
  let cur = root;
  for (let i = from; i < path.length; i++) {
    cur = step(cur, path[i]);
    if (cur === undefined) return undefined;
  }
  return cur;
}
