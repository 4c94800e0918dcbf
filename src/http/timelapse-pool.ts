/**
 * Encoding workers for timelapses (node:worker_threads): at most `size`, started on first use and kept
 * (a start costs tens of ms), each running one job at a time; more jobs wait in order. The route admits at
 * most `size` jobs at once (503 beyond), so the queue stays short. The data goes in and the bytes come back
 * by transfer. Workers are unref'd: an idle one never keeps the process alive.
 *
 * Built (dist/), the worker is timelapse-worker.js beside this file. From TypeScript source (vitest), Node 20
 * cannot load a .ts worker, so it is bundled once with esbuild (a dev dependency) and run as an eval worker.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EncodeJob } from './timelapse-encode.js';
import type { FromWorker, ToWorker } from './timelapse-worker.js';

interface Slot {
  worker: Worker;
  /** The job it runs, or null when idle. */
  busy: { id: number; resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | null;
}

let sourceBundle: string | null = null;

async function spawn(): Promise<Worker> {
  const built = new URL('./timelapse-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return new Worker(built);
  if (sourceBundle === null) {
    const { build } = await import('esbuild');
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./timelapse-worker.ts', import.meta.url))],
      bundle: true, platform: 'node', format: 'cjs', target: 'node20', write: false, logLevel: 'silent',
    });
    sourceBundle = out.outputFiles[0]!.text;
  }
  return new Worker(sourceBundle, { eval: true });
}

export class EncoderPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: { id: number; job: EncodeJob; resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  private starting = 0;
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`encoder pool: size must be an integer >= 1, got ${size}`);
  }

  /** The job's bytes; rejects when the encoder throws or its worker dies. */
  run(job: EncodeJob): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('encoder pool closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, job, resolve, reject });
      this.pump();
    });
  }

  /** Ends every worker; jobs in progress or waiting are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('encoder pool closed'));
    await Promise.all(this.slots.splice(0).map((s) => {
      s.busy?.reject(new Error('encoder pool closed'));
      return s.worker.terminate();
    }));
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const idle = this.slots.find((s) => s.busy === null);
      if (idle === undefined) {
        if (this.slots.length + this.starting < this.size) this.grow();
        return;
      }
      const w = this.waiting.shift()!;
      idle.busy = w;
      idle.worker.ref();
      const d = w.job.data;
      const msg: ToWorker = { id: w.id, job: w.job };
      idle.worker.postMessage(msg, [d.start.buffer, d.xs.buffer, d.ys.buffer, d.colors.buffer, d.times.buffer] as ArrayBuffer[]);
    }
  }

  private grow(): void {
    this.starting++;
    spawn().then((worker) => {
      this.starting--;
      if (this.closed) return void worker.terminate();
      const slot: Slot = { worker, busy: null };
      worker.unref();
      worker.on('message', (m: FromWorker) => {
        const b = slot.busy;
        if (b === null || b.id !== m.id) return;
        slot.busy = null;
        worker.unref();
        if ('bytes' in m) b.resolve(m.bytes);
        else b.reject(new Error(m.error));
        this.pump();
      });
      worker.on('error', (err) => {
        slot.busy?.reject(err);
        slot.busy = null;
      });
      worker.on('exit', () => {
        // A dead worker is replaced on demand by the next job.
        slot.busy?.reject(new Error('timelapse encoder exited'));
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        if (!this.closed) this.pump();
      });
      this.slots.push(slot);
      this.pump();
    }, (err: unknown) => {
      this.starting--;
      for (const w of this.waiting.splice(0)) w.reject(err instanceof Error ? err : new Error(String(err)));
    });
  }
}
