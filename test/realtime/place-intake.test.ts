/** Every PLACE check, once each and in order, then the seam; moderation writes through the same seam. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createMetrics } from '../../src/metrics.js';
import { ErrorCode, decodeServerMessages, type ErrorCodeName, type Place } from '../../src/net/protocol.js';
import { MODERATION_CLIENT_ID } from '../../src/storage/canvas-storage.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { PlaceIntake, type PlaceGuard } from '../../src/realtime/place-intake.js';
import { LocalPlacementSeam } from '../../src/realtime/placement-seam.js';
import type { ReadySession } from '../../src/realtime/client-session.js';
import { ready } from './doubles.js';

function setup(overrides: Partial<ServerConfig> = {}, guard?: PlaceGuard) {
  const config: ServerConfig = { ...DEFAULTS, paintRate: 1e6, paintBurst: 1e6, ...overrides };
  const store = new ChunkStore({ width: 256, height: 256, paletteSize: DEFAULT_PALETTE.length });
  const seam = new LocalPlacementSeam();
  const outbox = new Outbox();
  let wakes = 0;
  const intake = new PlaceIntake({ config, store, seam, metrics: createMetrics(), outbox, guard, now: () => 12345, wake: () => wakes++ });
  /** The PLACE_RESULT answered to `s` (taken from its queue), or null when none was queued. */
  const answer = (s: ReadySession) => {
    const bytes = s.takeOut();
    const m = bytes ? decodeServerMessages(bytes).find((x) => x.type === 'placeResult') : undefined;
    return m && m.type === 'placeResult' ? m : null;
  };
  return { config, intake, seam, outbox, answer, wakes: () => wakes };
}

const place = (seq: number, pixels: Place['pixels']): Place => ({ type: 'place', seq, pixels });
const code = (name: ErrorCodeName) => ErrorCode[name];

describe('PlaceIntake', () => {
  it('accepts a valid batch: records with the client, its name, identity and the clock, submitted with the ack', () => {
    const { intake, seam, answer, wakes } = setup();
    const { s } = ready('alice');
    intake.take(s, place(7, [{ x: 1, y: 2, color: 3 }, { x: 4, y: 5, color: 6 }]), performance.now());
    expect(answer(s)).toBeNull(); // answered by the commit, not here
    const batch = seam.take();
    expect(batch.records).toEqual([
      { x: 1, y: 2, color: 3, time: 12345, clientId: s.id, name: 'alice', ip: s.ip, identity: s.identity },
      { x: 4, y: 5, color: 6, time: 12345, clientId: s.id, name: 'alice', ip: s.ip, identity: s.identity },
    ]);
    expect(batch.acks).toEqual([{ clientId: s.id, seq: 7, count: 2, token: null }]);
    expect(wakes()).toBe(1);
  });

  it('refuses an empty batch, one over the batch limit or one costing more than the whole budget as BATCH_TOO_LARGE, uncharged', () => {
    const { intake, seam, answer, config } = setup({ maxPlaceBatch: 4 });
    const { s } = ready();
    const before = s.budget.peek(performance.now());
    intake.take(s, place(1, []), performance.now());
    expect(answer(s)).toMatchObject({ seq: 1, status: code('BATCH_TOO_LARGE'), count: 0, retryAfterMs: 0 });
    intake.take(s, place(2, Array.from({ length: 5 }, (_, i) => ({ x: i, y: 0, color: 1 }))), performance.now());
    expect(answer(s)).toMatchObject({ seq: 2, status: code('BATCH_TOO_LARGE'), count: 5 });
    expect(s.budget.peek(performance.now())).toBeGreaterThanOrEqual(before);
    const tight = setup({ messageBurst: 2, maxPlaceBatch: config.maxPlaceBatch });
    const r = ready('', { messageBurst: 2 });
    tight.intake.take(r.s, place(3, [{ x: 0, y: 0, color: 1 }, { x: 1, y: 0, color: 1 }, { x: 2, y: 0, color: 1 }]), performance.now());
    expect(tight.answer(r.s)).toMatchObject({ seq: 3, status: code('BATCH_TOO_LARGE') });
    expect(seam.pending + tight.seam.pending).toBe(0);
  });

  it('answers RATE_LIMITED with a retry-after once the message budget is spent', () => {
    const { intake, answer } = setup({ messageRate: 1, messageBurst: 10 });
    const { s } = ready('', { messageRate: 1, messageBurst: 10 });
    const t = performance.now();
    let last = null;
    for (let i = 1; i <= 20 && (last === null || last.status === code('OK')); i++) {
      intake.take(s, place(i, [{ x: i, y: 0, color: 1 }]), t);
      last = answer(s) ?? { status: code('OK'), retryAfterMs: 0 };
    }
    expect(last!.status).toBe(code('RATE_LIMITED'));
    expect(last!.retryAfterMs).toBeGreaterThanOrEqual(1);
  });

  it('refuses a batch with one pixel out of bounds or of a colour not in the palette, whole', () => {
    const { intake, seam, answer } = setup();
    const { s } = ready();
    intake.take(s, place(1, [{ x: 1, y: 1, color: 1 }, { x: 256, y: 0, color: 1 }]), performance.now());
    expect(answer(s)).toMatchObject({ seq: 1, status: code('OUT_OF_BOUNDS'), count: 2 });
    intake.take(s, place(2, [{ x: 1, y: 1, color: 1 }, { x: 2, y: 2, color: 255 }]), performance.now());
    expect(answer(s)?.status).toBe(code('BAD_COLOR'));
    expect(seam.pending).toBe(0);
  });

  it('asks the injected guard after the pixel checks and before the paint bucket', () => {
    const asked: string[] = [];
    const guard: PlaceGuard = { refusal: (ip, name) => (asked.push(`${ip} ${name}`), name === 'banned' ? 'BANNED' : null) };
    const { intake, seam, answer } = setup({ paintRate: 1, paintBurst: 1 }, guard);
    const banned = ready('banned');
    intake.take(banned.s, place(1, [{ x: 0, y: 0, color: 999 }]), performance.now()); // bad pixel: never asked
    expect(answer(banned.s)?.status).toBe(code('BAD_COLOR'));
    expect(asked).toEqual([]);
    intake.take(banned.s, place(2, [{ x: 0, y: 0, color: 1 }]), performance.now());
    expect(answer(banned.s)).toMatchObject({ seq: 2, status: code('BANNED') });
    expect(asked).toEqual([`${banned.s.ip} banned`]);
    expect(intake.refusal(banned.s.ip, 'banned')).toBe('BANNED');
    // The refusal took no paint: the same address's next client still has its token.
    const other = ready('ok');
    intake.take(other.s, place(3, [{ x: 0, y: 0, color: 1 }]), performance.now());
    expect(answer(other.s)).toBeNull();
    expect(seam.pending).toBe(1);
  });

  it('limits paint per address: RATE_LIMITED with a retry-after, BATCH_TOO_LARGE for a batch over the burst', () => {
    const { intake, answer } = setup({ paintRate: 1, paintBurst: 2 });
    const { s } = ready();
    intake.take(s, place(1, [{ x: 0, y: 0, color: 1 }, { x: 1, y: 0, color: 1 }, { x: 2, y: 0, color: 1 }]), performance.now());
    expect(answer(s)).toMatchObject({ seq: 1, status: code('BATCH_TOO_LARGE'), retryAfterMs: 0 });
    intake.take(s, place(2, [{ x: 0, y: 0, color: 1 }, { x: 1, y: 0, color: 1 }]), performance.now());
    expect(answer(s)).toBeNull();
    intake.take(s, place(3, [{ x: 0, y: 0, color: 1 }]), performance.now());
    const limited = answer(s);
    expect(limited).toMatchObject({ seq: 3, status: code('RATE_LIMITED') });
    expect(limited!.retryAfterMs).toBeGreaterThan(0);
  });

  it('refuses with INTERNAL once the room has stopped, and moderation writes go through the seam until then', () => {
    const { intake, seam, outbox, answer } = setup();
    intake.submitModeration([]);
    expect(seam.pending).toBe(0);
    intake.submitModeration([{ x: 0, y: 0, color: 1, time: 1, clientId: MODERATION_CLIENT_ID, name: 'moderator', ip: '' }]);
    expect(seam.take().acks).toEqual([{ clientId: MODERATION_CLIENT_ID, seq: 0, count: 1 }]);
    outbox.stopped = true;
    const { s, t } = ready();
    intake.take(s, place(1, [{ x: 0, y: 0, color: 1 }]), performance.now());
    expect(answer(s)).toBeNull(); // sent at once: no more ticks
    const sent = t.messages().find((m) => m.type === 'placeResult');
    expect(sent).toMatchObject({ seq: 1, status: code('INTERNAL') });
    expect(() => intake.submitModeration([])).toThrow(/shutting down/);
  });
});
