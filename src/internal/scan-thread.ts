/**
 * The users table's email pre-test (which rows' email may match a wanted one: a pass over every
 * user) on a thread of its own, in a second read-only connection, while the main thread looks
 * the wanted ids up by key.
 *
 * One snapshot still: the caller holds a read transaction (a SHARED lock) on the same file before
 * this thread starts, and only on a database in a rollback-journal mode (never WAL). A writer
 * cannot commit to such a file while any reader holds its lock, so both connections see the same
 * committed state. The thread checks that it opened the same file (device and inode, before and
 * after taking its own lock) and never waits for a lock: if anything is off it answers
 * `undefined`, and the caller runs the pre-test in its own connection as before.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const KIND = 'breach-impact-user-scan';

export interface FileId {
  dev: bigint;
  ino: bigint;
}

interface Job {
  kind: typeof KIND;
  path: string;
  file: FileId;
  /** the SELECT returning the ids (as text) of the rows that may match, one JSON array parameter */
  sql: string;
  param: string;
}

/** The file at `path` now, as device and inode. */
export function fileId(path: string): FileId {
  const s = statSync(path, { bigint: true });
  return { dev: s.dev, ino: s.ino };
}

function sameFile(path: string, f: FileId): boolean {
  const now = fileId(path);
  return now.dev === f.dev && now.ino === f.ino;
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND) {
  const job = workerData as Job;
  let answer: string | undefined;
  try {
    if (sameFile(job.path, job.file)) {
      // timeout 0: a lock that is not free at once means a writer is waiting; the caller reads instead
      const db = new Database(job.path, { readonly: true, fileMustExist: true, timeout: 0 });
      try {
        db.pragma('query_only = ON');
        db.exec('BEGIN');
        db.prepare('SELECT count(*) FROM sqlite_master').get(); // takes this connection's lock
        if (db.pragma('journal_mode', { simple: true }) !== 'wal' && sameFile(job.path, job.file)) {
          answer = (db.prepare(job.sql).pluck(true).all(job.param) as string[]).join(',');
        }
        db.exec('COMMIT');
      } finally {
        db.close();
      }
    }
  } catch {
    answer = undefined;
  }
  parentPort!.postMessage(answer ?? null);
}

/**
 * Runs `sql` (ids as integer text, never holding a comma) with `param` on a thread, against the
 * file `path` that `file` identifies; the ids, or `undefined` when the thread could not answer
 * from the caller's snapshot.
 */
export function idsOnThread(path: string, file: FileId, sql: string, param: string): Promise<string[] | undefined> {
  // The job is copied to the thread: no reference to it (the wanted emails, megabytes of them)
  // stays in the closures below, which live as long as the worker object.
  let job: Job | undefined = { kind: KIND, path, file, sql, param };
  return new Promise((resolve) => {
    // The thread makes little garbage (one array of ids): with V8's default young generation its
    // heap held ~40 MB that the process kept after the thread ended (1M users: RSS after this
    // step 378 MB, 338 MB with 1 MB; no slower).
    const worker = new Worker(new URL(import.meta.url), { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
    job = undefined;
    let done = false;
    const finish = (ids: string[] | undefined) => {
      if (done) return;
      done = true;
      resolve(ids);
      void worker.terminate();
    };
    worker.once('message', (m: string | null) => finish(m === null ? undefined : m === '' ? [] : m.split(',')));
    worker.once('error', () => finish(undefined));
    worker.once('exit', () => finish(undefined));
  });
}
