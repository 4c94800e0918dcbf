/**
 * Worker-thread entry: runs one Fleet and relays its intervals to the main thread. Messages in:
 * `{ type: 'measure' }`, `{ type: 'stop' }`. Messages out: `{ type: 'interval', interval }` each second and
 * `{ type: 'done', final }` after stop (then the main thread terminates the worker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Fleet, type FleetConfig, type FleetFinal, type FleetInterval } from './fleet.js';

export type ToWorker = { type: 'measure' } | { type: 'stop' };
export type FromWorker = { type: 'interval'; interval: FleetInterval } | { type: 'done'; final: FleetFinal };

const port = parentPort;
if (port === null) throw new Error('loadtest/worker.js runs only as a worker thread');

const fleet = new Fleet(workerData as FleetConfig, (interval) => {
  const msg: FromWorker = { type: 'interval', interval };
  // The sample arrays move to the main thread instead of being copied.
  port.postMessage(msg, [interval.latencyUs.buffer as ArrayBuffer, interval.panLoadUs.buffer as ArrayBuffer]);
});
port.on('message', (m: ToWorker) => {
  if (m.type === 'measure') fleet.measure();
  else if (m.type === 'stop') {
    fleet.stop().then((final) => port.postMessage({ type: 'done', final } satisfies FromWorker));
  }
});
fleet.start();
