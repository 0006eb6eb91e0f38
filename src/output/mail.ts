/**
 * Notices as mail: an mbox stream (mboxrd, LF line ends) or a directory of CRLF `.eml` files
 * named `000001.eml`, … in list order with an `index.csv` saying who each one is for. File
 * names never come from data; files are 0600 in a 0700 directory, written under temporary
 * names and published together.
 */
import { chmodSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { makePrivateDirs, outputError, StagedFile } from '../case/files.js';
import { UsageError } from '../errors.js';
import { csvLine } from './csv.js';
import { neutralizeFormula } from './cells.js';
import { writeText } from './sink.js';

/** A rendered message and the facts index.csv records about its recipient. */
export interface MailItem {
  message: Buffer;
  index: string[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(3) in UTC, as the mbox `From ` separator line wants it: `Sun Nov  9 14:03:22 2025`. */
export function asctime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * One mboxrd entry: the `From ` separator, the message with every `>*From ` line given one more
 * `>`, and a blank line.
 */
export function mboxEntry(message: Buffer, sender: string, date: Date): string {
  let text = message.toString('utf8').replace(/\r\n/g, '\n');
  if (!text.endsWith('\n')) text += '\n';
  return `From ${sender} ${asctime(date)}\n${text.replace(/^(>*From )/gm, '>$1')}\n`;
}

export async function writeMbox(out: Writable, items: AsyncIterable<MailItem>, sender: string, date: Date): Promise<number> {
  let n = 0;
  for await (const item of items) {
    await writeText(out, mboxEntry(item.message, sender, date));
    n++;
  }
  return n;
}

const EML = /^\d{6,}\.eml$/;
const OURS = (name: string) => EML.test(name) || name === 'index.csv' || /^\..+\.tmp$/.test(name);

/** Create `dir` (0700), or reuse one that holds only an earlier run's notices. */
export function prepareMailDir(dir: string): void {
  let isDir: boolean | undefined;
  try {
    isDir = lstatSync(dir).isDirectory();
  } catch {
    isDir = undefined;
  }
  if (isDir === false) throw new UsageError(`--out ${dir} exists and is not a directory`, 'choose a new directory for the .eml files');
  try {
    if (isDir === undefined) makePrivateDirs(dir);
    else if (!readdirSync(dir).every(OURS)) {
      throw new UsageError(`--out ${dir} is not empty and holds other files than earlier notices`, 'choose an empty or new directory for the .eml files');
    }
    chmodSync(dir, 0o700);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw outputError(dir, e);
  }
}

/** The file name of the n-th message (1-based). */
export function emlName(n: number): string {
  return `${String(n).padStart(6, '0')}.eml`;
}

/**
 * Write every message as `NNNNNN.eml` and index.csv (`file` then `indexColumns`), publish them
 * together, and remove notices an earlier, longer run left behind. Returns the message count.
 */
export async function writeEmlDir(dir: string, items: AsyncIterable<MailItem>, indexColumns: readonly string[]): Promise<number> {
  prepareMailDir(dir);
  const staged: StagedFile[] = [];
  const index = new StagedFile(dir, 'index.csv');
  index.write(csvLine(['file', ...indexColumns]));
  for await (const item of items) {
    const name = emlName(staged.length + 1);
    const f = new StagedFile(dir, name);
    f.write(item.message);
    f.close(); // keep no descriptor open per message; published below
    staged.push(f);
    index.write(csvLine([name, ...item.index.map(neutralizeFormula)]));
  }
  const keep = new Set(staged.map((f) => f.name));
  for (const f of staged) f.commit();
  index.commit();
  for (const name of readdirSync(dir)) {
    if (EML.test(name) && !keep.has(name)) {
      try {
        unlinkSync(join(dir, name));
      } catch (e) {
        throw outputError(dir, e);
      }
    }
  }
  return staged.length;
}
