/**
 * The fate of every record read: rejected, filtered (outside --since/--until), duplicate (a
 * `$insert_id` already accepted, in this file or an earlier one) or accepted, decided in that
 * order. read = accepted + rejected + filtered + duplicates, always.
 */
import type { CanonicalRecord } from './canonical.js';
import { IdentityWindow, RECORD_ID_KEY_BYTES, RecordIdSet, type Identity, type RecordIdKey } from './identity.js';
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
 * The reading's state: the counts, the accepted record ids (the dedupe is exact, global and in
 * input order) and the identities of the records offered here, aggregated in a bounded window
 * and handed to the sink. Records read by workers are aggregated there (in windows of the same
 * bound): the tally decides their fates from what the workers send (offerHashed and the like) and
 * passes on their aggregates (put). No identity is kept here once handed on.
 */
export class Tally {
  readonly counts: Counts = { read: 0, accepted: 0, rejected: 0, filtered: 0, duplicates: 0 };
  readonly times: TimeCounts = { timed: 0, untimed: 0 };
  /** the accepted record ids; let go by endReading (16 bytes a record: 128 MB at 5M records) */
  private seenIds: RecordIdSet | undefined;
  private readonly aggregates: IdentityWindow;

  /**
   * `recordIdKey`: of the record-id hash (RecordIdSet); a caller outside tests passes a random
   * one. `windowKeys`: identities aggregated before they are handed to the sink.
   */
  constructor(
    readonly window: Window,
    readonly recordIdKey: RecordIdKey,
    private readonly sink: IdentitySink,
    readonly windowKeys: number = HOOKS.windowKeys,
  ) {
    this.seenIds = new RecordIdSet(recordIdKey);
    this.aggregates = new IdentityWindow(windowKeys);
  }

  private get seen(): RecordIdSet {
    if (this.seenIds === undefined) throw new Error('a record offered after the reading ended');
    return this.seenIds;
  }

  /**
   * Every record has been offered: the identities still aggregated here go to the sink, and the
   * record ids are no longer needed (offering another throws).
   */
  endReading(): void {
    this.put(this.aggregates.take());
    this.seenIds = undefined;
  }

  rejected(): void {
    this.counts.read++;
    this.counts.rejected++;
  }

  /** A usable record with or without a time, accepted or not (see TimeCounts). */
  timed(hasTime: boolean, accepted: boolean): void {
    if (hasTime) this.times.timed++;
    else if (accepted) this.times.untimed++;
  }

  /** Returns the record's fate. */
  offer(r: CanonicalRecord): 'accepted' | 'filtered' | 'duplicates' {
    this.counts.read++;
    if (!inWindow(this.window, r.time)) {
      this.counts.filtered++;
      this.timed(true, false);
      return 'filtered';
    }
    let fate: 'accepted' | 'duplicates' = 'accepted';
    if (r.recordId !== undefined && !this.seen.add(r.recordId)) {
      this.counts.duplicates++;
      this.timed(r.time !== null, false);
      this.aggregates.add(r, false);
      fate = 'duplicates';
    } else {
      this.counts.accepted++;
      this.timed(r.time !== null, true);
      this.aggregates.add(r);
    }
    if (this.aggregates.full) this.put(this.aggregates.take());
    return fate;
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
    this.counts.read += n;
    this.counts.accepted += n;
    this.times.timed += timed;
    this.times.untimed += n - timed;
  }

  /**
   * A record a worker accepted, by its record key's hashRecordId() words (hashes[at..at+3]), in input order: true if
   * accepted, false for a duplicate (whose event the caller takes back from the worker's
   * aggregate: see IdentityGroups.add, `counted`).
   */
  offerHashed(hashes: Uint32Array, at: number, hasTime: boolean): boolean {
    this.counts.read++;
    const accepted = this.seen.addHash(hashes, at);
    if (accepted) this.counts.accepted++;
    else this.counts.duplicates++;
    this.timed(hasTime, accepted);
    return accepted;
  }

  /** Aggregates to the sink (a worker's, its duplicates' events taken back). */
  put(ids: readonly Identity[]): void {
    for (const id of ids) this.sink.put(id);
  }
}
