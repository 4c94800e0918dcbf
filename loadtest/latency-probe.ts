/**
 * Place→visible latency between two users of the generator's own: a writer paints a pixel every
 * `intervalMs` in a chunk a reader watches; the sample is the time from writing the PLACE until the reader
 * receives a DELTA holding that (offset, colour). Writer and reader may be on one node (the server's latency
 * apart from the fleets' own queueing) or on two (cross-node, through Redis). Each placement changes its
 * pixel's colour (cycling), so it yields one recognisable delta; a pixel painted over by someone else first
 * is counted as unseen. Runs on the main thread, which is otherwise idle while the fleets (worker threads)
 * run.
 */
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../src/client/canvas-client.js';
import { LatencyHistogram } from './histogram.js';

export interface ProbeOptions {
  writerUrl: string;
  readerUrl: string;
  /** Chunk watched and painted (a corner of the canvas the fleets also paint over, rarely). */
  cx?: number;
  cy?: number;
  intervalMs?: number;
}

export class LatencyProbe {
  readonly latency = new LatencyHistogram();
  sent = 0;
  unseen = 0;
  private measuring = false;
  private readonly writer: CanvasClient;
  private readonly reader: CanvasClient;
  private readonly pending = new Map<number, { color: number; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private k = 0;
  refused = 0;
  private readonly seqs = new Map<number, number>();
  private palette = 2;

  constructor(private readonly o: ProbeOptions) {
    const factory = (u: string) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike;
    this.writer = new CanvasClient({ url: o.writerUrl, name: 'probe-writer', socketFactory: factory, keepReplica: false, ignoreCursors: true });
    this.reader = new CanvasClient({ url: o.readerUrl, name: 'probe-reader', socketFactory: factory, ignoreCursors: true });
    const cx = o.cx ?? 0, cy = o.cy ?? 0;
    this.writer.setViewport(cx * 64, cy * 64, 64, 64);
    this.reader.setViewport(cx * 64, cy * 64, 64, 64);
    this.writer.on('open', (w) => { this.palette = w.palette.length; });
    // A refused placement (a server's paint bucket) yields no delta: forget it rather than count it unseen.
    this.writer.on('placeResult', (r) => {
      const offset = this.seqs.get(r.seq);
      this.seqs.delete(r.seq);
      if (offset !== undefined && r.status !== 0) {
        this.pending.delete(offset);
        if (this.measuring) this.refused++;
      }
    });
    this.reader.on('delta', (d) => {
      if (d.cx !== cx || d.cy !== cy) return;
      const now = performance.now();
      for (let i = 0; i < d.offsets.length; i++) {
        const p = this.pending.get(d.offsets[i]!);
        if (p === undefined || p.color !== d.colors[i]) continue;
        this.pending.delete(d.offsets[i]!);
        if (this.measuring) this.latency.recordMs(now - p.at);
      }
    });
  }

  start(): void {
    this.writer.connect();
    this.reader.connect();
    const cx = this.o.cx ?? 0, cy = this.o.cy ?? 0;
    this.timer = setInterval(() => {
      if (this.writer.state !== 'open' || this.reader.state !== 'open' || !this.reader.replica.chunk(cx, cy)) return;
      const offset = this.k++ % 4096;
      const prev = this.pending.get(offset);
      if (prev) {
        // Not seen by the time we come back to this pixel (~400 s at 10/s): painted over, or lost.
        this.pending.delete(offset);
        this.unseen++;
      }
      const held = this.reader.replica.chunk(cx, cy)!.pixels[offset]!;
      const color = (held + 1) % this.palette;
      this.pending.set(offset, { color, at: performance.now() });
      const seq = this.writer.place(cx * 64 + (offset & 63), cy * 64 + (offset >> 6), color);
      this.seqs.set(seq, offset);
      if (this.seqs.size > 10_000) this.seqs.clear();
      if (this.measuring) this.sent++;
    }, this.o.intervalMs ?? 100);
  }

  measure(): void {
    this.measuring = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.writer.close();
    this.reader.close();
    this.unseen += this.pending.size;
  }
}
