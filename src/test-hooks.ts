/**
 * The environment variables that reach inside the reading, for the tests and the benchmark: each
 * makes a path that real inputs reach only at scale (several batches, several aggregation
 * windows, a hashing thread, a worker out of memory) reachable with a few lines, or reports where
 * the time goes. None is an option for people, none changes an output, and nothing else reads
 * BREACH_IMPACT_* (BREACH_IMPACT_THREADS is the fallback of the --threads option: see
 * ingest/workers.ts threadsOf).
 *
 * | variable                                | default | what it does                                                                 | who uses it |
 * |-----------------------------------------|---------|------------------------------------------------------------------------------|-------------|
 * | BREACH_IMPACT_BATCH_BYTES=N             | 1 MiB   | bytes of a block of whole lines handed to a reading worker                   | test/parallel, test/zip |
 * | BREACH_IMPACT_WINDOW_KEYS=N             | 2,000   | identities an aggregation window holds before it is handed on (every reader) | test/parallel |
 * | BREACH_IMPACT_WORKER_HEAP_MB=N          | V8's    | cap on a reading worker's old generation (over it: the run stops, exit 1)     | test/hostile/faults |
 * | BREACH_IMPACT_HASH_THREAD_MIN_BYTES=N   | 64 MiB  | input size from which its SHA-256 is computed on a worker thread             | test/correlate.e2e, test/zip |
 * | BREACH_IMPACT_HASH_THREAD_FAIL_AFTER=N  | never   | the hashing thread fails on its message after the N-th (a chunk, the digest) | test/correlate.e2e |
 * | BREACH_IMPACT_LIST_THREAD_FAIL=CODE    | off     | the worker writing a list file fails after its first line, with error code CODE   | test/threads |
 * | BREACH_IMPACT_INTERNAL_THREAD_FAIL=CODE | off     | the worker reading the internal rows ahead fails before the memberships, with error code CODE | test/threads |
 * | BREACH_IMPACT_ROSTER_THREAD_FAIL=CODE   | off     | the worker building the roster from the admin rows it read fails first, with error code CODE | test/threads |
 * | BREACH_IMPACT_INTERNAL_THREAD_WAIT=1    | off     | the join waits for every table of internal rows the worker reads, claiming none of them itself | test/threads |
 * | BREACH_IMPACT_PHASES=1                  | off     | each step's wall, CPU and main-thread busy time and memory, on stderr         | test/correlate.e2e, test/threads |
 */

function count(name: string, fallback: number): number {
  const v = process.env[name]?.trim();
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback;
}

export const HOOKS = {
  batchBytes: Math.max(1, count('BREACH_IMPACT_BATCH_BYTES', 1 << 20)),
  windowKeys: Math.max(1, count('BREACH_IMPACT_WINDOW_KEYS', 2_000)),
  /** undefined: V8's own limit */
  workerHeapMb: count('BREACH_IMPACT_WORKER_HEAP_MB', 0) || undefined,
  hashThreadMinBytes: count('BREACH_IMPACT_HASH_THREAD_MIN_BYTES', 64 << 20),
  hashThreadFailAfter: count('BREACH_IMPACT_HASH_THREAD_FAIL_AFTER', Infinity),
  /** the error code the list files' worker fails with (undefined: it does not) */
  listThreadFail: /^E[A-Z]+$/.test(process.env.BREACH_IMPACT_LIST_THREAD_FAIL ?? '') ? process.env.BREACH_IMPACT_LIST_THREAD_FAIL : undefined,
  /** the join never claims a table of internal rows from the worker (see InternalDb.internalRows) */
  internalThreadWait: process.env.BREACH_IMPACT_INTERNAL_THREAD_WAIT === '1',
  /** the error code the internal rows' worker fails with before the memberships (undefined: it does not) */
  internalThreadFail: /^E[A-Z]+$/.test(process.env.BREACH_IMPACT_INTERNAL_THREAD_FAIL ?? '') ? process.env.BREACH_IMPACT_INTERNAL_THREAD_FAIL : undefined,
  /** the error code the worker building the roster fails with (undefined: it does not) */
  rosterThreadFail: /^E[A-Z]+$/.test(process.env.BREACH_IMPACT_ROSTER_THREAD_FAIL ?? '') ? process.env.BREACH_IMPACT_ROSTER_THREAD_FAIL : undefined,
  phases: process.env.BREACH_IMPACT_PHASES === '1',
} as const;
