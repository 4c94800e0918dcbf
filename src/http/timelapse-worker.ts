/**
 * The encoding worker: one job at a time, posted by timelapse-pool.ts; the answer's bytes are transferred
 * back, never copied. A 64-Mpixel GIF is seconds of CPU, which is why this is not on the event loop.
 */
import { parentPort } from 'node:worker_threads';
import { encodeTimelapse, type EncodeJob } from './timelapse-encode.js';

export type ToWorker = { id: number; job: EncodeJob };
export type FromWorker = { id: number; bytes: Uint8Array } | { id: number; error: string };

parentPort?.on('message', ({ id, job }: ToWorker) => {
  let reply: FromWorker;
  try {
    reply = { id, bytes: encodeTimelapse(job) };
  } catch (err) {
    reply = { id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply, 'bytes' in reply ? [reply.bytes.buffer as ArrayBuffer] : []);
});
