/**
 * Mail addresses for notices. Recipients come only from the internal database and are used
 * exactly as stored there (non-ASCII kept, RFC 6532) when they are plain mailboxes; anything
 * else is refused rather than repaired, so a notice never goes to an address nobody wrote.
 */
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { UsageError } from '../errors.js';

export interface Mailbox {
  name: string;
  address: string;
}

// RFC 5322 atext, plus (RFC 6531) any non-ASCII character that is not a space, control,
// format (bidi, zero-width), private-use or unassigned code point.
const LOCAL_PART = /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{White_Space}\p{C}])+(?:\.(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{White_Space}\p{C}])+)*$/u;
const DOMAIN_TEXT = /^[^\p{White_Space}\p{C}@<>()[\]\\,;:"]+$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Why `address` is not a deliverable plain mailbox (`local@domain.tld`, no quoting, no domain
 * literal), or undefined when it is one.
 */
export function addressProblem(address: string | null | undefined): string | undefined {
  if (address === null || address === undefined || address === '') return 'has no email address';
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return 'has an email address without a local part and a domain';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (Buffer.byteLength(address) > 254 || Buffer.byteLength(local) > 64) return 'has an email address that is too long';
  if (!LOCAL_PART.test(local)) return 'has an email address whose local part is not a plain mailbox name';
  if (!DOMAIN_TEXT.test(domain)) return 'has an email address whose domain is not a host name';
  const ascii = domainToASCII(domain);
  const labels = ascii.split('.');
  if (ascii === '' || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
    return 'has an email address whose domain is not a host name';
  }
  return undefined;
}

/**
 * Control characters (C0, DEL, C1), line/paragraph separators, bidi embeddings, overrides and
 * isolates, bidi marks (U+061C, U+200E, U+200F), zero-width space and BOM: each replaced by a space, so a value can neither break a
 * header line nor reorder what the reader sees.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
export function inertText(s: string): string {
  return s.replace(UNSAFE_TEXT, ' ');
}

/** A display name for a header: inert, trimmed, and short enough to stay one readable phrase. */
export const MAX_NAME = 200;
export function displayName(name: string | null | undefined): string {
  const clean = inertText(name ?? '').trim();
  const chars = [...clean];
  return chars.length > MAX_NAME ? chars.slice(0, MAX_NAME - 1).join('') + '…' : clean;
}

/** `--from "Security Team <security@example.com>"` (or a bare address) → one valid mailbox. */
export function parseFrom(text: string): Mailbox {
  const parsed = addressparser(text, { flatten: true });
  if (parsed.length !== 1 || !parsed[0].address) {
    throw new UsageError(`--from ${text} is not one email address`, 'e.g. --from "Security Team <security@example.com>"');
  }
  const address = parsed[0].address;
  const problem = addressProblem(address);
  if (problem !== undefined) throw new UsageError(`--from ${text} cannot be used: it ${problem}`, 'e.g. --from "Security Team <security@example.com>"');
  return { name: displayName(parsed[0].name), address };
}
