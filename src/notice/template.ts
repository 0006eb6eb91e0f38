/**
 * Plain-text notice templates with {{placeholders}}. A template may open with a
 * `Subject: …` line and a blank line. A line holding a list placeholder (`{{exposed_item}}`,
 * `{{not_exposed_item}}`) is repeated once per item; a line of placeholders only that all come
 * out empty is left out. Values are substituted in one pass, so a
 * value that itself looks like `{{x}}` stays text, and every value is made inert (control and
 * bidi characters become spaces) before it lands in a header or body.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { inertText } from './address.js';

export interface Template {
  /** Where it came from, for messages: a path or "the built-in users template". */
  source: string;
  subject?: string;
  body: string;
}

export type Values = Record<string, string>;
export type ListValues = Record<string, string[]>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

export function parseTemplate(text: string, source: string): Template {
  const lines = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  const m = /^Subject:[ \t]*(.*)$/i.exec(lines[0] ?? '');
  if (m && lines.length > 1 && lines[1].trim() === '') {
    return { source, subject: m[1].trim(), body: lines.slice(2).join('\n') };
  }
  return { source, body: lines.join('\n') };
}

export function readTemplate(path: string): Template {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read the template ${path}`, 'check the path given to --template');
  }
  return parseTemplate(text, path);
}

export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Refuse a template naming a placeholder this kind of notice does not have (a typo would send blanks). */
export function checkTemplate(t: Template, known: readonly string[], lists: readonly string[], subjectOverride?: string): void {
  const subject = subjectOverride ?? t.subject ?? '';
  for (const name of [...placeholdersIn(t.body), ...placeholdersIn(subject)]) {
    if (!known.includes(name) && !lists.includes(name)) {
      throw new UsageError(`${t.source} uses {{${name}}}, which these notices do not have`, `use one of: ${[...known, ...lists].sort().join(', ')} (or define it with --set ${name}=VALUE)`);
    }
  }
  for (const name of placeholdersIn(subject)) {
    if (lists.includes(name)) throw new UsageError(`the subject uses {{${name}}}, a one-line-per-item placeholder`, 'use it in the body; in a subject use the inline form without _item');
  }
  for (const line of t.body.split('\n')) {
    if (new Set(placeholdersIn(line).filter((n) => lists.includes(n))).size > 1) {
      throw new UsageError(`${t.source}: one line uses two list placeholders`, 'put each {{…_item}} placeholder on a line of its own');
    }
  }
}

/** Replace every placeholder in one pass; each value is made inert first. */
export function fill(text: string, values: Values): string {
  return text.replace(PLACEHOLDER, (_, name: string) => inertText(values[name] ?? ''));
}

/** The body: lines with a list placeholder repeated per item, then every placeholder filled. */
export function renderBody(body: string, values: Values, lists: ListValues): string {
  const out: string[] = [];
  for (const line of body.split('\n')) {
    const list = placeholdersIn(line).find((n) => n in lists);
    if (list === undefined) {
      const filled = trimEnd(fill(line, values));
      // a line of placeholders only that all came out empty (e.g. {{unattributed_sentence}}) is left out
      if (filled.trim() === '' && line.trim() !== '' && line.replace(PLACEHOLDER, '').trim() === '') continue;
      out.push(filled);
      continue;
    }
    for (const item of lists[list]) out.push(trimEnd(fill(line, { ...values, [list]: item })));
  }
  return out.join('\n');
}

function trimEnd(line: string): string {
  return line.replace(/[ \t]+$/, '');
}

/** A subject: one line, placeholders filled, no control characters, no runs of spaces at the ends. */
export function renderSubject(subject: string, values: Values): string {
  return inertText(fill(subject, values)).trim();
}
