/**
 * The floor under every fan-out figure: what ONE socket write costs on this machine. N loopback TCP
 * connections in a child process of their own (the readers, so their CPU is not ours); this process writes
 * one small buffer to each connection per 60 Hz round, as the tick does, and reports the time the writes
 * took and this process's CPU (user + system, from process.cpuUsage) per write, for Node's `socket.write` and
 * for a `DirectWriter` (src/net/direct-write.ts: one write(2) on the descriptor, what the tick uses). On
 * loopback the sender's
 * system call also runs the receiving side's TCP processing, so this is the cost of a write that a server
 * on this machine cannot avoid: multiplied by the writes per second a scenario needs, it says how much of
 * a core the writes alone take.
 *
 *   npm run bench -- --only write-floor        (1000 connections, 200-byte writes, 120 rounds)
 */
import { fork } from 'node:child_process';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DirectWriter } from '../src/net/direct-write.js';

const READER = '--write-floor-reader';

export interface WriteFloor { method: WriteMethod; connections: number; bytes: number; writes: number; usPerWrite: number; cpuUsPerWrite: number; systemUsPerWrite: number }

/**
 * `socket.write` of a fresh buffer (Node's stream path); a `DirectWriter` per socket (one write(2) on the
 * descriptor; src/net/direct-write.ts) writing a fresh buffer (`write`), or one reused buffer (`writeFrom`:
 * what the tick does, its frames are built in one scratch buffer, so nothing is allocated per write).
 */
type WriteMethod = 'socket.write' | 'DirectWriter.write' | 'DirectWriter.writeFrom';

async function measure(method: WriteMethod, connections: number, bytes: number, rounds: number): Promise<WriteFloor> {
  const server = createServer();
  const accepted: Socket[] = [];
  server.on('connection', (s) => { s.setNoDelay(true); accepted.push(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const reader = fork(fileURLToPath(import.meta.url), [READER, String(port), String(connections)], { stdio: 'inherit' });
  try {
    const deadline = performance.now() + 30_000;
    while (accepted.length < connections && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (accepted.length < connections) throw new Error(`only ${accepted.length} of ${connections} connections`);
    const writers = accepted.map((s) => new DirectWriter(s));
    const payload = Buffer.alloc(bytes, 0x42);
    let wallMs = 0;
    let writes = 0;
    let cpu = { user: 0, system: 0 };
    for (let round = 0; round < rounds; round++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      // A fresh buffer per write, as the tick frames one per client.
      if (method === 'DirectWriter.write') for (const w of writers) w.write(Buffer.from(payload));
      else if (method === 'DirectWriter.writeFrom') for (const w of writers) w.writeFrom(payload, payload.length);
      else for (const s of accepted) s.write(Buffer.from(payload));
      wallMs += performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (round >= rounds / 4) { // the first quarter warms up
        cpu = { user: cpu.user + c.user, system: cpu.system + c.system };
        writes += accepted.length;
      } else wallMs = 0;
      await new Promise((r) => setTimeout(r, 1000 / 60));
    }
    return { method, connections, bytes, writes, usPerWrite: (wallMs * 1000) / writes, cpuUsPerWrite: (cpu.user + cpu.system) / writes, systemUsPerWrite: cpu.system / writes };
  } finally {
    reader.kill();
    for (const s of accepted) s.destroy();
    server.close();
  }
}

export async function run(opts: { quick?: boolean } = {}): Promise<WriteFloor[]> {
  // The write paths, alternated (A B C A B C) so a change in the machine's load shows as a spread, not a bias.
  const once: WriteMethod[] = ['socket.write', 'DirectWriter.write', 'DirectWriter.writeFrom'];
  const methods: WriteMethod[] = opts.quick ? once : [...once, ...once];
  const results: WriteFloor[] = [];
  for (const method of methods) {
    const r = opts.quick ? await measure(method, 50, 200, 20) : await measure(method, 1000, 200, 120);
    results.push(r);
    console.log(`${r.method.padEnd(22)}: one ${r.bytes}-byte write to each of ${r.connections} loopback connections per round: ${r.usPerWrite.toFixed(2)} µs of wall time per write, ` +
      `${r.cpuUsPerWrite.toFixed(2)} µs of CPU (${r.systemUsPerWrite.toFixed(2)} µs system) over ${r.writes} writes; ` +
      `so 1000 clients × 60 writes/s cost ${((r.cpuUsPerWrite * 60_000) / 1e4).toFixed(0)} % of a core in writes alone`);
  }
  return results;
}

if (process.argv[2] === READER) {
  // The readers: N connections that read and drop everything.
  const port = Number(process.argv[3]);
  const n = Number(process.argv[4]);
  for (let i = 0; i < n; i++) connect(port, '127.0.0.1').on('data', () => {}).on('error', () => {});
}
