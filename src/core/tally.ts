/**
 * The fate of every record read: rejected, filtered (outside --since/--until), duplicate (a
 * `$insert_id` already accepted, in this file or an earlier one) or accepted, decided in that
 * order. read = accepted + rejected + filtered + duplicates, always.
 */
import type { CanonicalRecord } from './canonical.js';
import { IdentityGroups, RecordIdSet, type RecordIdKey } from './identity.js';

export interface Counts {
  read: number;
  accepted: number;
  rejected: number;
  filtered: number;
  duplicates: number;
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
  /** the accepted record ids; let go by endReading (16 bytes a record: 128 MB at 5M records) */
  private seenIds: RecordIdSet | undefined;

  /** `key`: of the record-id hash (RecordIdSet); a caller outside tests passes a random one. */
  constructor(readonly window: Window = {}, readonly recordIdKey: RecordIdKey = new Uint8Array(16)) {
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

  /** Returns the record's fate. */
  offer(r: CanonicalRecord): 'accepted' | 'filtered' | 'duplicates' {
    this.counts.read++;
    if (!inWindow(this.window, r.time)) {
      this.counts.filtered++;
      return 'filtered';
    }
    if (r.recordId !== undefined && !this.seen.add(r.recordId)) {
      this.counts.duplicates++;
      return 'duplicates';
    }
    this.counts.accepted++;
    this.groups.add(r);
    return 'accepted';
  }

  /**
   * The same decisions for a record grouped elsewhere (by a parsing worker, which applied the
   * window itself): `hash` is its record id's hashRecordId() pair, absent without one. Returns
   * whether it was accepted, so the caller groups it or drops it.
   */
  offerParsed(filtered: boolean, h1?: number, h2?: number): boolean {
    this.counts.read++;
    if (filtered) {
      this.counts.filtered++;
      return false;
    }
    if (h1 !== undefined && !this.seen.addHash(h1, h2!)) {
      this.counts.duplicates++;
      return false;
    }
    this.counts.accepted++;
    return true;
  }
}
