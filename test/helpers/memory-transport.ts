/**
 * An in-memory Transport for library tests (STYLE.md, habit 4): it records every message written, with or
 * without `sendParts`, and its `bufferedAmount` is whatever the test sets. `session()` builds the one
 * ClientSession shape the realtime unit tests use, so a change to its constructor is made here once.
 */
import type { Transport } from '../../src/realtime/transport.js';
import { openSession, type ClientSession, type SessionLimits } from '../../src/realtime/client-session.js';

export class MemoryTransport implements Transport {
  /** Each message written, as the bytes the peer would receive. */
  readonly messages: Uint8Array[] = [];
  /** How each was written: 'send' or 'parts' (with the part count). */
  readonly calls: { via: 'send' | 'parts'; count: number }[] = [];
  bufferedAmount = 0;
  closedWith: number | null = null;
  sendParts?: (parts: readonly Uint8Array[], total: number, count: number) => void;

  constructor(opts: { parts?: boolean } = {}) {
    if (opts.parts) {
      this.sendParts = (parts, total, count) => {
        const joined = new Uint8Array(total);
        let o = 0;
        for (let i = 0; i < count; i++) { joined.set(parts[i]!, o); o += parts[i]!.length; }
        if (o !== total) throw new Error(`sendParts: parts hold ${o} bytes, total says ${total}`);
        this.messages.push(joined);
        this.calls.push({ via: 'parts', count });
      };
    }
  }

  send(bytes: Uint8Array): void {
    this.messages.push(bytes.slice());
    this.calls.push({ via: 'send', count: 1 });
  }

  close(code: number): void {
    this.closedWith = code;
  }

  terminate(): void {
    this.closedWith = 1006;
  }
}

const LIMITS: SessionLimits = { messageRate: 1000, messageBurst: 1000, cursorHz: 30, viewportHz: 30, maxViolations: 10, violationWindowMs: 60_000 };

let nextId = 1;
export function session(transport: Transport = new MemoryTransport()): ClientSession {
  return openSession(nextId++, '127.0.0.1', transport, LIMITS, 0);
}
