/**
 * The dedupe of keyed records, decided after the reading from entries written down during it, so
 * that its memory does not grow with the export's records (the contract: aggregate per identity,
 * not per event).
 *
 * Every accepted record with a record key leaves an entry: its key's 128-bit keyed hash
 * (hashRecordId), the same hash of its identity's grouping key, and its file's index with a bit
 * for "carries no time". Entries go to one of BUCKETS buckets by the top bits of the record hash,
 * in input order, through a small buffer per bucket; a full buffer is written to a private
 * scratch file (or, without one, kept in memory: the unit tests). After the reading, each bucket
 * is read back in turn and its hashes put into a set of that bucket's size in input order: a
 * hash already there is a duplicate, exactly the record a set of every key held through the
 * reading would have found (same keys, same order). So the memory of the dedupe is the buffers
 * and one bucket's set, and the file holds 36 bytes a keyed record.
 *
 * The reading counts every keyed record as accepted (and its event in its identity); finish()
 * says what to take back: how many duplicates, how many of them carried no time (per file), and
 * how many events per identity (by the hash of its key).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { InputError } from '../errors.js';
import { HASH_WORDS, RecordIdSet, type RecordIdKey } from './identity.js';

/** 32-bit words of an entry: the record key's hash, the identity key's hash, file index × 2 + 1 when it carries no time. */
export const ENTRY_WORDS = 2 * HASH_WORDS + 1;
const BUCKET_BITS = 8;
const BUCKETS = 1 << BUCKET_BITS;
/** entries a bucket buffers before they are written out (18 KiB; 4.5 MiB for all the buckets) */
const CHUNK_ENTRIES = 512;
const CHUNK_BYTES = CHUNK_ENTRIES * ENTRY_WORDS * 4;

/** What the dedupe found: to be taken back from the counts and the identities. */
export interface Duplicates {
  count: number;
  /** duplicates that carry no time, by file index */
  untimedByFile: Map<number, number>;
  /** duplicate events by identity: the key is identityHashKey() of the identity key's hash */
  events: Map<string, number>;
}

/** The map key of an identity key's hash (words at[0..3]). */
export function identityHashKey(words: Uint32Array, at: number): string {
  return `${words[at]}:${words[at + 1]}:${words[at + 2]}:${words[at + 3]}`;
}

export class KeyedRecords {
  private fd: number | undefined;
  /** bytes written to the file so far */
  private written = 0;
  private readonly buffers = Array.from({ length: BUCKETS }, () => new Uint32Array(CHUNK_ENTRIES * ENTRY_WORDS));
  private readonly fill = new Int32Array(BUCKETS);
  /** per bucket, its chunks written out: their byte offsets in the file, or (in memory) the chunks */
  private readonly chunks: (number | Uint32Array)[][] = Array.from({ length: BUCKETS }, () => []);
  private finished = false;

  /** `path`: a private scratch file (created already) to write the entries to; none: they stay in memory. */
  constructor(
    readonly key: RecordIdKey,
    path?: string,
  ) {
    this.fd = path === undefined ? undefined : openSync(path, 'r+');
  }

  /** An entry (ENTRY_WORDS words at entries[at..]: its last word is 1 when the record has no time), of file `file`. */
  add(entries: Uint32Array, at: number, file: number): void {
    if (this.finished) throw new Error('a record offered after the reading ended');
    const b = entries[at] >>> (32 - BUCKET_BITS);
    const buf = this.buffers[b];
    const to = this.fill[b] * ENTRY_WORDS;
    for (let w = 0; w < ENTRY_WORDS - 1; w++) buf[to + w] = entries[at + w];
    buf[to + ENTRY_WORDS - 1] = file * 2 + (entries[at + ENTRY_WORDS - 1] & 1);
    if (++this.fill[b] === CHUNK_ENTRIES) this.flush(b);
  }

  private flush(b: number): void {
    const buf = this.buffers[b];
    if (this.fd === undefined) {
      this.chunks[b].push(buf.slice());
    } else {
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, CHUNK_BYTES);
      try {
        for (let done = 0; done < CHUNK_BYTES; ) done += writeSync(this.fd, bytes, done, CHUNK_BYTES - done, this.written + done);
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new InputError(
          `cannot write the dedupe's scratch file in the temporary directory: ${code === 'ENOSPC' ? 'no space left on the device' : (code ?? 'write failed')}; no case was written`,
          'free space there, or set TMPDIR to a directory on a larger disk (the dedupe takes 36 bytes per record of the exports)',
        );
      }
      this.chunks[b].push(this.written);
      this.written += CHUNK_BYTES;
    }
    this.fill[b] = 0;
  }

  /** Every entry has come: the duplicates among them, bucket by bucket. The file is closed (its owner removes it). */
  finish(): Duplicates {
    this.finished = true;
    const found: Duplicates = { count: 0, untimedByFile: new Map(), events: new Map() };
    try {
      for (let b = 0; b < BUCKETS; b++) {
        const entries = this.bucket(b);
        const seen = new RecordIdSet(this.key);
        for (let at = 0; at < entries.length; at += ENTRY_WORDS) {
          if (seen.addHash(entries, at)) continue;
          found.count++;
          const meta = entries[at + ENTRY_WORDS - 1];
          if ((meta & 1) === 1) found.untimedByFile.set(meta >>> 1, (found.untimedByFile.get(meta >>> 1) ?? 0) + 1);
          const who = identityHashKey(entries, at + HASH_WORDS);
          found.events.set(who, (found.events.get(who) ?? 0) + 1);
        }
      }
    } finally {
      this.close();
    }
    return found;
  }

  /** A bucket's entries in the order they came. */
  private bucket(b: number): Uint32Array {
    const chunks = this.chunks[b];
    const all = new Uint32Array((chunks.length * CHUNK_ENTRIES + this.fill[b]) * ENTRY_WORDS);
    const bytes = new Uint8Array(all.buffer);
    chunks.forEach((c, i) => {
      if (typeof c !== 'number') {
        all.set(c, i * CHUNK_ENTRIES * ENTRY_WORDS);
        return;
      }
      for (let done = 0; done < CHUNK_BYTES; ) {
        const n = readSync(this.fd!, bytes, i * CHUNK_BYTES + done, CHUNK_BYTES - done, c + done);
        if (n === 0) throw new Error('the dedupe scratch file is shorter than written');
        done += n;
      }
    });
    all.set(this.buffers[b].subarray(0, this.fill[b] * ENTRY_WORDS), chunks.length * CHUNK_ENTRIES * ENTRY_WORDS);
    this.chunks[b] = [];
    return all;
  }

  close(): void {
    this.finished = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
