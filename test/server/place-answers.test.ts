/**
 * What a painter is told about its PLACEs: a PLACE that can never pass is BATCH_TOO_LARGE (not a RATE_LIMITED
 * that never helps), WELCOME announces the message budget, and a session token tells a reconnecting client
 * which PLACEs whose answers it lost were applied.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { DEFAULTS, ConfigError, parseConfig } from '../../src/config.js';
import {
  ErrorCode, PROTOCOL_VERSION, encodeHello, encodePlace, type PlaceResult, type ServerMessage, type Welcome,
} from '../../src/net/protocol.js';
import { MESSAGE_COSTS } from '../../src/limits/message-budget.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, sleep, testResources, until } from '../helpers/server.js';

const t = testResources();
const isResult = (m: ServerMessage): m is PlaceResult => m.type === 'placeResult';
const isWelcome = (m: ServerMessage): m is Welcome => m.type === 'welcome';

async function join(s: RunningServer, token?: Uint8Array): Promise<{ peer: RawPeer; welcome: Welcome }> {
  const peer = t.track(new RawPeer(s.wsUrl));
  await peer.opened;
  peer.send(encodeHello(PROTOCOL_VERSION, 'p', token));
  return { peer, welcome: await peer.waitFor(isWelcome) };
}

const pixels = (n: number, color = 1) => Array.from({ length: n }, (_, i) => ({ x: i % 1024, y: Math.floor(i / 1024), color }));

describe('a PLACE that can never pass', () => {
  it('costing more than the whole message budget is BATCH_TOO_LARGE, not RATE_LIMITED forever', async () => {
    // The flag check refuses this combination at start; the room still must not answer it with a retry-after.
    const s = await t.server({ maxPlaceBatch: 500, messageBurst: 100, paintRate: 1e6, paintBurst: 1e6 });
    const { peer } = await join(s);
    peer.send(encodePlace(1, pixels(200)));
    expect(await peer.waitFor(isResult)).toMatchObject({ seq: 1, status: ErrorCode.BATCH_TOO_LARGE, count: 200, retryAfterMs: 0 });
    // One that fits still passes.
    peer.send(encodePlace(2, pixels(50)));
    expect(await peer.waitFor((m): m is PlaceResult => isResult(m) && m.seq === 2)).toMatchObject({ status: ErrorCode.OK });
  });

  it('a PLACE of 0 pixels is BATCH_TOO_LARGE', async () => {
    const s = await t.server();
    const { peer } = await join(s);
    peer.send(encodePlace(3, []));
    expect(await peer.waitFor(isResult)).toMatchObject({ seq: 3, status: ErrorCode.BATCH_TOO_LARGE, count: 0 });
  });

  it('flags whose announced batch cannot fit the message budget are refused at start', () => {
    expect(() => parseConfig(['--max-place-batch', '4096'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--max-place-batch', '4096'], {})).toThrow(/--message-burst 400 cannot fit a PLACE of --max-place-batch 4096 pixels \(it costs 4097 units\)/);
    expect(() => parseConfig(['--max-place-batch', '500', '--message-burst', '100'], {})).toThrow(/lower --max-place-batch to at most 99/);
    expect(parseConfig(['--max-place-batch', '4096', '--message-burst', '4097'], {}).maxPlaceBatch).toBe(4096);
    expect(parseConfig([], {}).maxPlaceBatch).toBe(DEFAULTS.maxPlaceBatch);
  });

  it('the largest announced PLACE passes when the flags allow it', async () => {
    const s = await t.server({ maxPlaceBatch: 4096, messageBurst: 5000, paintRate: 1e6, paintBurst: 1e6, maxMessageBytes: 65536 });
    const { peer } = await join(s);
    peer.send(encodePlace(1, pixels(4096)));
    expect(await peer.waitFor(isResult)).toMatchObject({ seq: 1, status: ErrorCode.OK, count: 4096 });
  });
});

describe('WELCOME announces the message budget', () => {
  it('rate, burst and every cost', async () => {
    const s = await t.server({ messageRate: 123, messageBurst: 456 });
    const { welcome } = await join(s);
    expect(welcome.budget).toEqual({ rate: 123, burst: 456, costs: { ...MESSAGE_COSTS } });
    expect(welcome.session).toEqual({ known: false, lastSeq: 0 });
  });
});

describe('session tokens: which PLACEs whose answers were lost were applied', () => {
  it('a PLACE sent just before the connection dropped is reported as committed on the next WELCOME', async () => {
    const s = await t.server({ paintRate: 1e6, paintBurst: 1e6 });
    const token = randomBytes(16);
    const first = await join(s, token);
    expect(first.welcome.session).toEqual({ known: false, lastSeq: 0 });
    first.peer.send(encodePlace(41, [{ x: 5, y: 6, color: 3 }]));
    first.peer.send(encodePlace(42, [{ x: 7, y: 8, color: 4 }]));
    first.peer.ws.terminate(); // the answers are lost with the connection
    await until(() => s.store.get(7, 8) === 4, 3000, 'the PLACE to be applied');
    await sleep(20);
    const again = await join(s, token);
    expect(again.welcome.session).toEqual({ known: true, lastSeq: 42 });
    // Another token knows nothing of them.
    expect((await join(s, randomBytes(16))).welcome.session).toEqual({ known: false, lastSeq: 0 });
  });

  it('refused PLACEs do not count as committed', async () => {
    const s = await t.server({ paintRate: 1e6, paintBurst: 1e6 });
    const token = randomBytes(16);
    const { peer } = await join(s, token);
    peer.send(encodePlace(1, [{ x: 1, y: 1, color: 2 }]));
    await peer.waitFor((m): m is PlaceResult => isResult(m) && m.seq === 1);
    peer.send(encodePlace(2, [{ x: 99999 % 1024, y: 5000, color: 2 }])); // off the canvas
    expect(await peer.waitFor((m): m is PlaceResult => isResult(m) && m.seq === 2)).toMatchObject({ status: ErrorCode.OUT_OF_BOUNDS });
    peer.close();
    expect((await join(s, token)).welcome.session).toEqual({ known: true, lastSeq: 1 });
  });
});
