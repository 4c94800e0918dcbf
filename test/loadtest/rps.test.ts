/** --rps: the loopback RPS mask is written for the run and put back afterwards, also when the run is killed. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMask, steerLoopback } from '../../loadtest/rps.js';

const dir = mkdtempSync(join(tmpdir(), 'rps-test-'));

describe('rps', () => {
  it('writes CPU masks in the hex form sysfs takes', () => {
    expect(cpuMask([1])).toBe('2');
    expect(cpuMask([1, 2, 3])).toBe('e');
    expect(cpuMask([0, 1])).toBe('3');
    expect(cpuMask([40])).toBe('10000000000');
  });

  it('restores the previous mask once, and stops listening for signals', () => {
    const path = join(dir, 'rps_cpus');
    writeFileSync(path, '0\n');
    const before = process.listenerCount('SIGTERM');
    const h = steerLoopback('2', path);
    expect(readFileSync(path, 'utf8').trim()).toBe('2');
    expect(h.previous).toBe('0');
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    h.restore();
    expect(readFileSync(path, 'utf8').trim()).toBe('0');
    writeFileSync(path, 'f\n'); // someone else's setting now: a second restore must not touch it
    h.restore();
    expect(readFileSync(path, 'utf8').trim()).toBe('f');
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it.each(['SIGTERM', 'SIGINT', 'exception'] as const)('restores it when the process ends by %s', async (how) => {
    const { build } = await import('esbuild');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const bundle = join(dir, 'rps.mjs');
    await build({ entryPoints: [`${root}loadtest/rps.ts`], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
    const path = join(dir, `rps_cpus_${how}`);
    writeFileSync(path, '1\n');
    const end = how === 'exception' ? "throw new Error('boom')" : `process.kill(process.pid, '${how}')`;
    const script = `import { steerLoopback } from ${JSON.stringify(bundle)};
      steerLoopback('6', ${JSON.stringify(path)});
      const fs = await import('node:fs');
      fs.writeFileSync(${JSON.stringify(path + '.during')}, fs.readFileSync(${JSON.stringify(path)}));
      setTimeout(() => {}, 5000);
      ${end};`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(readFileSync(`${path}.during`, 'utf8').trim()).toBe('6');
    expect(readFileSync(path, 'utf8').trim()).toBe('1');
    if (how === 'exception') expect(r.status).not.toBe(0);
    else expect(r.signal).toBe(how); // it still dies of the signal, as it would have without the handler
  });
});
