/** A second connection from an address whose burst the first spent is told the reduced allowance in WELCOME. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { createMetrics } from '../../src/metrics.js';
import { createLogger } from '../../src/log.js';
import { CanvasRoom } from '../../src/realtime/canvas-room.js';
import type { Transport } from '../../src/realtime/transport.js';
import { decodeServerMessages, encodeHello, encodePlace, type ServerMessage, type Welcome } from '../../src/net/protocol.js';

class TestTransport implements Transport {
  readonly frames: Uint8Array[] = [];
  bufferedAmount = 0;
  send(bytes: Uint8Array): void { this.frames.push(bytes.slice()); }
  close(): void {}
  terminate(): void {}
  messages(): ServerMessage[] { return this.frames.flatMap((f) => decodeServerMessages(f)); }
}

function welcomeOf(t: TestTransport): Welcome {
  return t.messages().find((m): m is Welcome => m.type === 'welcome')!;
}

describe('WELCOME allowance', () => {
  it('reports the address bucket: full first, then what the first tab left', () => {
    const config: ServerConfig = { ...DEFAULTS, inMemory: true, logLevel: 'silent', paintRate: 0.5, paintBurst: 5 };
    const store = new ChunkStore({ width: config.width, height: config.height, paletteSize: DEFAULT_PALETTE.length });
    const room = new CanvasRoom({ config, store, storage: new MemoryStorage(), palette: DEFAULT_PALETTE, metrics: createMetrics(), log: createLogger('silent') });
    const first = new TestTransport();
    const a = room.connect(first, '203.0.113.7');
    room.handleMessage(a, encodeHello(2, 'a'), true);
    expect(welcomeOf(first).allowance).toEqual({ tokens: 5, nextMs: 0 });
    room.handleMessage(a, encodePlace(1, [0, 1, 2, 3].map((i) => ({ x: i, y: 0, color: 1 }))), true);

    const second = new TestTransport();
    const b = room.connect(second, '203.0.113.7');
    room.handleMessage(b, encodeHello(2, 'b'), true);
    const w = welcomeOf(second);
    expect(w.allowance!.tokens).toBe(1);
    expect(w.allowance!.nextMs).toBeGreaterThan(1500); // 2 s per pixel at 0.5/s, minus the test's run time
    expect(w.allowance!.nextMs).toBeLessThanOrEqual(2000);

    const old = new TestTransport();
    const c = room.connect(old, '203.0.113.7');
    room.handleMessage(c, encodeHello(1, 'v1'), true);
    expect(welcomeOf(old).allowance).toBeUndefined(); // a v1 WELCOME carries no records
  });
});
