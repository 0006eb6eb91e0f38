/**
 * Opening one export: a file or `-` (stdin), gzip and ZIP recognised by their magic bytes, a
 * UTF-8 BOM stripped, UTF-16 refused. Yields decompressed chunks; the raw bytes are hashed on the
 * way in for the manifest. A read that fails part-way ends the stream with a Stop, never a throw,
 * so the records before it are kept.
 */
import { createReadStream, statSync } from 'node:fs';
import { isAbsolute, basename, normalize } from 'node:path';
import { UsageError } from '../errors.js';
import { gunzip, rereadFile } from './gzip.js';
import { streamHash } from './hasher.js';
import { isZip, unzip } from './zip.js';

export interface InputFile {
  /** As given on the command line (`-` for stdin). */
  path: string;
  /** How lists name it: the relative path as given, the base name of an absolute one, `<stdin>` for `-`. */
  label: string;
  /** Raw (compressed) bytes read, and their SHA-256, once the stream has ended. */
  rawBytes: number;
  sha256: string;
  gzip: boolean;
  /** A ZIP archive (its members read as one stream); `gzip` then stays false. */
  zip?: boolean;
}

/** Why a file could not be read to its end. */
export interface Stop {
  reason: 'truncated_gzip' | 'corrupt_gzip' | 'truncated_zip' | 'corrupt_zip' | 'unsupported_zip' | 'decompressed_size_cap' | 'read_error';
}

/** Decompression stops past max(MIN_INFLATE_CAP, MAX_INFLATE_RATIO × compressed bytes): fixed, no setting changes them. */
export const MAX_INFLATE_RATIO = 1000;
export const MIN_INFLATE_CAP = 1024 ** 3;

/** What a way of stopping early means, for people (the reason codes are for machines). */
export function stopMeaning(reason: string): string {
  const mib = MIN_INFLATE_CAP / 1024 ** 2;
  const cap = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
  const meanings: Record<string, string> = {
    truncated_gzip: 'The gzip stream ends early: the file is truncated.',
    corrupt_gzip: 'The gzip data is corrupt from here on.',
    truncated_zip: 'The ZIP archive is cut short: its central directory (at the end) is missing, so no member can be read. Download or copy the export again.',
    corrupt_zip: 'The ZIP archive is damaged from here on (a bad structure, a member that fails its CRC-32 or size check, or corrupt deflate data).',
    unsupported_zip: 'A member of the ZIP archive is encrypted or uses a compression method other than deflate; extract the archive yourself and pass its files.',
    decompressed_size_cap: `The gzip stream or ZIP archive inflates beyond max(${cap}, ${MAX_INFLATE_RATIO} × its compressed size): a possible decompression bomb. If the file is genuine, decompress it yourself and pass the plain file.`,
    read_error: 'The file could not be read further.',
    unclosed_quote: 'A quoted CSV field opened on this line is never closed.',
    truncated_json: 'The JSON document ends inside a value.',
    trailing_garbage: 'Text follows the end of the JSON array.',
  };
  return meanings[reason] ?? reason;
}

export function labelOf(path: string): string {
  if (path === '-') return '<stdin>';
  return isAbsolute(path) ? basename(path) : normalize(path);
}

export function checkReadable(path: string): void {
  if (path === '-') return;
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`cannot open export ${labelOf(path)}: no such file`, 'check the path, or pass - to read standard input');
  }
  if (st.isDirectory()) throw new UsageError(`export ${labelOf(path)} is a directory`, 'name the export files themselves');
}

/**
 * Chunks of decompressed, BOM-less bytes. `onStop` is told if reading ended early.
 * Decompression is capped at max(1 GiB, 1000 × compressed bytes) against gzip bombs.
 */
export async function* openInput(file: InputFile, onStop: (s: Stop) => void): AsyncGenerator<Buffer> {
  const size = regularFileSize(file.path);
  const hash = streamHash(size);
  const raw: AsyncIterable<Buffer> = file.path === '-' ? (process.stdin as AsyncIterable<Buffer>) : createReadStream(file.path, { highWaterMark: 1 << 20 });
  const rawIter = raw[Symbol.asyncIterator]();
  const tapped: AsyncGenerator<Buffer> = (async function* () {
    try {
      for (;;) {
        const r = await rawIter.next();
        if (r.done) return;
        await hash.update(r.value);
        file.rawBytes += r.value.length;
        yield r.value;
      }
    } finally {
      file.sha256 = await hash.digest();
    }
  })();

  // Peek the first bytes (four, or all there are: a pipe may deliver fewer) to recognise gzip and ZIP.
  const peeked: Buffer[] = [];
  let readFailed = false;
  for (let n = 0; n < 4; ) {
    const r = await tapped.next().catch(() => ((readFailed = true), { done: true as const, value: undefined }));
    if (r.done) break;
    peeked.push(r.value);
    n += r.value.length;
  }
  const head = Buffer.concat(peeked);
  if (head.length === 0) {
    await tapped.return(undefined);
    if (readFailed) onStop({ reason: 'read_error' });
    return;
  }
  let decoded: AsyncIterable<Buffer>;
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    file.gzip = true;
    decoded = gunzip(head, tapped, { cap: () => Math.max(MIN_INFLATE_CAP, MAX_INFLATE_RATIO * file.rawBytes), reread: size !== undefined ? rereadFile(file.path) : undefined }, onStop);
  } else if (isZip(head)) {
    // Every member's start is checked (UTF-16 refused, BOM stripped) in zip.ts.
    file.zip = true;
    const label = file.label;
    decoded = unzip(head, tapped, { path: size !== undefined ? file.path : undefined, cap: () => Math.max(MIN_INFLATE_CAP, MAX_INFLATE_RATIO * (size ?? file.rawBytes)), memberStart: (c) => refuseUtf16(c, label) }, onStop);
  } else if (readFailed) {
    decoded = (async function* () {
      yield head;
      onStop({ reason: 'read_error' });
    })();
  } else {
    decoded = (async function* () {
      yield head;
      try {
        yield* tapped;
      } catch {
        onStop({ reason: 'read_error' });
      }
    })();
  }

  let firstChunk = !file.zip;
  for await (let chunk of decoded) {
    if (firstChunk) {
      if (chunk.length === 0) continue;
      firstChunk = false;
      refuseUtf16(chunk, file.label);
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    yield chunk;
  }
  // A gzip stream that stopped early, or a ZIP read in place, leaves raw bytes unread: the
  // manifest hashes the whole file.
  try {
    while (!(await tapped.next()).done);
  } catch {
    /* unreadable from here on: the hash covers what could be read */
  }
}

/** The size of a file that can be read a second time (not stdin, a pipe or a device); else undefined. */
function regularFileSize(path: string): number | undefined {
  if (path === '-') return undefined;
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

function refuseUtf16(chunk: Buffer, label: string): void {
  const hint = 'convert it first, e.g. iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8';
  if (chunk.length >= 2 && chunk[0] === 0xff && chunk[1] === 0xfe) throw new UsageError(`${label}: unsupported encoding UTF-16LE (BOM FF FE)`, hint);
  if (chunk.length >= 2 && chunk[0] === 0xfe && chunk[1] === 0xff) throw new UsageError(`${label}: unsupported encoding UTF-16BE (BOM FE FF)`, hint);
  if (chunk.length >= 4) {
    if (chunk[0] !== 0 && chunk[1] === 0 && chunk[2] !== 0 && chunk[3] === 0) throw new UsageError(`${label}: unsupported encoding UTF-16LE (no BOM, NUL bytes between characters)`, hint);
    if (chunk[0] === 0 && chunk[1] !== 0 && chunk[2] === 0 && chunk[3] !== 0) throw new UsageError(`${label}: unsupported encoding UTF-16BE (no BOM, NUL bytes between characters)`, hint);
  }
}
