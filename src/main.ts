/** `npm start`: parse flags, start the server, stop gracefully on SIGINT/SIGTERM. */
import { ConfigError, parseConfig, usage } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';
import { isPrimaryOfWorkers, runWorkers, workerConfig } from './cluster/workers.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return;
  }
  let config;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pixel-canvas: ${err.message} (see --help)\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  if (isPrimaryOfWorkers(config)) {
    // --workers N: this process only forks and watches; the workers serve (src/cluster/workers.ts).
    await runWorkers(config, log);
    process.exit(0);
  }
  config = workerConfig(config);
  let server;
  try {
    server = await startServer(config, { log });
  } catch (err) {
    // Bad starts (unwritable data dir, foreign database, port in use…) get one clear line and a non-zero exit.
    process.stderr.write(`pixel-canvas: ${(err as Error).message}\n`);
    process.exit(1);
  }
  log.info({ url: server.url, ws: server.wsUrl, ...(server.opsUrl ? { ops: server.opsUrl } : {}), width: config.width, height: config.height, tickHz: config.tickHz,
    storage: config.inMemory ? 'memory' : config.dataDir }, `pixel-canvas listening on ${server.url}`);
  // For people: one plain line saying where to go (the log lines around it stay JSON for machines).
  process.stdout.write(`pixel-canvas is ready: open ${server.url}/ in a browser\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

await main();
