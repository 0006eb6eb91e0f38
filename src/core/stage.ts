import type { Identity } from './identity.js';
/** Where the reading hands per-identity aggregates. A key may come many times, each time with part of its records; the sink merges them. */
export interface IdentitySink { put(id: Identity): void }
