/**
 * A paint flood from one address beside an honest painter from another: 10 connections from 127.0.0.2 send
 * 10,000 PLACEs a second (the paint bucket refuses nearly all), while a client from 127.0.0.3 places a pixel
 * every 100 ms; the sample is its PLACE → PLACE_RESULT, in wall time, against the same client with no flood.
 * The unit test (test/server/abuse.test.ts) checks the same in server ticks, which the machine's load cannot
 * move; this is the figure in milliseconds, which it can. One in-process server per run; flood and clients
 * share its event loop, as in the test.
 */
import { WebSocket } from 'ws';
import { DEFAULTS } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { PROTOCOL_VERSION, decodeServerMessages, encodeHello, encodePlace } from '../src/net/protocol.js';

const FLOOD_PER_SECOND = 10_000;

/** A socket from `localAddress` that has had its WELCOME; `onMessage` sees every later server message. */
function hello(url: string, localAddress: string, onMessage?: (m: ReturnType<typeof decodeServerMessages>[number]) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    let welcomed = false;
    ws.once('error', reject);
    ws.once('open', () => ws.send(encodeHello(PROTOCOL_VERSION, 'bench')));
    ws.on('message', (data: Buffer) => {
      if (welcomed && onMessage === undefined) return;
      for (const m of decodeServerMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) {
        if (!welcomed && m.type === 'welcome') {
          welcomed = true;
          resolve(ws);
        } else if (welcomed) onMessage?.(m);
      }
    });
  });
}

async function measure(flood: boolean, seconds: number): Promise<{ latencies: number[]; floodSent: number }> {
  const server = await startServer(
    { ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', paintRate: 200, paintBurst: 100,
      messageRate: 5000, messageBurst: 5000, maxConnectionsPerIp: 20 },
    { log: createLogger('silent') },
  );
  const flooders = flood ? await Promise.all(Array.from({ length: 10 }, () => hello(server.wsUrl, '127.0.0.2'))) : [];
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const honest = await hello(server.wsUrl, '127.0.0.3', (m) => {
    if (m.type !== 'placeResult') return;
    const t0 = sentAt.get(m.seq);
    if (t0 !== undefined) latencies.push(performance.now() - t0);
  });
  const started = performance.now();
  let seq = 0;
  // Paced by the clock, not the timer: it catches up whenever a timer fires late.
  const floodTimer = !flood ? undefined : setInterval(() => {
    const owed = Math.floor(((performance.now() - started) / 1000) * FLOOD_PER_SECOND) - seq;
    for (let k = 0; k < owed; k++) flooders[k % flooders.length]!.send(encodePlace(++seq, [{ x: 100 + (seq % 800), y: 500, color: 1 }]));
  }, 5);
  let honestSeq = 0;
  const honestTimer = setInterval(() => {
    const s = ++honestSeq;
    sentAt.set(s, performance.now());
    honest.send(encodePlace(s, [{ x: s % 64, y: 3, color: 2 + (s % 5) }]));
  }, 100);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(floodTimer);
  clearInterval(honestTimer);
  await new Promise((r) => setTimeout(r, 500)); // the last answers
  for (const ws of [...flooders, honest]) ws.terminate();
  await server.close();
  return { latencies: latencies.sort((a, b) => a - b), floodSent: seq };
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const seconds = opts.quick ? 1 : 10;
  const quiet = await measure(false, seconds);
  const flooded = await measure(true, seconds);
  const result = {
    quietP50Ms: pct(quiet.latencies, 0.5), quietP99Ms: pct(quiet.latencies, 0.99),
    floodP50Ms: pct(flooded.latencies, 0.5), floodP99Ms: pct(flooded.latencies, 0.99),
    floodPlacesPerSecond: flooded.floodSent / seconds,
  };
  console.log(`\nhonest PLACE → PLACE_RESULT (ms), ${flooded.latencies.length} samples each; flood ${Math.round(result.floodPlacesPerSecond)} places/s from another address`);
  console.log('  beside                 p50      p99');
  console.log(`  nothing         ${result.quietP50Ms.toFixed(2).padStart(8)} ${result.quietP99Ms.toFixed(2).padStart(8)}`);
  console.log(`  refused flood   ${result.floodP50Ms.toFixed(2).padStart(8)} ${result.floodP99Ms.toFixed(2).padStart(8)}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ quick: process.argv.includes('--quick') });
