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

/** Does this string look like (or carry) a credential? */
export function looksLikeSecret(s: string): boolean {
  if (s.length < 12) return false;
  return ANY.test(s);
}
