/**
 * The baseline the fan-out bench compares against: a pxls-style server. Plain ws, JSON text messages; a
 * client sends `{"x":..,"y":..,"color":..}` and the server sets the pixel and broadcasts the same JSON to
 * every connected client, one WebSocket message per pixel per client, whatever each client is looking at.
 * No ticks, no viewports, no batching, no backpressure policy (ws buffers whatever does not fit).
 *
 * As a process: `node dist/bench/naive-server.js [--port 0] [--width 4096] [--height 4096]` prints
 * `{"url":"http://127.0.0.1:PORT"}` once listening (WebSocket at /ws, counters at GET /stats) and exits on
 * SIGTERM.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer, WebSocket } from 'ws';

export interface NaiveStats {
  clients: number;
  placements: number;
  /** WebSocket messages queued, and their payload bytes (what the server asked ws to send). */
  messagesSent: number;
  bytesSent: number;
  /** Bytes queued in ws above the kernel, summed over clients: it grows when the server falls behind. */
  bufferedBytes: number;
}

export interface NaiveServer {
  readonly url: string;
  readonly wsUrl: string;
  stats(): NaiveStats;
  close(): Promise<void>;
}

export async function startNaiveServer(opts: { port?: number; width?: number; height?: number } = {}): Promise<NaiveServer> {
  const width = opts.width ?? 4096;
  const height = opts.height ?? 4096;
  const board = new Uint8Array(width * height);
  const clients = new Set<WebSocket>();
  const s = { placements: 0, messagesSent: 0, bytesSent: 0 };
  const stats = (): NaiveStats => {
    let buffered = 0;
    for (const c of clients) buffered += c.bufferedAmount;
    return { clients: clients.size, ...s, bufferedBytes: buffered };
  };

  const http: Server = createServer((req, res) => {
    if (req.url === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats()));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false, maxPayload: 1024 });
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let p: { x?: unknown; y?: unknown; color?: unknown };
      try {
        p = JSON.parse(data.toString());
      } catch {
        return;
      }
      const { x, y, color } = p;
      if (!Number.isInteger(x) || !Number.isInteger(y) || !Number.isInteger(color)) return;
      if ((x as number) < 0 || (x as number) >= width || (y as number) < 0 || (y as number) >= height || (color as number) < 0 || (color as number) > 255) return;
      board[(y as number) * width + (x as number)] = color as number;
      s.placements++;
      // Encoded once (no strawman), but sent as its own message to every client: the fan-out this bench measures.
      const text = Buffer.from(JSON.stringify({ x, y, color }));
      for (const c of clients) {
        if (c.readyState !== WebSocket.OPEN) continue;
        c.send(text, { binary: false });
        s.messagesSent++;
        s.bytesSent += text.length;
      }
    });
  });
  await new Promise<void>((r) => http.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    stats,
    async close() {
      for (const c of clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, width: { type: 'string' }, height: { type: 'string' } } });
  const server = await startNaiveServer({ port: Number(values.port ?? 0), width: Number(values.width ?? 4096), height: Number(values.height ?? 4096) });
  process.stdout.write(`${JSON.stringify({ url: server.url, ws: server.wsUrl })}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
