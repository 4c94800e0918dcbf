/**
 * One way for every seeded fuzz test to pick its seed and say it when it fails. `FUZZ_SEED=<n>` reproduces a
 * run (the cluster fuzzer also still reads its older name, CLUSTER_SEED); without it each run draws a new
 * seed, so CI keeps exploring. A failing run prints the exact command-line variable that replays it.
 */

/** The largest seed drawn (the PRNGs take any uint32; 2^31 keeps the printed number short and positive). */
const SEED_RANGE = 2 ** 31;

/** Reads a seed from the first of `envNames` that is set; a set but malformed value is an error, not NaN. */
export function seedFromEnv(env: NodeJS.ProcessEnv, envNames: readonly string[]): number | null {
  for (const name of envNames) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    // Whole numbers from int32 (fast-check prints those, often negative) to uint32 (the PRNG's own range).
    if (!/^-?\d+$/.test(raw.trim()) || Number(raw) > 0xffff_ffff || Number(raw) < -0x8000_0000) {
      throw new Error(`${name}=${raw} is not a seed: give a whole number in -2147483648..4294967295`);
    }
    return Number(raw);
  }
  return null;
}

/** The seed for this run: from FUZZ_SEED (then any `also` names) when set, else a fresh random one. */
export function pickSeed(also: readonly string[] = []): number {
  return seedFromEnv(process.env, ['FUZZ_SEED', ...also]) ?? Math.floor(Math.random() * SEED_RANGE);
}

/**
 * Runs `body` with a picked seed (or `opts.seed`); if it throws, prints `<label> failed: FUZZ_SEED=<seed>
 * reproduces it` and rethrows the same error, so what the test asserts is unchanged.
 */
export async function withFuzzSeed<T>(
  label: string,
  body: (seed: number) => Promise<T>,
  opts: { seed?: number; also?: readonly string[]; log?: (line: string) => void } = {},
): Promise<T> {
  const seed = opts.seed ?? pickSeed(opts.also);
  try {
    return await body(seed);
  } catch (err) {
    (opts.log ?? console.error)(`${label} failed: FUZZ_SEED=${seed} reproduces it`);
    throw err;
  }
}

/**
 * fast-check parameters: FUZZ_SEED, when set, replays a property's run. fast-check itself prints the seed
 * (and the shrink path) of a failing property, which `FUZZ_SEED=<seed>` then reproduces.
 */
export function fcParams(): { seed?: number } {
  const seed = seedFromEnv(process.env, ['FUZZ_SEED']);
  return seed === null ? {} : { seed: seed | 0 };
}
