/** Start real servers on 127.0.0.1:0 for tests, and raw protocol clients over real sockets. */
import { afterEach } from 'vitest';
import { connect as netConnect } from 'node:net';
import { WebSocket } from 'ws';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.js';
import { createLogger } from '../../src/log.js';
import { decodeServerMessages, type ServerMessage } from '../../src/net/protocol.js';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';

export async function startTestServer(overrides: Partial<ServerConfig> = {}, opts: StartOptions = {}): Promise<RunningServer> {
  const config: ServerConfig = { ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', ...overrides };
  return startServer(config, { log: createLogger(config.logLevel), ...opts });
}

/** A raw protocol peer: a real ws socket that records every decoded server message and the bytes received. */
export class RawPeer {
  readonly messages: ServerMessage[] = [];
  readonly frames: Uint8Array[] = [];
  bytes = 0;
  closeCode: number | null = null;
  closeReason = '';
  readonly ws: WebSocket;
  private waiters: (() => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(url: string, opts: { localAddress?: string; origin?: string } = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, localAddress: opts.localAddress, origin: opts.origin });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        resolve(code);
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.frames.push(bytes.slice());
      this.bytes += bytes.length;
      for (const m of decodeServerMessages(bytes)) this.messages.push(m);
      this.notify();
    });
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolve with the first message (from index `from`) that matches, or reject after timeoutMs. */
  async waitFor<T extends ServerMessage>(pred: (m: ServerMessage) => m is T, timeoutMs?: number, from?: number): Promise<T>;
  async waitFor(pred: (m: ServerMessage) => boolean, timeoutMs?: number, from?: number): Promise<ServerMessage>;
  async waitFor(pred: (m: ServerMessage) => boolean, timeoutMs = 3000, from = 0): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export async function until(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Places one pixel from a CanvasClient and waits for the server's answer: its PLACE_RESULT status. */
export function placeFrom(client: CanvasClient, x: number, y: number, color: number): Promise<number> {
  const seq = client.place(x, y, color);
  return new Promise((resolve) => {
    const off = client.on('placeResult', (r) => {
      if (r.seq !== seq) return;
      off();
      resolve(r.status);
    });
  });
}

/**
 * A peer that completes the WebSocket handshake by hand over a raw TCP socket and then never reads again:
 * the only way to be sure nothing (not even ws's own flow control) drains its receive buffer.
 */
export class StalledPeer {
  readonly socket: import('node:net').Socket;
  readonly ready: Promise<void>;
  constructor(port: number, host = '127.0.0.1') {
    this.socket = netConnect(port, host);
    this.socket.on('error', () => {});
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.socket.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      });
      let head = '';
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        this.socket.off('data', onData);
        this.socket.pause();
        if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`handshake refused: ${head.split('\r\n')[0]}`));
        else resolve();
      };
      this.socket.on('data', onData);
      this.socket.once('error', reject);
    });
  }

  /** Send one masked binary frame (client frames must be masked; a zero key leaves the payload as is). */
  send(payload: Uint8Array): void {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : Buffer.from([0x82, 0x80 | 126, n >> 8, n & 0xff]);
    this.socket.write(Buffer.concat([head, Buffer.alloc(4), Buffer.from(payload)]));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Bundle src/main.ts once per test run so tests can start the real server as a child process (kill -9,
 * restarts, bad starts). Packages stay external and resolve from the project's node_modules.
 */
let bundled: Promise<string> | null = null;
export function serverEntry(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const outfile = `${root}node_modules/.cache/pixel-canvas-test/main-${process.pid}.mjs`;
    await build({
      entryPoints: [`${root}src/main.ts`], bundle: true, platform: 'node', format: 'esm', target: 'node20',
      packages: 'external', outfile, logLevel: 'silent',
    });
    return outfile;
  })();
  return bundled;
}

export interface ChildServer {
  proc: import('node:child_process').ChildProcess;
  url: string;
  wsUrl: string;
  port: number;
  stderr: () => string;
}

/** Start the real server as a child process; resolves once it logs that it is listening. */
export async function startChildServer(args: string[]): Promise<ChildServer> {
  const { spawn } = await import('node:child_process');
  const entry = await serverEntry();
  const proc = spawn(process.execPath, [entry, '--port', '0', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/);
      if (m) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        const port = Number(m[1]);
        resolve({ proc, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws`, stderr: () => err });
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${err.trim()}`)));
  });
}

/**
 * Servers and peers a test file opens, all closed after each test: `const t = testResources();` at the top of
 * a file registers the afterEach; `await t.server(overrides)`, `t.track(peer)`.
 */
export function testResources() {
  const servers: RunningServer[] = [];
  const peers: RawPeer[] = [];
  const stalled: StalledPeer[] = [];
  const clients: CanvasClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const p of stalled.splice(0)) p.destroy();
    for (const p of peers.splice(0)) p.ws.terminate();
    for (const s of servers.splice(0)) await s.close();
  });
  return {
    async server(overrides: Partial<ServerConfig> = {}, opts: StartOptions = {}): Promise<RunningServer> {
      const s = await startTestServer(overrides, opts);
      servers.push(s);
      return s;
    },
    track<P extends RawPeer | StalledPeer | CanvasClient>(p: P): P {
      if (p instanceof StalledPeer) stalled.push(p);
      else if (p instanceof CanvasClient) clients.push(p);
      else peers.push(p as RawPeer);
      return p;
    },
    /** The last RawPeer tracked is forgotten (a test that closed it itself). */
    untrackLast(): RawPeer | undefined {
      return peers.pop();
    },
  };
}

/** A CanvasClient for the convergence fuzzers: quick reconnects, and each new socket handed to `onSocket` (so a test can cut it). */
export function fuzzClient(url: string, name: string, onSocket: (ws: WebSocket) => void): CanvasClient {
  return new CanvasClient({
    url, name, minBackoffMs: 5, maxBackoffMs: 50,
    socketFactory: (u) => {
      const ws = new WebSocket(u, { perMessageDeflate: false });
      onSocket(ws);
      return ws as unknown as WebSocketLike;
    },
  });
}
