/**
 * Fan-out, three ways, same workload: N scrollers on a 4096² canvas, each painting 1 px/s (cursors off, so
 * this compares pixel fan-out only). For each server we measure, over the same window, its CPU (from
 * /proc, percent of one core) and the WebSocket payload bytes and messages that reached its clients per
 * second (what was sent, not what was queued: a saturated server queues far more than it sends), and the
 * clients' own CPU, to show they were not the limit:
 *
 * (a) ours:  our server as a child process, driven by the load generator (our client library, scrolling
 *            viewports, 2 worker threads); the bytes are the WebSocket payload our clients received;
 * (b) naive: bench/naive-server.ts, pxls-style: each pixel broadcast as JSON to every client as its own
 *            WebSocket message; its clients are raw sockets in this process that paint and count frames;
 * (c) raw:   the machine's limit for exactly our traffic: a child that writes pre-built WebSocket frames
 *            straight to net sockets, replaying per client the frame rate and mean frame size our clients
 *            received in (a), one write per client per 60 Hz tick — no encoding, no subscriptions, no ws.
 *
 * Printed as ratios: ours/naive (what the design saves) and ours/raw (what our server costs above the
 * cheapest possible way of sending the same bytes).
 *
 *   run({ quick: true })  30 clients on 1024², 0.5 s windows: a smoke run of all three in about three seconds.
 *
 * As a process with --raw-server --schedule FILE it is the (c) child: it prints {"url", "dataPort"}.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttp } from 'node:http';
import { type AddressInfo, type Socket, connect, createServer as createNet } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BASE_OPTIONS } from '../loadtest/cli.js';
import { runLoadTest } from '../loadtest/run.js';
import { spawnNodeServer } from '../loadtest/server-child.js';
import { httpGetText, readProcUsage } from '../loadtest/server-stats.js';
import { DirectWriter } from '../src/net/direct-write.js';

const TICK_HZ = 60;
const SOURCE_ADDRESSES = 250;

const num = (v: number, digits: number, width: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '-').padStart(width);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------------------
// WebSocket framing, by hand (RFC 6455 §5.2), for the raw sockets on both sides.

/** An unmasked server→client frame (FIN set) holding `payload`. */
export function serverFrame(payload: Uint8Array, opcode = 0x2): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const b = Buffer.allocUnsafe(head + n);
  b[0] = 0x80 | opcode;
  if (n < 126) b[1] = n;
  else if (n < 65536) { b[1] = 126; b.writeUInt16BE(n, 2); }
  else { b[1] = 127; b.writeBigUInt64BE(BigInt(n), 2); }
  b.set(payload, head);
  return b;
}

/** A masked client→server text frame (servers must refuse unmasked ones). */
export function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new RangeError('clientTextFrame: short messages only');
  const mask = randomBytes(4);
  const b = Buffer.allocUnsafe(6 + payload.length);
  b[0] = 0x81;
  b[1] = 0x80 | payload.length;
  mask.copy(b, 2);
  for (let i = 0; i < payload.length; i++) b[6 + i] = payload[i]! ^ mask[i & 3]!;
  return b;
}

/** Counts frames in a stream of server frames, across chunk boundaries, without copying payloads. */
export class FrameCounter {
  frames = 0;
  payloadBytes = 0;
  private skip = 0;
  private readonly head: number[] = [];

  push(buf: Uint8Array): void {
    let i = 0;
    while (i < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.head.push(buf[i++]!);
      if (this.head.length < 2) continue;
      const len7 = this.head[1]! & 0x7f;
      const need = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (this.head.length < need) continue;
      let len = len7;
      if (len7 === 126) len = (this.head[2]! << 8) | this.head[3]!;
      else if (len7 === 127) { len = 0; for (let k = 2; k < 10; k++) len = len * 256 + this.head[k]!; }
      this.head.length = 0;
      this.frames++;
      this.payloadBytes += len;
      this.skip = len;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Raw client sockets: connect from 127.0.0.x, optionally upgrade to WebSocket, count what arrives.

interface RawPeer {
  socket: Socket;
  counter: FrameCounter;
  bytes: number;
  nextPaintAt: number;
}

export class RawClients {
  readonly peers: RawPeer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private errors = 0;

  /** Opens n sockets to host:port; with `path`, performs the WebSocket upgrade on each first. */
  async open(host: string, port: number, n: number, path: string | null): Promise<void> {
    const opening: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      opening.push(this.openOne(host, port, `127.0.0.${1 + (i % SOURCE_ADDRESSES)}`, path));
      if (i % 100 === 99) await Promise.all(opening.splice(0)); // a hundred at a time: no SYN flood
    }
    await Promise.all(opening);
  }

  private openOne(host: string, port: number, localAddress: string, path: string | null): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, localAddress });
      socket.setNoDelay(true);
      const peer: RawPeer = { socket, counter: new FrameCounter(), bytes: 0, nextPaintAt: Infinity };
      socket.once('error', reject);
      socket.on('error', () => { this.errors++; });
      const count = (b: Buffer): void => {
        peer.bytes += b.length;
        peer.counter.push(b);
      };
      if (path === null) {
        socket.once('connect', () => {
          socket.on('data', count);
          this.peers.push(peer);
          resolve();
        });
        return;
      }
      socket.once('connect', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      let head = Buffer.alloc(0);
      const onHead = (b: Buffer): void => {
        head = Buffer.concat([head, b]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onHead);
        if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${head.subarray(0, end).toString().split('\r\n')[0]}`));
          socket.destroy();
          return;
        }
        socket.on('data', count);
        if (head.length > end + 4) count(head.subarray(end + 4));
        this.peers.push(peer);
        resolve();
      };
      socket.on('data', onHead);
    });
  }

  /** Every peer sends one random pixel as JSON every 1/rate seconds (random phase). */
  paint(rate: number, side: number): void {
    const now = performance.now();
    for (const p of this.peers) p.nextPaintAt = now + Math.random() * (1000 / rate);
    this.timer = setInterval(() => {
      const t = performance.now();
      for (const p of this.peers) {
        if (t < p.nextPaintAt) continue;
        p.nextPaintAt += 1000 / rate;
        const json = JSON.stringify({ x: Math.floor(Math.random() * side), y: Math.floor(Math.random() * side), color: 1 + Math.floor(Math.random() * 31) });
        p.socket.write(clientTextFrame(json));
      }
    }, 20);
  }

  totals(): { bytes: number; payloadBytes: number; frames: number; errors: number } {
    let bytes = 0;
    let payloadBytes = 0;
    let frames = 0;
    for (const p of this.peers) {
      bytes += p.bytes;
      payloadBytes += p.counter.payloadBytes;
      frames += p.counter.frames;
    }
    return { bytes, payloadBytes, frames, errors: this.errors };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const p of this.peers) p.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// (c) The raw writer child.

interface Schedule {
  /** Per client, in connection order: frames per second and mean payload bytes per frame. */
  clients: Array<[framesPerSecond: number, bytesPerFrame: number]>;
}

async function rawServerMain(scheduleFile: string): Promise<void> {
  const schedule = JSON.parse(readFileSync(scheduleFile, 'utf8')) as Schedule;
  const frames = new Map<number, Buffer>();
  const frameOf = (size: number): Buffer => {
    let f = frames.get(size);
    if (!f) frames.set(size, (f = serverFrame(new Uint8Array(size).fill(0x83))));
    return f;
  };
  const conns: Array<{ socket: Socket; writer: DirectWriter; fps: number; frame: Buffer; payload: number; credit: number }> = [];
  let bytesSent = 0;
  let writes = 0;
  const data = createNet((socket) => {
    const [fps, size] = schedule.clients[conns.length % Math.max(1, schedule.clients.length)] ?? [0, 0];
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    // Stagger phases so not every client writes in the same tick when its rate is below the tick rate.
    const payload = Math.max(1, Math.round(size));
    conns.push({ socket, writer: new DirectWriter(socket), fps, frame: frameOf(payload), payload, credit: Math.random() });
  });
  // One write per client per tick at most, like our server; at the cadence of a 60 Hz tick loop.
  const period = 1000 / TICK_HZ;
  let next = performance.now() + period;
  const tick = (): void => {
    for (const c of conns) {
      c.credit += c.fps / TICK_HZ;
      if (c.credit < 1) continue;
      c.credit -= 1;
      if (c.socket.writableLength > 4 * 1024 * 1024) continue; // a hard limit, like ours
      c.writer.write(c.frame); // the same write path as our transport's
      bytesSent += c.payload;
      writes++;
    }
    next += period;
    const now = performance.now();
    if (next < now) next = now + period;
    setTimeout(tick, next - now);
  };
  setTimeout(tick, period);
  const http = createHttp((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ clients: conns.length, bytesSent, writes }));
  });
  await new Promise<void>((r) => data.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, dataPort: (data.address() as AddressInfo).port })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------------------
// The comparison.

interface Measured {
  label: string;
  cpuPercent: number;
  rssMb: number;
  /** The receiving side's CPU (this process, or the load generator for ours), percent of one core. */
  clientCpuPercent: number;
  /** WebSocket payload bytes that reached the clients per second: what was actually sent, not queued. */
  bytesPerSecond: number;
  /** WebSocket messages that reached the clients per second. */
  messagesPerSecond: number;
  pixelsPerSecond: number;
  note: string;
}

/** A child server's CPU (percent of one core) and what its raw clients received, over `seconds`. */
async function measureWindow(pid: number, seconds: number, clients: RawClients) {
  const p0 = readProcUsage(pid);
  const r0 = clients.totals();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const p1 = readProcUsage(pid);
  const r1 = clients.totals();
  const c1 = process.cpuUsage(c0);
  const s = (performance.now() - t0) / 1000;
  return {
    seconds: s,
    clientCpuPercent: ((c1.user + c1.system) / 1e6 / s) * 100,
    cpuPercent: p0 && p1 ? ((p1.cpuSeconds - p0.cpuSeconds) / s) * 100 : Number.NaN,
    rssMb: p1 ? p1.rssBytes / (1024 * 1024) : Number.NaN,
    bytesPerSecond: (r1.payloadBytes - r0.payloadBytes) / s,
    messagesPerSecond: (r1.frames - r0.frames) / s,
  };
}

/** GET a child's /stats as JSON, or null when it is too busy to answer within timeoutMs (the naive one often is). */
async function statsOf<T>(url: string, timeoutMs = 1000): Promise<T | null> {
  try {
    return JSON.parse(await httpGetText(`${url}/stats`, timeoutMs)) as T;
  } catch {
    return null;
  }
}

function here(file: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), file);
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick === true;
  const clients = quick ? 30 : 1000;
  const side = quick ? 1024 : 4096;
  const seconds = quick ? 0.5 : 10;
  const settleMs = quick ? 100 : 1000;

  // (a) Ours, with our clients.
  const a = await runLoadTest({
    ...BASE_OPTIONS, clients, durationSeconds: seconds, width: side, height: side, paintRate: 1, cursorRate: 0,
    workers: quick ? 0 : 2, rampSeconds: quick ? 0.1 : 2, settleSeconds: settleMs / 1000,
  }, { progress: () => {} });
  const r = a.report;
  const perClientSeconds = Math.max(1e-9, r.durationSeconds);
  const ours: Measured = {
    label: 'ours', cpuPercent: r.serverCpuPercent, rssMb: r.serverRssMb, clientCpuPercent: r.generatorCpuPercent,
    bytesPerSecond: a.perClient.reduce((n, [, bytes]) => n + bytes, 0) / perClientSeconds,
    messagesPerSecond: a.perClient.reduce((n, [frames]) => n + frames, 0) / perClientSeconds,
    pixelsPerSecond: r.acceptedPerSecond,
    note: `tick ${r.tickHz.toFixed(0)} Hz, place→visible p99 ${r.latencyMs.p99.toFixed(1)} ms, ${r.connected}/${clients} connected`,
  };

  // (b) Naive, with raw clients that paint at the same rate.
  const naiveChild = await spawnNodeServer(here('naive-server.js'), ['--width', String(side), '--height', String(side)]);
  const naiveClients = new RawClients();
  let naive: Measured;
  let naiveNeeded: Measured;
  try {
    const port = Number(new URL(naiveChild.url).port);
    await naiveClients.open('127.0.0.1', port, clients, '/ws');
    naiveClients.paint(1, side);
    await sleep(settleMs);
    type NaiveStats = { placements: number; bytesSent: number; bufferedBytes: number };
    const s0 = await statsOf<NaiveStats>(naiveChild.url);
    const w = await measureWindow(naiveChild.pid, seconds, naiveClients);
    const s1 = await statsOf<NaiveStats>(naiveChild.url, 3000);
    const queued = s1 ? ` ${(s1.bufferedBytes / 1e6).toFixed(1)} MB queued in ws at the end` : ' /stats did not answer (saturated)';
    naive = {
      label: 'naive', cpuPercent: w.cpuPercent, rssMb: w.rssMb, clientCpuPercent: w.clientCpuPercent, bytesPerSecond: w.bytesPerSecond,
      messagesPerSecond: w.messagesPerSecond, pixelsPerSecond: s0 && s1 ? (s1.placements - s0.placements) / w.seconds : Number.NaN,
      note: `delivered ${((w.messagesPerSecond / (clients * clients)) * 100).toFixed(1)}% of the ${(clients * clients).toLocaleString('en')} msgs/s needed;${queued}`,
    };
    // What keeping up would take, scaled linearly from what it managed: every painted pixel to every client.
    const needed = clients * clients; // clients × 1 px/s each, each to all clients
    const scale = w.messagesPerSecond > 0 ? needed / w.messagesPerSecond : Number.NaN;
    naiveNeeded = {
      label: 'naive*', cpuPercent: w.cpuPercent * scale, rssMb: Number.NaN, clientCpuPercent: w.clientCpuPercent * scale,
      bytesPerSecond: w.bytesPerSecond * scale, messagesPerSecond: needed, pixelsPerSecond: clients,
      note: 'naive scaled linearly to keep up (every pixel to every client)',
    };
  } finally {
    naiveClients.close();
    await naiveChild.stop();
  }

  // (c) Raw pre-framed writes of our traffic, replayed per client.
  const dir = mkdtempSync(join(tmpdir(), 'fanout-'));
  const schedule: Schedule = {
    clients: a.perClient.map(([frames, bytes]) => [frames / perClientSeconds, frames > 0 ? bytes / frames : 0]),
  };
  writeFileSync(join(dir, 'schedule.json'), JSON.stringify(schedule));
  const rawChild = await spawnNodeServer(fileURLToPath(import.meta.url), ['--raw-server', '--schedule', join(dir, 'schedule.json')]);
  const rawClients = new RawClients();
  let raw: Measured;
  try {
    await rawClients.open('127.0.0.1', Number(rawChild.ready.dataPort), clients, null);
    await sleep(settleMs);
    const w = await measureWindow(rawChild.pid, seconds, rawClients);
    raw = {
      label: 'raw', cpuPercent: w.cpuPercent, rssMb: w.rssMb, clientCpuPercent: w.clientCpuPercent, bytesPerSecond: w.bytesPerSecond, messagesPerSecond: w.messagesPerSecond,
      pixelsPerSecond: Number.NaN, note: 'replays (a)\'s per-client frame rate and mean frame size',
    };
  } finally {
    rawClients.close();
    await rawChild.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const rows = [ours, naive, naiveNeeded, raw];
  console.log(`Fan-out: ${clients} scrollers on ${side}², 1 px/s each, cursors off, ${seconds} s windows. CPU = % of one core;` +
    ' bytes and messages as received by the clients (payload)');
  console.log(`${'server'.padEnd(6)} ${'CPU %'.padStart(7)} ${'RSS MB'.padStart(8)} ${'recv MB/s'.padStart(10)} ${'msgs/s'.padStart(10)} ${'px/s'.padStart(7)} ${'clients CPU %'.padStart(13)}  note`);
  for (const m of rows) {
    console.log(`${m.label.padEnd(6)} ${num(m.cpuPercent, 1, 7)} ${num(m.rssMb, 0, 8)} ${num(m.bytesPerSecond / 1e6, 3, 10)} ` +
      `${num(m.messagesPerSecond, 0, 10)} ${num(m.pixelsPerSecond, 0, 7)} ${num(m.clientCpuPercent, 0, 13)}  ${m.note}`);
  }
  const ratio = (x: number, y: number): string => (y > 0 && Number.isFinite(x) ? `${(x / y).toFixed(3)}×` : '-');
  console.log(`ours vs naive (as measured): bytes ${ratio(ours.bytesPerSecond, naive.bytesPerSecond)}, CPU ${ratio(ours.cpuPercent, naive.cpuPercent)}` +
    `;  ours vs naive keeping up: bytes ${ratio(ours.bytesPerSecond, naiveNeeded.bytesPerSecond)}, CPU ${ratio(ours.cpuPercent, naiveNeeded.cpuPercent)}` +
    `;  ours vs raw: bytes ${ratio(ours.bytesPerSecond, raw.bytesPerSecond)}, CPU ${ratio(ours.cpuPercent, raw.cpuPercent)}`);
  const out: Record<string, number> = {};
  for (const m of rows) {
    m.label = m.label.replace('*', '_keeping_up');
    out[`${m.label}.cpu_percent`] = m.cpuPercent;
    out[`${m.label}.rss_mb`] = m.rssMb;
    out[`${m.label}.bytes_per_second`] = m.bytesPerSecond;
    out[`${m.label}.messages_per_second`] = m.messagesPerSecond;
    out[`${m.label}.pixels_per_second`] = m.pixelsPerSecond;
  }
  out['ratio.bytes_ours_vs_naive'] = ours.bytesPerSecond / naive.bytesPerSecond;
  out['ratio.cpu_ours_vs_naive'] = ours.cpuPercent / naive.cpuPercent;
  out['ratio.bytes_ours_vs_naive_keeping_up'] = ours.bytesPerSecond / naiveNeeded.bytesPerSecond;
  out['ratio.cpu_ours_vs_naive_keeping_up'] = ours.cpuPercent / naiveNeeded.cpuPercent;
  out['ratio.bytes_ours_vs_raw'] = ours.bytesPerSecond / raw.bytesPerSecond;
  out['ratio.cpu_ours_vs_raw'] = ours.cpuPercent / raw.cpuPercent;
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--schedule');
  if (process.argv.includes('--raw-server') && at > 0) await rawServerMain(process.argv[at + 1]!);
  else await run({ quick: process.argv.includes('--quick') });
}
