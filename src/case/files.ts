/**
 * The case directory on disk: private (0700 directory, 0600 files), every file written under a
 * temporary name created exclusively (never through a planted symlink) and renamed into place
 * only when the whole case is ready. Interrupted runs leave neither half-written lists nor
 * temporary files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';

export const MANIFEST = 'manifest.json';
export const TOOL = 'breach-impact';

const pending = new Set<string>();

/** Remove every temporary file this process created (on error or Ctrl-C), with SQLite's side files. */
export function removeTemporaries(): void {
  for (const p of pending) removeWithSideFiles(p);
  pending.clear();
}

function removeWithSideFiles(p: string): void {
  for (const f of [p, `${p}-journal`, `${p}-wal`, `${p}-shm`]) {
    try {
      unlinkSync(f);
    } catch {
      /* already gone */
    }
  }
}

/**
 * A private scratch file outside the case (0600, created exclusively under the system's temporary
 * directory), for another thread to open by its name: removed by `remove()`, and with the other
 * temporaries on an error or Ctrl-C.
 */
export function scratchFile(name: string): { path: string; remove(): void } {
  const path = join(tmpdir(), `breach-impact-${process.pid}-${randomBytes(8).toString('hex')}-${name}`);
  closeSync(openSync(path, 'wx', 0o600));
  pending.add(path);
  return {
    path,
    remove() {
      removeWithSideFiles(path);
      pending.delete(path);
    },
  };
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOSPC' || code === 'SQLITE_FULL') return 'no space left on the device';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'EEXIST') return 'a file is in the way';
  if (code === 'ENOTDIR') return 'a parent of it is not a directory';
  if (code === 'ENOENT') return 'a parent of it cannot hold directories';
  return code ?? 'cannot write';
}

/**
 * `mkdir -p` with every directory it creates 0700, one level at a time: Node's recursive
 * mkdirSync spins forever where mkdir fails with ENOENT under an existing parent (e.g. in /proc).
 */
export function makePrivateDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !lstatSync(d).isDirectory()) throw e;
    }
    chmodSync(d, 0o700);
  }
}

export function outputError(dir: string, e: unknown): InputError {
  return new InputError(`cannot write the case directory ${dir}: ${describe(e)}`, 'choose another --out directory, or free space / fix permissions and run again');
}

/** Create or reuse the case directory; refuse a non-empty one that is not a case, unless forced. */
export function prepareCaseDir(dir: string, force: boolean): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    st = undefined;
  }
  if (st === undefined) {
    try {
      makePrivateDirs(dir);
    } catch (e) {
      throw outputError(dir, e);
    }
    return;
  }
  if (!st.isDirectory()) throw new UsageError(`--out ${dir} exists and is not a directory`, 'choose a directory for the case');
  const entries = readdirSync(dir);
  if (entries.length > 0 && !force && !isCase(dir)) {
    throw new UsageError(`--out ${dir} is not empty and holds no breach-impact case`, 'choose an empty or new directory, or pass --force to write into it');
  }
  try {
    chmodSync(dir, 0o700);
  } catch (e) {
    throw outputError(dir, e);
  }
}

export function isCase(dir: string): boolean {
  const p = join(dir, MANIFEST);
  if (!existsSync(p)) return false;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as { tool?: { name?: string } };
    return m?.tool?.name === TOOL;
  } catch {
    return false;
  }
}

/** A file being written under a temporary name in `dir`, published by `commit()`. */
export class StagedFile {
  readonly tmp: string;
  readonly final: string;
  private fd: number | undefined;

  constructor(readonly dir: string, readonly name: string) {
    this.final = join(dir, name);
    this.tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      this.fd = openSync(this.tmp, 'wx', 0o600);
    } catch (e) {
      throw outputError(dir, e);
    }
    pending.add(this.tmp);
  }

  write(text: string | Buffer): void {
    try {
      writeSync(this.fd!, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    } catch (e) {
      throw outputError(this.dir, e);
    }
  }

  /** The open file's descriptor, for a thread that writes it (see case/writer.ts). */
  get descriptor(): number {
    if (this.fd === undefined) throw new Error(`${this.name} is closed`);
    return this.fd;
  }

  /** Start the file again, empty (after a writer that failed part way through it). */
  restart(): void {
    try {
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      // our own file, in a directory of ours: opened again without following a link
      this.fd = openSync(this.tmp, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw outputError(this.dir, e);
    }
  }

  /** The error to throw when writing this file failed with `e` (as write() throws it). */
  failure(e: unknown): InputError {
    return outputError(this.dir, e);
  }

  /** Close the file (contents complete) without publishing it yet. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      chmodSync(this.tmp, 0o600);
    } catch (e) {
      throw outputError(this.dir, e);
    }
    this.fd = undefined;
  }

  /** Rename into place; a symlink at the final name is replaced, never followed. */
  commit(): void {
    this.close();
    try {
      renameSync(this.tmp, this.final);
    } catch (e) {
      throw outputError(this.dir, e);
    }
    pending.delete(this.tmp);
  }
}

/** A file's SHA-256 (hex) and size in bytes. */
export interface Digest {
  sha256: string;
  bytes: number;
}

/** A file's path with its digest. */
export interface FileHash extends Digest {
  path: string;
}

/** SHA-256 and size of a file, read in chunks. */
export function hashFile(path: string): FileHash {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      h.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { path, sha256: h.digest('hex'), bytes };
}
