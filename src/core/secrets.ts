/**
 * Credential-looking values: flagged as the `secret` exposure, never echoed or stored.
 * Patterns favour recall on well-known key formats and URL parameters that carry credentials.
 */
const PATTERNS = [
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/, // JWT
  /\bbearer\s+[A-Za-z0-9\-._~+/]{12,}=*/i, // Authorization: Bearer …
  /\b(?:sk|pk|rk)[-_](?:live|test|proj|ant|svcacct|admin)?[-_]?[A-Za-z0-9_-]{20,}/, // OpenAI / Stripe / Anthropic style
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}/, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{40,}/,
  /\bglpat-[A-Za-z0-9_-]{20,}/, // GitLab
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack
  /\bAIza[0-9A-Za-z_-]{35}/, // Google API key
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /[?&#;](?:access_token|refresh_token|id_token|token|auth_token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd|pass|session_token|sig|signature)=[^&#\s]{4,}/i,
  /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]{3,}@/i, // user:password@ in a URL
];
const ANY = new RegExp(PATTERNS.map((p) => `(?:${p.source})`).join('|'), 'i');
/** Every pattern in one regex: what looksLikeSecret decides, without its fast pre-check (for tests). */
export const SECRET_PATTERN: RegExp = ANY;

/** Does this string look like (or carry) a credential? */
export function looksLikeSecret(s: string): boolean {
  if (s.length < 12) return false;
  return mayHoldSecret(s) && ANY.test(s);
}

/**
 * looksLikeSecret(text), where `utf8` is the bytes `text` was decoded from: the pre-check runs on
 * the bytes (mayHoldSecretUtf8), a table lookup per byte, several times faster than per code unit.
 */
export function textLooksLikeSecret(text: string, utf8: Uint8Array): boolean {
  return text.length >= 12 && mayHoldSecretUtf8(utf8) && mayHoldSecret(text) && ANY.test(text);
}

const PARAM_AT = /(?:access_token|refresh_token|id_token|token|auth_token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd|pass|session_token|sig|signature)=/iy;
const USERINFO_AT = /[^/\s:@]+:[^/\s@]{3,}@/y;

/** ASCII lower case of the code unit at i (the patterns are ASCII; the `i` flag folds ASCII only). */
function lowerAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function startsAt(s: string, i: number, word: string): boolean {
  if (i + word.length > s.length) return false;
  for (let k = 0; k < word.length; k++) if (lowerAt(s, i + k) !== word.charCodeAt(k)) return false;
  return true;
}

/** Pairs of code units (ASCII, lower-cased) with which a pattern's literal can start. */
const PAIRS = new Uint8Array(128 * 128);
for (const p of ['ey', 'be', 'sk', 'pk', 'rk', 'ak', 'ai', 'gh', 'gi', 'gl', 'xo', '--', ':/']) PAIRS[(p.charCodeAt(0) << 7) | p.charCodeAt(1)] = 1;
for (const c of '?&#;') for (const d of 'acikprst') PAIRS[(c.charCodeAt(0) << 7) | d.charCodeAt(0)] = 1;

/**
 * A necessary condition for ANY, in one pass over the string: every pattern's match starts with
 * (or, for URL credentials, contains) a short literal, and each literal's first two code units
 * are looked up in a table. Most strings have none and skip the regex, which costs several times
 * more (one alternation tried at every position).
 */
export function mayHoldSecret(s: string): boolean {
  const n = s.length;
  let prev = n > 0 ? lowerAt(s, 0) : 0;
  for (let i = 1; i < n; i++) {
    const c = lowerAt(s, i);
    if (prev < 128 && c < 128 && PAIRS[(prev << 7) | c] === 1 && literalAt(s, i - 1)) return true;
    prev = c;
  }
  return false;
}

function literalAt(s: string, i: number): boolean {
  switch (lowerAt(s, i)) {
    case 0x65: // e: eyJ (JWT)
      return lowerAt(s, i + 1) === 0x79 && lowerAt(s, i + 2) === 0x6a;
    case 0x62: // b: bearer
      return startsAt(s, i, 'bearer');
    case 0x73: // s, p, r: sk- pk_ rk-
    case 0x70:
    case 0x72: {
      if (lowerAt(s, i + 1) !== 0x6b) return false;
      const c = s.charCodeAt(i + 2);
      return c === 0x2d || c === 0x5f;
    }
    case 0x61: // a: AKIA, AIza
      return startsAt(s, i, 'akia') || startsAt(s, i, 'aiza');
    case 0x67: {
      // g: gh?_, github_pat_, glpat-
      const c = lowerAt(s, i + 2);
      if (lowerAt(s, i + 1) === 0x68 && (c === 0x70 || c === 0x6f || c === 0x75 || c === 0x73 || c === 0x72) && s.charCodeAt(i + 3) === 0x5f) return true;
      return startsAt(s, i, 'github_pat_') || startsAt(s, i, 'glpat-');
    }
    case 0x78: {
      // x: xox?-
      const c = lowerAt(s, i + 3);
      return startsAt(s, i, 'xox') && (c === 0x61 || c === 0x62 || c === 0x70 || c === 0x6f || c === 0x73 || c === 0x72) && s.charCodeAt(i + 4) === 0x2d;
    }
    case 0x2d: // -----BEGIN
      return startsAt(s, i, '-----begin');
    case 0x3f: // ? & # ; then a credential parameter name and =
    case 0x26:
    case 0x23:
    case 0x3b:
      PARAM_AT.lastIndex = i + 1;
      return PARAM_AT.test(s);
    case 0x3a: // ://user:password@
      if (s.charCodeAt(i + 1) !== 0x2f || s.charCodeAt(i + 2) !== 0x2f) return false;
      USERINFO_AT.lastIndex = i + 3;
      return USERINFO_AT.test(s);
    default:
      return false;
  }
}

// ---- the same pre-check on UTF-8 bytes

/**
 * PAIRS for bytes: index (byte << 8) | next byte, case folded. Only ASCII bytes are set: in UTF-8
 * an ASCII code unit is its own byte and every byte of any other character is 0x80 or more, so two
 * adjacent ASCII code units in the text are two adjacent bytes, and the other way round.
 */
const BYTE_PAIRS = new Uint8Array(1 << 16);
for (let a = 0; a < 128; a++) {
  for (let b = 0; b < 128; b++) {
    const x = a >= 0x41 && a <= 0x5a ? a | 0x20 : a;
    const y = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    if (PAIRS[(x << 7) | y] === 1) BYTE_PAIRS[(a << 8) | b] = 1;
  }
}

const PARAM_WORDS = ['access_token', 'refresh_token', 'id_token', 'token', 'auth_token', 'api_key', 'apikey', 'api-key', 'key', 'secret', 'client_secret', 'password', 'passwd', 'pwd', 'pass', 'session_token', 'sig', 'signature'];

function lowerByte(b: Uint8Array, i: number): number {
  const c = i < b.length ? b[i] : 0;
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function bytesStartAt(b: Uint8Array, i: number, word: string): boolean {
  if (i + word.length > b.length) return false;
  for (let k = 0; k < word.length; k++) if (lowerByte(b, i + k) !== word.charCodeAt(k)) return false;
  return true;
}

/** A byte that may stand for a character of `[^/\s:@]` (`colon`) or `[^/\s@]`: any but those ASCII ones. */
function userinfoByte(c: number, colon: boolean): boolean {
  if (c === 0x2f || c === 0x40 || (colon && c === 0x3a)) return false;
  return !(c === 0x20 || (c >= 0x09 && c <= 0x0d));
}

/**
 * A necessary condition for mayHoldSecret(text), read off the UTF-8 bytes of `text`: each test
 * of literalAt, made on bytes. Where text and bytes could differ (characters outside ASCII) it
 * says yes more often, never less: a character outside ASCII is one or more bytes of 0x80 or
 * more, which no literal holds and every negated class admits.
 */
export function mayHoldSecretUtf8(b: Uint8Array): boolean {
  const n = b.length;
  let prev = n > 0 ? b[0] : 0;
  for (let i = 1; i < n; i++) {
    const c = b[i];
    if (BYTE_PAIRS[(prev << 8) | c] === 1 && literalAtUtf8(b, i - 1)) return true;
    prev = c;
  }
  return false;
}

function literalAtUtf8(b: Uint8Array, i: number): boolean {
  switch (lowerByte(b, i)) {
    case 0x65:
      return lowerByte(b, i + 1) === 0x79 && lowerByte(b, i + 2) === 0x6a;
    case 0x62:
      return bytesStartAt(b, i, 'bearer');
    case 0x73:
    case 0x70:
    case 0x72: {
      if (lowerByte(b, i + 1) !== 0x6b) return false;
      const c = lowerByte(b, i + 2);
      return c === 0x2d || c === 0x5f;
    }
    case 0x61:
      return bytesStartAt(b, i, 'akia') || bytesStartAt(b, i, 'aiza');
    case 0x67: {
      const c = lowerByte(b, i + 2);
      if (lowerByte(b, i + 1) === 0x68 && (c === 0x70 || c === 0x6f || c === 0x75 || c === 0x73 || c === 0x72) && lowerByte(b, i + 3) === 0x5f) return true;
      return bytesStartAt(b, i, 'github_pat_') || bytesStartAt(b, i, 'glpat-');
    }
    case 0x78: {
      const c = lowerByte(b, i + 3);
      return bytesStartAt(b, i, 'xox') && (c === 0x61 || c === 0x62 || c === 0x70 || c === 0x6f || c === 0x73 || c === 0x72) && lowerByte(b, i + 4) === 0x2d;
    }
    case 0x2d:
      return bytesStartAt(b, i, '-----begin');
    case 0x3f:
    case 0x26:
    case 0x23:
    case 0x3b:
      for (const w of PARAM_WORDS) if (bytesStartAt(b, i + 1, w) && lowerByte(b, i + 1 + w.length) === 0x3d) return true;
      return false;
    case 0x3a: {
      // ://user:password@ — [^/\s:@]+ then ':' then [^/\s@]{3,} then '@'
      if (lowerByte(b, i + 1) !== 0x2f || lowerByte(b, i + 2) !== 0x2f) return false;
      let j = i + 3;
      const user = j;
      while (j < b.length && userinfoByte(b[j], true)) j++;
      if (j === user || j >= b.length || b[j] !== 0x3a) return false;
      const pass = ++j;
      while (j < b.length && userinfoByte(b[j], false)) j++;
      return j - pass >= 3 && j < b.length && b[j] === 0x40;
    }
    default:
      return false;
  }
}
