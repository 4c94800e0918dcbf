/**
 * A lone pixel on an idle server: place → visible latency with the eager tick (an idle server flushes at
 * once) against the plain fixed cadence (the pixel waits for the next tick boundary). One in-process
 * server each, one client, pixels placed at random moments so they land at random phases of the tick.
 */
import { WebSocket } from 'ws';
import { DEFAULTS } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { PROTOCOL_VERSION, decodeServerMessages, encodeHello, encodePlace, encodeViewport } from '../src/net/protocol.js';

async function measure(eagerTick: boolean, samples: number): Promise<number[]> {
  const server = await startServer(
    { ...DEFAULTS, port: 0, inMemory: true, logLevel: 'silent', eagerTick, paintRate: 1e6, paintBurst: 1e6 },
    { log: createLogger('silent') },
  );
  const ws = new WebSocket(server.wsUrl, { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  let waiting: { x: number; t0: number; resolve: (ms: number) => void } | null = null;
  ws.on('message', (data: Buffer) => {
    if (!waiting) return;
    for (const m of decodeServerMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) {
      if (m.type === 'delta' && m.cx === waiting.x >> 6 && m.cy === 0) {
        const w = waiting;
        waiting = null;
        w.resolve(performance.now() - w.t0);
        return;
      }
    }
  });
  ws.send(encodeHello(PROTOCOL_VERSION, 'bench'));
  ws.send(encodeViewport(0, 0, 1024, 64));
  await new Promise((r) => setTimeout(r, 100));
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30)); // idle in between, random phase
    const x = (i * 7) % 1024;
    out.push(await new Promise<number>((resolve) => {
      waiting = { x, t0: performance.now(), resolve };
      ws.send(encodePlace(i + 1, [{ x, y: 1, color: 1 + (i % 30) }]));
    }));
  }
  ws.close();
  await server.close();
  return out.sort((a, b) => a - b);
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))]!;

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const samples = opts.quick ? 20 : 200;
  const eager = await measure(true, samples);
  const fixed = await measure(false, samples);
  const result = {
    eagerP50Ms: pct(eager, 0.5), eagerP99Ms: pct(eager, 0.99),
    fixedP50Ms: pct(fixed, 0.5), fixedP99Ms: pct(fixed, 0.99),
  };
  console.log('\nlone pixel on an idle server, place → visible (ms)');
  console.log('  mode                 p50      p99');
  console.log(`  eager tick      ${result.eagerP50Ms.toFixed(2).padStart(8)} ${result.eagerP99Ms.toFixed(2).padStart(8)}`);
  console.log(`  fixed 60 Hz     ${result.fixedP50Ms.toFixed(2).padStart(8)} ${result.fixedP99Ms.toFixed(2).padStart(8)}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ quick: process.argv.includes('--quick') });
