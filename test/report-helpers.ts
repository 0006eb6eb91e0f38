/**
 * Helpers for the report and notice tests: build a case from inline users/orgs/events (an
 * internal SQLite database made with better-sqlite3, an NDJSON export), split an mbox back into
 * messages, and parse a message with a real mail parser (postal-mime).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import PostalMime, { type Email } from 'postal-mime';
import { expect } from 'vitest';
import { explain, runCli } from './helpers.js';

export interface InternalUser {
  id: string;
  email: string | null;
  name: string | null;
}

export interface CaseSpec {
  users: InternalUser[];
  orgs: { id: string; name: string }[];
  memberships: { user_id: string; org_id: string; role: string }[];
  /** Mixpanel events (the `properties` object of each). */
  events: Record<string, unknown>[];
}

/** Write the internal database and the export into `dir`, run correlate, return the case directory. */
export async function buildCase(dir: string, spec: CaseSpec): Promise<string> {
  const dbPath = join(dir, 'internal.sqlite');
  const db = new Database(dbPath);
  db.exec('CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT); CREATE TABLE orgs (id TEXT PRIMARY KEY, name TEXT); CREATE TABLE memberships (user_id TEXT, org_id TEXT, role TEXT);');
  const insert = db.transaction(() => {
    const u = db.prepare('INSERT INTO users VALUES (?, ?, ?)');
    for (const x of spec.users) u.run(x.id, x.email, x.name);
    const o = db.prepare('INSERT INTO orgs VALUES (?, ?)');
    for (const x of spec.orgs) o.run(x.id, x.name);
    const m = db.prepare('INSERT INTO memberships VALUES (?, ?, ?)');
    for (const x of spec.memberships) m.run(x.user_id, x.org_id, x.role);
  });
  insert();
  db.close();
  const exportPath = join(dir, 'events.ndjson');
  writeFileSync(exportPath, spec.events.map((p, i) => JSON.stringify({ event: 'page', properties: { time: 1762000000 + i, $insert_id: `ins-${i}`, ...p } })).join('\n') + '\n');
  const out = join(dir, 'case');
  const r = await runCli(['correlate', exportPath, '--internal', dbPath, '--out', out]);
  expect(r.code, explain(r)).toBe(0);
  return out;
}

/** The messages of an mboxrd text, each with its `>From ` escaping undone (as a reader of mboxrd does). */
export function splitMbox(text: string): string[] {
  expect(text === '' || text.startsWith('From '), 'an mbox starts with a From_ line').toBe(true);
  return text
    .split(/^From [^\n]*\n/m)
    .slice(1)
    .map((m) => {
      expect(m.endsWith('\n\n'), 'each mbox entry ends with a blank line').toBe(true);
      return m.slice(0, -1).replace(/^>(>*From )/gm, '$1');
    });
}

export function parseMail(raw: string | Buffer): Promise<Email> {
  return PostalMime.parse(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw);
}

/** The header block of a raw message, split into (unfolded) fields; fails on anything that is not a header line. */
export function headerFields(raw: string): { key: string; value: string }[] {
  const nl = raw.includes('\r\n') ? '\r\n' : '\n';
  const head = raw.slice(0, raw.indexOf(nl + nl));
  const fields: { key: string; value: string }[] = [];
  for (const line of head.split(nl)) {
    if (/^[ \t]/.test(line)) {
      expect(fields.length, 'a continuation line needs a field before it').toBeGreaterThan(0);
      fields[fields.length - 1].value += line;
      continue;
    }
    const m = /^([\x21-\x39\x3b-\x7e]+):(.*)$/.exec(line);
    expect(m, `not a header line: ${JSON.stringify(line)}`).not.toBeNull();
    fields.push({ key: m![1].toLowerCase(), value: m![2] });
  }
  return fields;
}

/** The header fields every notice has, exactly once each, and no others. */
export const NOTICE_HEADERS = ['content-transfer-encoding', 'content-type', 'date', 'from', 'message-id', 'mime-version', 'subject', 'to'];

/** Every non-comment line of blns.txt (at `path`), plus the three characters it cannot hold. */
export function blnsStrings(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const strings = lines.filter((l) => !l.startsWith('#') && l !== '');
  return [...new Set([...strings, 'nul\u0000byte', 'line\nfeed', 'carriage\rreturn', '\r\nBcc: injected@evil.example', '\u0000', '\n', '\r'])];
}
