/**
 * Every ```console example of the README, run as written. One scratch directory serves the whole
 * README (a copy of fixtures/, `breach-impact` on PATH as a shim to this checkout's binary), so
 * a later example may use what an earlier one wrote; each block runs in one bash process, so an
 * `export` or `$?` carries to its next command. A `$ ` line (with its `\` continuation lines) is a
 * command; the lines after it, up to the next command or the fence, are its exact standard
 * output, where a line holding only `...` matches any number of lines. A command must exit 0
 * unless the next one is `echo $?`. ```sh blocks are shown, not run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, FIXTURES, ROOT, tempDir } from './helpers.js';

interface Example {
  command: string;
  expected: string[];
}

interface Block {
  line: number;
  examples: Example[];
}

/** The README's console blocks, each a list of commands with their expected output. */
export function consoleBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```console') continue;
    const block: Block = { line: i + 1, examples: [] };
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) {
      const line = lines[i];
      if (line.startsWith('$ ')) {
        let command = line.slice(2);
        while (command.endsWith('\\') && i + 1 < lines.length) command += '\n' + lines[++i];
        block.examples.push({ command, expected: [] });
      } else {
        expect(block.examples.length, `README.md:${i + 1}: output before the first $ command`).toBeGreaterThan(0);
        block.examples[block.examples.length - 1].expected.push(line);
      }
    }
    blocks.push(block);
  }
  return blocks;
}

/** Whether `actual` is `expected` line for line, a `...` line standing for any number of lines. */
export function matchLines(expected: string[], actual: string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    if (memo.has(key)) return memo.get(key)!;
    let ok: boolean;
    if (e === expected.length) ok = a === actual.length;
    else if (expected[e] === '...') ok = go(e + 1, a) || (a < actual.length && go(e, a + 1));
    else ok = a < actual.length && expected[e] === actual[a] && go(e + 1, a + 1);
    memo.set(key, ok);
    return ok;
  };
  return go(0, 0);
}

function lines(text: string): string[] {
  if (text === '') return [];
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = consoleBlocks(README);

const scratch = tempDir('bi-readme-');
const work = join(scratch, 'work');
const bin = join(scratch, 'bin');
mkdirSync(bin);
cpSync(FIXTURES, join(work, 'fixtures'), { recursive: true });
writeFileSync(join(bin, 'breach-impact'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
chmodSync(join(bin, 'breach-impact'), 0o755);

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(COLUMNS|FORCE_COLOR|SOURCE_DATE_EPOCH|BREACH_IMPACT_.*)$/.test(k)) env[k] = v;
Object.assign(env, { PATH: `${bin}:${process.env.PATH ?? ''}`, NO_COLOR: '1', CI: 'true', LC_ALL: 'C.UTF-8' });

const MARK = '\u001e';

describe('README.md examples', () => {
  it('has console examples', () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  it.each(blocks.map((b) => [`README.md:${b.line}: ${b.examples[0]?.command.split('\n')[0] ?? ''}`, b] as const))('%s', (_name, block) => {
    // a mark (with the exit code of the command before it) ahead of each command's output
    const script = block.examples.map((e, i) => `__rc=$?; printf '${MARK}%d %d\\n' ${i} "$__rc"; (exit "$__rc")\n${e.command}\n`).join('') + `__rc=$?; printf '${MARK}%d %d\\n' ${block.examples.length} "$__rc"\n`;
    const r = spawnSync('bash', ['--noprofile', '--norc', '-c', script], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    const parts = r.stdout.split(new RegExp(`${MARK}(\\d+) (\\d+)\\n`));
    // parts: '', index0, rc, out0, index1, rc0, out1, …, indexN, rcN-1, ''
    for (let i = 0; i < block.examples.length; i++) {
      const e = block.examples[i];
      const out = parts[3 + 3 * i] ?? '';
      const rc = Number(parts[2 + 3 * (i + 1)]);
      const where = `README.md:${block.line}\n$ ${e.command}\n--- stderr of the block\n${r.stderr}`;
      expect(matchLines(e.expected, lines(out)) ? e.expected : lines(out), where).toEqual(e.expected);
      if (block.examples[i + 1]?.command.trim() !== 'echo $?') expect(rc, `exit code of: ${where}`).toBe(0);
    }
  });
});

describe('the README test itself', () => {
  it('matches `...` against any number of lines, and nothing else loosely', () => {
    expect(matchLines(['a', '...', 'd'], ['a', 'b', 'c', 'd'])).toBe(true);
    expect(matchLines(['a', '...', 'd'], ['a', 'd'])).toBe(true);
    expect(matchLines(['a', '...'], ['a'])).toBe(true);
    expect(matchLines(['a', 'd'], ['a', 'b', 'd'])).toBe(false);
    expect(matchLines(['a', '...', 'd'], ['a', 'b'])).toBe(false);
    expect(matchLines(['a'], ['a', ''])).toBe(false);
  });

  it('reads commands with continuation lines and their expected output', () => {
    expect(consoleBlocks('x\n```console\n$ echo a \\\n    b\na b\n$ true\n```\n```sh\n$ not run\n```\n')).toEqual([
      { line: 2, examples: [{ command: 'echo a \\\n    b', expected: ['a b'] }, { command: 'true', expected: [] }] },
    ]);
  });
});
