/**
 * A single node never loads the Redis client or the cluster code: they cost it ~9 MB of RSS at start (V8
 * grows its heap to compile them) for nothing. A node of a shared canvas (--redis) loads them. Checked on the
 * built server, as `npm start` runs it, by a preload that reports any CommonJS load of ioredis.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '../../scripts/build.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Starts dist/src/main.js with `args`; resolves with whether `ioredis` was loaded once it is ready. */
function loadsRedisClient(args: string[]): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-lazy-'));
  const preload = join(dir, 'watch.cjs');
  writeFileSync(preload, `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  // From ESM, Node hands the resolved file name (…/node_modules/ioredis/built/index.js) to _load.
  if (/(^|[\\\\/])ioredis([\\\\/]|$)/.test(request)) process.stderr.write('LOADED ioredis\\n');
  return load.call(this, request, ...rest);
};
`);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--require', preload, 'dist/src/main.js', '--port', '0', '--in-memory', ...args],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const done = (err: Error | null, loaded = false): void => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      if (err) reject(err);
      else resolve(loaded);
    };
    const timer = setTimeout(() => { proc.kill('SIGKILL'); done(new Error(`no ready line: ${stdout} ${stderr}`)); }, 30_000);
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/pixel-canvas is ready/.test(stdout)) {
        proc.once('exit', () => done(null, stderr.includes('LOADED ioredis')));
        proc.kill('SIGTERM');
      }
    });
    proc.once('error', (err) => done(err));
  });
}

describe('cluster code is loaded only for a shared canvas', () => {
  it('a single node does not load ioredis; a node with --redis does', async () => {
    await ensureBuilt();
    expect(await loadsRedisClient([])).toBe(false);
    const canvas = `lazy-${process.pid}-${Date.now()}`;
    expect(await loadsRedisClient(['--redis', 'redis://127.0.0.1:6379', '--canvas', canvas])).toBe(true);
  }, 60_000);
});
