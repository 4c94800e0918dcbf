import { describe, expect, it } from 'vitest';
import { describeAudit, localTime } from '../../client/src/audit-view.js';

const T = 1_796_307_038_277;
const canvas = { width: 1024, height: 1024 };
const entry = (action: string, detail: Record<string, unknown>) => ({ id: 1, time: T, action, from: '203.0.113.7', detail });

describe('the audit log in words', () => {
  it('a rollback: the rectangle, the time it went back to in local time, the pixels restored', () => {
    const row = describeAudit(entry('rollback', { x: 10, y: 20, w: 30, h: 40, time: T - 3_600_000, restored: 12, kept: 1, unknown: 0 }), canvas);
    expect(row).toEqual({
      time: localTime(T), action: 'Rollback', who: '203.0.113.7', what: `30×40 at (10, 20) back to ${localTime(T - 3_600_000)}`, count: '12 pixels',
    });
  });

  it('an undo names whose placements and since when; the whole canvas is not repeated as a rectangle', () => {
    const whole = describeAudit(entry('undo', { identity: 'ab'.repeat(12), since: T - 60_000, x: 0, y: 0, w: 1024, h: 1024, restored: 1 }), canvas);
    expect(whole.what).toBe(`identity ${'ab'.repeat(12)} since ${localTime(T - 60_000)}`);
    expect(whole.count).toBe('1 pixel');
    const part = describeAudit(entry('undo', { address: '0123456789abcdef', since: T, x: 5, y: 5, w: 2, h: 3, restored: 0 }), canvas);
    expect(part.what).toBe(`address hash 0123456789abcdef since ${localTime(T)}, within 2×3 at (5, 5)`);
  });

  it('bans, unbans, read-only and refused sign-ins read as sentences', () => {
    expect(describeAudit(entry('ban', { kind: 'ip', value: '198.51.100.0/24', reason: 'spam', silenced: 2 }))).toMatchObject({
      action: 'Ban', what: 'address 198.51.100.0/24 — “spam”', count: '2 silenced',
    });
    expect(describeAudit(entry('unban', { kind: 'name', value: 'bob', removed: false })).what).toBe('name bob (was not banned)');
    expect(describeAudit(entry('read-only', { readOnly: true })).what).toBe('painting paused');
    expect(describeAudit(entry('auth-failed', { path: '/api/admin/status', reason: 'wrong token' }))).toMatchObject({
      action: 'Sign-in refused', what: '/api/admin/status: wrong token', count: '',
    });
  });

  it('an action it does not know (a module\'s, like tempo) lists its fields, times in local time, never raw JSON', () => {
    const row = describeAudit(entry('tempo', { bpm: 120, startBeat: 64, startTime: T }));
    expect(row.action).toBe('Tempo');
    expect(row.what).toBe(`bpm 120, startBeat 64, startTime ${localTime(T)}`);
    expect(row.what).not.toMatch(/\d{12}/);
  });

  it('a published palette: its patterns, the bar it took over on in local time, its entries; never raw JSON', () => {
    const row = describeAudit(entry('patterns', { beat: 153907096, time: T, entries: 5, patterns: ['tick', 'keys'], scope: 'canvas' }));
    expect(row).toMatchObject({ action: 'Palette published', what: `tick, keys, from ${localTime(T)} (beat 153907096)`, count: '5 entries' });
    expect(describeAudit(entry('patterns', { beat: 8, time: T, entries: 2, patterns: ['a'], scope: 'node' })).what).toMatch(/, on this node only$/);
    expect(row.what).not.toMatch(/[[\]"]/);
  });
});
