/**
 * `npm run loadtest -- [flags]` (see USAGE in cli.ts): simulated scrollers against our server or a running one.
 * Exit status: 0 ok; 1 ran but fell short (fewer than 90% of clients connected, no latency sample while
 * painting, the server died); 2 bad flags or could not start.
 */
import { UsageError, USAGE, parseLoadTestArgs } from './cli.js';
import { formatSummary, writeReport } from './report.js';
import { StartError, runLoadTest } from './run.js';

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

// Exit explicitly: a socket still closing must not keep a finished run alive (stdout to a pipe is synchronous on Linux).
process.exit(await main());
