/**
 * The mix every note plays into, built once per AudioContext (or OfflineAudioContext render):
 *
 *   note (mono) → pan[b][p] → bucket[b] ─┬───────────────────→ unscale → limiter → makeup → out
 *                                         └→ send[b] → reverb ──↗
 *
 * A note is placed by the StereoPanner of its distance bucket and its pan rounded to PAN_STEP, shared by
 * every note there (made on first use), not by a panner of its own: a render costs in proportion to the
 * nodes alive (bench/music.bench.ts), and a note is two nodes (source, envelope) instead of three. The
 * rounding moves a sound by at most PAN_STEP / 2, a change in the level difference between the ears well
 * under what one can tell apart (client/README.md has the figure).
 * Bucket 0 (near) is a plain junction; the farther ones are a shared low-pass each. One ConvolverNode with a
 * generated impulse response serves every bucket through its send; the sends rise as the view zooms out
 * (./space.ts has the figures). Envelopes run ENV_SCALE too loud (./synth.ts says why); `unscale` takes
 * that back out before the limiter, which must see true levels.
 *
 * The limiter is a DynamicsCompressorNode set hard (ratio 20, no knee, fastest attack) with the make-up
 * gain it applies by itself taken back out, so below its threshold the mix passes at unity and above it
 * peaks are held under LIMITER.ceilingDb. It looks ahead: its output is delayed by a fixed number of frames
 * (`latency`), which callers take off every start time, so what is heard still starts on the beat grid.
 * Everything here is linear apart from the limiter's gain: no input, digital zero out.
 */
import { SPACE, bucketOf, impulseResponse, sendLevel } from './space.js';
import { ENV_SCALE } from './synth.js';

export const LIMITER = Object.freeze({
  /** Above this the limiter holds peaks; below it the mix passes at unity (a crowd under the voice cap stays below it: client/README.md). */
  thresholdDb: -3,
  ratio: 20,
  /** The output stays under this, peak, dBFS (test/browser/music-space.test.ts holds it to that). */
  ceilingDb: -1,
  releaseS: 0.12,
  /** DynamicsCompressorNode's fixed look-ahead (6 ms in Chromium, WebKit and Gecko alike), taken in whole frames. */
  lookaheadS: 0.006,
  /**
   * A new DynamicsCompressorNode's gain starts low and rises to unity over its first moments of running,
   * silence included (client/README.md): offline renders run this long before their first note (live, only
   * what plays in the first moments after a page's first Play fades in).
   */
  settleS: 0.2,
});

/**
 * The make-up gain a DynamicsCompressorNode applies by itself (Web Audio spec: the full-range gain's
 * inverse to the power 0.6), for a hard knee: undone, so quiet passages are not raised by the limiter.
 */
export function compressorMakeup(thresholdDb: number, ratio: number): number {
  const fullRangeDb = thresholdDb * (1 - 1 / ratio); // what 0 dBFS comes out at
  return 10 ** ((-fullRangeDb * 0.6) / 20);
}

/** Pans are rounded to this (−1 .. 1 in 2 / PAN_STEP steps). */
export const PAN_STEP = 0.05;
/** Pan steps each side of the centre. */
const PAN_SIDE = Math.round(1 / PAN_STEP);

export interface MixOptions {
  /** Distance buckets and reverb (default true); off: every note only panned. */
  space?: boolean;
  /** The master limiter (default true); off: the sum goes out as it is (for tests that show what it holds). */
  limiter?: boolean;
  /** Raises the mix by this many dB before the limiter (default 0): tests drive it past full scale with it. */
  driveDb?: number;
}

export class MixBus {
  /** What the mix sends on: connect it to the master gain (or a render's destination). */
  readonly out: GainNode;
  /** Seconds (whole frames) between a note's start and when it is heard: take it off start times. */
  readonly latency: number;
  private readonly buckets: AudioNode[] = [];
  private readonly sends: GainNode[] = [];
  /** The panners, by bucket × (2·PAN_SIDE + 1) + PAN_SIDE + pan step. */
  private readonly panners = new Map<number, StereoPannerNode>();
  private zoom = Number.NaN;

  constructor(private readonly ctx: BaseAudioContext, opts: MixOptions = {}) {
    this.out = ctx.createGain();
    const unscale = ctx.createGain();
    unscale.gain.value = 10 ** ((opts.driveDb ?? 0) / 20) / ENV_SCALE;
    if (opts.limiter !== false) {
      const limiter = ctx.createDynamicsCompressor();
      limiter.threshold.value = LIMITER.thresholdDb;
      limiter.knee.value = 0;
      limiter.ratio.value = LIMITER.ratio;
      limiter.attack.value = 0;
      limiter.release.value = LIMITER.releaseS;
      this.out.gain.value = 1 / compressorMakeup(LIMITER.thresholdDb, LIMITER.ratio);
      unscale.connect(limiter).connect(this.out);
    } else {
      unscale.connect(this.out);
    }
    this.latency = MixBus.latencyFor(ctx.sampleRate, opts);
    if (opts.space === false) {
      this.buckets.push(unscale);
      return;
    }
    const reverb = ctx.createConvolver();
    reverb.normalize = false;
    // One channel in (the sends summed to mono), two out with decorrelated responses: the reverb of a
    // note on the left fills both sides, as a room's would.
    reverb.channelCount = 1;
    reverb.channelCountMode = 'explicit';
    const [l, r] = impulseResponse(ctx.sampleRate);
    const ir = ctx.createBuffer(2, l.length, ctx.sampleRate);
    ir.getChannelData(0).set(l);
    ir.getChannelData(1).set(r);
    reverb.buffer = ir;
    reverb.connect(unscale);
    for (let b = 0; b <= SPACE.edges.length; b++) {
      const cutoff = SPACE.cutoffHz[b] ?? 0;
      let input: AudioNode;
      if (cutoff > 0) {
        const f = ctx.createBiquadFilter();
        f.type = 'lowpass';
        f.frequency.value = cutoff;
        f.Q.value = -3.0103; // dB: Butterworth (1/√2), a plain roll-off with no bump at the cutoff
        input = f;
      } else {
        input = ctx.createGain();
      }
      input.connect(unscale);
      const send = ctx.createGain();
      send.gain.value = sendLevel(b, Number.POSITIVE_INFINITY);
      input.connect(send).connect(reverb);
      this.buckets.push(input);
      this.sends.push(send);
    }
  }

  /** The latency of a mix with `opts` at `sampleRate`, s (whole frames), before one is built. */
  static latencyFor(sampleRate: number, opts: MixOptions = {}): number {
    return opts.limiter === false ? 0 : Math.floor(LIMITER.lookaheadS * sampleRate) / sampleRate;
  }

  /** The node a (mono) note at distance `dist` (view half-diagonals) and pan `pan` (−1 .. 1) connects to. */
  input(dist: number, pan: number): AudioNode {
    const b = Math.min(this.buckets.length - 1, bucketOf(dist));
    const step = Math.round(Math.max(-1, Math.min(1, pan)) * PAN_SIDE);
    const key = b * (2 * PAN_SIDE + 1) + PAN_SIDE + step;
    let p = this.panners.get(key);
    if (p === undefined) {
      p = this.ctx.createStereoPanner();
      p.pan.value = step / PAN_SIDE;
      p.connect(this.buckets[b]!);
      this.panners.set(key, p);
    }
    return p;
  }

  /** The sends for a view at `zoom` (CSS px per cell), glided from audio time `at` (at once the first time). */
  setZoom(zoom: number, at: number): void {
    if (zoom === this.zoom) return;
    const first = Number.isNaN(this.zoom);
    this.zoom = zoom;
    this.sends.forEach((send, b) => {
      const level = sendLevel(b, zoom);
      if (first) {
        send.gain.value = level;
      } else {
        send.gain.cancelScheduledValues(at);
        send.gain.setTargetAtTime(level, at, SPACE.sendGlide);
      }
    });
  }
}
