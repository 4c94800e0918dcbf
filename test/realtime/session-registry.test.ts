/** Ids, the HELLO deadline, the online count and the session phases, without a room. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../src/config.js';
import { encodeOnline } from '../../src/net/protocol.js';
import { closeSession, openSession, welcomeSession } from '../../src/realtime/client-session.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { OnlineCount, SessionRegistry } from '../../src/realtime/session-registry.js';
import { TestTransport } from './doubles.js';

const gauge = () => {
  const g = { value: -1, set(v: number) { g.value = v; } };
  return g;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('SessionRegistry', () => {
  it('hands out ids from 1, never one still in use when they wrap, and keeps the gauge at the count', () => {
    const g = gauge();
    const reg = new SessionRegistry({ ...DEFAULTS, helloTimeoutMs: 60_000 }, g, () => {});
    const first = reg.open(new TestTransport(), '192.0.2.1');
    expect(first.id).toBe(1);
    reg.nextId = 0xfffffffe;
    const a = reg.open(new TestTransport(), '192.0.2.1');
    const b = reg.open(new TestTransport(), '192.0.2.1'); // wraps to 1, held by `first`
    expect([a.id, b.id]).toEqual([0xfffffffe, 2]);
    expect(g.value).toBe(3);
    reg.close(a);
    expect(a.phase).toBe('closed');
    expect(reg.get(a.id)).toBeUndefined();
    expect(reg.size).toBe(2);
    expect(g.value).toBe(2);
    reg.stop();
  });

  it('fires the HELLO deadline only for a connection still awaiting HELLO', () => {
    vi.useFakeTimers();
    const late: number[] = [];
    const reg = new SessionRegistry({ ...DEFAULTS, helloTimeoutMs: 1000 }, gauge(), (s) => late.push(s.id));
    const silent = reg.open(new TestTransport(), '192.0.2.1');
    const polite = reg.open(new TestTransport(), '192.0.2.1');
    const gone = reg.open(new TestTransport(), '192.0.2.1');
    welcomeSession(polite, 'p', null);
    reg.close(gone);
    vi.advanceTimersByTime(1001);
    expect(late).toEqual([silent.id]);
  });

  it('sends to welcomed clients only', () => {
    const reg = new SessionRegistry({ ...DEFAULTS, helloTimeoutMs: 60_000 }, gauge(), () => {});
    const outbox = new Outbox();
    const a = reg.open(new TestTransport(), '192.0.2.1');
    const b = reg.open(new TestTransport(), '192.0.2.1');
    welcomeSession(b, 'b', null);
    reg.toAllReady(new Uint8Array([1, 2, 3]), outbox);
    expect(outbox.takeMarked()).toEqual([b]);
    expect(a.outCount).toBe(0);
    expect(b.outCount).toBe(1);
    reg.stop();
  });
});

describe('session phases', () => {
  it('awaiting HELLO → ready (name, its bytes, token) → closed, the HELLO timer cleared on the way', () => {
    vi.useFakeTimers();
    let fired = 0;
    const s = openSession(1, '192.0.2.1', new TestTransport(), DEFAULTS, performance.now(), { ms: 1000, fire: () => fired++ });
    expect(s.phase).toBe('awaitingHello');
    expect(s.nameBytes.length).toBe(0);
    const r = welcomeSession(s, 'ünï', 'ab12');
    expect(r).toBe(s);
    expect([r.phase, r.name, r.token]).toEqual(['ready', 'ünï', 'ab12']);
    expect(new TextDecoder().decode(r.nameBytes)).toBe('ünï');
    const c = closeSession(r);
    expect(c.phase).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(fired).toBe(0);
  });
});

describe('OnlineCount', () => {
  function setup(intervalMs: number, canvasWide?: (local: number) => number) {
    const reg = new SessionRegistry({ ...DEFAULTS, helloTimeoutMs: 60_000 }, gauge(), () => {});
    const outbox = new Outbox();
    let wakes = 0;
    const online = new OnlineCount(reg, intervalMs, outbox, () => wakes++, canvasWide);
    const join = () => {
      const s = reg.open(new TestTransport(), '192.0.2.1');
      return welcomeSession(s, 'x', null);
    };
    return { reg, outbox, online, join, wakes: () => wakes };
  }

  it('sends the count when it changed, at most once per interval, and wakes the tick for a held-back change', () => {
    vi.useFakeTimers();
    const { outbox, online, join, wakes } = setup(1000);
    const a = join();
    online.send(0);
    expect(outbox.takeMarked()).toEqual([a]);
    outbox.endTick();
    expect(a.out[0]).toEqual(encodeOnline(1, 0, 1)); // with the overload fields: level 0, cadence 1
    a.clearOut();
    online.send(100); // unchanged: nothing
    expect(outbox.takeMarked()).toEqual([]);
    join();
    online.send(200); // changed, but within the interval: held back, a timer set
    expect(outbox.takeMarked()).toEqual([]);
    outbox.endTick();
    expect(wakes()).toBe(0);
    vi.advanceTimersByTime(800);
    expect(wakes()).toBe(1);
    online.send(1000);
    expect(outbox.takeMarked().length).toBe(2);
    online.stop();
  });

  it('counts the whole canvas when given how (several nodes)', () => {
    const { online, join } = setup(1000, (local) => local + 40);
    join();
    expect(online.current()).toBe(41);
  });
});
