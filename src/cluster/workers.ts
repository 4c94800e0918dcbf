/**
 * `--workers N` (with --redis): N node processes behind one port on one machine. The primary forks N
 * workers (node:cluster; the primary accepts connections and hands them round-robin to the workers), each
 * an ordinary node of the shared canvas with its own data directory `<data-dir>/worker-<i>`; a worker that
 * dies is restarted into the same slot (and catches up from its checkpoint and the stream). SIGINT/SIGTERM
 * stop every worker gracefully, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';

/** Environment variable naming a worker's slot (0-based); set only in workers. */
export const WORKER_SLOT_ENV = 'PIXEL_CANVAS_WORKER_SLOT';

/** In a worker: the config of its slot (own data dir, no further workers). Elsewhere: the config as is. */
export function workerConfig(config: ServerConfig, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const slot = env[WORKER_SLOT_ENV];
  if (slot === undefined || !cluster.isWorker) return config;
  return { ...config, workers: 1, dataDir: join(config.dataDir, `worker-${slot}`) };
}

export function isPrimaryOfWorkers(config: ServerConfig): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/** Runs the primary: forks, restarts, and stops the workers. Resolves when all have stopped for good. */
export function runWorkers(config: ServerConfig, log: Logger): Promise<void> {
  cluster.setupPrimary({ silent: false });
  const slots = new Map<Worker, number>();
  let stopping = false;
  const restarts: number[] = new Array(config.workers).fill(0);
  const fork = (slot: number) => {
    const w = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    slots.set(w, slot);
  };
  for (let i = 0; i < config.workers; i++) fork(i);
  log.info({ workers: config.workers, canvas: config.canvas }, 'started workers');
  return new Promise((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      const slot = slots.get(w)!;
      slots.delete(w);
      if (stopping) {
        if (slots.size === 0) resolve();
        return;
      }
      // Back off on a worker that keeps dying (a bad config would otherwise fork in a tight loop).
      const delay = Math.min(30_000, 250 * 2 ** Math.min(restarts[slot]!++, 7));
      log.warn({ slot, code, signal, restartInMs: delay }, 'worker died; restarting');
      setTimeout(() => { if (!stopping) fork(slot); }, delay).unref();
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping workers');
      if (slots.size === 0) resolve();
      for (const w of slots.keys()) w.process.kill('SIGTERM');
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
