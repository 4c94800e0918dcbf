/**
 * Shared by the storage tests: temp data dirs, a naive canvas model, a "server tick" that drives storage the
 * way the room does, and a bundled copy of the storage code for child processes (node cannot run .ts here).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll } from 'vitest';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import type { CanvasStorage, PlacementRecord } from '../../src/storage/canvas-storage.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Removed after the test file: temp dirs and bundles. */
const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed after the test file. */
export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-storage-'));
  tempDirs.push(d);
  return d;
}

export function record(x: number, y: number, color: number, time = 1_700_000_000_000, name = 'ann', clientId = 1, ip = '203.0.113.7'): PlacementRecord {
  return { x, y, color, time, clientId, name, ip };
}

/** The canvas as a plain array, painted in order: what any correct storage must restore. */
export class CanvasModel {
  readonly pixels: Uint8Array;
  /** y * width + x → the last placement there. */
  readonly last = new Map<number, PlacementRecord>();
  constructor(readonly width: number, readonly height: number, readonly background: number) {
    this.pixels = new Uint8Array(width * height).fill(background);
  }
  apply(batch: readonly PlacementRecord[]): void {
    for (const r of batch) {
      this.pixels[r.y * this.width + r.x] = r.color;
      this.last.set(r.y * this.width + r.x, r);
    }
  }
  /** What pixelInfo must answer (times are assumed non-decreasing, as storage logs them). */
  info(x: number, y: number): { x: number; y: number; color: number; placedAt: number | null; placedBy: string | null } {
    const r = this.last.get(y * this.width + x);
    return { x, y, color: this.pixels[y * this.width + x]!, placedAt: r?.time ?? null, placedBy: r?.name ?? null };
  }
}

/** Every pixel of the store, row-major (reads chunk arrays directly; background for unallocated chunks). */
export function storePixels(store: ChunkStore): Uint8Array {
  const out = new Uint8Array(store.width * store.height).fill(store.background);
  store.forEachChunk((cx, cy, pixels) => {
    for (let ly = 0; ly < 64; ly++) out.set(pixels.subarray(ly * 64, ly * 64 + 64), (cy * 64 + ly) * store.width + cx * 64);
  });
  return out;
}

/** First differing index of two equal-length arrays, or -1. (Faster to assert on than a 1M-element diff.) */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** One server tick: commit, then apply, then drain, then maybe checkpoint — the room's order. */
export function tick(storage: CanvasStorage, store: ChunkStore, batch: readonly PlacementRecord[], nowMs: number): void {
  storage.commit(batch);
  for (const r of batch) store.set(r.x, r.y, r.color);
  store.drain();
  storage.maybeCheckpoint(store, nowMs);
}

export function newStore(width = 256, height = 256, paletteSize = 16, background = 0): ChunkStore {
  return new ChunkStore({ width, height, paletteSize, background });
}

/** Every placement in the log, oldest first, read through history() pages. */
export function readLog(storage: CanvasStorage, width: number, height: number, pageSize = 1000): { x: number; y: number; color: number; placedAt: number; placedBy: string }[] {
  const all = [];
  let after: string | undefined;
  for (;;) {
    const page = storage.history({ x0: 0, y0: 0, x1: width - 1, y1: height - 1, limit: pageSize, after });
    all.push(...page.placements);
    if (page.next === null) return all;
    after = page.next;
  }
}

export { CHUNK_AREA };

// ---------------------------------------------------------------------------------------------------------
// Child processes

let bundled: string | null = null;

/**
 * The storage and chunk store bundled into one ESM file inside the repo (so better-sqlite3 resolves from its
 * node_modules), for `node` child processes to import. Built once per test file.
 */
export function storageBundle(): string {
  if (bundled !== null) return bundled;
  const outDir = path.join(REPO, 'test-artifacts', 'storage');
  fs.mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, `storage-lib-${process.pid}-${Date.now()}.mjs`);
  buildSync({
    stdin: {
      contents: "export * from './src/storage/sqlite-storage.ts';\nexport * from './src/chunks/chunk-store.ts';\n",
      resolveDir: REPO,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  });
  tempDirs.push(outfile);
  bundled = pathToFileURL(outfile).href;
  return bundled;
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line containing `text`. */
  waitFor(text: string): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Runs an ES module script in a child `node` (optionally as another user), with LIB set to the storage bundle's URL. */
export function runChild(script: string, env: Record<string, string> = {}, as?: { uid: number; gid: number }): Child {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env, LIB: storageBundle() },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...as,
  });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      const line = stdout.split('\n').find((l) => l.includes(w.text));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    proc,
    exited,
    waitFor: (text) => new Promise((resolve, reject) => {
      const line = stdout.split('\n').find((l) => l.includes(text));
      if (line !== undefined) return resolve(line);
      waiters.push({ text, resolve });
      void exited.then((e) => reject(new Error(`child exited (${e.code ?? e.signal}) before printing ${text}: ${e.stderr || e.stdout}`)));
    }),
  };
}
