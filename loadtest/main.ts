/**
 * `npm run loadtest -- [flags]` (see USAGE in cli.ts): simulated scrollers against our server or a running one.
 * Exit status: 0 ok; 1 ran but fell short (fewer than 90% of clients connected, no latency sample while
 * painting, the server died); 2 bad flags or could not start.
 */
import { loadavg } from 'node:os';
import { type LoadTestOptions, UsageError, USAGE, parseLoadTestArgs } from './cli.js';
import { type SweepResult, formatSweepTable, sweepRow, writeSweep } from './sweep.js';
import { formatSummary, writeReport } from './report.js';
import { StartError, checkResources, runLoadTest } from './run.js';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseLoadTestArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`loadtest: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
    return 0;
  }
  const o = parsed.options;
  if (o.sweep !== null) return sweep(o, o.sweep);
  console.log(`loadtest: ${o.scenario}, ${o.clients} clients, ${o.durationSeconds} s, ${o.workers} worker(s), ` +
    `${o.url ?? `own server ${o.width}x${o.height}`}`);
  let result;
  try {
    result = await runLoadTest(o);
  } catch (err) {
    if (err instanceof StartError) {
      process.stderr.write(`loadtest: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const r = result.report;
  console.log(`\nSummary\n${formatSummary(r)}`);
  if (o.json !== null) {
    const files = writeReport(r, o.json);
    console.log(`\nreport: ${files.json}\nchart:  ${files.svg}`);
  }
  return r.ok ? 0 : 1;
}

/** --sweep: one run per size, each against a fresh server we start (or the same --url), then one table. */
async function sweep(o: LoadTestOptions, sizes: number[]): Promise<number> {
  const file = o.json ?? 'loadtest-sweep.json';
  const base = file.replace(/\.json$/i, '');
  const result: SweepResult = { sizes, startedAt: new Date().toISOString(), rows: [], skipped: [] };
  // Sizes this machine cannot hold (file descriptors, ports) are told before the first run, not after the rest.
  const fits = sizes.filter((clients) => {
    try {
      checkResources({ ...o, clients });
      return true;
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      result.skipped.push({ clients, reason: err.message });
      process.stderr.write(`loadtest: sweep skips ${clients} clients: ${err.message}\n`);
      return false;
    }
  });
  for (const clients of fits) {
    const run: LoadTestOptions = { ...o, clients, workers: Math.min(o.workers, clients), sweep: null, json: null };
    console.log(`\nsweep: ${clients} clients (${o.scenario}, ${o.durationSeconds} s), load average ${loadavg()[0]!.toFixed(2)}`);
    try {
      const { report } = await runLoadTest(run);
      console.log(formatSummary(report));
      writeReport(report, `${base}-${clients}.json`);
      result.rows.push(sweepRow(report));
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      process.stderr.write(`loadtest: sweep stopped at ${clients} clients: ${err.message}\n`);
      break;
    }
  }
  console.log(`\nSweep (${o.scenario}, ${o.durationSeconds} s each; latencies from the probe users)\n${formatSweepTable(result.rows)}`);
  const files = writeSweep(result, file, `${o.scenario} sweep: ${sizes.join(', ')} clients`);
  console.log(`\nsweep: ${files.json}\nchart: ${files.svg}\nruns:  ${base}-N.json`);
  for (const k of result.skipped) console.log(`skipped: ${k.clients} clients (${k.reason})`);
  if (result.rows.length < fits.length) return 2;
  if (result.skipped.length > 0) return 1;
  return result.rows.every((r) => r.ok) ? 0 : 1;
}

// Exit explicitly: a socket still closing must not keep a finished run alive (stdout to a pipe is synchronous on Linux).
process.exit(await main());
