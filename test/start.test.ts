/**
 * `npm start` as a user meets it: the first start builds, a restart of an unchanged checkout does not, and
 * the server prints one plain line saying which URL to open.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, sourceHash } from '../scripts/build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `node scripts/start.mjs`, resolves with its output once it prints the ready line, then stops it. */
function start(): Promise<{ stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, ['scripts/start.mjs', '--port', '0', '--in-memory'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no ready line: ${stdout} ${stderr}`)); }, 30_000);
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/^pixel-canvas is ready: open http:\/\/127\.0\.0\.1:\d+\/ in a browser$/m.test(stdout)) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        proc.once('exit', () => resolve({ stdout, stderr, ms }));
        proc.kill('SIGTERM');
      }
    });
    proc.once('exit', (code) => { if (code !== 0 && code !== null) reject(new Error(`exited ${code}: ${stderr}`)); });
  });
}

describe('npm start', () => {
  it('builds once: a restart of an unchanged checkout does not rebuild, and prints the URL as one plain line', async () => {
    await ensureBuilt();
    const first = await start();
    expect(first.stderr).not.toMatch(/built \d+ files/);
    const second = await start();
    expect(second.stderr).not.toMatch(/built \d+ files/);
    // The plain line stands alone among the JSON log lines.
    const plain = second.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(plain).toHaveLength(1);
    console.log(`restart to ready line: ${Math.round(second.ms)} ms`);
  }, 60_000);

  it('the build hash covers the sources: it is stable, and any input change would change it', () => {
    expect(sourceHash()).toBe(sourceHash());
    expect(sourceHash()).toMatch(/^[0-9a-f]{64}$/);
  });
});
