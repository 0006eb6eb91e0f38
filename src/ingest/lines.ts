/**
 * Byte-level line splitting for NDJSON: LF, CRLF and bare CR all end a line (a CRLF split across
 * chunks counts once); line numbers are physical and 1-based. A line longer than the record cap
 * is never buffered whole: its bytes are dropped as they arrive and it is reported as oversize.
 */
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface LineSink {
  /** A complete line, without its terminator. `bytes` is only valid during the call. */
  line(lineNo: number, bytes: Buffer): void;
  /** A line over the cap; its content was discarded. */
  oversize(lineNo: number): void;
}

export class LineSplitter {
  private lineNo = 1;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private oversized = false;
  private pendingCR = false;

  constructor(private readonly sink: LineSink, private readonly maxBytes = MAX_RECORD_BYTES) {}

  push(chunk: Buffer): void {
    let start = 0;
    const n = chunk.length;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (n > 0 && chunk[0] === 0x0a) start = 1;
    }
    const hasCR = chunk.indexOf(0x0d, start) !== -1;
    while (start < n) {
      let end: number;
      if (hasCR) {
        end = start;
        while (end < n && chunk[end] !== 0x0a && chunk[end] !== 0x0d) end++;
      } else {
        end = chunk.indexOf(0x0a, start);
        if (end === -1) end = n;
      }
      if (end === n) {
        this.carry(chunk, start, n);
        return;
      }
      this.emit(chunk, start, end);
      if (chunk[end] === 0x0d) {
        if (end + 1 < n) {
          start = chunk[end + 1] === 0x0a ? end + 2 : end + 1;
        } else {
          this.pendingCR = true;
          start = n;
        }
      } else {
        start = end + 1;
      }
    }
  }

  end(): void {
    if (this.parts.length > 0 || this.oversized) this.emit(Buffer.alloc(0), 0, 0);
  }

  /** Lines emitted so far (as lines or oversize). */
  get lines(): number {
    return this.lineNo - 1;
  }

  private carry(chunk: Buffer, start: number, end: number): void {
    if (this.oversized) return;
    this.partBytes += end - start;
    if (this.partBytes > this.maxBytes) {
      this.oversized = true;
      this.parts = [];
      return;
    }
    // Copy: the caller may reuse its chunk.
    this.parts.push(Buffer.from(chunk.subarray(start, end)));
  }

  private emit(chunk: Buffer, start: number, end: number): void {
    const lineNo = this.lineNo++;
    if (this.oversized || this.partBytes + (end - start) > this.maxBytes) {
      this.oversized = false;
      this.parts = [];
      this.partBytes = 0;
      this.sink.oversize(lineNo);
      return;
    }
    let bytes: Buffer;
    if (this.parts.length === 0) {
      bytes = chunk.subarray(start, end);
    } else {
      this.parts.push(chunk.subarray(start, end));
      bytes = Buffer.concat(this.parts);
      this.parts = [];
      this.partBytes = 0;
    }
    this.sink.line(lineNo, bytes);
  }
}

/** Where BlockCutter hands its blocks. */
export interface BlockSink {
  /** A buffer to fill, of at least `min` bytes (the cutter owns it until it hands it to block()). */
  buffer(min: number): Buffer;
  /** `buf[0, end)`: whole lines (the last one's end included, unless it ends the input); `buf` is the sink's now. */
  block(buf: Buffer, end: number): void;
  /** A line over the cap, its bytes dropped, in its place among the blocks. */
  oversize(): void;
}

/**
 * An input's bytes cut into blocks of whole lines, each of about `blockBytes` (more when one line
 * is longer), at the last line end in a full buffer: a LineSplitter over each block, numbering
 * from 1, finds the same lines as over the whole input, and the lines of the blocks and the
 * oversize lines, in order, are the input's. A CR is never a block's last byte while an LF may
 * follow it (CRLF ends one line). A buffer that holds nothing but more than `maxBytes` of one
 * line makes it oversize: its bytes are dropped up to its end, never buffered whole.
 */
export class BlockCutter {
  private buf: Buffer;
  private used = 0;
  /** inside an oversize line, dropping its bytes up to its end */
  private skipping = false;
  /** the oversize line ended with a CR, the last byte seen: an LF first in the next bytes is its */
  private pendingCR = false;

  constructor(
    private readonly sink: BlockSink,
    private readonly blockBytes: number,
    private readonly maxBytes = MAX_RECORD_BYTES,
  ) {
    this.buf = sink.buffer(blockBytes);
  }

  /** The input's next bytes (only read during the call). */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.pendingCR) {
        this.pendingCR = false;
        if (chunk[at] === 0x0a) at++;
        continue;
      }
      if (this.skipping) {
        let end = at;
        while (end < chunk.length && chunk[end] !== 0x0a && chunk[end] !== 0x0d) end++;
        if (end === chunk.length) return;
        this.skipping = false;
        this.sink.oversize();
        this.pendingCR = chunk[end] === 0x0d;
        at = end + 1;
        continue;
      }
      const n = Math.min(chunk.length - at, this.buf.length - this.used);
      chunk.copy(this.buf, this.used, at, at + n);
      this.used += n;
      at += n;
      if (this.used === this.buf.length) this.full();
    }
  }

  /**
   * The input ended (`complete`: its last line may have no line end) or stopped (a line it ended
   * inside is not a line): the last block handed out.
   */
  end(complete: boolean): void {
    if (this.skipping) {
      this.skipping = false;
      if (complete) this.sink.oversize();
    }
    const end = complete ? this.used : completeEnd(this.buf, this.used, true);
    if (end > 0) this.cut(end);
    this.used = 0;
  }

  /** The buffer is full: its complete lines handed out, the partial one kept (or dropped, if over the cap). */
  private full(): void {
    const end = completeEnd(this.buf, this.used, false);
    if (end > 0) return this.cut(end);
    // one line: ended by a CR as the last byte (an LF may follow it), or not ended yet
    const endedByCR = this.buf[this.used - 1] === 0x0d;
    if (this.used - (endedByCR ? 1 : 0) > this.maxBytes) {
      this.used = 0;
      if (endedByCR) {
        this.sink.oversize();
        this.pendingCR = true;
      } else {
        this.skipping = true;
      }
      return;
    }
    // a line longer than a block: a buffer large enough for it, its CR and an LF (or for one byte over the cap)
    const bigger = this.sink.buffer(Math.min(2 * this.buf.length, this.maxBytes + 2));
    this.buf.copy(bigger, 0, 0, this.used);
    this.buf = bigger;
  }

  /** `buf[0, end)` handed out; the bytes after it start the next buffer. */
  private cut(end: number): void {
    const sent = this.buf;
    this.buf = this.sink.buffer(Math.max(this.blockBytes, this.used - end));
    sent.copy(this.buf, 0, end, this.used);
    this.used -= end;
    this.sink.block(sent, end);
  }
}

/**
 * Where the complete lines of `buf[0, used)` end: just after the last LF or CR, 0 if none. Unless
 * `atEnd` (no byte follows), a CR as the last byte is left out: an LF may follow it, and CRLF
 * ends one line, not two.
 */
export function completeEnd(buf: Buffer, used: number, atEnd: boolean): number {
  let i = used - 1;
  if (!atEnd && i >= 0 && buf[i] === 0x0d) i--;
  if (i < 0) return 0;
  const lf = buf.lastIndexOf(0x0a, i);
  // a CR after the last LF (the bytes after it are at most a line: a short search)
  const cr = buf.subarray(lf + 1, i + 1).lastIndexOf(0x0d);
  return cr === -1 ? lf + 1 : lf + 1 + cr + 1;
}
