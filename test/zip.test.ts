/**
 * ZIP archives (Amplitude's Export API) as input, end to end with the real binary: archives are
 * built at test time with yazl (and patched byte by byte for the faults), read as a file and from
 * standard input, against the bundled internal database.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { BIN, explain, FIXTURES, runCli, tempDir } from './helpers.js';

type Member = { name: string; data: Buffer; compress?: boolean } | { dir: string };

/** The archive yazl writes for these members, in this order. */
function zipOf(members: Member[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const m of members) {
    if ('dir' in m) zip.addEmptyDirectory(m.dir);
    else zip.addBuffer(m.data, m.name, { compress: m.compress ?? true });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => parts.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(parts)));
    zip.outputStream.on('error', reject);
  });
}

/** A Mixpanel event; `who` is matched against fixtures/internal.sql by e-mail. */
const ev = (id: string, who: string) => JSON.stringify({ event: 'Page View', properties: { distinct_id: `d-${id}`, time: 1762000000, $insert_id: id, $email: `${who}@example.com` } });
const lines = (...l: string[]) => Buffer.from(l.join('\n'));

/** Offsets of every occurrence of a 4-byte signature. */
function offsets(zip: Buffer, sig: number[]): number[] {
  const out: number[] = [];
  for (let i = zip.indexOf(Buffer.from(sig)); i !== -1; i = zip.indexOf(Buffer.from(sig), i + 1)) out.push(i);
  return out;
}
const LOCAL = [0x50, 0x4b, 0x03, 0x04];
const CENTRAL = [0x50, 0x4b, 0x01, 0x02];
/** Where the n-th member's stored data starts. */
const dataStart = (zip: Buffer, n: number) => {
  const at = offsets(zip, LOCAL)[n];
  return at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
};

async function correlate(file: string, opts: { dir?: string; input?: Buffer; env?: Record<string, string> } = {}) {
  const dir = opts.dir ?? tempDir();
  const r = await runCli(['correlate', file, '--internal', join(FIXTURES, 'internal.sql'), '--out', 'case'], { cwd: dir, input: opts.input, env: opts.env });
  const read = (f: string) => readFileSync(join(dir, 'case', f), 'utf8');
  return { dir, r, summary: JSON.parse(read('summary.json')), rejected: read('rejected.csv'), users: read('users.csv'), manifest: JSON.parse(read('manifest.json')) };
}

const STOPPED = 'reading stopped here; records before this line were kept';

describe('a ZIP archive as input', () => {
  // Amplitude's layout ({project}/{project}_{date}_{hour}#{n}.json.gz, gzipped NDJSON), stored out
  // of name order, with a directory entry, plain members, a missing final newline and a BOM.
  const members: Member[] = [
    { name: '123/123_2025-11-02_13#0.json.gz', data: gzipSync(lines(ev('a3', 'alice'), '{bad', '')) },
    { dir: '123/' },
    { name: '123/123_2025-11-02_1#0.json.gz', data: gzipSync(lines(ev('a1', 'bob'), ev('a2', 'carol'), '')) },
    // no final newline: the next member's first line must not be glued to this one's last
    { name: 'extra/one.ndjson', data: lines(ev('p1', 'dave')) },
    { name: 'extra/two.ndjson', data: Buffer.concat([Buffer.from('\uFEFF'), lines(ev('p2', 'erin'), '')]), compress: false },
    // renamed `../outside.ndjson` below (yazl refuses to write it): a name that is no safe path
    // is still only a name, sorted first ('.' < '1')
    { name: 'XX/outside.ndjson', data: lines(ev('o1', 'frank'), '') },
  ];
  const archive = async () => {
    const zip = await zipOf(members);
    const at = offsets(zip, [...Buffer.from('XX/o')]);
    expect(at).toHaveLength(2); // its local header and its central directory record
    for (const i of at) zip.write('../', i, 'latin1');
    return zip;
  };
  // Name order: ../outside (line 1), _1#0 (2, 3), _13#0 (4, 5: the bad line), one (6), two (7).
  const EXPECTED_REJECTED = 'file,line,reason,excerpt\nexport.zip,5,invalid_json,{…\n';

  it.each([
    ['in one thread', { BREACH_IMPACT_THREADS: '1' }],
    ['in parallel, hashing on a thread', { BREACH_IMPACT_THREADS: '2', BREACH_IMPACT_BATCH_BYTES: '300', BREACH_IMPACT_HASH_THREAD_MIN_BYTES: '0' }],
  ])('reads every member in name order as one stream of lines, and hashes the archive (%s)', async (_how, env: Record<string, string>) => {
    const zip = await archive();
    const dir = tempDir();
    writeFileSync(join(dir, 'export.zip'), zip);
    const { r, summary, rejected, users, manifest } = await correlate('export.zip', { dir, env });
    expect(r.code, explain(r)).toBe(0);
    expect(summary.records).toEqual({ read: 7, accepted: 6, rejected: 1, filtered: 0, duplicates: 0 });
    expect(summary.complete).toBe(true);
    expect(rejected).toBe(EXPECTED_REJECTED);
    // every member's people, the one named `../outside.ndjson` included
    const emails = users.trim().split('\n').slice(1).map((l) => l.split(',')[1]).sort();
    expect(emails).toEqual(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((w) => `${w}@example.com`));
    const input = manifest.inputs[0];
    expect(input).toMatchObject({ path: 'export.zip', size: zip.length, sha256: createHash('sha256').update(zip).digest('hex'), gzip: false, zip: true, records: 7, complete: true });
    expect(r.stderr).toBe('');
  });

  it('reads the same archive from standard input through a temporary file it leaves nowhere', async () => {
    const zip = await archive();
    const dir = tempDir();
    const tmp = tempDir('bi-zip-tmp-');
    const { r, summary, rejected, manifest } = await correlate('-', { dir, input: zip, env: { TMPDIR: tmp } });
    expect(r.code, explain(r)).toBe(0);
    expect(summary.records).toEqual({ read: 7, accepted: 6, rejected: 1, filtered: 0, duplicates: 0 });
    expect(rejected).toBe(EXPECTED_REJECTED.replace('export.zip', '<stdin>'));
    expect(manifest.inputs[0]).toMatchObject({ path: '-', size: zip.length, sha256: createHash('sha256').update(zip).digest('hex'), zip: true });
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('unlinks its temporary copy of standard input as soon as it has opened it', async () => {
    const zip = await archive();
    const tmp = tempDir('bi-zip-tmp-');
    const child = spawn(process.execPath, [BIN, 'correlate', '-', '--internal', join(FIXTURES, 'internal.sql'), '--out', join(tempDir(), 'case')], { env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // half the archive, and standard input left open: the copy is being written
    child.stdin.write(zip.subarray(0, zip.length >> 1));
    const spoolOpen = () => readdirSync(`/proc/${child.pid}/fd`).some((fd) => {
      try {
        return /\/breach-impact-[^/]*\.zip \(deleted\)$/.test(readlinkSync(`/proc/${child.pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    const deadline = Date.now() + 20_000;
    while (!spoolOpen() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(spoolOpen()).toBe(true);
    expect(readdirSync(tmp)).toEqual([]);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('refuses a member in UTF-16 as it refuses a UTF-16 file (exit 2), wherever it comes', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${ev('u1', 'bob')}\n`, 'utf16le')]);
    const dir = tempDir();
    writeFileSync(join(dir, 'mixed.zip'), await zipOf([{ name: 'b.ndjson', data: utf16 }, { name: 'a.ndjson', data: lines(ev('a1', 'alice'), '') }]));
    const r = await runCli(['correlate', 'mixed.zip', '--internal', join(FIXTURES, 'internal.sql'), '--out', 'case'], { cwd: dir });
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain('mixed.zip: unsupported encoding UTF-16LE (BOM FF FE)');
  });

  it('takes an empty archive as it takes an empty file', async () => {
    const zip = await zipOf([]);
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.zip'), zip);
    const plainDir = tempDir();
    writeFileSync(join(plainDir, 'empty.ndjson'), '');
    const archive = await correlate('empty.zip', { dir });
    const plain = await correlate('empty.ndjson', { dir: plainDir });
    expect(archive.r.code, explain(archive.r)).toBe(plain.r.code);
    expect(archive.summary.records.read).toBe(0);
    expect(archive.summary).toEqual(JSON.parse(JSON.stringify(plain.summary).replaceAll('empty.ndjson', 'empty.zip')));
    expect(archive.rejected).toBe('file,line,reason,excerpt\n');
    expect(archive.r.stderr).toBe(plain.r.stderr.replaceAll('empty.ndjson', 'empty.zip'));
    expect(archive.manifest.inputs[0]).toMatchObject({ zip: true, records: 0, complete: true });
  });

  it('stops at a truncated archive (its central directory lost): one row, exit 1', async () => {
    const zip = await archive();
    const dir = tempDir();
    writeFileSync(join(dir, 'cut.zip'), zip.subarray(0, Math.floor(zip.length / 2)));
    const { r, summary, rejected, manifest } = await correlate('cut.zip', { dir });
    expect(r.code, explain(r)).toBe(1);
    expect(summary.records).toEqual({ read: 1, accepted: 0, rejected: 1, filtered: 0, duplicates: 0 });
    expect(summary.complete).toBe(false);
    expect(rejected).toBe(`file,line,reason,excerpt\ncut.zip,1,truncated_zip,${STOPPED}\n`);
    expect(manifest.inputs[0]).toMatchObject({ size: Math.floor(zip.length / 2), complete: false });
    expect(r.stderr).toContain('cut.zip: reading stopped at line 1 (truncated_zip); the records before it were kept. The ZIP archive is cut short');
  });

  // Three members; the second is damaged in one way or another. Its records before the damage
  // are kept (all of them when only its CRC-32 fails: the check comes at its end), the third's
  // never read.
  const faults: [string, boolean, (zip: Buffer) => void, number, string][] = [
    ['a member failing its CRC-32', false, (zip) => void (zip[dataStart(zip, 1) + 40] ^= 0x01), 5, 'corrupt_zip'],
    ['corrupt deflate data', true, (zip) => void (zip[dataStart(zip, 1)] = 0xff), 3, 'corrupt_zip'],
    ['an encrypted member', true, (zip) => void (zip[offsets(zip, CENTRAL)[1] + 8] |= 0x01), 3, 'unsupported_zip'],
    ['an unsupported compression method (bzip2)', true, (zip) => zip.writeUInt16LE(12, offsets(zip, CENTRAL)[1] + 10), 3, 'unsupported_zip'],
    ['a broken central directory', true, (zip) => void (zip[offsets(zip, CENTRAL)[1]] = 0), 1, 'corrupt_zip'],
  ];
  it.each(faults)('stops at %s, keeping the records before it', async (_what, compress, damage, stopLine, reason) => {
    const zip = await zipOf([
      { name: 'a.ndjson', data: lines(ev('a1', 'alice'), ev('a2', 'bob'), '') },
      { name: 'b.ndjson', data: lines(ev('b1', 'carol'), ev('b2', 'dave'), ''), compress },
      { name: 'c.ndjson', data: lines(ev('c1', 'erin'), '') },
    ]);
    damage(zip);
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.zip'), zip);
    const { r, summary, rejected } = await correlate('bad.zip', { dir });
    expect(r.code, explain(r)).toBe(1);
    expect(summary.records).toEqual({ read: stopLine, accepted: stopLine - 1, rejected: 1, filtered: 0, duplicates: 0 });
    expect(summary.complete).toBe(false);
    expect(rejected).toBe(`file,line,reason,excerpt\nbad.zip,${stopLine},${reason},${STOPPED}\n`);
    expect(r.stderr).toContain(`bad.zip: reading stopped at line ${stopLine} (${reason})`);
  });

  it('keeps from a damaged gzip member what it keeps from the same gzip file', async () => {
    // 1000 records, then a deflate block of the reserved type: zlib fails there, and drops what
    // the call that met it had decoded (the records recovered by inflating the member again)
    const before = lines(...Array.from({ length: 1000 }, (_, i) => ev(`g${i}`, ['alice', 'bob', 'carol'][i % 3])), '');
    const gz = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]),
      deflateRawSync(before, { finishFlush: constants.Z_FULL_FLUSH }),
      Buffer.from([0xff]),
      deflateRawSync(lines(ev('lost', 'dave'), '')),
      Buffer.alloc(8),
    ]);
    const dir = tempDir();
    writeFileSync(join(dir, 'damaged.json.gz'), gz);
    const zipDir = tempDir();
    writeFileSync(join(zipDir, 'damaged.zip'), await zipOf([{ name: 'a.json.gz', data: gz }, { name: 'b.ndjson', data: lines(ev('b1', 'erin'), '') }]));
    const plain = await correlate('damaged.json.gz', { dir });
    expect(plain.r.code, explain(plain.r)).toBe(1);
    expect(plain.summary.records).toEqual({ read: 1001, accepted: 1000, rejected: 1, filtered: 0, duplicates: 0 });
    expect(plain.rejected).toBe(`file,line,reason,excerpt\ndamaged.json.gz,1001,corrupt_gzip,${STOPPED}\n`);
    const zipped = await correlate('damaged.zip', { dir: zipDir });
    expect(zipped.r.code, explain(zipped.r)).toBe(1);
    expect(zipped.summary.records).toEqual(plain.summary.records);
    expect(zipped.rejected).toBe(plain.rejected.replaceAll('damaged.json.gz', 'damaged.zip'));
  });

  it('stops a member that inflates past the cap (a gzip bomb inside the archive)', async () => {
    const zip = await zipOf([{ name: '1/1_2025-11-02_0#0.json.gz', data: gzipBomb(lines(ev('z1', 'alice'), ''), 1100) }]);
    // a few KiB that would inflate to 1.1 GiB: beyond max(1 GiB, 1000 × the archive)
    expect(zip.length).toBeLessThan(64 * 1024);
    const dir = tempDir();
    writeFileSync(join(dir, 'bomb.zip'), zip);
    const { r, summary, rejected } = await correlate('bomb.zip', { dir });
    expect(r.code, explain(r)).toBe(1);
    expect(summary.records).toEqual({ read: 2, accepted: 1, rejected: 1, filtered: 0, duplicates: 0 });
    expect(rejected).toBe(`file,line,reason,excerpt\nbomb.zip,2,decompressed_size_cap,${STOPPED}\n`);
    expect(r.stderr).toContain('bomb.zip: reading stopped at line 2 (decompressed_size_cap)');
  }, 60_000);
});

/**
 * A gzip stream of `prefix` then `mib` MiB of zero bytes, built without compressing them all:
 * deflate blocks of one MiB of zeros, each ending on a byte boundary (sync flush) and referring
 * only to its own zeros, repeated, then an empty final block.
 */
function gzipBomb(prefix: Buffer, mib: number): Buffer {
  const zeros = Buffer.alloc(1 << 20);
  const head = deflateRawSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH });
  const block = deflateRawSync(zeros, { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  let crc = crc32(prefix);
  for (let i = 0; i < mib; i++) crc = crc32(zeros, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((prefix.length + mib * zeros.length) % 2 ** 32, 4);
  const gzipHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  return Buffer.concat([gzipHeader, head, ...Array<Buffer>(mib).fill(block), Buffer.from([0x03, 0x00]), trailer]);
}
