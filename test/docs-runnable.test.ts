import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shell blocks that the README and docs/ mark as runnable are run here, so a command
 * shown to a reader cannot drift from the product. A block is runnable when its fence reads
 * ```` ```sh runnable ```` (or `bash runnable`); with `init` as well (```` ```sh runnable init ````)
 * it runs on a data directory that `keyhold init --no-demo` made. The blocks of one file run in
 * order in one scratch directory (the current directory, with HOME inside it), with `keyhold`
 * on PATH and `bash -e -o pipefail`; processes a block leaves in the background are stopped
 * after the file's last block.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Block {
  file: string;
  line: number;
  init: boolean;
  code: string;
}

function markdownFiles(): string[] {
  const docs = join(repo, 'docs');
  const out = [join(repo, 'README.md')];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
    }
  };
  if (existsSync(docs)) walk(docs);
  return out;
}

/** Fenced blocks whose info string is `sh|bash runnable [init]`. */
function runnableBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    // A fence may be indented (a block inside a list item); its lines share the indent.
    const open = /^( *)(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const fence = open[2]!;
    const words = open[3]!.trim().split(/\s+/);
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    if ((words[0] === 'sh' || words[0] === 'bash') && words.includes('runnable')) {
      const code = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)));
      blocks.push({ file, line: i + 1, init: words.includes('init'), code: code.join('\n') });
    }
    i = end;
  }
  return blocks;
}

interface Run {
  code: number | null;
  output: string;
  pid: number;
}

function runBlock(code: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolvePromise) => {
    // detached: bash leads a process group of its own, so whatever it leaves running in the
    // background can be stopped as a group afterwards.
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', code], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      output += `\n[docs runner: still running after ${timeoutMs} ms, stopped]`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    // 'exit', not 'close': a background process keeps the pipes open after bash is done.
    child.on('exit', (status) => {
      clearTimeout(timer);
      setTimeout(() => resolvePromise({ code: status, output, pid: child.pid! }), 50);
    });
  });
}

function stopGroup(pid: number): void {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    try {
      process.kill(-pid, signal);
    } catch {
      return;
    }
  }
}

const byFile = new Map<string, Block[]>();
for (const f of markdownFiles()) {
  const blocks = runnableBlocks(f, readFileSync(f, 'utf8'));
  if (blocks.length > 0) byFile.set(f, blocks);
}

test('the docs mark shell blocks as runnable', () => {
  // If the marks were lost (a rename of the info string), this suite would pass on nothing.
  assert.ok(byFile.size >= 2, `runnable blocks found in ${byFile.size} file(s)`);
});

for (const [file, blocks] of byFile) {
  const name = relative(repo, file);
  test(`the runnable shell blocks of ${name} run as shown`, { timeout: 300_000 }, async (t) => {
    const scratch = mkdtempSync(join(tmpdir(), 'keyhold-docs-'));
    const bin = join(scratch, '.bin');
    const home = join(scratch, '.home');
    mkdirSync(bin);
    mkdirSync(home);
    const shim = join(bin, 'keyhold');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(repo, 'bin', 'keyhold.js')}" "$@"\n`);
    chmodSync(shim, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('KEYHOLD_') || k.startsWith('AWS_')) delete env[k];
    const groups: number[] = [];
    try {
      for (const b of blocks) {
        await t.test(`${name}:${b.line}`, async () => {
          if (b.init && !existsSync(join(scratch, 'keyhold-data'))) {
            const init = await runBlock('keyhold init --no-demo >/dev/null', scratch, env, 60_000);
            assert.equal(init.code, 0, `keyhold init --no-demo failed:\n${init.output}`);
          }
          const r = await runBlock(b.code, scratch, env, 180_000);
          groups.push(r.pid);
          assert.equal(r.code, 0, `the block at ${name}:${b.line} failed (exit ${r.code}):\n${r.output}`);
        });
      }
    } finally {
      for (const pid of groups) stopGroup(pid);
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
