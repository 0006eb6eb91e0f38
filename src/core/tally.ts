/**
 * The fate of every record read: rejected, filtered (outside --since/--until), duplicate (a
 * `$insert_id` already accepted, in this file or an earlier one) or accepted, decided in that
 * order. read = accepted + rejected + filtered + duplicates, always.
 */
import type { CanonicalRecord } from './canonical.js';
import { IdentityGroups, RecordIdSet } from './identity.js';

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

export class Tally {
  readonly counts: Counts = { read: 0, accepted: 0, rejected: 0, filtered: 0, duplicates: 0 };
  readonly groups = new IdentityGroups();
  private readonly seen = new RecordIdSet();

  constructor(private readonly window: Window = {}) {}

  rejected(): void {
    this.counts.read++;
    this.counts.rejected++;
  }

  /** Returns the record's fate. */
  offer(r: CanonicalRecord): 'accepted' | 'filtered' | 'duplicates' {
    this.counts.read++;
    if (r.time !== null && ((this.window.since !== undefined && r.time < this.window.since) || (this.window.until !== undefined && r.time >= this.window.until))) {
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
}
