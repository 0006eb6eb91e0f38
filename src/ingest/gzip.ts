/**
 * gzip (RFC 1952), member by member: each header parsed here, its deflate data inflated by zlib
 * (raw), its CRC-32 and length checked here. Checking the trailer ourselves means a damaged
 * trailer costs nothing: every byte was already inflated and handed on before the mismatch is
 * reported. zlib's stream drops the output of the call that meets corrupt data (up to one 64 KiB
 * chunk), so for a regular file that damage is re-inflated from the member's start, the bytes
 * around it fed a few at a time, then one at a time, to recover what the damage left readable.
 */
import { createReadStream } from 'node:fs';
import { createInflateRaw, crc32, type InflateRaw } from 'node:zlib';
import type { Stop } from './source.js';

const OUT_CHUNK = 1 << 16;

export interface GunzipOptions {
  /** Decompressed bytes allowed, asked anew as the compressed size grows. */
  cap(): number;
  /** Read the raw file again from an offset (regular files), for recovery; absent for stdin. */
  reread?: (start: number) => AsyncIterable<Buffer>;
}

/** Unconsumed compressed bytes, pulled from the input as needed; `offset` counts bytes taken. */
class Bytes {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  offset = 0;

  constructor(private readonly input: AsyncIterator<Buffer>) {}

  /** Ensure at least n bytes are buffered; false if the input ended first. */
  async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const r = await this.input.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) this.append(r.value);
    }
    return this.length >= n;
  }

  private append(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  byteAt(i: number): number {
    for (const c of this.chunks) {
      if (i < c.length) return c[i];
      i -= c.length;
    }
    return -1;
  }

  take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    this.offset += n;
    return out;
  }

  /** Everything buffered, or the next chunk of input; undefined at the end. */
  async next(): Promise<Buffer | undefined> {
    if (this.length === 0 && !(await this.fill(1))) return undefined;
    return this.take(this.length);
  }

  /** Give back bytes taken but not used (what follows a member's deflate data). */
  giveBack(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.unshift(b);
    this.length += b.length;
    this.offset -= b.length;
  }
}

type HeaderResult = { ok: true } | { ok: false; stop: Stop['reason'] } | { ok: 'end' };

/** Parse one member header (or see the end of the input, or zero padding after a member). */
async function readHeader(src: Bytes, first: boolean): Promise<HeaderResult> {
  if (!first) {
    // Trailing zero bytes are padding (as zlib's own gunzip treats them); anything else must be a member.
    for (;;) {
      if (!(await src.fill(1))) return { ok: 'end' };
      if (src.byteAt(0) !== 0) break;
      src.take(1);
    }
  }
  if (!(await src.fill(10))) {
    // A few bytes that do not even start a header are garbage after the data, not a cut header.
    const magic = src.byteAt(0) === 0x1f && [0x8b, -1].includes(src.byteAt(1)) && [8, -1].includes(src.byteAt(2));
    return { ok: false, stop: magic ? 'truncated_gzip' : 'corrupt_gzip' };
  }
  if (src.byteAt(0) !== 0x1f || src.byteAt(1) !== 0x8b || src.byteAt(2) !== 8) return { ok: false, stop: 'corrupt_gzip' };
  const flags = src.byteAt(3);
  if ((flags & 0xe0) !== 0) return { ok: false, stop: 'corrupt_gzip' };
  src.take(10);
  if (flags & 0x04) {
    if (!(await src.fill(2))) return { ok: false, stop: 'truncated_gzip' };
    const n = src.byteAt(0) | (src.byteAt(1) << 8);
    src.take(2);
    if (!(await src.fill(n))) return { ok: false, stop: 'truncated_gzip' };
    src.take(n);
  }
  for (const bit of [0x08, 0x10]) {
    if (!(flags & bit)) continue;
    // a zero-terminated name or comment
    for (;;) {
      if (!(await src.fill(1))) return { ok: false, stop: 'truncated_gzip' };
      if (src.take(1)[0] === 0) break;
    }
  }
  if (flags & 0x02) {
    if (!(await src.fill(2))) return { ok: false, stop: 'truncated_gzip' };
    src.take(2);
  }
  return { ok: true };
}

/** Until the stream can take more input, or will never need it. */
function drained(inf: InflateRaw): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const e of ['drain', 'close', 'end']) inf.off(e, done);
      resolve();
    };
    for (const e of ['drain', 'close', 'end']) inf.on(e, done);
  });
}

/** zlib's error for input that ends inside the deflate data. */
const isTruncation = (e: unknown) => (e as { code?: string }).code === 'Z_BUF_ERROR';

/**
 * Inflate one member's deflate data from `src`, yielding output; returns how it ended. Leaves
 * `src` positioned after the deflate data.
 */
async function* inflateMember(src: Bytes, member: { out: number; crc: number; failedAt: number }): AsyncGenerator<Buffer, 'ok' | 'truncated' | 'corrupt'> {
  const start = src.offset;
  const inf: InflateRaw = createInflateRaw({ chunkSize: OUT_CHUNK });
  /** chunks written and not known to be consumed, with the member offset each starts at */
  const written: { at: number; buf: Buffer }[] = [];
  let writtenEnd = 0;
  let ended = false;
  let readError: unknown;
  inf.once('end', () => (ended = true));
  // Errors reach the reading loop below; late ones (a write racing the end) are of no interest.
  inf.on('error', () => undefined);
  const feed = (async () => {
    for (;;) {
      if (ended || inf.destroyed) return;
      const b = await src.next();
      if (b === undefined) {
        if (!inf.destroyed) inf.end();
        return;
      }
      written.push({ at: writtenEnd, buf: b });
      writtenEnd += b.length;
      const ok = inf.write(b, () => {
        while (written.length > 0 && written[0].at + written[0].buf.length <= inf.bytesWritten) written.shift();
      });
      if (!ok && !inf.destroyed) await drained(inf);
    }
  })().catch((e: unknown) => {
    readError = e;
    inf.destroy(e as Error);
  });
  let result: 'ok' | 'truncated' | 'corrupt' = 'ok';
  let finished = false;
  try {
    for await (const c of inf as AsyncIterable<Buffer>) {
      member.crc = crc32(c, member.crc);
      member.out += c.length;
      yield c;
    }
    finished = true;
  } catch (e) {
    result = isTruncation(e) ? 'truncated' : 'corrupt';
    finished = true;
  } finally {
    // Returned early (the size cap, or the reader gave up): nothing more is wanted from zlib.
    if (!finished) inf.destroy();
  }
  member.failedAt = inf.bytesWritten;
  await feed;
  if (readError !== undefined) throw readError;
  if (result === 'ok') {
    // Give back what follows the deflate data: the trailer and any further member.
    const consumed = inf.bytesWritten;
    const tail = written.filter((w) => w.at + w.buf.length > consumed).map((w) => (w.at < consumed ? w.buf.subarray(consumed - w.at) : w.buf));
    src.giveBack(Buffer.concat(tail));
    src.offset = start + consumed;
  }
  inf.destroy();
  return result;
}

/**
 * Inflate a member again from its start: `safeInput` compressed bytes in one go (they inflated
 * without error before), the rest `slice` bytes at a time until the damage. Returns the output
 * beyond the first `delivered` bytes, and the member offset of the slice that met the damage.
 */
async function reinflate(reread: AsyncIterable<Buffer>, delivered: number, safeInput: number, slice: number): Promise<{ kept: Buffer[]; failedAt: number }> {
  const inf = createInflateRaw({ chunkSize: OUT_CHUNK });
  const kept: Buffer[] = [];
  let out = 0;
  /** the damage was met (or, against expectation, the stream ended) */
  let over = false;
  let failedAt = -1;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const end = () => {
    over = true;
    stop();
  };
  inf.on('data', (c: Buffer) => {
    const from = Math.max(0, delivered - out);
    out += c.length;
    if (from < c.length) kept.push(c.subarray(from));
  });
  inf.on('error', end);
  inf.on('end', end);
  let fed = 0;
  // Each write's output is emitted (a turn of the event loop later at most) before the next one.
  const write = async (b: Buffer) => {
    if (over) return;
    await Promise.race([new Promise<void>((resolve) => inf.write(b, () => resolve())), stopped]);
    await new Promise((r) => setImmediate(r));
    if (over && failedAt === -1) failedAt = fed;
    fed += b.length;
  };
  try {
    for await (const chunk of reread) {
      let b = chunk as Buffer;
      if (fed < safeInput) {
        const fast = b.subarray(0, safeInput - fed);
        await write(fast);
        b = b.subarray(fast.length);
      }
      for (let i = 0; i < b.length && !over; i += slice) await write(b.subarray(i, i + slice));
      if (over) break;
    }
  } catch {
    /* the file could not be read again: keep what was recovered */
  }
  inf.destroy();
  return { kept, failedAt: failedAt === -1 ? fed : failedAt };
}

/**
 * What a damaged member still holds beyond the `delivered` bytes already handed on. zlib drops
 * what the call that meets the damage decoded, so the damage is narrowed down: the member is
 * inflated again fed 64 bytes at a time, then once more fed a byte at a time from the slice that
 * failed. What is lost is at most what one compressed byte decodes to (a few symbols).
 */
async function recover(reread: (start: number) => AsyncIterable<Buffer>, memberStart: number, delivered: number, safeInput: number): Promise<Buffer[]> {
  const coarse = await reinflate(reread(memberStart), delivered, safeInput, 64);
  // a slice of margin: should zlib report the error a write late, the failing slice is still fed bytewise
  const fine = await reinflate(reread(memberStart), delivered, Math.max(safeInput, coarse.failedAt - 64), 1);
  return fine.kept;
}

/**
 * The decompressed bytes of a gzip stream (`head` then `rest`), every member in turn. Reading
 * stops early, with the reason passed to `onStop`, at a truncated or corrupt stream or beyond the
 * decompressed-size cap; what was inflated before that is yielded first.
 */
export async function* gunzip(head: Buffer, rest: AsyncIterator<Buffer>, opts: GunzipOptions, onStop: (s: Stop) => void): AsyncGenerator<Buffer> {
  const src = new Bytes(
    (async function* () {
      yield head;
      for (;;) {
        const r = await rest.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
  );
  let total = 0;
  try {
    for (let first = true; ; first = false) {
      const h = await readHeader(src, first);
      if (h.ok === 'end') return;
      if (h.ok === false) return onStop({ reason: h.stop });
      const memberStart = src.offset;
      const member = { out: 0, crc: 0, failedAt: 0 };
      const it = inflateMember(src, member);
      let r: IteratorResult<Buffer, 'ok' | 'truncated' | 'corrupt'>;
      while (!(r = await it.next()).done) {
        total += r.value.length;
        if (total > opts.cap()) {
          await it.return('ok');
          return onStop({ reason: 'decompressed_size_cap' });
        }
        yield r.value;
      }
      if (r.value === 'truncated') return onStop({ reason: 'truncated_gzip' });
      if (r.value === 'corrupt') {
        if (opts.reread !== undefined) {
          for (const c of await recover(opts.reread, memberStart, member.out, member.failedAt)) {
            total += c.length;
            if (total > opts.cap()) return onStop({ reason: 'decompressed_size_cap' });
            yield c;
          }
        }
        return onStop({ reason: 'corrupt_gzip' });
      }
      if (!(await src.fill(8))) return onStop({ reason: 'truncated_gzip' });
      const trailer = src.take(8);
      if (trailer.readUInt32LE(0) !== member.crc >>> 0 || trailer.readUInt32LE(4) !== member.out % 2 ** 32) return onStop({ reason: 'corrupt_gzip' });
    }
  } catch {
    onStop({ reason: 'read_error' });
  }
}

/** Raw bytes of a regular file from `start`, for recovery. */
export function rereadFile(path: string): (start: number) => AsyncIterable<Buffer> {
  return (start) => createReadStream(path, { start, highWaterMark: 1 << 20 });
}
