import type { Identity } from './identity.js';

/** Where the reading hands per-identity aggregates. A key may come many times, each time with part of its records; the sink merges them. */
export interface IdentitySink {
  put(id: Identity): void;
}

/*
 * How parts of one identity merge, whatever the order and however the records were split into
 * parts (case/join.ts IdentityStage merges in SQL; test/model/sink.ts MemorySink in memory):
 * - key: the same in every part;
 * - distinctId: set (to the key) when any part has it;
 * - userIds, emails, deviceIds, orgIds, linkedIds, places: the union, in the order first seen
 *   in the parts as they came (no list reads that order: every one sorts what it shows);
 * - events: the sum (a part may hold 0: an identity seen only in duplicate records);
 * - first: the least of the parts' (null when none has one); last: the greatest;
 * - exposure: the bitwise OR.
 * A part, once put, belongs to the sink: the reading never touches it again.
 */
