/** Turning row values into text cells, and making untrusted text inert for each destination. */
import type { Cell } from '../core/rows.js';

const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r', '\n', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

/** A cell a spreadsheet will not evaluate: a leading `'` before = + - @, tab, CR or LF. */
export function neutralizeFormula(s: string): string {
  return s.length > 0 && FORMULA_START.has(s[0]) ? `'${s}` : s;
}

/**
 * A cell read back from a CSV this tool wrote: the `'` neutralizeFormula put before = + - @ …
 * taken off again. A value that itself began with `'` and one of those reads back without it;
 * compare values in this form on both sides (`asReadBack`) and the two never part.
 */
export function unneutralizeFormula(s: string): string {
  return s.length > 1 && s[0] === "'" && FORMULA_START.has(s[1]) ? s.slice(1) : s;
}

/** A value as it reads back from one of our CSV cells (see unneutralizeFormula). */
export function asReadBack(s: string): string {
  return unneutralizeFormula(neutralizeFormula(s));
}

/** The text form of a value: lists `;`-joined, missing as empty. */
export function cellText(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(';');
  return String(v);
}

/**
 * Control, escape and bidi-override characters as visible escapes, for anything shown on a
 * terminal: C0/C1 controls, DEL, and U+061C, U+200B–200F, U+202A–202E, U+2066–2069, U+FEFF.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
export function escapeTerminal(s: string): string {
  return s.replace(UNSAFE_TERMINAL, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
