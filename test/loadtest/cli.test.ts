import { describe, expect, it } from 'vitest';
import { BASE_OPTIONS, SCENARIOS, UsageError, isLoopbackHost, parseLoadTestArgs, type LoadTestOptions } from '../../loadtest/cli.js';

function parse(...argv: string[]): LoadTestOptions {
  const r = parseLoadTestArgs(argv);
  if ('help' in r) throw new Error('unexpected help');
  return r.options;
}

describe('parseLoadTestArgs', () => {
  it('defaults to the scrollers scenario', () => {
    const o = parse();
    expect(o).toMatchObject({ scenario: 'scrollers', clients: 1000, durationSeconds: 30, url: null, paintRate: 1, cursorRate: 10, width: 1024, height: 1024, json: null });
  });

  it('takes every documented flag', () => {
    const o = parse('--clients', '20', '--duration', '7.5', '--url', 'ws://127.0.0.1:9000/ws', '--paint-rate', '2',
      '--cursor-rate', '0', '--width', '2048', '--height', '512', '--json', '/tmp/x.json', '--workers', '3', '--ramp', '0.5',
      '--settle', '0', '--source-addresses', '40', '--zoom', '2-8', '--seed', '9');
    expect(o).toMatchObject({
      clients: 20, durationSeconds: 7.5, url: 'ws://127.0.0.1:9000/ws', paintRate: 2, cursorRate: 0, width: 2048, height: 512,
      json: '/tmp/x.json', workers: 3, rampSeconds: 0.5, settleSeconds: 0, sourceAddresses: 40, zoomMin: 2, zoomMax: 8, seed: 9,
    });
  });

  it('picks the client (lean by default), --require-valid and --rps', () => {
    expect(parse()).toMatchObject({ client: 'lean', requireValid: false, rps: false });
    expect(parse('--client', 'ws', '--require-valid', '--rps')).toMatchObject({ client: 'ws', requireValid: true, rps: true });
    expect(() => parse('--client', 'browser')).toThrow(UsageError);
    expect(() => parse('--client', 'browser')).toThrow(/lean, ws/);
  });

  it('applies a preset, and explicit flags win over it whatever their order', () => {
    const crowd = parse('--scenario', 'crowd');
    expect(crowd).toMatchObject({ scenario: 'crowd', clients: 10_000, width: 4096, height: 4096, paintRate: 1, cursorRate: 2 }); // painters paint at the canvas's own rate (DEFAULTS.paintRate)
    expect(parse('--clients', '300', '--scenario', 'crowd')).toMatchObject({ clients: 300, width: 4096, paintRate: 1 });
    expect(parse('--scenario', 'crowd', '--width', '1024')).toMatchObject({ width: 1024, height: 4096 });
  });

  it('flood paints closed-loop unless a paint rate is given', () => {
    expect(parse('--scenario', 'flood')).toMatchObject({ clients: 100, paintMode: 'flood', ...SCENARIOS.flood });
    expect(parse('--scenario', 'flood', '--paint-rate', '50')).toMatchObject({ paintMode: 'rate', paintRate: 50, clients: 100 });
  });

  it('caps workers at the client count', () => {
    expect(parse('--clients', '1', '--workers', '4').workers).toBe(1);
    expect(parse('--workers', '0').workers).toBe(0);
  });

  it('refuses bad values with a UsageError naming the flag', () => {
    const bad: string[][] = [
      ['--clients', '0'], ['--clients', '2.5'], ['--clients', 'many'], ['--clients', '1000000'],
      ['--duration', '0'], ['--width', '100'], ['--height', '-64'], ['--scenario', 'mob'], ['--zoom', '16-1'],
      ['--zoom', 'big'], ['--paint-rate', '-1'], ['--workers', '99'], ['--source-addresses', '251'], ['--json', ''],
      ['--url', 'http://127.0.0.1:1/ws'], ['--url', 'ws://example.com/ws'], ['--url', 'not a url'], ['--bogus'],
      ['--clients'], ['positional'],
    ];
    for (const argv of bad) expect(() => parseLoadTestArgs(argv), argv.join(' ')).toThrow(UsageError);
    expect(() => parseLoadTestArgs(['--width', '100'])).toThrow(/--width/);
  });

  it('keeps --url on this machine and turns localhost into 127.0.0.1 (so source addresses can be bound)', () => {
    expect(parse('--url', 'ws://localhost:8080/ws').url).toBe('ws://127.0.0.1:8080/ws');
    expect(parse('--url', 'ws://127.3.4.5:1/ws').url).toBe('ws://127.3.4.5:1/ws');
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.evil.com')).toBe(false);
  });

  it('answers --help with the usage text', () => {
    const r = parseLoadTestArgs(['--help']);
    expect('help' in r && r.help).toMatch(/--clients N/);
  });

  it('does not mutate the shared defaults', () => {
    parse('--clients', '3', '--scenario', 'flood');
    expect(BASE_OPTIONS.clients).toBe(1000);
    expect(BASE_OPTIONS.paintMode).toBe('rate');
  });

  it('takes --url several times (nodes of one canvas) and --nodes N, not both', () => {
    const o = parse('--url', 'ws://127.0.0.1:1/ws', '--url', 'ws://localhost:2/ws');
    expect(o.urls).toEqual(['ws://127.0.0.1:1/ws', 'ws://127.0.0.1:2/ws']);
    expect(o.url).toBe('ws://127.0.0.1:1/ws');
    expect(parse('--nodes', '3').nodes).toBe(3);
    expect(parse('--nodes', '2', '--redis', 'redis://127.0.0.1:7000').redis).toBe('redis://127.0.0.1:7000');
    expect(() => parseLoadTestArgs(['--nodes', '2', '--url', 'ws://127.0.0.1:1/ws'])).toThrow(UsageError);
    expect(() => parseLoadTestArgs(['--nodes', '0'])).toThrow(UsageError);
    expect(() => parseLoadTestArgs(['--url', 'ws://127.0.0.1:1/ws', '--url', 'ws://example.com/ws'])).toThrow(UsageError);
    expect(() => parseLoadTestArgs(['--redis', 'http://x'])).toThrow(UsageError);
  });
});
