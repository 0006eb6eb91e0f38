/**
 * One RFC 5322 message per notice, built by nodemailer's MailComposer: it writes the MIME
 * structure, the transfer encoding of the body, RFC 2047 encoded words and header folding.
 * Output is deterministic: Date and Message-ID are given, and a single text/plain part needs
 * no random boundary.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { domainToASCII } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import type { Mailbox } from './address.js';
import { displayName, inertText } from './address.js';
import { readTemplate, type Template } from './template.js';
import type { NoticeList } from './values.js';

export interface Notice {
  to: Mailbox;
  subject: string;
  text: string;
  date: Date;
  messageId: string;
}

/** The built-in template of each kind of notice (templates/ in the package). */
export function builtInTemplate(list: NoticeList): Template {
  const path = fileURLToPath(new URL(`../../templates/notice-${list}.txt`, import.meta.url));
  return { ...readTemplate(path), source: `the built-in ${list} template` };
}

/** `<hash@sender-domain>`: the same case and recipient always give the same Message-ID. */
export function messageId(caseHash: string, key: readonly string[], from: Mailbox): string {
  const h = createHash('sha256').update([caseHash, ...key].join('\u0000')).digest('hex').slice(0, 40);
  const domain = domainToASCII(from.address.slice(from.address.lastIndexOf('@') + 1)) || 'breach-impact.invalid';
  return `<${h}.notice@${domain}>`;
}

const PLAIN_PHRASE = /^[A-Za-z0-9!#$%&'*+/?^_`{|}~ -]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A display name for an address header. Plain words stay as they are and other ASCII is
 * quoted; anything else, anything that looks like an encoded word (`=?`), and names too long
 * to fold are RFC 2047 encoded words, which every reader decodes back to the same text.
 */
export function encodePhrase(name: string): string {
  if (name.length <= 60 && !name.includes('=?')) {
    if (PLAIN_PHRASE.test(name)) return name;
    if (PRINTABLE_ASCII.test(name)) return `"${name.replace(/([\\"])/g, '\\$1')}"`;
  }
  return mimeFuncs.encodeWord(name, 'Q', 52);
}

/** Unstructured header text (Subject): encoded words unless it is short plain ASCII. */
export function encodeText(text: string): string {
  if (text.length <= 200 && PRINTABLE_ASCII.test(text) && !text.includes('=?')) return text;
  return mimeFuncs.encodeWord(text, 'Q', 52);
}

/** The message as bytes, with `\n` (mbox) or `\r\n` (eml) line ends. */
export async function composeMessage(n: Notice, from: Mailbox, newline: 'unix' | 'windows'): Promise<Buffer> {
  // (newline is a MailComposer option that @types/nodemailer does not list)
  const composer = new MailComposer({
    from: { name: displayName(from.name), address: from.address },
    to: { name: displayName(n.to.name), address: n.to.address },
    // Subject goes in prepared (already encoded, folded by nodemailer) so that an ASCII subject
    // holding `=?…?=` cannot be decoded by the reader into something else.
    // (foldLines is a MimeNode header option that @types/nodemailer does not list)
    headers: { Subject: { prepared: true, foldLines: true, value: encodeText(inertText(n.subject).trim()) } as { prepared: boolean; value: string } },
    // nodemailer expects CRLF in the text it encodes (its quoted-printable lines are CRLF-based)
    text: n.text.replace(/\r?\n/g, '\r\n'),
    date: n.date,
    messageId: n.messageId,
    newline,
    disableFileAccess: true,
    disableUrlAccess: true,
  } as ConstructorParameters<typeof MailComposer>[0]);
  const node = composer.compile() as unknown as {
    _normalizeAddress(a: string): string;
    _encodeAddressName(name: string): string;
    build(): Promise<Buffer>;
  };
  // Two adjustments to nodemailer's address writing: the address is kept exactly as the
  // internal database has it (validated beforehand; nodemailer would rewrite an IDN domain
  // to its xn-- form), and names go through encodePhrase (nodemailer would quote an ASCII
  // name holding `=?…?=`, which many readers still decode).
  node._normalizeAddress = (a: string) => a;
  node._encodeAddressName = encodePhrase;
  return node.build();
}
