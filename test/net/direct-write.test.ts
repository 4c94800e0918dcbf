/**
 * DirectWriter against real loopback sockets: every byte arrives, in order, whether the kernel takes a write
 * whole, in part (a full send buffer while the peer does not read), or not at all; and a write to a dead
 * peer ends in the socket's usual error/close, never an exception in the caller.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AddressInfo, type Socket, connect, createServer, type Server } from 'node:net';
import fc from 'fast-check';
import { DirectWriter } from '../../src/net/direct-write.js';

let server: Server | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
});

/** A connected pair: `writer` is the accepted (server-side) socket, `reader` the client, paused. */
async function pair(): Promise<{ writer: Socket; reader: Socket }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((s) => resolve(s));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const reader = connect((server!.address() as AddressInfo).port, '127.0.0.1');
  reader.pause();
  const writer = await accepted;
  writer.setNoDelay(true);
  sockets.push(reader, writer);
  return { writer, reader };
}

function readAll(reader: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    reader.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= bytes) resolve(Buffer.concat(chunks));
    });
    reader.on('error', reject);
    reader.resume();
  });
}

describe('DirectWriter', () => {
  it('delivers every byte in order while the peer reads nothing until the end (partial writes and a queue)', async () => {
    const { writer, reader } = await pair();
    // 16 MB with the reader paused: far more than the kernel's buffers, so later writes are partial or
    // refused and must queue behind each other in socket.write.
    const parts: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < 16 * 1024 * 1024; i++) {
      const b = Buffer.alloc(1000 + (i % 7) * 50_000, i & 0xff);
      b.writeUInt32BE(i, 0);
      parts.push(b);
      total += b.length;
    }
    const direct = new DirectWriter(writer);
    for (const b of parts) direct.write(b);
    expect(writer.writableLength).toBeGreaterThan(0); // some of it had to queue
    const got = await readAll(reader, total);
    expect(got.length).toBe(total);
    expect(got.equals(Buffer.concat(parts))).toBe(true);
  });

  it('writeFrom: a scratch buffer overwritten after every call still delivers what each call held', async () => {
    const { writer, reader } = await pair();
    const direct = new DirectWriter(writer);
    // 12 MB through one 300 KB scratch buffer with the reader paused: later calls are partial or refused,
    // so their remainders must have been copied before the buffer was reused.
    const scratch = Buffer.alloc(300_000);
    const expected: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < 12 * 1024 * 1024; i++) {
      const length = 100 + ((i * 7919) % 299_900);
      scratch.fill(i & 0xff, 0, length);
      scratch.writeUInt32BE(i, 0);
      expected.push(Buffer.from(scratch.subarray(0, length)));
      total += length;
      direct.writeFrom(scratch, length);
    }
    expect(writer.writableLength).toBeGreaterThan(0);
    const got = await readAll(reader, total);
    expect(got.equals(Buffer.concat(expected))).toBe(true);
  });

  it('interleaved with socket.write, the bytes stay in call order (property)', async () => {
    const arb = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 200_000 })), { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(arb, async (plan) => {
        const { writer, reader } = await pair();
        const direct = new DirectWriter(writer);
        const expected: Buffer[] = [];
        let total = 0;
        plan.forEach(([viaDirect, size], i) => {
          const b = Buffer.alloc(size, (i * 37) & 0xff);
          expected.push(b);
          total += size;
          if (viaDirect) direct.write(b);
          else writer.write(b);
        });
        const got = await readAll(reader, total);
        writer.destroy();
        reader.destroy();
        await new Promise<void>((r) => server!.close(() => r()));
        server = null;
        return got.equals(Buffer.concat(expected));
      }),
      { numRuns: 25 },
    );
  });

  it('a write to a peer that is gone ends in the socket closing, not a throw', async () => {
    const { writer, reader } = await pair();
    writer.on('error', () => {}); // the usual EPIPE / ECONNRESET
    const closed = new Promise<void>((r) => writer.on('close', () => r()));
    reader.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    const direct = new DirectWriter(writer);
    expect(() => {
      for (let i = 0; i < 20; i++) direct.write(Buffer.alloc(64 * 1024, 1));
    }).not.toThrow();
    await closed;
  });

  it('never writes to a descriptor its socket no longer owns (destroyed, fd reused)', async () => {
    const { writer, reader } = await pair();
    const direct = new DirectWriter(writer);
    const hello = Buffer.from('hello');
    direct.writeFrom(hello, hello.length);
    expect((await readAll(reader, 5)).toString()).toBe('hello');
    const fd = (writer as unknown as { _handle: { fd: number } })._handle.fd;
    writer.on('error', () => {}); // a write after destroy is reported there
    writer.destroy();
    // A new connection in this process: one of its two ends most likely gets the freed descriptor number.
    const client = connect((server!.address() as AddressInfo).port, '127.0.0.1');
    const accepted = await new Promise<Socket>((resolve) => server!.once('connection', resolve));
    sockets.push(client, accepted);
    const fdOf = (x: Socket) => (x as unknown as { _handle: { fd: number } })._handle.fd;
    let leaked = 0;
    for (const end of [client, accepted]) end.on('data', (c: Buffer) => { leaked += c.length; });
    const stale = Buffer.from('stale bytes');
    expect(() => direct.writeFrom(stale, stale.length)).not.toThrow();
    await new Promise((r) => setTimeout(r, 100));
    expect(leaked).toBe(0);
    // The case this test is for: the kernel handed the freed number on (it gives the lowest free one).
    expect([fdOf(client), fdOf(accepted)]).toContain(fd);
  });
});
