/**
 * Issue 24, defects 4 (bans by address), 5 (moderation acts on an identity, not a self-chosen name) and 6
 * (a ban silences the cursor and name too), against a real server with real WebSocket painters.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { ErrorCode } from '../../src/net/protocol.js';
import type { ServerConfig } from '../../src/config.js';
import type { RunningServer } from '../../src/server.js';
import { adminTestKit } from '../helpers/admin.js';
import { until, sleep } from '../helpers/server.js';

const { serve, stop, open, painter, place, admin, tempDir } = adminTestKit('identity-admin-token-0123456789');

const pixelOf = async (s: RunningServer, x: number, y: number) => (await admin(s, 'GET', `/api/admin/pixel?x=${x}&y=${y}`)).json;

describe('moderation acts on an identity', () => {
  it('two painters named alice: undo by identity reverts only the attacker, whose identity pixel info shows moderators', async () => {
    const s = await serve();
    const victim = await painter(s, 'alice');
    const attacker = await painter(s, 'alice');
    const t = Date.now() - 1;
    await sleep(5);
    expect(await place(victim, 1, 1, 3)).toBe(ErrorCode.OK);
    expect(await place(attacker, 2, 2, 4)).toBe(ErrorCode.OK);
    await until(() => s.store.get(2, 2) === 4, 2000, 'painted');
    const info = await pixelOf(s, 2, 2);
    expect(info.placedBy).toBe('alice');
    expect(info.identity).toMatch(/^[0-9a-f]{24}$/);
    expect(info.address).toMatch(/^[0-9a-f]+$/);
    expect((await pixelOf(s, 1, 1)).identity).not.toBe(info.identity);
    // The public pixel info names the painter only.
    const pub = await (await fetch(`${s.url}/api/pixel?x=2&y=2`)).json();
    expect(pub).toEqual({ x: 2, y: 2, color: 4, placedAt: info.placedAt, placedBy: 'alice' });

    const r = await admin(s, 'POST', '/api/admin/undo', { identity: info.identity, since: t });
    expect(r.status).toBe(200);
    expect(r.json.restored).toBe(1);
    await until(() => s.store.get(2, 2) === 0, 2000, 'undo applied');
    expect(s.store.get(1, 1)).toBe(3);
  });

  it('an identity is the session token: stable across reconnects, undo and ban follow it through a restart', async () => {
    const dir = tempDir('pc-identity-');
    const token = new Uint8Array(16).fill(7);
    const s1 = await serve({ inMemory: false, dataDir: dir });
    const t = Date.now() - 1;
    const a = await painter(s1, 'mallory', '127.0.0.1', token);
    expect(await place(a, 5, 5, 2)).toBe(ErrorCode.OK);
    await until(() => s1.store.get(5, 5) === 2, 2000, 'painted');
    const id = (await pixelOf(s1, 5, 5)).identity;
    a.close();
    await stop(s1);

    const s2 = await serve({ inMemory: false, dataDir: dir });
    const again = await painter(s2, 'someone-else', '127.0.0.1', token);
    expect(await place(again, 6, 6, 2)).toBe(ErrorCode.OK);
    await until(() => s2.store.get(6, 6) === 2, 2000, 'painted again');
    expect((await pixelOf(s2, 6, 6)).identity).toBe(id);
    const other = await painter(s2, 'mallory');
    expect(await place(other, 7, 7, 2)).toBe(ErrorCode.OK);
    // History from the first run is undone by the identity; the other "mallory" keeps her pixel.
    expect((await admin(s2, 'POST', '/api/admin/undo', { identity: id, since: t })).json.restored).toBe(2);
    await until(() => s2.store.get(5, 5) === 0 && s2.store.get(6, 6) === 0, 2000, 'undo applied');
    expect(s2.store.get(7, 7)).toBe(2);
    expect((await admin(s2, 'POST', '/api/admin/ban', { identity: id })).status).toBe(200);
    expect(await place(again, 8, 8, 1)).toBe(ErrorCode.BANNED);
    expect(await place(other, 8, 8, 1)).toBe(ErrorCode.OK);
  });

  it('reserved names paint anonymously, however they are spelled', async () => {
    const s = await serve();
    const names = ['moderator', 'Moderator', 'ＡＤＭＩＮ', '\u0430dmin', 'sy\u0301stem', ' Mod-erator '];
    for (const [i, name] of names.entries()) {
      const c = await painter(s, name);
      expect(await place(c, 10 + i, 0, 1)).toBe(ErrorCode.OK);
    }
    await until(() => s.store.get(10 + names.length - 1, 0) === 1, 2000, 'painted');
    for (let i = 0; i < names.length; i++) expect((await pixelOf(s, 10 + i, 0)).placedBy, names[i]).toBe('');
    const fine = await painter(s, 'modest');
    expect(await place(fine, 30, 0, 1)).toBe(ErrorCode.OK);
    await until(() => s.store.get(30, 0) === 1, 2000, 'painted');
    expect((await pixelOf(s, 30, 0)).placedBy).toBe('modest');
  });

  it('an undo by name never reverts the moderators\' own fixes', async () => {
    const s = await serve();
    const c = await painter(s, 'vandal');
    const t = Date.now() - 1;
    expect(await place(c, 3, 3, 5)).toBe(ErrorCode.OK);
    await until(() => s.store.get(3, 3) === 5, 2000, 'painted');
    expect((await admin(s, 'POST', '/api/admin/undo', { ip: '127.0.0.1', since: t })).json.restored).toBe(1);
    await until(() => s.store.get(3, 3) === 0, 2000, 'undone');
    const r = await admin(s, 'POST', '/api/admin/undo', { name: 'moderator', matchName: true, since: t });
    expect(r.json.restored).toBe(0);
  });

  it('a name ban (explicit) matches the name however it is written', async () => {
    const s = await serve();
    expect((await admin(s, 'POST', '/api/admin/ban', { name: 'bob', matchName: true })).status).toBe(200);
    for (const spelling of ['bob', 'BOB', 'ｂｏｂ', 'bo\u0301b', 'b\u043eb']) {
      const c = await painter(s, spelling);
      expect(await place(c, 1, 1, 1), spelling).toBe(ErrorCode.BANNED);
    }
    const ok = await painter(s, 'bobby');
    expect(await place(ok, 1, 1, 1)).toBe(ErrorCode.OK);
    expect((await admin(s, 'POST', '/api/admin/unban', { name: 'BOB' })).json.removed).toBe(true);
  });
});

describe('bans by address', () => {
  it('validates and canonicalises addresses, and may name a prefix', async () => {
    const s = await serve();
    const mapped = await admin(s, 'POST', '/api/admin/ban', { ip: '::ffff:127.0.4.10' });
    expect(mapped.status).toBe(200);
    expect(mapped.json.ban.value).toBe('127.0.4.10');
    expect((await admin(s, 'POST', '/api/admin/ban', { ip: '::FFFF:127.0.4.11' })).json.ban.value).toBe('127.0.4.11');
    for (const bad of ['127.0.4.12 ', 'bob', '127.0.4.0/33', '127.1']) {
      const r = await admin(s, 'POST', '/api/admin/ban', { ip: bad });
      expect(r.status, bad).toBe(400);
      expect(r.json.error).toBe('BAD_REQUEST');
    }
    expect((await admin(s, 'POST', '/api/admin/ban', { ip: '127.0.5.9/24' })).json.ban.value).toBe('127.0.5.0/24');
    expect(await place(await painter(s, 'a', '127.0.4.10'), 1, 1, 1)).toBe(ErrorCode.BANNED);
    expect(await place(await painter(s, 'b', '127.0.4.11'), 1, 1, 1)).toBe(ErrorCode.BANNED);
    expect(await place(await painter(s, 'c', '127.0.5.200'), 1, 1, 1)).toBe(ErrorCode.BANNED);
    expect(await place(await painter(s, 'd', '127.0.6.1'), 1, 1, 1)).toBe(ErrorCode.OK);
    expect((await admin(s, 'POST', '/api/admin/unban', { ip: '::ffff:127.0.5.0/120' })).json.removed).toBe(true);
    expect(await place(await painter(s, 'e', '127.0.5.201'), 1, 1, 1)).toBe(ErrorCode.OK);
  });

  it('address bans stored before validation match by their canonical form after a restart, and junk ones can be lifted', async () => {
    const dir = tempDir('pc-legacy-bans-');
    const s1 = await serve({ inMemory: false, dataDir: dir });
    await stop(s1);
    // What the old API stored as given: a mapped spelling and one with a trailing space.
    const db = new Database(path.join(dir, 'admin.db'));
    const insert = db.prepare("INSERT INTO ban (kind, value, reason, created_at) VALUES ('ip', ?, '', ?)");
    insert.run('::FFFF:127.0.4.10', 1);
    insert.run('127.0.4.12 ', 2);
    db.close();
    const s2 = await serve({ inMemory: false, dataDir: dir });
    expect((await admin(s2, 'GET', '/api/admin/bans')).json.bans.map((b: any) => b.value)).toEqual(['127.0.4.10', '127.0.4.12 ']);
    expect(await place(await painter(s2, 'old', '127.0.4.10'), 1, 1, 1)).toBe(ErrorCode.BANNED);
    expect((await admin(s2, 'POST', '/api/admin/unban', { ip: '127.0.4.12 ' })).json.removed).toBe(true);
    expect((await admin(s2, 'POST', '/api/admin/unban', { ip: '::ffff:127.0.4.10' })).json.removed).toBe(true);
    await stop(s2);
    const s3 = await serve({ inMemory: false, dataDir: dir });
    expect((await admin(s3, 'GET', '/api/admin/bans')).json.bans).toEqual([]);
  });

  it('an IPv6 ban covers the client\'s /64', async () => {
    const s = await serve({ trustProxy: true });
    const c = new CanvasClient({ url: s.wsUrl, name: 'v6', reconnect: false,
      socketFactory: (u) => new WebSocket(u, { headers: { 'x-forwarded-for': '2001:db8:aa:bb::1234' } }) as unknown as WebSocketLike });
    await open(c);
    const r = await admin(s, 'POST', '/api/admin/ban', { ip: '2001:DB8:aa:bb:ffff::1' });
    expect(r.json.ban.value).toBe('2001:db8:aa:bb::/64');
    expect(await place(c, 1, 1, 1)).toBe(ErrorCode.BANNED);
  });
});

describe('acting on the address hash pixel info shows (the address itself is never seen)', () => {
  for (const inMemory of [true, false]) {
    it(`undo and ban by "address" reach every identity of that address and no other (${inMemory ? 'memory' : 'SQLite'})`, async () => {
      let overrides: Partial<ServerConfig> = {};
      if (!inMemory) {
        overrides = { inMemory: false, dataDir: tempDir('pc-address-') };
      }
      const s = await serve(overrides);
      const t = Date.now() - 1;
      // One address, two browsers (two identities), and a bystander elsewhere.
      const tabA = await painter(s, 'grief', '127.0.0.5');
      const tabB = await painter(s, 'grief2', '127.0.0.5');
      const bystander = await painter(s, 'ok', '127.0.0.6');
      expect(await place(tabA, 1, 1, 5)).toBe(ErrorCode.OK);
      expect(await place(tabB, 2, 1, 5)).toBe(ErrorCode.OK);
      expect(await place(bystander, 3, 1, 6)).toBe(ErrorCode.OK);
      await until(() => s.store.get(3, 1) === 6 && s.store.get(2, 1) === 5, 2000, 'painted');
      const a = await pixelOf(s, 1, 1);
      const b = await pixelOf(s, 2, 1);
      expect(a.identity).not.toBe(b.identity);
      expect(a.address).toMatch(/^[0-9a-f]{16}$/);
      expect(b.address).toBe(a.address);
      expect((await pixelOf(s, 3, 1)).address).not.toBe(a.address);

      for (const bad of [{ address: 'A'.repeat(16) }, { address: '12ab' }, { address: a.address, ip: '127.0.0.5' }]) {
        const r = await admin(s, 'POST', '/api/admin/undo', { ...bad, since: t });
        expect(r.status, JSON.stringify(bad)).toBe(400);
        expect(r.json.error).toBe('BAD_REQUEST');
      }
      const preview = await admin(s, 'POST', '/api/admin/undo', { address: a.address, since: t, dryRun: true });
      expect(preview.json.restored).toBe(2);
      expect(preview.json.pixels.map((p: any) => [p.x, p.y, p.color])).toEqual([[1, 1, 0], [2, 1, 0]]);
      expect((await admin(s, 'POST', '/api/admin/undo', { address: a.address, since: t })).json.restored).toBe(2);
      await until(() => s.store.get(1, 1) === 0 && s.store.get(2, 1) === 0, 2000, 'undone');
      expect(s.store.get(3, 1)).toBe(6);

      // A ban by the hash refuses that address in any browser, also one that connects afterwards, and
      // silences its cursor.
      const watcher = await painter(s, 'watcher', '127.0.0.7');
      watcher.setViewport(0, 0, 256, 256);
      tabA.setViewport(0, 0, 256, 256);
      tabA.moveCursor(20, 20);
      const griefCursor = () => [...watcher.cursors.values()].some((c) => c.name === 'grief');
      await until(griefCursor, 3000, 'cursor seen before the ban');
      const ban = await admin(s, 'POST', '/api/admin/ban', { address: a.address, reason: 'grief' });
      expect(ban.status).toBe(200);
      expect(ban.json.ban).toMatchObject({ kind: 'address', value: a.address });
      expect(ban.json.silenced).toBe(1);
      await until(() => !griefCursor(), 3000, 'cursor gone after the ban');
      expect(await place(tabA, 5, 5, 1)).toBe(ErrorCode.BANNED);
      expect(await place(await painter(s, 'fresh', '127.0.0.5'), 5, 5, 1)).toBe(ErrorCode.BANNED);
      expect(await place(bystander, 5, 5, 1)).toBe(ErrorCode.OK);
      expect((await admin(s, 'GET', '/api/admin/bans')).json.bans.map((x: any) => x.kind)).toEqual(['address']);
      expect((await admin(s, 'POST', '/api/admin/unban', { address: a.address })).json.removed).toBe(true);
      expect(await place(tabB, 6, 6, 1)).toBe(ErrorCode.OK);
    });
  }
});

describe('a ban silences the cursor and the name', () => {
  it('a banned painter\'s cursor (and its name) reaches no one; it disappears when the ban is made', async () => {
    const s = await serve();
    const watcher = await painter(s, 'watcher');
    watcher.setViewport(0, 0, 256, 256);
    const banned = await painter(s, 'troll', '127.0.0.9');
    banned.setViewport(0, 0, 256, 256);
    const bannedId = () => [...watcher.cursors.entries()].find(([, c]) => c.name === 'troll')?.[0];
    banned.moveCursor(20, 20);
    await until(() => bannedId() !== undefined, 3000, 'cursor seen before the ban');
    expect((await admin(s, 'POST', '/api/admin/ban', { ip: '127.0.0.9' })).json.silenced).toBe(1);
    await until(() => bannedId() === undefined, 3000, 'cursor gone after the ban');
    for (let i = 0; i < 10; i++) {
      banned.moveCursor(30 + i, 30);
      await sleep(30);
    }
    expect(bannedId()).toBeUndefined();
    // A newcomer's cursor snapshot does not show it either.
    const late = await painter(s, 'late');
    late.setViewport(0, 0, 256, 256);
    const other = await painter(s, 'friend');
    other.setViewport(0, 0, 256, 256);
    other.moveCursor(40, 40);
    await until(() => [...late.cursors.values()].some((c) => c.name === 'friend'), 3000, 'others still shown');
    expect([...late.cursors.values()].some((c) => c.name === 'troll')).toBe(false);
  });
});
