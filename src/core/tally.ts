/**
 * The fate of every record read: rejected, filtered (outside --since/--until), duplicate (a
 * `$insert_id` already accepted, in this file or an earlier one) or accepted, decided in that
 * order. read = accepted + rejected + filtered + duplicates, always.
 */
import type { CanonicalRecord } from './canonical.js';
import { IdentityGroups, RECORD_ID_KEY_BYTES, RecordIdSet, type RecordIdKey } from './identity.js';

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

export class Tally {
  readonly counts: Counts = { read: 0, accepted: 0, rejected: 0, filtered: 0, duplicates: 0 };
  readonly groups = new IdentityGroups();
  readonly times: TimeCounts = { timed: 0, untimed: 0 };
  /** the accepted record ids; let go by endReading (16 bytes a record: 128 MB at 5M records) */
  private seenIds: RecordIdSet | undefined;

  /** `key`: of the record-id hash (RecordIdSet); a caller outside tests passes a random one. */
  constructor(readonly window: Window = {}, readonly recordIdKey: RecordIdKey = new Uint8Array(RECORD_ID_KEY_BYTES)) {
    this.seenIds = new RecordIdSet(recordIdKey);
  }

  private get seen(): RecordIdSet {
    if (this.seenIds === undefined) throw new Error('a record offered after the reading ended');
    return this.seenIds;
  }

  /** Every record has been offered: the record ids are no longer needed (offering another throws). */
  endReading(): void {
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
    if (r.recordId !== undefined && !this.seen.add(r.recordId)) {
      this.counts.duplicates++;
      this.timed(r.time !== null, false);
      this.groups.add(r, false);
      return 'duplicates';
    }
    this.counts.accepted++;
    this.timed(r.time !== null, true);
    this.groups.add(r);
    return 'accepted';
  }

  /**
   * The same decisions for a record grouped elsewhere (by a parsing worker, which applied the
   * window itself): `hash` is its record key's hashRecordId() words, absent without one. Returns
   * whether it was accepted; the caller groups it either way, a duplicate as not counted (see
   * IdentityGroups.add), unless filtered, and counts its time (timed()).
   */
  offerParsed(filtered: boolean, hash?: Uint32Array): boolean {
    this.counts.read++;
    if (filtered) {
      this.counts.filtered++;
      return false;
    }
    if (hash !== undefined && !this.seen.addHash(hash)) {
      this.counts.duplicates++;
      return false;
    }
    this.counts.accepted++;
    return true;
  }
}
