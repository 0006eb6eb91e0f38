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
