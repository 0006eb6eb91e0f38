/**
 * A ZIP archive (Amplitude's Export API: gzipped NDJSON members) read as one stream of records:
 * the members in name order (code-point order, directories skipped), each inflated by yauzl and,
 * when it starts with the gzip magic, gunzipped; a UTF-8 BOM at a member's start stripped, and a
 * newline put between members when one does not end with one, so two members' lines never merge.
 * Line numbers therefore run on across members.
 *
 * A ZIP is read through its central directory, at the end of the archive, so it needs random
 * access: a regular file is read in place; standard input or a pipe is first spooled to a private
 * temporary file, unlinked as soon as it is opened (nothing is left behind, even if the process
 * is killed). Member names are never used as paths nor printed: nothing is extracted to disk.
 *
 * yauzl checks the central directory and each member's declared size; the CRC-32 is checked
 * here. Every fault ends the stream with a Stop (the records before it kept), never a throw.
 */
import { randomBytes } from 'node:crypto';
import { close, open, unlink, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { InputError } from '../errors.js';
import { gunzip } from './gzip.js';
import type { Stop } from './source.js';

/** A local file header, or the end of central directory record of an empty archive. */
export function isZip(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 0x03 && head[3] === 0x04) || (head[2] === 0x05 && head[3] === 0x06));
}

export interface UnzipOptions {
  /** A regular file to read in place; absent: the archive is `head` and `rest`, spooled first. */
  path?: string;
  /**
   * Inflated bytes allowed, asked once the archive's size is known: the bytes the members
   * inflate to, and the bytes they decode to (gunzipped), each count against it.
   */
  cap(): number;
  /** Shown the first bytes of every member's content (to refuse UTF-16); may throw. */
  memberStart?(head: Buffer): void;
}

type Fault = Stop['reason'];

const openFd = promisify(open);
const writeFd = promisify(write);
const closeFd = promisify(close);
const unlinkPath = promisify(unlink);

/** yauzl's errors (and zlib's, and the file system's) as a reason to stop. */
export function faultOf(e: unknown): Fault {
  const err = e as NodeJS.ErrnoException;
  const message = String(err?.message ?? '');
  if (typeof err?.syscall === 'string') return 'read_error';
  if (/end of central directory record signature not found/i.test(message)) return 'truncated_zip';
  if (/encrypt|unsupported compression method|multi-disk|not supported/i.test(message)) return 'unsupported_zip';
  return 'corrupt_zip';
}

/** The decoded bytes of every member of the archive, in name order. */
export async function* unzip(head: Buffer, rest: AsyncIterator<Buffer>, opts: UnzipOptions, onStop: (s: Stop) => void): AsyncGenerator<Buffer> {
  let fd: number;
  try {
    fd = opts.path !== undefined ? await openFd(opts.path, 'r') : await spool(head, rest);
  } catch (e) {
    if (e instanceof InputError) throw e;
    return onStop({ reason: 'read_error' });
  }
  let zip: ZipFile;
  let members: Entry[];
  try {
    // yauzl owns the descriptor from here: close() closes it once every member stream is done.
    zip = await yauzl.fromFdPromise(fd, { autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (e) {
    await closeFd(fd).catch(() => undefined);
    return onStop({ reason: faultOf(e) });
  }
  try {
    try {
      members = await membersInNameOrder(zip);
    } catch (e) {
      return onStop({ reason: faultOf(e) });
    }
    const cap = opts.cap();
    const totals = { inflated: 0, decoded: 0 };
    for (const entry of members) {
      const stop = yield* member(zip, entry, cap, totals, opts);
      if (stop !== undefined) return onStop({ reason: stop });
    }
  } finally {
    zip.close();
  }
}

/** The archive's file members (directories left out), sorted by name in code-point order. */
async function membersInNameOrder(zip: ZipFile): Promise<Entry[]> {
  const named: { name: Buffer; entry: Entry }[] = [];
  for await (const entry of zip.eachEntry()) {
    // decodeStrings is off, so that a name yauzl would refuse as a path (`../x`, `/x`) is just a
    // name here; it is decoded (CP437 or UTF-8, as the entry says) for ordering only.
    const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
    if (name.endsWith('/')) continue;
    // UTF-8 byte order is code-point order (JavaScript's string order is UTF-16 code units').
    named.push({ name: Buffer.from(name, 'utf8'), entry });
  }
  // Array.prototype.sort is stable: members of the same name keep the archive's order.
  return named.sort((a, b) => Buffer.compare(a.name, b.name)).map((n) => n.entry);
}

/**
 * Copy the archive to a temporary file, which yauzl can then read at random. The file is
 * created exclusively (0600, never through a planted link) and unlinked at once: only the open
 * handle keeps it, so no exit, however abrupt, leaves it behind.
 */
async function spool(head: Buffer, rest: AsyncIterator<Buffer>): Promise<number> {
  const path = join(tmpdir(), `breach-impact-${process.pid}-${randomBytes(8).toString('hex')}.zip`);
  let fd: number;
  try {
    fd = await openFd(path, 'wx+', 0o600);
  } catch (e) {
    throw spoolError(e);
  }
  try {
    await unlinkPath(path);
    await writeAll(fd, head);
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      await writeAll(fd, r.value);
    }
    return fd;
  } catch (e) {
    await closeFd(fd).catch(() => undefined);
    await unlinkPath(path).catch(() => undefined);
    throw e;
  }
}

async function writeAll(fd: number, b: Buffer): Promise<void> {
  try {
    for (let at = 0; at < b.length; ) at += (await writeFd(fd, b, at, b.length - at)).bytesWritten;
  } catch (e) {
    throw spoolError(e);
  }
}

function spoolError(e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'no space left on the device' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? 'cannot write');
  return new InputError(`a ZIP archive on standard input must be copied to a temporary file to be read, and that failed: ${why}`, 'pass the archive as a file, or point TMPDIR at a directory with room');
}

/**
 * One member's decoded bytes, then a newline if they do not end with one. Returns why reading
 * must stop, if it must.
 */
async function* member(zip: ZipFile, entry: Entry, cap: number, totals: { inflated: number; decoded: number }, opts: UnzipOptions): AsyncGenerator<Buffer, Fault | undefined> {
  if (entry.isEncrypted() || !entry.canDecodeFileData()) return 'unsupported_zip';
  const state: { fault?: Fault } = {};
  const raw = memberBytes(zip, entry, 0, state, (n) => (totals.inflated += n) <= cap);
  let inner: Stop | undefined;
  let content: AsyncIterator<Buffer> | undefined;
  try {
    const first = await take(raw, 2);
    if (first.head.length >= 2 && first.head[0] === 0x1f && first.head[1] === 0x8b) {
      const before = totals.decoded;
      content = gunzip(first.head, first.rest, { cap: () => cap - before, reread: (start) => memberBytes(zip, entry, start, {}, () => true) }, (s) => (inner = s));
    } else {
      content = chain(first.head, first.rest);
    }
    const start = await take(content, 4);
    let chunk = start.head;
    if (chunk.length > 0) opts.memberStart?.(chunk);
    if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    let last = -1;
    for (let r: IteratorResult<Buffer> = { done: false, value: chunk }; !r.done; r = await start.rest.next()) {
      if (r.value.length === 0) continue;
      totals.decoded += r.value.length;
      if (totals.decoded > cap) return 'decompressed_size_cap';
      last = r.value[r.value.length - 1];
      yield r.value;
    }
    // A fault of the archive explains a gzip stream that seemed to end early: it comes first.
    if (state.fault !== undefined) return state.fault;
    if (inner !== undefined) return inner.reason;
    if (last !== -1 && last !== 0x0a) yield Buffer.from('\n');
    return undefined;
  } finally {
    // Stopped before the member's end (a fault, the cap, or the reader gave up): close its streams.
    await content?.return?.(undefined);
    await raw.return(undefined);
  }
}

/**
 * A member's bytes as stored after inflation, from `start`. At the end the CRC-32 is checked
 * (from the start only). A fault, or `more(n)` refusing n more bytes, is left in `state` and ends
 * the bytes.
 */
async function* memberBytes(zip: ZipFile, entry: Entry, start: number, state: { fault?: Fault }, more: (n: number) => boolean): AsyncGenerator<Buffer> {
  let crc = 0;
  let at = 0;
  try {
    const stream = await zip.openReadStreamPromise(entry);
    for await (const c of stream as AsyncIterable<Buffer>) {
      if (!more(c.length)) {
        state.fault = 'decompressed_size_cap';
        return;
      }
      crc = crc32(c, crc);
      const from = Math.max(0, start - at);
      at += c.length;
      if (from < c.length) yield from === 0 ? c : c.subarray(from);
    }
  } catch (e) {
    state.fault = faultOf(e);
    return;
  }
  if (start === 0 && crc >>> 0 !== entry.crc32 >>> 0) state.fault = 'corrupt_zip';
}

/** The first chunks of `it` joined until at least `n` bytes (or its end), and the rest of it. */
async function take(it: AsyncIterator<Buffer>, n: number): Promise<{ head: Buffer; rest: AsyncIterator<Buffer> }> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const r = await it.next();
    if (r.done) break;
    parts.push(r.value);
    length += r.value.length;
  }
  return { head: parts.length === 1 ? parts[0] : Buffer.concat(parts), rest: it };
}

async function* chain(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}
