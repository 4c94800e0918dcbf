/**
 * The shared test resources (servers, peers, clients: testResources) plus what the cluster tests open besides:
 * canvases in the machine's Redis, data directories, private redis-servers and child server processes.
 */
import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testResources, type ChildServer } from '../helpers/server.js';
import { dropCanvas, uniqueCanvas, type OwnRedis } from '../helpers/redis.js';

export function clusterResources() {
  const children: ChildServer[] = [];
  const redises: OwnRedis[] = [];
  const canvases: string[] = [];
  const dirs: string[] = [];
  // Registered before testResources' hook: after-each hooks run last registered first, so this one runs once
  // every server is closed (nothing writes to a canvas or a data directory any more when they are removed).
  afterEach(async () => {
    for (const c of children.splice(0)) c.proc.kill('SIGKILL');
    for (const r of redises.splice(0)) await r.stop();
    for (const c of canvases.splice(0)) await dropCanvas(c);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const t = testResources();
  return {
    ...t,
    /** A canvas name of its own in the machine's Redis; its keys are dropped after the test. */
    canvas(tag: string): string {
      const c = uniqueCanvas(tag);
      canvases.push(c);
      return c;
    },
    /** A new temporary directory, removed after the test. */
    dir(prefix = 'pc-cluster-'): string {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    redis<R extends OwnRedis>(r: R): R {
      redises.push(r);
      return r;
    },
    child(c: ChildServer): ChildServer {
      children.push(c);
      return c;
    },
  };
}
