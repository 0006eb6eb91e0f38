/**
 * SHA-256 of an input's raw bytes on a worker thread: for a large export the main thread, which
 * bounds parallel reading, only copies each chunk over (a copy: the chunk is still being split
 * into lines), and the hashing overlaps with everything else. Small inputs are hashed in place
 * (a thread costs more than it saves there).
 */
import { createHash, type Hash } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { InputError } from '../errors.js';

const KIND = 'breach-impact-sha256';
/** Inputs at least this large are hashed on a worker thread (BREACH_IMPACT_HASH_THREAD_MIN_BYTES, for tests). */
export const OFF_THREAD_MIN_BYTES = Number(process.env.BREACH_IMPACT_HASH_THREAD_MIN_BYTES ?? 64 << 20);
/** Chunks sent and not yet hashed before `update` waits: bounds the copies in flight. */
const MAX_IN_FLIGHT = 32;

type ToHasher = Uint8Array | 'end';

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND) {
  const h = createHash('sha256');
  parentPort!.on('message', (m: ToHasher) => {
    if (m === 'end') parentPort!.postMessage({ digest: h.digest('hex') });
    else {
      h.update(m);
      // the buffer goes back for the next chunk (memory stays bounded without waiting for GC)
      parentPort!.postMessage({ hashed: m }, [m.buffer as ArrayBuffer]);
    }
  });
}

export interface StreamHash {
  /** Resolves when the caller may send the next chunk. */
  update(chunk: Buffer): Promise<void> | undefined;
  digest(): Promise<string>;
}

/** A hash in this thread. */
function inPlace(): StreamHash {
  const h: Hash = createHash('sha256');
  return {
    update: (chunk) => void h.update(chunk),
    digest: async () => h.digest('hex'),
  };
}

/** A hash on a worker thread. */
function offThread(): StreamHash {
  const worker = new Worker(new URL(import.meta.url), { workerData: { kind: KIND } });
  let inFlight = 0;
  let failure: Error | undefined;
  let waiting: (() => void) | undefined;
  let done: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;
  let finished = false;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  /** buffers the worker has hashed and handed back */
  const free: ArrayBuffer[] = [];
  worker.on('message', (m: { hashed?: Uint8Array; digest?: string }) => {
    if (m.digest !== undefined) return done?.resolve(m.digest);
    free.push(m.hashed!.buffer as ArrayBuffer);
    inFlight--;
    if (inFlight < MAX_IN_FLIGHT) wake();
  });
  const fail = (e: Error) => {
    failure ??= new InputError(`the thread hashing an export stopped (${(e as { code?: string }).code ?? e.name}); no case was written`, 'run again; if it repeats, report it with the command you ran (not the data)');
    done?.reject(failure);
    wake();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!finished) fail(Object.assign(new Error('exit'), { code: `exit ${code}` }));
  });
  return {
    update: (chunk) => {
      if (failure !== undefined) throw failure;
      const reuse = free.pop();
      const copy = reuse !== undefined && reuse.byteLength >= chunk.length ? new Uint8Array(reuse, 0, chunk.length) : new Uint8Array(chunk.length);
      copy.set(chunk);
      inFlight++;
      worker.postMessage(copy, [copy.buffer]);
      if (inFlight < MAX_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve) => (waiting = resolve));
    },
    digest: async () => {
      if (failure !== undefined) throw failure;
      const hex = new Promise<string>((resolve, reject) => (done = { resolve, reject }));
      worker.postMessage('end');
      try {
        return await hex;
      } finally {
        finished = true;
        void worker.terminate();
      }
    },
  };
}

/** SHA-256 for an input of `size` bytes (undefined: unknown, e.g. standard input). */
export function streamHash(size: number | undefined): StreamHash {
  return size !== undefined && size >= OFF_THREAD_MIN_BYTES ? offThread() : inPlace();
}
