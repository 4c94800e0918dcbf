/**
 * docs/protocol.md is a contract for outsiders: its example bot, run verbatim against a live server, must
 * decode the snapshots the server really sends (RLE for painted chunks) and keep an exact copy of its chunk.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { PROTOCOL_VERSION, encodeHello, encodePlace, encodeViewport, type Snapshot } from '../../src/net/protocol.js';
import { SnapshotEncoding } from '../../src/net/protocol.js';
import { RawPeer, testResources, until } from '../helpers/server.js';
import { prng } from '../../bench/prng.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const t = testResources();

function botSource(): string {
  const doc = readFileSync(`${root}docs/protocol.md`, 'utf8');
  const section = doc.slice(doc.indexOf('## Minimal bot in Node'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no js block in the bot section');
  return m[1]!;
}

describe('the example bot in docs/protocol.md', () => {
  it('keeps an exact copy of a painted chunk (RLE snapshot, then deltas, its own pixels included)', async () => {
    const s = await t.server({ paintRate: 1e6, paintBurst: 1e6 });
    // Paint chunk (0,0) so that its snapshot is RLE.
    const painter = t.track(new RawPeer(s.wsUrl));
    await painter.opened;
    painter.send(encodeHello(PROTOCOL_VERSION, 'painter'));
    painter.send(encodeViewport(0, 0, 64, 64));
    const rnd = prng(11);
    for (let seq = 1; seq <= 10; seq++) {
      painter.send(encodePlace(seq, Array.from({ length: 40 }, () => ({ x: Math.floor(rnd() * 64), y: Math.floor(rnd() * 64), color: Math.floor(rnd() * 16) }))));
    }
    await until(() => painter.messages.filter((m) => m.type === 'placeResult').length === 10, 3000, 'painting');
    const snap = painter.messages.find((m): m is Snapshot => m.type === 'snapshot');
    expect(snap).toBeDefined();

    const dir = `${root}node_modules/.cache/pixel-canvas-test`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/doc-bot-${process.pid}.mjs`;
    writeFileSync(file, botSource());
    const bot = spawn(process.execPath, [file], { env: { ...process.env, CANVAS_URL: s.wsUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    bot.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    bot.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      const matches = () => {
        const lines = out.trim().split('\n').filter((l) => l.startsWith('chunk 0,0 '));
        const last = lines.at(-1);
        if (!last) return false;
        const [, , v, b64] = last.split(' ');
        const expected = s.store.chunkPixels(0, 0) ?? new Uint8Array(CHUNK_AREA).fill(s.store.background);
        return v === `v${s.store.version(0, 0)}` && Buffer.from(b64!, 'base64').equals(Buffer.from(expected));
      };
      await until(matches, 5000, `the bot's copy to match (stderr: ${err})`);
      const before = s.store.version(0, 0);
      // The bot places a pixel a second inside its chunk: its copy follows the deltas.
      await until(() => s.store.version(0, 0) > before + 1, 5000, 'the bot to paint twice');
      await until(matches, 5000, `the bot's copy to follow the deltas (stderr: ${err})`);
      expect(out).not.toMatch(/refused/);
      expect(err).toBe('');
    } finally {
      bot.kill('SIGKILL');
    }
  }, 30_000);

  it('the painted chunk really is sent RLE (so the test above exercises the RLE decoder)', async () => {
    const s = await t.server({ paintRate: 1e6, paintBurst: 1e6 });
    const p = t.track(new RawPeer(s.wsUrl));
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, 'p'));
    p.send(encodePlace(1, Array.from({ length: 40 }, (_, i) => ({ x: i, y: i, color: 1 + (i % 15) }))));
    await p.waitFor((m) => m.type === 'placeResult');
    p.send(encodeViewport(0, 0, 64, 64));
    const snap = await p.waitFor((m): m is Snapshot => m.type === 'snapshot');
    expect(snap.encoding).toBe(SnapshotEncoding.RLE);
  });
});
