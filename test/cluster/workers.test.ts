/**
 * `--workers 2 --redis …`: one command, two node processes behind one port, one canvas. Clients on the one
 * port land on both workers and all see every placement; SIGTERM stops the workers and the primary.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { ErrorCode, PROTOCOL_VERSION, encodeHello, encodePlace, encodeViewport } from '../../src/net/protocol.js';
import { decodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import { RawPeer, sleep, startChildServer, until, type ChildServer } from '../helpers/server.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';

const t = clusterResources();

function workerPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('--workers', () => {
  it('two workers behind one port serve one canvas', async () => {
    const canvas = t.canvas('workers');
    const dir = t.dir('pc-workers-');
    const c = await startChildServer(['--redis', REDIS_URL, '--canvas', canvas, '--workers', '2', '--data-dir', dir,
      '--width', '128', '--height', '128', '--paint-rate', '1000', '--paint-burst', '1000']);
    t.child(c);
    await until(() => workerPids(c.proc.pid!).length === 2, 10_000, 'two workers');
    const workers = workerPids(c.proc.pid!);
    // node:cluster hands connections round-robin to the workers that listen: keep opening clients until two
    // of them got the same client id (each worker counts from 1), which only two workers can produce.
    const list: RawPeer[] = [];
    const ids: number[] = [];
    const deadline = Date.now() + 20_000;
    while (new Set(ids).size === ids.length && Date.now() < deadline && list.length < 16) {
      const p = new RawPeer(c.wsUrl);
      t.track(p);
      await p.opened;
      p.send(encodeHello(PROTOCOL_VERSION, `w${list.length}`));
      p.send(encodeViewport(0, 0, 128, 128));
      const w = await p.waitFor((m) => m.type === 'welcome', 5000) as { clientId: number };
      list.push(p);
      ids.push(w.clientId);
      if (new Set(ids).size === ids.length) await sleep(100);
    }
    expect(new Set(ids).size).toBeLessThan(ids.length);
    for (const [i, p] of list.entries()) p.send(encodePlace(1, [{ x: i, y: i, color: 1 + (i % 20) }]));
    for (const p of list) await p.waitFor((m) => m.type === 'placeResult' && m.status === ErrorCode.OK, 5000);
    // Every client, whichever worker it is on, sees every client's pixel (in chunk (0,0)'s snapshot or its
    // deltas, whichever carried it: that depends on when the worker sent the snapshot).
    for (const p of list) {
      await until(() => {
        const pixels = new Uint8Array(4096);
        for (const m of p.messages) {
          if (m.type === 'snapshot' && m.cx === 0 && m.cy === 0) decodeSnapshotPixels(m.encoding, m.data, 0, pixels);
          if (m.type === 'delta' && m.cx === 0 && m.cy === 0) for (let k = 0; k < m.offsets.length; k++) pixels[m.offsets[k]!] = m.colors[k]!;
        }
        return list.every((_, i) => pixels[i * 64 + i] === 1 + (i % 20));
      }, 5000, 'every pixel on every client');
    }
    c.proc.kill('SIGTERM');
    const code = await new Promise((r) => c.proc.once('exit', r));
    expect(code).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});
