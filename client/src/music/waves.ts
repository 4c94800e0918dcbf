/**
 * The voices' sources, made once per context (and octave) so a note needs no filter node of its own:
 *
 * - Filtered oscillators (lead, arp, bass) are PeriodicWaves whose harmonics already carry the low-pass the
 *   voice used to put after its oscillator: harmonic k of the square or sawtooth series, times the filter's
 *   response at k·f (magnitude and phase, asked of a BiquadFilterNode that is never connected). A linear
 *   filter of a periodic wave is a periodic wave: at f itself the steady sound is that of oscillator →
 *   filter (client/README.md has the difference), only the filter's ringing at the attack is gone. One
 *   wave serves an octave of notes, made for the octave's middle (F#): a browser keeps a band-limited copy
 *   of the table per third of an octave for every PeriodicWave, so a wave per pitch would cost a page tens
 *   of MB. Within the octave the filter follows the pitch (±half an octave), as a synth's key-tracked
 *   filter does.
 * - The bell's two sine partials, 1 and 2.76 = 69/25, are harmonics 25 and 69 of f/25: one oscillator.
 * - The hat's noise is high-passed once, in the buffer (the Web Audio spec's biquad, computed here).
 *
 * Why: a render costs in proportion to the nodes alive (bench/music.bench.ts), and a filter per note was
 * one node in four or five.
 */

/** The built-in square's and sawtooth's level: the browser normalises their band-limited tables to a peak of 1. */
const BUILTIN_SCALE = 1 / 1.1789797444721672; // 1 / (2/π · Si(π)): the Gibbs peak of a unit square or sawtooth

/** A filtered voice: which series, and the low-pass (Hz, and Q in dB as a BiquadFilterNode takes it). */
interface Filtered {
  series: 'square' | 'sawtooth';
  cutoff: number;
  q: number;
}
/** Voice id → its filtered oscillator (src/music/patterns.ts VOICES). */
export const FILTERED: Readonly<Record<number, Filtered>> = Object.freeze({
  2: { series: 'square', cutoff: 2400, q: 1 },
  3: { series: 'sawtooth', cutoff: 1800, q: 1 },
  4: { series: 'sawtooth', cutoff: 500, q: 1 },
});
/** The bell's overtone, as harmonics of f / BELL_DIVISOR. */
export const BELL_DIVISOR = 25;
const BELL_PARTIALS: readonly [number, number][] = [[25, 1], [69, 0.35]];

/** Harmonics kept: past this the filters have taken them below audibility (the browser band-limits the rest anyway). */
const MAX_HARMONICS = 256;
/** A harmonic this far below the fundamental after filtering is left out (−100 dB). */
const NEGLIGIBLE = 1e-5;

const waves = new WeakMap<BaseAudioContext, Map<string, PeriodicWave>>();
const probes = new WeakMap<BaseAudioContext, BiquadFilterNode>();

function cached(ctx: BaseAudioContext, key: string, make: () => PeriodicWave): PeriodicWave {
  let m = waves.get(ctx);
  if (m === undefined) waves.set(ctx, m = new Map());
  let w = m.get(key);
  if (w === undefined) m.set(key, w = make());
  return w;
}

export function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

/** The PeriodicWave filtered voice `voice` plays MIDI note `midi` with (one per octave: see above). */
export function filteredWave(ctx: BaseAudioContext, voice: number, midi: number): PeriodicWave {
  const f = FILTERED[voice]!;
  const octave = Math.floor(midi / 12);
  return cached(ctx, `${voice}:${octave}`, () => {
    const hz = midiToHz(octave * 12 + 6);
    // Harmonics below the Nyquist limit at the band's middle (the filter has taken the rest of a lower
    // note's to nothing; the browser drops a higher note's above its own limit).
    const n = Math.max(1, Math.min(MAX_HARMONICS, Math.floor(ctx.sampleRate / 2 / hz)));
    const freqs = new Float32Array(n);
    for (let k = 1; k <= n; k++) freqs[k - 1] = k * hz;
    let probe = probes.get(ctx);
    if (probe === undefined) probes.set(ctx, probe = ctx.createBiquadFilter());
    probe.type = 'lowpass';
    probe.frequency.value = f.cutoff;
    probe.Q.value = f.q;
    const mag = new Float32Array(n);
    const phase = new Float32Array(n);
    probe.getFrequencyResponse(freqs, mag, phase);
    const real = new Float32Array(n + 1);
    const imag = new Float32Array(n + 1);
    for (let k = 1; k <= n; k++) {
      // The series (sine terms only): square 4/(πk) on odd k; sawtooth (−1)^(k+1) 2/(πk).
      const b = f.series === 'square' ? (k % 2 === 1 ? 4 / (Math.PI * k) : 0) : ((k % 2 === 1 ? 2 : -2) / (Math.PI * k));
      const g = b * mag[k - 1]! * BUILTIN_SCALE;
      if (Math.abs(g) < NEGLIGIBLE) continue;
      // b·sin(kθ) through H = |H|e^{iφ} is |H|·b·sin(kθ + φ) = |H|·b·(cos φ · sin kθ + sin φ · cos kθ).
      real[k] = g * Math.sin(phase[k - 1]!);
      imag[k] = g * Math.cos(phase[k - 1]!);
    }
    return ctx.createPeriodicWave(real, imag, { disableNormalization: true });
  });
}

/** The bell's wave (played at hz / BELL_DIVISOR). */
export function bellWave(ctx: BaseAudioContext): PeriodicWave {
  return cached(ctx, 'bell', () => {
    const n = BELL_PARTIALS[BELL_PARTIALS.length - 1]![0] + 1;
    const real = new Float32Array(n);
    const imag = new Float32Array(n);
    for (const [k, a] of BELL_PARTIALS) imag[k] = a;
    return ctx.createPeriodicWave(real, imag, { disableNormalization: true });
  });
}

/** Seeded (xorshift: offline renders repeat exactly) white noise in −1..1: into `out`, and to `each`. */
function xorshiftNoise(out: Float32Array | null, n: number, each?: (x: number, i: number) => void): void {
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    const x = ((s >>> 0) / 0xffffffff) * 2 - 1;
    if (out !== null) out[i] = x;
    each?.(x, i);
  }
}

const whiteBuffers = new WeakMap<BaseAudioContext, AudioBuffer>();
/** 0.1 s of seeded white noise (the snare's wires filter it themselves: synth-extra.ts). */
export function whiteNoise(ctx: BaseAudioContext): AudioBuffer {
  let buf = whiteBuffers.get(ctx);
  if (buf === undefined) {
    buf = ctx.createBuffer(1, Math.ceil(ctx.sampleRate * 0.1), ctx.sampleRate);
    xorshiftNoise(buf.getChannelData(0), buf.length);
    whiteBuffers.set(ctx, buf);
  }
  return buf;
}

/** The hat's high-pass, Hz (the spec's biquad with Q = 1 dB, as the voice's BiquadFilterNode had it). */
const HAT_HIGHPASS = 7000;
const noiseBuffers = new WeakMap<BaseAudioContext, AudioBuffer>();

/**
 * 0.1 s of the same seeded noise, high-passed. The filter runs over a lead-in first, so the buffer starts
 * in the filter's steady state, as the node's output did once warm.
 */
export function hatNoise(ctx: BaseAudioContext): AudioBuffer {
  let buf = noiseBuffers.get(ctx);
  if (buf !== undefined) return buf;
  const sr = ctx.sampleRate;
  const n = Math.ceil(sr * 0.1);
  const lead = Math.ceil(sr * 0.01);
  buf = ctx.createBuffer(1, n, sr);
  const d = buf.getChannelData(0);
  // Web Audio's highpass: w0 = 2π f0 / Fs, α = sin w0 / (2·10^(Q/20)).
  const w0 = (2 * Math.PI * HAT_HIGHPASS) / sr;
  const alpha = Math.sin(w0) / (2 * 10 ** (1 / 20));
  const cw = Math.cos(w0);
  const a0 = 1 + alpha;
  const b0 = (1 + cw) / 2 / a0;
  const b1 = -(1 + cw) / a0;
  const b2 = b0;
  const a1 = (-2 * cw) / a0;
  const a2 = (1 - alpha) / a0;
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  xorshiftNoise(null, lead + n, (x, i) => {
    const y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1; x1 = x; y2 = y1; y1 = y;
    if (i >= lead) d[i - lead] = y;
  });
  noiseBuffers.set(ctx, buf);
  return buf;
}
