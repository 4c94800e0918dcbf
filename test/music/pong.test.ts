/**
 * PONG is answered at once, not with the next tick (src/realtime/inbound.ts): the tick's wait would otherwise
 * sit inside every round trip and bias the clock offset estimate. A server ticking once a second makes the
 * difference plain: a PING sent right after a PLACE gets its PONG before that PLACE's result, which waits for
 * the next tick.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, encodeHello, encodePing, encodePlace } from '../../src/net/protocol.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, startTestServer } from '../helpers/server.js';

const servers: RunningServer[] = [];
const peers: RawPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.ws.close();
  for (const s of servers.splice(0)) await s.close();
});

describe('PONG', () => {
  it('arrives before the next tick on a server ticking once a second', async () => {
    const s = await startTestServer({ mode: 'music', tickHz: 1, paintRate: 1000, paintBurst: 1000 });
    servers.push(s);
    const p = new RawPeer(s.wsUrl);
    peers.push(p);
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, 'pinger'));
    await p.waitFor((m) => m.type === 'welcome');
    // The first PLACE ticks at once (a quiet server wakes for new work); its tick puts the loop on its 1 s grid.
    p.send(encodePlace(1, [{ x: 1, y: 1, color: 1 }]));
    await p.waitFor((m) => m.type === 'placeResult' && m.seq === 1);
    // The second PLACE waits for the next tick, up to a second away; the PING behind it must not.
    p.send(encodePlace(2, [{ x: 2, y: 2, color: 1 }]));
    const sent = performance.now();
    p.send(encodePing(77));
    await p.waitFor((m) => m.type === 'pong' && m.nonce === 77, 3000);
    const rtt = performance.now() - sent;
    const pongAt = p.messages.findIndex((m) => m.type === 'pong' && m.nonce === 77);
    const resultAt = p.messages.findIndex((m) => m.type === 'placeResult' && m.seq === 2);
    expect(pongAt).toBeGreaterThan(-1);
    expect(resultAt).toBe(-1); // with the tick, both would have come in one write
    await p.waitFor((m) => m.type === 'placeResult' && m.seq === 2, 3000);
    expect(p.messages.findIndex((m) => m.type === 'placeResult' && m.seq === 2)).toBeGreaterThan(pongAt);
    expect(rtt).toBeLessThan(500); // half the tick period (a loose bound, not a timing target)
  });
});
