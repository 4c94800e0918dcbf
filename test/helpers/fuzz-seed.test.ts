/** The seed helper the fuzzers share: an env seed is read exactly, a bad one is refused, a failure names its seed. */
import { describe, expect, it } from 'vitest';
import { fcParams, seedFromEnv, withFuzzSeed } from './fuzz-seed.js';

describe('fuzz seed', () => {
  it('reads the first set name, refuses a malformed seed, and is null when none is set', () => {
    expect(seedFromEnv({ FUZZ_SEED: '42', CLUSTER_SEED: '7' }, ['FUZZ_SEED', 'CLUSTER_SEED'])).toBe(42);
    expect(seedFromEnv({ CLUSTER_SEED: '7' }, ['FUZZ_SEED', 'CLUSTER_SEED'])).toBe(7);
    expect(seedFromEnv({ FUZZ_SEED: '' }, ['FUZZ_SEED'])).toBeNull();
    expect(seedFromEnv({}, ['FUZZ_SEED'])).toBeNull();
    expect(seedFromEnv({ FUZZ_SEED: '4294967295' }, ['FUZZ_SEED'])).toBe(4294967295);
    expect(seedFromEnv({ FUZZ_SEED: '-2147483648' }, ['FUZZ_SEED'])).toBe(-2147483648);
    for (const bad of ['abc', '-2147483649', '1.5', '4294967296', '12x', '--1']) {
      expect(() => seedFromEnv({ FUZZ_SEED: bad }, ['FUZZ_SEED']), bad).toThrow(/not a seed/);
    }
  });

  it('passes the seed to the body and, when it fails, prints the seed and rethrows the same error', async () => {
    const lines: string[] = [];
    const log = (l: string) => { lines.push(l); };
    expect(await withFuzzSeed('x fuzz', async (s) => s * 2, { seed: 21, log })).toBe(42);
    expect(lines).toEqual([]);
    const boom = new Error('differs');
    await expect(withFuzzSeed('x fuzz', async () => { throw boom; }, { seed: 99, log })).rejects.toBe(boom);
    expect(lines).toEqual(['x fuzz failed: FUZZ_SEED=99 reproduces it']);
  });

  it('without a given seed, draws one in 0..2^31 when FUZZ_SEED is unset, and uses FUZZ_SEED when set', async () => {
    const saved = process.env.FUZZ_SEED;
    try {
      delete process.env.FUZZ_SEED;
      const drawn = await withFuzzSeed('x', async (s) => s);
      expect(Number.isInteger(drawn) && drawn >= 0 && drawn < 2 ** 31).toBe(true);
      process.env.FUZZ_SEED = '1234';
      expect(await withFuzzSeed('x', async (s) => s)).toBe(1234);
    } finally {
      if (saved === undefined) delete process.env.FUZZ_SEED; else process.env.FUZZ_SEED = saved;
    }
  });

  it('fcParams replays a seed fast-check printed, negative ones included', () => {
    const saved = process.env.FUZZ_SEED;
    try {
      delete process.env.FUZZ_SEED;
      expect(fcParams()).toEqual({});
      process.env.FUZZ_SEED = '-182243531';
      expect(fcParams()).toEqual({ seed: -182243531 });
      process.env.FUZZ_SEED = '77';
      expect(fcParams()).toEqual({ seed: 77 });
      process.env.FUZZ_SEED = 'x';
      expect(() => fcParams()).toThrow(/not a seed/);
    } finally {
      if (saved === undefined) delete process.env.FUZZ_SEED; else process.env.FUZZ_SEED = saved;
    }
  });
});
