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
