/**
 * The admin API against a real server on 127.0.0.1:0, with real WebSocket painters and viewers: token
 * handling (off, 401, lockout), rollback and undo seen live by another client and in /api/history, bans,
 * the read-only switch, the audit log, and admin state surviving a restart (SQLite in a temp dir).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/net/protocol.js';
import { adminTestKit } from '../helpers/admin.js';
import { until } from '../helpers/server.js';

const TOKEN = 'test-admin-token-0123456789';
const { serve, stop, painter, viewer, place, admin, tempDir } = adminTestKit(TOKEN);

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('admin API: access', () => {
  it('is off (404 everywhere) without a token, and bans still cannot be set', async () => {
    const s = await serve({}, null);
    for (const p of ['/api/admin/status', '/api/admin/audit', '/api/admin/nothing']) {
      const r = await admin(s, 'GET', p);
      expect(r.status).toBe(404);
      expect(r.json.error).toBe('NOT_FOUND');
    }
    expect((await admin(s, 'POST', '/api/admin/read-only', { readOnly: true })).status).toBe(404);
    const c = await painter(s, 'ann');
    expect(await place(c, 1, 1, 3)).toBe(ErrorCode.OK);
  });

  it('wrong or missing token: 401 with WWW-Authenticate, nothing done, the failure audited', async () => {
    const s = await serve();
    const missing = await admin(s, 'POST', '/api/admin/read-only', { readOnly: true }, null);
    expect(missing.status).toBe(401);
    expect(missing.json.error).toBe('UNAUTHORIZED');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await admin(s, 'POST', '/api/admin/read-only', { readOnly: true }, 'nope');
    expect(wrong.status).toBe(401);
    const status = await admin(s, 'GET', '/api/admin/status');
    expect(status.json.readOnly).toBe(false);
    // What the admin page draws its view of the canvas and a dry run's pixels with.
    expect(status.json.canvas).toEqual({ width: 1024, height: 1024, background: s.store.background, palette: expect.any(Array) });
    expect(status.json.canvas.palette[7]).toBe(0xff4500);
    const audit = await admin(s, 'GET', '/api/admin/audit');
    expect(audit.json.entries.map((e: any) => e.action)).toEqual(['auth-failed', 'auth-failed']);
    expect(audit.json.entries[0].from).toBe('127.0.0.1');
  });

  it('repeated failures lock the address out with 429 even for the right token', async () => {
    const s = await serve();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await admin(s, 'GET', '/api/admin/status', undefined, `bad-${i}`)).status);
    expect(statuses.slice(0, 10)).toEqual(new Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const locked = await admin(s, 'GET', '/api/admin/status');
    expect(locked.status).toBe(429);
    expect(locked.json.error).toBe('TOO_MANY_FAILURES');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('unknown route 404, wrong method 405, bad JSON 400, oversized body 413', async () => {
    const s = await serve();
    expect((await admin(s, 'GET', '/api/admin/nothing')).status).toBe(404);
    const m = await admin(s, 'GET', '/api/admin/rollback');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
    const badJson = await fetch(`${s.url}/api/admin/ban`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"ip":' });
    expect(badJson.status).toBe(400);
    const big = await fetch(`${s.url}/api/admin/ban`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ ip: 'x'.repeat(20000) }) });
    expect(big.status).toBe(413);
    expect((await admin(s, 'POST', '/api/admin/ban', { ip: '1.2.3.4', name: 'x' })).status).toBe(400);
    expect((await admin(s, 'POST', '/api/admin/rollback', { x: 0, y: 0, w: 2000, h: 1, time: 0 })).status).toBe(400);
    expect((await admin(s, 'POST', '/api/admin/rollback', { x: 0, y: 0, w: 1, h: 1 })).status).toBe(400);
  });
});

describe('admin API: rollback and undo', () => {
  it('rolls a rectangle back to its state at a time: a second client sees it live; history and pixel info show moderation entries', async () => {
    const s = await serve();
    const ann = await painter(s, 'ann');
    const vandal = await painter(s, 'vandal');
    const watch = await viewer(s);
    expect(await place(ann, 10, 10, 3)).toBe(0);
    expect(await place(ann, 11, 10, 3)).toBe(0);
    await tick();
    const t = Date.now();
    await tick();
    for (const [x, c] of [[10, 5], [11, 6], [12, 7], [13, 8]] as const) expect(await place(vandal, x, 10, c)).toBe(0);
    expect(await place(ann, 40, 40, 9)).toBe(0); // outside the rectangle: stays
    await until(() => watch.replica.get(13, 10) === 8 && watch.replica.get(40, 40) === 9, 2000, 'viewer sees the vandalism');

    // A dry run first: the same numbers and the pixels it would write, and nothing changes.
    const dry = await admin(s, 'POST', '/api/admin/rollback', { x: 10, y: 10, w: 4, h: 1, time: t, dryRun: true });
    expect(dry.json).toMatchObject({ dryRun: true, restored: 4, candidates: 4 });
    expect(dry.json.pixels).toEqual([{ x: 10, y: 10, color: 3 }, { x: 11, y: 10, color: 3 }, { x: 12, y: 10, color: 0 }, { x: 13, y: 10, color: 0 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.store.get(10, 10)).toBe(5);
    expect((await admin(s, 'GET', '/api/admin/audit')).json.entries).toEqual([]);

    const r = await admin(s, 'POST', '/api/admin/rollback', { x: 10, y: 10, w: 4, h: 1, time: t });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ restored: 4, candidates: 4, kept: 0, unknown: 0 });

    // Live, as ordinary deltas.
    await until(() => watch.replica.get(10, 10) === 3 && watch.replica.get(11, 10) === 3 && watch.replica.get(12, 10) === 0 && watch.replica.get(13, 10) === 0,
      2000, 'viewer sees the rollback');
    expect(watch.replica.get(40, 40)).toBe(9);

    const hist = await (await fetch(`${s.url}/api/history?x0=10&y0=10&x1=13&y1=10`)).json() as any;
    const entries = hist.placements as any[];
    expect(entries).toHaveLength(2 + 4 + 4);
    expect(entries.slice(0, 6).every((e) => e.moderation === undefined)).toBe(true);
    expect(entries.slice(6).map((e) => [e.x, e.color, e.placedBy, e.moderation])).toEqual([
      [10, 3, 'moderator', true], [11, 3, 'moderator', true], [12, 0, 'moderator', true], [13, 0, 'moderator', true],
    ]);
    const info = await (await fetch(`${s.url}/api/pixel?x=12&y=10`)).json() as any;
    expect(info).toMatchObject({ color: 0, placedBy: 'moderator', moderation: true });
    expect(s.store.get(10, 10)).toBe(3);

    const audit = await admin(s, 'GET', '/api/admin/audit');
    expect(audit.json.entries[0]).toMatchObject({ action: 'rollback', detail: { x: 10, y: 10, w: 4, h: 1, time: t, restored: 4 } });
  });

  it('undoes one name since a time (an explicit matchName), leaving pixels others painted over since', async () => {
    const s = await serve();
    const ann = await painter(s, 'ann');
    const bob = await painter(s, 'bob');
    const watch = await viewer(s);
    expect(await place(ann, 1, 1, 3)).toBe(0);
    expect(await place(bob, 5, 5, 4)).toBe(0); // before the time: stays
    await tick();
    const t = Date.now();
    await tick();
    expect(await place(bob, 1, 1, 9)).toBe(0); // over ann's: back to 3
    expect(await place(bob, 2, 2, 9)).toBe(0); // fresh: back to the background
    expect(await place(bob, 3, 3, 9)).toBe(0);
    expect(await place(ann, 3, 3, 11)).toBe(0); // ann painted over bob since: stays 11
    expect(await place(bob, 5, 5, 9)).toBe(0);
    expect(await place(bob, 5, 5, 10)).toBe(0); // two of bob's over his own older one: back to 4
    await until(() => watch.replica.get(5, 5) === 10, 2000, 'viewer sees bob');

    // Names are self-chosen: acting on one must be asked for (issue 24, defect 5).
    const implicit = await admin(s, 'POST', '/api/admin/undo', { name: 'bob', since: new Date(t).toISOString() });
    expect(implicit.status).toBe(400);
    expect(implicit.json.message).toMatch(/matchName/);
    const r = await admin(s, 'POST', '/api/admin/undo', { name: 'bob', matchName: true, since: new Date(t).toISOString() });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ restored: 3, candidates: 4, kept: 1 });
    await until(() => watch.replica.get(1, 1) === 3 && watch.replica.get(2, 2) === 0 && watch.replica.get(5, 5) === 4, 2000, 'viewer sees the undo');
    expect(watch.replica.get(3, 3)).toBe(11);
  });

  it('undoes one address (ip) and can be limited to a rectangle', async () => {
    const s = await serve();
    const a = await painter(s, 'same', '127.0.0.1');
    const b = await painter(s, 'same', '127.0.0.2');
    const t = Date.now() - 1;
    await tick();
    expect(await place(a, 20, 20, 3)).toBe(0);
    expect(await place(b, 21, 20, 3)).toBe(0);
    expect(await place(b, 100, 100, 3)).toBe(0);
    const r = await admin(s, 'POST', '/api/admin/undo', { ip: '127.0.0.2', since: t, x: 0, y: 0, w: 64, h: 64 });
    expect(r.json.restored).toBe(1);
    await until(() => s.store.get(21, 20) === 0, 2000, 'undo applied');
    expect(s.store.get(20, 20)).toBe(3);
    expect(s.store.get(100, 100)).toBe(3);
  });
});

describe('admin API: bans, read-only, audit', () => {
  it('a banned name or address gets BANNED; unban lets it paint again; other painters are unaffected', async () => {
    const s = await serve();
    const bob = await painter(s, 'bob');
    const other = await painter(s, 'eve', '127.0.0.3');
    const ann = await painter(s, 'ann');
    expect((await admin(s, 'POST', '/api/admin/ban', { name: 'bob', reason: 'spam' })).status).toBe(400); // names: only with matchName
    expect((await admin(s, 'POST', '/api/admin/ban', { name: 'bob', matchName: true, reason: 'spam' })).json.ban).toMatchObject({ kind: 'name', value: 'bob', reason: 'spam' });
    expect(await place(bob, 1, 1, 1)).toBe(ErrorCode.BANNED);
    expect(await place(ann, 1, 1, 1)).toBe(ErrorCode.OK);
    expect((await admin(s, 'POST', '/api/admin/ban', { ip: '127.0.0.3' })).status).toBe(200);
    expect(await place(other, 2, 2, 1)).toBe(ErrorCode.BANNED);
    expect((await admin(s, 'GET', '/api/admin/bans')).json.bans.map((b: any) => `${b.kind}:${b.value}`)).toEqual(['name:bob', 'ip:127.0.0.3']);
    expect((await admin(s, 'POST', '/api/admin/unban', { name: 'bob' })).json.removed).toBe(true);
    expect((await admin(s, 'POST', '/api/admin/unban', { name: 'bob' })).json.removed).toBe(false);
    expect(await place(bob, 1, 1, 2)).toBe(ErrorCode.OK);
    expect(await place(other, 2, 2, 1)).toBe(ErrorCode.BANNED);
  });

  it('read-only refuses every placement with READ_ONLY until switched off', async () => {
    const s = await serve();
    const ann = await painter(s, 'ann');
    expect((await admin(s, 'POST', '/api/admin/read-only', { readOnly: true })).json.readOnly).toBe(true);
    expect(await place(ann, 1, 1, 1)).toBe(ErrorCode.READ_ONLY);
    expect((await admin(s, 'GET', '/api/admin/status')).json.readOnly).toBe(true);
    expect((await admin(s, 'POST', '/api/admin/read-only', { readOnly: 'yes' })).status).toBe(400);
    await admin(s, 'POST', '/api/admin/read-only', { readOnly: false });
    expect(await place(ann, 1, 1, 1)).toBe(ErrorCode.OK);
  });

  it('the audit log lists every action newest first and pages with before', async () => {
    const s = await serve();
    await admin(s, 'POST', '/api/admin/ban', { ip: '10.0.0.1' });
    await admin(s, 'POST', '/api/admin/read-only', { readOnly: true });
    await admin(s, 'POST', '/api/admin/read-only', { readOnly: false });
    await admin(s, 'POST', '/api/admin/unban', { ip: '10.0.0.1' });
    const all = (await admin(s, 'GET', '/api/admin/audit')).json;
    expect(all.entries.map((e: any) => e.action)).toEqual(['unban', 'read-only', 'read-only', 'ban']);
    expect(all.next).toBeNull();
    const p1 = (await admin(s, 'GET', '/api/admin/audit?limit=3')).json;
    expect(p1.entries).toHaveLength(3);
    const p2 = (await admin(s, 'GET', `/api/admin/audit?limit=3&before=${p1.next}`)).json;
    expect(p2.entries.map((e: any) => e.action)).toEqual(['ban']);
    expect(p2.next).toBeNull();
  });

  it('bans, the read-only switch and the audit log survive a restart (SQLite data dir)', async () => {
    const dir = tempDir('pc-admin-');
    const s1 = await serve({ inMemory: false, dataDir: dir });
    await admin(s1, 'POST', '/api/admin/ban', { name: 'bob', matchName: true, reason: 'r' });
    await admin(s1, 'POST', '/api/admin/read-only', { readOnly: true });
    await stop(s1);
    const s2 = await serve({ inMemory: false, dataDir: dir });
    const st = (await admin(s2, 'GET', '/api/admin/status')).json;
    expect(st.readOnly).toBe(true);
    expect(st.bans.map((b: any) => b.value)).toEqual(['bob']);
    expect((await admin(s2, 'GET', '/api/admin/audit')).json.entries.map((e: any) => e.action)).toEqual(['read-only', 'ban']);
    const bob = await painter(s2, 'bob');
    expect(await place(bob, 0, 0, 1)).toBe(ErrorCode.READ_ONLY);
  });
});

describe('admin API: hostile input (seeded fuzz against a running server)', () => {
  it('random bodies to every route get a JSON 2xx/4xx answer, never a 500 or a crash', async () => {
    const fc = (await import('fast-check')).default;
    const s = await serve({ width: 256, height: 256 });
    const routes = ['rollback', 'undo', 'ban', 'unban', 'read-only', 'status', 'audit', 'bans', 'pixel', 'x'];
    const value = fc.oneof(fc.integer({ min: -5, max: 300 }), fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null), fc.double(), fc.constant('2026-01-01T00:00:00Z'));
    const body = fc.oneof(
      fc.dictionary(fc.constantFrom('x', 'y', 'w', 'h', 'time', 'since', 'name', 'ip', 'identity', 'matchName', 'dryRun', 'reason', 'readOnly', '__proto__'), value),
      fc.string({ maxLength: 40 }),
      fc.json({ maxDepth: 3 }),
    );
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
    console.log(`admin fuzz seed ${seed}`);
    await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), body, async (route, method, b) => {
      const res = await fetch(`${s.url}/api/admin/${route}?limit=${route.length}`, {
        method, headers: { authorization: `Bearer ${TOKEN}` }, body: method === 'GET' ? undefined : (typeof b === 'string' ? b : JSON.stringify(b)),
      });
      expect([200, 400, 404, 405, 413]).toContain(res.status);
      const j = await res.json() as Record<string, unknown>;
      if (res.status !== 200) expect(typeof j.error).toBe('string');
    }), { numRuns: 150, seed });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
