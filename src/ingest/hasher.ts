/**
 * SHA-256 of an input's raw bytes on a worker thread (workers.ts, its 'hash' and 'digest'
 * messages): for a large export the main thread, which bounds parallel reading, only copies each
 * chunk over (a copy: the chunk is still being split into lines), and the hashing overlaps with
 * everything else. Small inputs are hashed in place (a thread costs more than it saves there).
 */
import { createHash, type Hash } from 'node:crypto';
import { InputError } from '../errors.js';
import { HOOKS } from '../test-hooks.js';
import { startWorker, type FromWorker, type ToWorker } from './workers.js';

/** Chunks sent and not yet hashed before `update` waits: bounds the copies in flight. */
const MAX_IN_FLIGHT = 32;

/**
 * Why a hashing thread stopped unasked, if one did (its chunks are lost, so the manifest cannot
 * name the input's hash): correlate checks after the reading and stops the run. Reading itself
 * goes on, so the failure is never taken for a damaged input.
 */
let lost: Error | undefined;

/** The failure of a hashing thread since the last call, if any (and forgets it). */
export function takeHashFailure(): Error | undefined {
  const e = lost;
  lost = undefined;
  return e;
}

export interface StreamHash {
  /** Resolves when the caller may send the next chunk. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest ('' if the hashing thread failed: see takeHashFailure). */
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
  const worker = startWorker();
  let inFlight = 0;
  let failure: Error | undefined;
  let waiting: (() => void) | undefined;
  let done: { resolve: (hex: string) => void } | undefined;
  let finished = false;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  /** buffers the worker has hashed and handed back */
  const free: ArrayBuffer[] = [];
  const send = (m: ToWorker, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer);
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'digest') return done?.resolve(m.hex);
    if (m.type !== 'hashed') return;
    free.push(m.chunk.buffer as ArrayBuffer);
    if (--inFlight === 0 && done === undefined) worker.unref();
    if (inFlight < MAX_IN_FLIGHT) wake();
  });
  const fail = (e: Error) => {
    if (failure !== undefined) return;
    failure = new InputError(`the thread hashing an export stopped (${(e as { code?: string }).code ?? e.name}); no case was written`, 'run again; if it repeats, report it with the command you ran (not the data)');
    lost ??= failure;
    done?.resolve('');
    wake();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!finished) fail(Object.assign(new Error('exit'), { code: `exit ${code}` }));
  });
  return {
    update: (chunk) => {
      // after a failure the chunks are dropped: the run stops once the reading is over
      if (failure !== undefined) return undefined;
      const reuse = free.pop();
      const copy = reuse !== undefined && reuse.byteLength >= chunk.length ? new Uint8Array(reuse, 0, chunk.length) : new Uint8Array(chunk.length);
      copy.set(chunk);
      if (inFlight++ === 0) worker.ref();
      send({ type: 'hash', chunk: copy }, [copy.buffer]);
      if (inFlight < MAX_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve) => (waiting = resolve));
    },
    digest: async () => {
      if (failure !== undefined) return '';
      const hex = new Promise<string>((resolve) => (done = { resolve }));
      worker.ref();
      send({ type: 'digest' });
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
  return size !== undefined && size >= HOOKS.hashThreadMinBytes ? offThread() : inPlace();
}
