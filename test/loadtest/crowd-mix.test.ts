/** The crowd's roles: the --mix parser, the role draw, the stampede and crowd presets, and --sweep parsing. */
import { describe, expect, it } from 'vitest';
import { parseLoadTestArgs, type LoadTestOptions } from '../../loadtest/cli.js';
import { ALL_SCROLLERS, CROWD_MIX, ROLE_BEHAVIOUR, formatMix, parseMix, roleFor } from '../../loadtest/crowd-mix.js';
import { makeUser } from '../../loadtest/sim-user.js';
import type { FleetConfig } from '../../loadtest/fleet-types.js';

const opts = (argv: string[]): LoadTestOptions => {
  const r = parseLoadTestArgs(argv);
  if (!('options' in r)) throw new Error('help');
  return r.options;
};

describe('parseMix', () => {
  it('reads shares and keeps them when they sum to 1', () => {
    expect(parseMix('watchers=0.8,painters=0.15,scrollers=0.05')).toEqual({ watchers: 0.8, painters: 0.15, scrollers: 0.05 });
  });
  it('scales shares to sum to 1 and gives roles left out 0', () => {
    const m = parseMix(' watchers = 8 , painters=2');
    expect(m.watchers).toBeCloseTo(0.8);
    expect(m.painters).toBeCloseTo(0.2);
    expect(m.scrollers).toBe(0);
  });
  it('refuses unknown roles, repeats, negatives, all zero and junk', () => {
    expect(() => parseMix('lurkers=1')).toThrow(/unknown role "lurkers"/);
    expect(() => parseMix('watchers=1,watchers=2')).toThrow(/twice/);
    expect(() => parseMix('watchers=-1')).toThrow(/ROLE=SHARE/);
    expect(() => parseMix('watchers=0,painters=0')).toThrow(/all be 0/);
    expect(() => parseMix('watchers')).toThrow(/ROLE=SHARE/);
    expect(() => parseMix('watchers=1..2')).toThrow(/number/);
  });
  it('formats back to what it parses', () => {
    expect(parseMix(formatMix(CROWD_MIX))).toEqual(CROWD_MIX);
  });
});

describe('roleFor', () => {
  it('splits the unit interval in the order watchers, painters, scrollers', () => {
    expect(roleFor(CROWD_MIX, 0)).toBe('watcher');
    expect(roleFor(CROWD_MIX, 0.79)).toBe('watcher');
    expect(roleFor(CROWD_MIX, 0.81)).toBe('painter');
    expect(roleFor(CROWD_MIX, 0.96)).toBe('scroller');
    expect(roleFor(ALL_SCROLLERS, 0)).toBe('scroller');
  });
  it('draws about the mix over many seeded users, and the same roles for the same seed', () => {
    const cfg = { url: 'ws://127.0.0.1:1/ws', clients: 4000, seed: 7, mix: CROWD_MIX, rampMs: 0, sourceAddresses: 0, client: 'lean', zoomMin: 1, zoomMax: 2 } as FleetConfig;
    const h = { open() {}, closed() {}, snapshot() {}, delta() {}, placeResult() {}, error() {} };
    const roles = Array.from({ length: 4000 }, (_, i) => makeUser(cfg, i, i, 0, h).role);
    const share = (r: string): number => roles.filter((x) => x === r).length / roles.length;
    expect(share('watcher')).toBeGreaterThan(0.77);
    expect(share('watcher')).toBeLessThan(0.83);
    expect(share('painter')).toBeGreaterThan(0.12);
    expect(share('painter')).toBeLessThan(0.18);
    expect(Array.from({ length: 50 }, (_, i) => makeUser(cfg, i, i, 0, h).role)).toEqual(roles.slice(0, 50));
  });
  it('gives each role its documented pace', () => {
    expect(ROLE_BEHAVIOUR.watcher).toMatchObject({ panMinMs: 5000, panMaxMs: 30000, paints: false });
    expect(ROLE_BEHAVIOUR.painter).toMatchObject({ panMinMs: 1000, panMaxMs: 5000, paints: true });
    // A scroller is the user of every run before the mix: a pan every 0.2–1 s.
    expect(ROLE_BEHAVIOUR.scroller).toMatchObject({ panMinMs: 200, panMaxMs: 1000, paints: true, cursor: true });
  });
});

describe('scenarios and flags', () => {
  it('crowd is mostly watching; stampede is every user scrolling, all at once; others all scrollers', () => {
    expect(opts(['--scenario', 'crowd']).mix).toEqual(CROWD_MIX);
    const s = opts(['--scenario', 'stampede']);
    expect(s).toMatchObject({ clients: 10_000, width: 4096, rampSeconds: 0, maxConnecting: 0, mix: ALL_SCROLLERS });
    expect(opts([]).mix).toEqual(ALL_SCROLLERS);
    expect(opts([]).maxConnecting).toBe(64);
  });
  it('--mix overrides the preset, and a bad mix is a usage error', () => {
    expect(opts(['--scenario', 'crowd', '--mix', 'painters=1']).mix).toEqual({ watchers: 0, painters: 1, scrollers: 0 });
    expect(() => opts(['--mix', 'x=1'])).toThrow(/unknown role/);
  });
  it('--sweep reads client counts in order and refuses junk', () => {
    expect(opts(['--sweep', '1000, 2000,5000']).sweep).toEqual([1000, 2000, 5000]);
    expect(opts([]).sweep).toBeNull();
    expect(() => opts(['--sweep', ''])).toThrow(/--sweep/);
    expect(() => opts(['--sweep', '10,abc'])).toThrow(/--sweep/);
    expect(() => opts(['--sweep', '0'])).toThrow(/--sweep/);
  });
});
