/** Writing to a Writable with back-pressure. (A closed stdout pipe is handled once, in cli.ts.) */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export async function writeText(out: Writable, text: string): Promise<void> {
  if (text.length === 0 || out.destroyed) return;
  if (!out.write(text)) await once(out, 'drain');
}
