/**
 * Streaming splitter for JSON documents that are not NDJSON: a top-level array of records, a
 * `{"results": [...]}` page (or several, concatenated), or pretty-printed objects one after
 * another. It finds each record's bytes without parsing them, so a huge array never sits in
 * memory; each record is later parsed on its own. Elements over the record cap are dropped as
 * they stream past, and nesting deeper than the limit is reported without recursion.
 */
import { MAX_RECORD_BYTES } from './lines.js';

export const MAX_DEPTH = 64;

export type ValueReject = 'record_too_large' | 'max_depth' | 'invalid_json';
export type StreamStop = 'trailing_garbage' | 'truncated_json';

export interface ValueSink {
  value(lineNo: number, bytes: Buffer): void;
  reject(lineNo: number, reason: ValueReject): void;
  stop(lineNo: number, reason: StreamStop): void;
}

const enum Mode {
  Top, // between top-level values
  ArrayBetween, // inside a record array, between elements
  Element, // inside a record's bytes
  SkipRest, // rest of a results page after its array: skipped
  AfterArray, // a top-level array has closed: only white space may follow
  Stopped,
}

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export class JsonStreamSplitter {
  private mode = Mode.Top;
  private line = 1;
  private pendingCR = false;
  // array state
  private inResults = false;
  private needComma = false;
  /** line of a comma after an element, until the next element: a `,]` is invalid_json there */
  private commaLine = 0;
  // element state
  private kind = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private startLine = 0;
  private parts: Buffer[] = [];
  private bytes = 0;
  private oversize = false;
  private tooDeep = false;
  private topObject = false;
  private elementInArray = false;
  // key tracking inside a top-level object (to find "results")
  private expectKey = false;
  private capturing = false;
  private key = '';
  private lastKey = '';

  constructor(private readonly sink: ValueSink, private readonly maxBytes = MAX_RECORD_BYTES, private readonly maxDepth = MAX_DEPTH) {}

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    let segStart = -1; // start of the element bytes within this chunk
    if (this.mode === Mode.Element) segStart = 0;
    while (i < n) {
      const b = chunk[i];
      // physical line counting: LF, CRLF, bare CR
      if (b === 0x0a) {
        if (this.pendingCR) this.pendingCR = false;
        else this.line++;
      } else if (b === 0x0d) {
        this.line++;
        this.pendingCR = true;
      } else if (this.pendingCR) {
        this.pendingCR = false;
      }
      switch (this.mode) {
        case Mode.Stopped:
          return;
        case Mode.Top:
          if (isWs(b)) break;
          if (b === 0x5b /* [ */) {
            this.mode = Mode.ArrayBetween;
            this.inResults = false;
            this.needComma = false;
            break;
          }
          this.beginElement(b, true);
          segStart = i;
          break;
        case Mode.AfterArray:
          if (isWs(b)) break;
          this.sink.stop(this.line, 'trailing_garbage');
          this.mode = Mode.Stopped;
          return;
        case Mode.ArrayBetween:
          if (isWs(b)) break;
          if (b === 0x2c /* , */) {
            if (!this.needComma) this.sink.reject(this.line, 'invalid_json');
            else this.commaLine = this.line;
            this.needComma = false;
            break;
          }
          if (b === 0x5d /* ] */) {
            if (this.commaLine !== 0) this.sink.reject(this.commaLine, 'invalid_json');
            this.commaLine = 0;
            if (this.inResults) {
              this.mode = Mode.SkipRest;
              this.depth = 1;
              this.inString = false;
              this.escape = false;
            } else {
              this.mode = Mode.AfterArray;
            }
            break;
          }
          if (this.needComma) this.sink.reject(this.line, 'invalid_json');
          this.commaLine = 0;
          this.beginElement(b, false);
          segStart = i;
          break;
        case Mode.SkipRest:
          if (this.inString) {
            if (this.escape) this.escape = false;
            else if (b === 0x5c) this.escape = true;
            else if (b === 0x22) this.inString = false;
          } else if (b === 0x22) this.inString = true;
          else if (b === 0x7b || b === 0x5b) this.depth++;
          else if (b === 0x7d || b === 0x5d) {
            if (--this.depth === 0) this.mode = Mode.Top;
          }
          break;
        case Mode.Element: {
          const r = this.stepElement(b);
          if (r === 1) {
            // ends after this byte
            this.finishElement(chunk, segStart, i + 1);
            segStart = -1;
          } else if (r === -1) {
            // ends before this byte: re-run it in the enclosing state
            this.finishElement(chunk, segStart, i);
            segStart = -1;
            if (b === 0x0a || b === 0x0d) {
              // undo the line count; it is counted again on re-entry
              this.line--;
              this.pendingCR = false;
            }
            continue;
          } else if (r === 2) {
            // switched into a results array: drop the page's bytes so far
            this.parts = [];
            this.bytes = 0;
            segStart = -1;
          }
          break;
        }
      }
      i++;
    }
    if (this.mode === Mode.Element && segStart !== -1) this.keep(chunk, segStart, n);
  }

  end(): void {
    if (this.mode === Mode.Element) {
      const scalar = this.kind !== 0x7b && this.kind !== 0x5b && this.kind !== 0x22;
      if (!scalar) {
        this.sink.stop(this.startLine, 'truncated_json');
        this.mode = Mode.Stopped;
        return;
      }
      this.finishElement(Buffer.alloc(0), -1, -1);
    }
    if (this.mode === Mode.ArrayBetween || this.mode === Mode.SkipRest) {
      this.sink.stop(this.line, 'truncated_json');
      this.mode = Mode.Stopped;
    }
  }

  private beginElement(b: number, top: boolean): void {
    this.mode = Mode.Element;
    this.kind = b;
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.startLine = this.line;
    this.parts = [];
    this.bytes = 0;
    this.oversize = false;
    this.tooDeep = false;
    this.topObject = top && b === 0x7b;
    this.elementInArray = !top;
    this.expectKey = false;
    this.capturing = false;
    this.key = '';
    this.lastKey = '';
    if (b === 0x7b || b === 0x5b) {
      this.depth = 1;
      this.expectKey = this.topObject;
    } else if (b === 0x22) {
      this.inString = true;
    }
  }

  /** 0: continue, 1: element ends after b, -1: ends before b, 2: entered a results array. */
  private stepElement(b: number): number {
    if (this.inString) {
      if (this.escape) {
        this.escape = false;
        if (this.capturing) this.key += String.fromCharCode(b);
      } else if (b === 0x5c) {
        this.escape = true;
      } else if (b === 0x22) {
        this.inString = false;
        if (this.capturing) {
          this.capturing = false;
          this.lastKey = this.key;
        }
        if (this.depth === 0) return 1; // a string scalar
      } else if (this.capturing && this.key.length < 16) {
        this.key += String.fromCharCode(b);
      }
      return 0;
    }
    const container = this.kind === 0x7b || this.kind === 0x5b;
    if (!container && this.kind !== 0x22) {
      // number or literal (or garbage): ends at a delimiter
      if (b === 0x2c || b === 0x5d || b === 0x7d || isWs(b) || b === 0x5b || b === 0x7b || b === 0x22) return -1;
      return 0;
    }
    if (b === 0x22) {
      this.inString = true;
      if (this.topObject && this.depth === 1 && this.expectKey) {
        this.capturing = true;
        this.key = '';
      }
      return 0;
    }
    if (b === 0x7b || b === 0x5b) {
      if (this.topObject && this.depth === 1 && b === 0x5b && !this.expectKey && this.lastKey === 'results') {
        this.mode = Mode.ArrayBetween;
        this.inResults = true;
        this.needComma = false;
        return 2;
      }
      this.depth++;
      if (this.depth === 1 && this.topObject) this.expectKey = true;
      if (this.depth > this.maxDepth) this.tooDeep = true;
      return 0;
    }
    if (b === 0x7d || b === 0x5d) {
      if (this.depth === 0) return -1;
      this.depth--;
      return this.depth === 0 ? 1 : 0;
    }
    if (this.topObject && this.depth === 1) {
      if (b === 0x3a /* : */) this.expectKey = false;
      else if (b === 0x2c) {
        this.expectKey = true;
        this.lastKey = '';
      }
    }
    return 0;
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (this.oversize || this.tooDeep) return;
    this.bytes += end - start;
    if (this.bytes > this.maxBytes) {
      this.oversize = true;
      this.parts = [];
      return;
    }
    this.parts.push(Buffer.from(chunk.subarray(start, end)));
  }

  private finishElement(chunk: Buffer, start: number, end: number): void {
    this.mode = this.elementInArray ? Mode.ArrayBetween : Mode.Top;
    if (this.elementInArray) this.needComma = true;
    if (start !== -1 && end > start) this.keep(chunk, start, end);
    if (this.tooDeep) {
      this.parts = [];
      this.sink.reject(this.startLine, 'max_depth');
      return;
    }
    if (this.oversize) {
      this.sink.reject(this.startLine, 'record_too_large');
      return;
    }
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.bytes = 0;
    this.sink.value(this.startLine, bytes);
  }
}
