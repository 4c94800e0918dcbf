/**
 * `npm run bench -- [--quick] [--only NAME[,NAME…]] [--json FILE]`: runs every `bench/*.bench.ts` module's
 * `run({ quick })` in turn, in name order, each in this process. A module that throws is reported and the
 * rest still run; the exit status is 1 if any failed.
 *
 *   --quick  tiny sizes for CI smoke (the whole set in about ten seconds)
 *   --only   names without the `.bench` suffix, e.g. `--only fanout,tick-scaling`
 *   --json   write every module's returned numbers as one JSON object
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

type BenchModule = { run(opts?: { quick?: boolean }): Promise<unknown> | unknown };

/** The bench modules next to this file: *.bench.js once built (or *.bench.ts when run from source). */
export function benchFiles(dir: string): Array<{ name: string; file: string }> {
  const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.bench.ts' : '.bench.js';
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => ({ name: f.slice(0, -ext.length), file: join(dir, f) }));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  const dir = dirname(fileURLToPath(import.meta.url));
  const all = benchFiles(dir);
  if (values.help) {
    console.log(`Usage: npm run bench -- [--quick] [--only NAME[,NAME…]] [--json FILE]\nbenches: ${all.map((b) => b.name).join(', ')}`);
    return 0;
  }
  const wanted = values.only?.split(',').map((s) => s.trim().replace(/\.bench(\.[jt]s)?$/, '')).filter(Boolean);
  const unknown = wanted?.filter((w) => !all.some((b) => b.name === w)) ?? [];
  if (unknown.length > 0) {
    console.error(`bench: no such bench: ${unknown.join(', ')} (have ${all.map((b) => b.name).join(', ')})`);
    return 2;
  }
  const chosen = wanted ? all.filter((b) => wanted.includes(b.name)) : all;
  const quick = values.quick === true;
  const results: Record<string, unknown> = {};
  const failed: string[] = [];
  const started = performance.now();
  for (const b of chosen) {
    console.log(`\n=== ${b.name}${quick ? ' (quick)' : ''} ===`);
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(b.file).href)) as Partial<BenchModule>;
      if (typeof mod.run !== 'function') throw new Error(`${b.file} exports no run()`);
      results[b.name] = await mod.run({ quick });
    } catch (err) {
      failed.push(b.name);
      console.error(`bench ${b.name} failed: ${(err as Error).stack ?? String(err)}`);
    }
    console.log(`--- ${b.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  console.log(`\n${chosen.length - failed.length}/${chosen.length} benches ran in ${((performance.now() - started) / 1000).toFixed(1)} s` +
    (failed.length ? `; failed: ${failed.join(', ')}` : ''));
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
  return failed.length > 0 ? 1 : 0;
}

// Bench modules may leave servers' sockets closing or timers behind: end when the last one is done.
process.exit(await main());
