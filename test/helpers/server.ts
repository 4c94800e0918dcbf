/** Start real servers on 127.0.0.1:0 for tests, and raw protocol clients over real sockets. */
import { WebSocket } from 'ws';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createLogger } from '../../src/log.js';
import { decodeServerMessages, type ServerMessage } from '../../src/net/protocol.js';

export async function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const config: ServerConfig = { ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', ...overrides };
  return startServer(config, { log: createLogger(config.logLevel) });
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
