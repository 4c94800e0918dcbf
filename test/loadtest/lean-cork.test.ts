/**
 * LeanSocket.cork/uncork: frames sent in between leave in one write and arrive as the same frames in the same
 * order (the ws server unmasks and parses each); a close while corked still sends what was held, first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { LeanSocket, sendStats } from '../../loadtest/lean-socket.js';
import { until } from '../helpers/server.js';

const closers: Array<() => void> = [];
afterEach(() => { for (const c of closers.splice(0)) c(); });

async function server(): Promise<{ port: number; received: string[]; closes: number[] }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  closers.push(() => wss.close());
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const received: string[] = [];
  const closes: number[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer) => received.push(d.toString()));
    ws.on('close', (code) => closes.push(code));
  });
  return { port: (wss.address() as AddressInfo).port, received, closes };
}

describe('LeanSocket cork', () => {
  it('writes the frames of one step once, in order', async () => {
    const s = await server();
    let open = false;
    const sock = new LeanSocket({ url: `ws://127.0.0.1:${s.port}/ws` }, { open: () => { open = true; }, message() {}, close() {} });
    closers.push(() => sock.close());
    await until(() => open, 5000, 'open');
    const before = { ...sendStats };
    sock.cork();
    for (const m of ['cursor', 'viewport', 'place']) sock.send(Buffer.from(m));
    expect(sendStats.writes).toBe(before.writes); // held
    sock.uncork();
    expect(sendStats.frames - before.frames).toBe(3);
    expect(sendStats.writes - before.writes).toBe(1);
    sock.send(Buffer.from('alone'));
    expect(sendStats.writes - before.writes).toBe(2);
    await until(() => s.received.length === 4, 5000, 'four messages');
    expect(s.received).toEqual(['cursor', 'viewport', 'place', 'alone']);
  });

  it('a close while corked sends the held frames first', async () => {
    const s = await server();
    let open = false;
    const sock = new LeanSocket({ url: `ws://127.0.0.1:${s.port}/ws` }, { open: () => { open = true; }, message() {}, close() {} });
    await until(() => open, 5000, 'open');
    sock.cork();
    sock.send(Buffer.from('held'));
    sock.close(1000);
    await until(() => s.closes.length === 1, 5000, 'the close');
    expect(s.received).toEqual(['held']);
    expect(s.closes).toEqual([1000]);
  });
});
