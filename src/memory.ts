/**
 * A full garbage collection on demand. The reading leaves most of the heap garbage at once (its
 * records and, once staged, every identity), and the SQL steps that follow
 * allocate too little JavaScript for V8 to collect it: without this the join ran with the
 * reading's leftovers still resident, on top of SQLite's page caches. V8's `gc` is exposed once
 * (--expose-gc set at run time, read through a fresh context), and only where correlate asks.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** Collects every unreachable object now and returns the freed memory to the system. */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
