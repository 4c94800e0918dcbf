/** In-memory doubles for the realtime modules' unit tests: a Transport whose buffer the test sets, sessions. */
import { DEFAULTS } from '../../src/config.js';
import { decodeServerMessages, type ServerMessage } from '../../src/net/protocol.js';
import { openSession, welcomeSession, type AwaitingHello, type ReadySession } from '../../src/realtime/client-session.js';
import type { Transport } from '../../src/realtime/transport.js';

export class TestTransport implements Transport {
  readonly frames: Uint8Array[] = [];
  bufferedAmount = 0;
  closedWith: number | null = null;
  send(bytes: Uint8Array): void {
    this.frames.push(bytes.slice());
  }
  close(code: number): void {
    this.closedWith = code;
  }
  terminate(): void {
    this.closedWith = 1006;
  }
  messages(): ServerMessage[] {
    return this.frames.flatMap((f) => decodeServerMessages(f));
  }
}

let nextId = 1;

export function awaiting(limits: Partial<typeof DEFAULTS> = {}): { s: AwaitingHello; t: TestTransport } {
  const t = new TestTransport();
  return { s: openSession(nextId++, '192.0.2.1', t, { ...DEFAULTS, ...limits }, performance.now()), t };
}

export function ready(name = 'n', limits: Partial<typeof DEFAULTS> = {}): { s: ReadySession; t: TestTransport } {
  const { s, t } = awaiting(limits);
  return { s: welcomeSession(s, name, null), t };
}
