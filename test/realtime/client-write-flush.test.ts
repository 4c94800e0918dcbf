/** The write stage: one write per marked client, snapshots within the room backpressure leaves, 4001 past the limits. */
import { OverloadGovernor } from '../../src/realtime/overload.js';
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { chunkKey } from '../../src/chunks/geometry.js';
import { LodLevels } from '../../src/chunks/lod.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { BackpressurePolicy, PressureGate } from '../../src/realtime/backpressure.js';
import { ClientWriter, flushClient } from '../../src/realtime/client-write.js';
import type { ClientSession } from '../../src/realtime/client-session.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { ready } from './doubles.js';

const limits = { highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024, hardLimitBytes: 1024 * 1024, stallTimeoutMs: 30_000, globalBufferBytes: 32 * 1024 * 1024 };

function setup() {
  const store = new ChunkStore({ width: 512, height: 512, paletteSize: DEFAULT_PALETTE.length });
  const levels = new LodLevels(store);
  const outbox = new Outbox();
  const gone: ClientSession[] = [];
  const caught: ClientSession[] = [];
  const pressure = new PressureGate(new BackpressurePolicy(limits), outbox, () => 1, { caughtUp: (s) => caught.push(s), becameStale: () => {} });
  const writer = new ClientWriter({
    levels, pressure, outbox, overload: new OverloadGovernor(60, 0.5), metrics: createMetrics(), log: createLogger('silent'),
    disconnect: (s) => gone.push(s), bufferedBytes: () => 0, globalBufferBytes: limits.globalBufferBytes,
  });
  return { store, outbox, writer, gone, caught };
}

describe('ClientWriter', () => {
  it('writes everything queued for a marked client as one message, once, however often it was marked', () => {
    const { outbox, writer } = setup();
    const { s, t } = ready();
    s.enqueue(new Uint8Array([1]));
    s.enqueue(new Uint8Array([2, 3]));
    outbox.mark(s);
    outbox.mark(s);
    expect(writer.write(0)).toBe(1);
    expect(t.frames).toEqual([new Uint8Array([1, 2, 3])]);
    expect(s.outCount).toBe(0);
    expect(writer.write(1)).toBe(0); // not marked again
  });

  it('sends owed snapshots within the room under the high-water mark, the rest later (backlog)', () => {
    const { outbox, writer } = setup();
    const { s, t } = ready();
    for (let cy = 0; cy < 8; cy++) for (let cx = 0; cx < 8; cx++) s.needSnapshot.add(chunkKey(cx, cy));
    t.bufferedAmount = limits.highWaterBytes - 1; // room for one snapshot at most
    outbox.mark(s);
    writer.write(0);
    const first = t.messages().filter((m) => m.type === 'snapshot').length;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThan(64);
    expect(s.needSnapshot.size).toBe(64 - first);
    expect(outbox.backlog.has(s)).toBe(true);
    t.bufferedAmount = 0;
    outbox.endTick();
    outbox.mark(s);
    writer.write(1);
    expect(s.needSnapshot.size).toBe(0);
    expect(outbox.backlog.has(s)).toBe(false);
  });

  it('closes a client past the hard limit with 4001 and forgets it', () => {
    const { outbox, writer, gone } = setup();
    const { s, t } = ready();
    t.bufferedAmount = limits.hardLimitBytes + 1;
    s.enqueue(new Uint8Array([1]));
    outbox.mark(s);
    writer.write(0);
    expect(t.closedWith).toBe(4001);
    expect(gone).toEqual([s]);
    expect(t.frames).toEqual([]);
  });

  it('terminates only the client whose write throws', () => {
    const { outbox, writer, gone } = setup();
    const bad = ready();
    const good = ready();
    bad.t.send = () => { throw new Error('EPIPE'); };
    for (const c of [bad, good]) {
      c.s.enqueue(new Uint8Array([9]));
      outbox.mark(c.s);
    }
    writer.write(0);
    expect(bad.t.closedWith).toBe(1006);
    expect(gone).toEqual([bad.s]);
    expect(good.t.frames).toEqual([new Uint8Array([9])]);
  });

  it('flushClient frames the parts once through sendParts when the transport has it', () => {
    const { s, t } = ready();
    const seen: number[] = [];
    (t as { sendParts?: (parts: readonly Uint8Array[], total: number, count: number) => void }).sendParts = (_p, total, count) => seen.push(total, count);
    expect(flushClient(s)).toBe(0);
    s.enqueue(new Uint8Array([1, 2]));
    s.enqueue(new Uint8Array([3]));
    expect(flushClient(s)).toBe(3);
    expect(seen).toEqual([3, 2]);
    expect(t.frames).toEqual([]);
  });
});
