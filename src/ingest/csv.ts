/**
 * RFC 4180 CSV, split into records with their physical start line. Written here rather than with
 * csv-parse because the contract needs what that parser cannot give: the line where an unclosed
 * quote opened, resynchronising on the next line after a stray quote, a per-record size cap that
 * never buffers the record, and LF, CRLF and CR mixed in one file. (csv-parse stays as a test
 * oracle: test/csv.test.ts checks both agree on every well-formed corpus file.)
 */
import { MAX_RECORD_BYTES } from './lines.js';

export type CsvReject = 'stray_quote' | 'record_too_large';

export interface CsvSink {
  record(line: number, cells: string[]): void;
  reject(line: number, reason: CsvReject): void;
  stop(line: number, reason: 'unclosed_quote'): void;
}

const enum S {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteSeen, // a quote inside a quoted field: closing, or the first of ""
}

export class CsvSplitter {
  private state = S.FieldStart;
  private line = 1;
  private pendingCR = false;
  private cells: string[] = [];
  private field = '';
  private recordLine = 0;
  private inRecord = false;
  private quoteLine = 0;
  private stray = false;
  private size = 0;
  private oversize = false;

  constructor(private readonly sink: CsvSink, private readonly delimiter = 0x2c, private readonly maxChars = MAX_RECORD_BYTES) {}

  push(text: string): void {
    const n = text.length;
    let i = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (n > 0 && text.charCodeAt(0) === 0x0a) {
        // the LF of a CRLF split across chunks; inside quotes it is field text
        if (this.state === S.Quoted) this.append('\n');
        i = 1;
      }
    }
    let seg = i; // start of pending field text in this chunk
    const d = this.delimiter;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      switch (this.state) {
        case S.Quoted:
          if (c === 0x22) {
            this.append(text.slice(seg, i));
            this.state = S.QuoteSeen;
          } else if (c === 0x0a) {
            this.line++;
          } else if (c === 0x0d) {
            this.line++;
            if (i + 1 < n) {
              if (text.charCodeAt(i + 1) === 0x0a) i++;
            } else {
              this.append(text.slice(seg, i + 1));
              seg = n;
              this.pendingCR = true;
            }
          }
          continue;
        case S.QuoteSeen:
          if (c === 0x22) {
            this.append('"');
            this.state = S.Quoted;
            seg = i + 1;
            continue;
          }
          this.state = S.Unquoted;
          seg = i;
          if (c !== d && c !== 0x0a && c !== 0x0d) {
            this.stray = true; // text after a closing quote
            continue;
          }
          break;
        case S.FieldStart:
          if (!this.inRecord) {
            if (c === 0x0a || c === 0x0d) {
              // blank line: not a record
              this.line++;
              if (c === 0x0d) {
                if (i + 1 < n) {
                  if (text.charCodeAt(i + 1) === 0x0a) i++;
                } else this.pendingCR = true;
              }
              seg = i + 1;
              continue;
            }
            this.inRecord = true;
            this.recordLine = this.line;
          }
          if (c === 0x22) {
            this.state = S.Quoted;
            this.quoteLine = this.line;
            seg = i + 1;
            continue;
          }
          this.state = S.Unquoted;
          seg = i;
          break;
        case S.Unquoted:
          break;
      }
      // Unquoted (or just left a quoted field)
      if (c === d) {
        this.append(text.slice(seg, i));
        this.endField();
        this.state = S.FieldStart;
        seg = i + 1;
      } else if (c === 0x0a || c === 0x0d) {
        this.append(text.slice(seg, i));
        this.endField();
        this.endRecord();
        this.line++;
        if (c === 0x0d) {
          if (i + 1 < n) {
            if (text.charCodeAt(i + 1) === 0x0a) i++;
          } else this.pendingCR = true;
        }
        this.state = S.FieldStart;
        seg = i + 1;
      } else if (c === 0x22) {
        this.stray = true; // a quote inside an unquoted field
      }
    }
    if (seg < n && (this.state === S.Quoted || this.state === S.Unquoted)) this.append(text.slice(seg, n));
  }

  end(): void {
    if (this.state === S.Quoted) {
      this.sink.stop(this.quoteLine, 'unclosed_quote');
      this.reset();
      return;
    }
    if (this.inRecord) {
      this.endField();
      this.endRecord();
    }
  }

  private append(s: string): void {
    if (s.length === 0 || this.oversize) return;
    this.size += s.length;
    if (this.size > this.maxChars) {
      this.oversize = true;
      this.field = '';
      this.cells = [];
      return;
    }
    this.field += s;
  }

  private endField(): void {
    if (!this.oversize) this.cells.push(this.field);
    this.field = '';
  }

  private endRecord(): void {
    if (this.oversize) this.sink.reject(this.recordLine, 'record_too_large');
    else if (this.stray) this.sink.reject(this.recordLine, 'stray_quote');
    else this.sink.record(this.recordLine, this.cells);
    this.reset();
  }

  private reset(): void {
    this.cells = [];
    this.field = '';
    this.inRecord = false;
    this.stray = false;
    this.size = 0;
    this.oversize = false;
    this.state = S.FieldStart;
  }
}
