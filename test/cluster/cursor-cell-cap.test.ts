/**
 * `--cursor-cell-cap` with `--redis`: the node's cursor table (the one that also shows other nodes'
 * cursors) honours the configured cap, as a single node's does. It once fell back to the default.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';

const t = clusterResources();

describe('cursor cell cap on a cluster node', () => {
  for (const cap of [2, 11]) {
    it(`a --redis node shows at most ${cap} cursors per cell when told so`, async () => {
      expect(cap).not.toBe(DEFAULTS.cursorCellCap);
      const canvas = t.canvas('cellcap');
      const n = await t.server({ redis: REDIS_URL, canvas, width: 256, height: 256, cursorCellCap: cap });
      expect(n.cluster).not.toBeNull();
      expect(n.room.cursors.viewerCap).toBe(9 * cap);
    });
  }
});
