/**
 * kill -9 a child server under continuous painting: every placement acknowledged as accepted must be there
 * after a restart on the same data dir, under a new epoch. Also: a clean restart gives back the same canvas,
 * chunk versions, epoch and log, and bad starts fail with one clear line without overwriting anything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  ErrorCode, PROTOCOL_VERSION, encodeHello, encodePlace, encodeViewport, type ServerMessage, type Welcome,
} from '../../src/net/protocol.js';
import { decodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { RawPeer, serverEntry, sleep, startChildServer, until, type ChildServer } from '../helpers/server.js';

const SIZE = 256;
const children: ChildServer[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pixel-canvas-durable-'));
  dirs.push(d);
  return d;
}

const FAST = ['--width', String(SIZE), '--height', String(SIZE), '--paint-rate', '1000000', '--paint-burst', '1000000',
  '--message-rate', '1000000', '--message-burst', '1000000', '--max-connections-per-ip', '100'];

async function start(dir: string, extra: string[] = []): Promise<ChildServer> {
  const c = await startChildServer(['--data-dir', dir, ...FAST, ...extra]);
  children.push(c);
  return c;
}

/** What a new client sees: the WELCOME epoch, and the whole canvas and each chunk's version from snapshots. */
async function readCanvas(c: ChildServer): Promise<{ canvas: Uint8Array; versions: Record<string, number>; epoch: number }> {
  const p = new RawPeer(c.wsUrl);
  await p.opened;
  p.send(encodeHello(PROTOCOL_VERSION, 'reader'));
  p.send(encodeViewport(0, 0, SIZE, SIZE));
  const { epoch } = await p.waitFor((m): m is Welcome => m.type === 'welcome');
  const chunks = (SIZE / 64) ** 2;
  await until(() => p.messages.filter((m) => m.type === 'snapshot').length >= chunks, 5000, 'all snapshots');
  const canvas = new Uint8Array(SIZE * SIZE);
  const versions: Record<string, number> = {};
  const px = new Uint8Array(CHUNK_AREA);
  for (const m of p.messages) {
    if (m.type !== 'snapshot') continue;
    versions[`${m.cx},${m.cy}`] = m.version;
    decodeSnapshotPixels(m.encoding, m.data, 0, px);
    for (let i = 0; i < CHUNK_AREA; i++) canvas[(m.cy * 64 + (i >> 6)) * SIZE + m.cx * 64 + (i & 63)] = px[i]!;
  }
  p.close();
  return { canvas, versions, epoch };
}

describe('durability', () => {
  // A music canvas is the same data path with another palette: it must be exactly as durable.
  it.each([['pixel', []], ['music', ['--music']]] as [string, string[]][])('kill -9 under continuous painting loses no acknowledged placement (%s canvas)', async (_mode, extra) => {
    const dir = tempDir();
    const first = await start(dir, extra);
    const painters = 4;
    // Each painter owns the rows y ≡ i (mod painters), so per-pixel order is its own send order.
    const writes = new Map<number, { seq: number; color: number }[]>(); // pixel → writes in send order
    const acked = new Set<number>(); // seqs (unique across painters) answered "accepted"
    const peers: RawPeer[] = [];
    let firstEpoch = -1;
    for (let i = 0; i < painters; i++) {
      const p = new RawPeer(first.wsUrl);
      peers.push(p);
      await p.opened;
      p.send(encodeHello(PROTOCOL_VERSION, `p${i}`));
      firstEpoch = (await p.waitFor((m): m is Welcome => m.type === 'welcome')).epoch;
      p.ws.on('message', () => {
        for (const m of p.messages.splice(0) as ServerMessage[]) {
          if (m.type === 'placeResult' && m.status === ErrorCode.OK) acked.add(m.seq);
        }
      });
    }
    let seq = 0;
    let killed = false;
    const loops = peers.map(async (p, i) => {
      while (!killed) {
        const pixels = Array.from({ length: 8 }, () => {
          const y = Math.floor(Math.random() * (SIZE / painters)) * painters + i;
          return { x: Math.floor(Math.random() * SIZE), y, color: 1 + Math.floor(Math.random() * 31) };
        });
        const s = ++seq;
        for (const px of pixels) {
          const key = px.y * SIZE + px.x;
          const list = writes.get(key) ?? [];
          list.push({ seq: s, color: px.color });
          writes.set(key, list);
        }
        if (p.ws.readyState === p.ws.OPEN) p.send(encodePlace(s, pixels));
        await sleep(1);
      }
    });
    await sleep(800 + Math.random() * 1200); // a random moment
    const exited = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    killed = true;
    await Promise.all(loops);
    await exited;
    for (const p of peers) p.ws.terminate();
    const ackCount = acked.size;
    expect(ackCount).toBeGreaterThan(50); // the painting was real

    const second = await start(dir, extra);
    const { canvas, epoch } = await readCanvas(second);
    // Versions rebuilt from the log tail may differ from what clients held: they must start afresh.
    expect(epoch).not.toBe(firstEpoch);
    let checked = 0;
    for (const [key, list] of writes) {
      let last = -1;
      for (let k = 0; k < list.length; k++) if (acked.has(list[k]!.seq)) last = k;
      if (last < 0) continue;
      // The last acknowledged write, or a later (unacknowledged) one that replaced it.
      const allowed = new Set(list.slice(last).map((w) => w.color));
      if (!allowed.has(canvas[key]!)) {
        throw new Error(`pixel (${key % SIZE},${Math.floor(key / SIZE)}) is ${canvas[key]} after restart; acknowledged ${list[last]!.color}`);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  }, 60_000);

  it('a clean stop and start gives back the same canvas, chunk versions, epoch and log', async () => {
    const dir = tempDir();
    const a = await start(dir);
    const p = new RawPeer(a.wsUrl);
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, 'painter'));
    await p.waitFor((m) => m.type === 'welcome');
    for (let i = 0; i < 50; i++) p.send(encodePlace(i + 1, [{ x: (i * 13) % SIZE, y: (i * 7) % SIZE, color: 1 + (i % 31) }]));
    await until(() => p.messages.filter((m) => m.type === 'placeResult').length === 50, 5000);
    const before = await readCanvas(a);
    expect(Object.keys(before.versions)).toHaveLength((SIZE / 64) ** 2);
    expect(Object.values(before.versions).some((v) => v > 0)).toBe(true); // versions really moved
    const historyBefore = await (await fetch(`${a.url}/api/history?x0=0&y0=0&x1=${SIZE - 1}&y1=${SIZE - 1}&limit=1000`)).json();
    const exited = new Promise((r) => a.proc.once('exit', r));
    a.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const b = await start(dir);
    const after = await readCanvas(b);
    expect(Buffer.from(after.canvas).equals(Buffer.from(before.canvas))).toBe(true);
    // Same epoch and versions: a browser connected across the restart resumes without re-downloading.
    expect(after.epoch).toBe(before.epoch);
    expect(after.versions).toEqual(before.versions);
    const historyAfter = await (await fetch(`${b.url}/api/history?x0=0&y0=0&x1=${SIZE - 1}&y1=${SIZE - 1}&limit=1000`)).json();
    expect(historyAfter).toEqual(historyBefore);
    expect(historyAfter.placements.length).toBe(50);
  }, 30_000);

  it('bad starts: one clear line, a non-zero exit, nothing overwritten', async () => {
    const entry = await serverEntry();
    const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [entry, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      proc.once('exit', (code) => resolve({ code, stderr }));
    });
    // A data dir under a regular file cannot be created.
    const base = tempDir();
    writeFileSync(join(base, 'file'), 'x');
    const unwritable = await run(['--data-dir', join(base, 'file', 'data')]);
    expect(unwritable.code).not.toBe(0);
    expect(unwritable.stderr.trim().split('\n')).toHaveLength(1);
    // A corrupt database file is left exactly as it was.
    const corrupt = tempDir();
    const junk = Buffer.from('this is not a database, but it is somebody\'s file '.repeat(100));
    writeFileSync(join(corrupt, 'canvas.db'), junk);
    const bad = await run(['--data-dir', corrupt]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(join(corrupt, 'canvas.db')).equals(junk)).toBe(true);
    // A second server on the same data dir is refused while the first runs.
    const shared = tempDir();
    const one = await start(shared);
    const two = await run(['--data-dir', shared]);
    expect(two.code).not.toBe(0);
    expect(two.stderr.trim().split('\n')).toHaveLength(1);
    expect((await fetch(`${one.url}/healthz`)).status).toBe(200); // the first one is unharmed
    // A bad flag is a usage error.
    const flag = await run(['--width', '1000']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--width must be a multiple of 64/);
  }, 30_000);
});
