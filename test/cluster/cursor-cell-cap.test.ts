/**
 * `--cursor-cell-cap` with `--redis`: the node's cursor table (the one that also shows other nodes'
 * cursors) honours the configured cap, as a single node's does. It once fell back to the default.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config.js';
import { REDIS_URL, dropCanvas, uniqueCanvas } from '../helpers/redis.js';
import { testResources } from '../helpers/server.js';

const t = testResources();
const canvases: string[] = [];
afterEach(async () => {
  for (const c of canvases.splice(0)) await dropCanvas(c);
});

describe('cursor cell cap on a cluster node', () => {
  for (const cap of [2, 11]) {
    it(`a --redis node shows at most ${cap} cursors per cell when told so`, async () => {
      expect(cap).not.toBe(DEFAULTS.cursorCellCap);
      const canvas = uniqueCanvas('cellcap');
      canvases.push(canvas);
      const n = await t.server({ redis: REDIS_URL, canvas, width: 256, height: 256, cursorCellCap: cap });
      expect(n.cluster).not.toBeNull();
      expect(n.room.cursors.viewerCap).toBe(9 * cap);
    });
  }
});
