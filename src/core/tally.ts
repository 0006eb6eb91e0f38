/**
 * The fate of every record read: rejected, filtered (outside --since/--until), duplicate (a
 * `$insert_id` already accepted, in this file or an earlier one) or accepted, decided in that
 * order. read = accepted + rejected + filtered + duplicates, always.
 */
import type { CanonicalRecord } from './canonical.js';
import { ENTRY_WORDS, identityHashKey, KeyedRecords } from './dedupe.js';
import { groupingKey, hashRecordId, HASH_WORDS, IdentityWindow, type Identity, type RecordIdKey } from './identity.js';
import type { IdentitySink } from './stage.js';
import { HOOKS } from '../test-hooks.js';

export interface Counts {
  read: number;
  accepted: number;
  rejected: number;
  filtered: number;
  duplicates: number;
}

/** Records by whether they carry a recognised time: `timed` of any fate but rejected, `untimed` of the accepted. */
export interface TimeCounts {
  timed: number;
  untimed: number;
}

export interface Window {
  /** inclusive, epoch ms */
  since?: number;
  /** exclusive, epoch ms */
  until?: number;
}

/** Is a record of this time (epoch ms, or null) inside the window? A record without a time always is. */
export function inWindow(window: Window, time: number | null): boolean {
  return time === null || ((window.since === undefined || time >= window.since) && (window.until === undefined || time < window.until));
}

/**
 * The reading's state: the counts, the keyed records written down for the dedupe (KeyedRecords:
 * exact, global and in input order, decided when the reading ends) and the identities of the
 * records offered here, aggregated in a bounded window and handed to the sink. Records read by
 * workers are aggregated there (in windows of the same bound): the tally counts them from what
 * the workers send (offerKeyed and the like) and passes on their aggregates (put). No identity
 * is kept here once handed on.
 *
 * Until endReading, every keyed record counts as accepted and as an event of its identity;
 * endReading takes the duplicates back (from accepted, from the untimed, from their identities'
 * events), so every count is final only after it.
 */
export class Tally {
  readonly counts: Counts = { read: 0, accepted: 0, rejected: 0, filtered: 0, duplicates: 0 };
  readonly times: TimeCounts = { timed: 0, untimed: 0 };
  /** accepted records without a time, by file index (final after endReading) */
  readonly untimedByFile: number[] = [];
  /** the index of the file being read (beginFile) */
  private file = 0;
  private readonly keyed: KeyedRecords;
  private readonly aggregates: IdentityWindow;
  /** one entry of a record offered here (KeyedRecords) */
  private readonly entry = new Uint32Array(ENTRY_WORDS);

  /**
   * `recordIdKey`: of the record-id hash (hashRecordId); a caller outside tests passes a random
   * one. `keyedFile`: a private scratch file for the keyed records (none: kept in memory).
   * `windowKeys`: identities aggregated before they are handed to the sink.
   */
  constructor(
    readonly window: Window,
    readonly recordIdKey: RecordIdKey,
    private readonly sink: IdentitySink,
    keyedFile?: string,
    readonly windowKeys: number = HOOKS.windowKeys,
  ) {
    this.keyed = new KeyedRecords(recordIdKey, keyedFile);
    this.aggregates = new IdentityWindow(windowKeys);
  }

  /** The records offered from now on are of file `index` (of the files read, from 0). */
  beginFile(index: number): void {
    this.file = index;
    this.untimedByFile[index] ??= 0;
  }

  /**
   * Every record has been offered: the identities still aggregated here go to the sink, and the
   * duplicates are found and taken back from the counts and from the sink's identities
   * (offering another record throws).
   */
  endReading(): void {
    this.put(this.aggregates.take());
    const found = this.keyed.finish();
    this.counts.accepted -= found.count;
    this.counts.duplicates += found.count;
    for (const [file, n] of found.untimedByFile) {
      this.times.untimed -= n;
      this.untimedByFile[file] -= n;
    }
    if (found.events.size === 0) return;
    const h = new Uint32Array(HASH_WORDS);
    this.sink.takeBack((key) => {
      hashRecordId(key, this.recordIdKey, h, 0);
      return found.events.get(identityHashKey(h, 0)) ?? 0;
    });
  }

  /** The scratch file is no longer written or read (after endReading, or when the reading failed). */
  close(): void {
    this.keyed.close();
  }

  rejected(): void {
    this.counts.read++;
    this.counts.rejected++;
  }

  /** `n` accepted records, `untimed` of them without a time. */
  private accepted(n: number, untimed: number): void {
    this.counts.read += n;
    this.counts.accepted += n;
    this.times.timed += n - untimed;
    this.times.untimed += untimed;
    this.untimedByFile[this.file] = (this.untimedByFile[this.file] ?? 0) + untimed;
  }

  /** Returns the record's fate as far as it is known before the reading ends (a keyed record may yet be a duplicate). */
  offer(r: CanonicalRecord): 'accepted' | 'filtered' {
    if (!inWindow(this.window, r.time)) {
      this.offerFiltered(1);
      return 'filtered';
    }
    this.accepted(1, r.time === null ? 1 : 0);
    this.aggregates.add(r);
    if (r.recordId !== undefined) {
      writeEntry(r, this.recordIdKey, this.entry, 0);
      this.keyed.add(this.entry, 0, this.file);
    }
    if (this.aggregates.full) this.put(this.aggregates.take());
    return 'accepted';
  }

  /**
   * A record a worker read and found outside the window (the workers apply --since/--until), n times.
   * Filtered records always carry a time.
   */
  offerFiltered(n: number): void {
    this.counts.read += n;
    this.counts.filtered += n;
    this.times.timed += n;
  }

  /** Records a worker accepted that have no record id (so are never duplicates): `timed` of them with a time. */
  offerUnkeyed(n: number, timed: number): void {
    this.accepted(n, n - timed);
  }

  /** Records a worker accepted that have a record id, by their entries (writeEntry), in input order. */
  offerKeyed(entries: Uint32Array): void {
    let untimed = 0;
    for (let at = 0; at < entries.length; at += ENTRY_WORDS) {
      untimed += entries[at + ENTRY_WORDS - 1] & 1;
      this.keyed.add(entries, at, this.file);
    }
    this.accepted(entries.length / ENTRY_WORDS, untimed);
  }

  /** Aggregates to the sink. */
  put(ids: readonly Identity[]): void {
    for (const id of ids) this.sink.put(id);
  }

  /** A worker's aggregates, packed (core/stage.ts packParts), to the sink. */
  putParts(json: string): void {
    this.sink.putParts(json);
  }
}

/**
 * A keyed record's entry for the dedupe (KeyedRecords) at out[at..]: the hashes of its record key
 * and of its identity's grouping key, and 1 when it carries no time (the file is added later).
 */
export function writeEntry(r: CanonicalRecord, key: RecordIdKey, out: Uint32Array, at: number): void {
  hashRecordId(r.recordId!, key, out, at);
  hashRecordId(groupingKey(r.distinctId, r.userId, r.email, r.deviceId), key, out, at + HASH_WORDS);
  out[at + ENTRY_WORDS - 1] = r.time === null ? 1 : 0;
}
