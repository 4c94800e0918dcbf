/**
 * An independent tap on what a page plays: an init script (installed before the page's own code) that puts
 * an AudioWorklet between every AudioContext's destination and whatever the page connects to it. The
 * worklet runs on the audio thread, so a stalled main thread does not stop the recording; it records, per
 * sample frame, the larger absolute value of the two channels (and the two channels themselves) and posts
 * them in blocks with their frame numbers. The page's own hooks play no part: what is recorded is what
 * reached the destination.
 */
import type { Page } from 'playwright-core';

/** What the tap exposes as `window.__tap`. */
export interface TapWindow {
  __tap?: {
    ready: boolean;
    sampleRate: number;
    /** The page's (last) AudioContext's currentTime, seconds. */
    now(): number;
    /** Onsets (context seconds) at or after `from`: a frame above `threshold` after `gapMs` at or below it. */
    onsets(from: number, threshold: number, gapMs: number): number[];
    /** Peak level (dB full scale) in [t, t + ms) for each t. */
    peaksDb(times: number[], ms: number): number[];
    /** RMS level (dB full scale, of the louder channel's magnitude) in [t, t + ms) for each t. */
    rmsDb(times: number[], ms: number): number[];
    /** Frames recorded so far. */
    frames(): number;
    /** The two channels as recorded in [t, t + ms), context seconds. */
    raw(t: number, ms: number): { l: number[]; r: number[] };
  };
}

/** The init script: a function body run in the page before any of its scripts. */
export function installTap(): void {
  const w = window as unknown as TapWindow & { AudioContext: typeof AudioContext };
  const Native = w.AudioContext;
  const blocks: { start: number; data: Float32Array; l: Float32Array; r: Float32Array }[] = [];
  let last: AudioContext | null = null;
  const code = `class Tap extends AudioWorkletProcessor {
    constructor() { super(); this.fresh(); }
    fresh() { this.buf = new Float32Array(2048); this.l = new Float32Array(2048); this.r = new Float32Array(2048); this.n = 0; this.start = -1; }
    process(inputs, outputs) {
      const i = inputs[0] || [];
      const o = outputs[0];
      const L = i[0], R = i[1] || i[0];
      for (let c = 0; c < o.length; c++) { const src = i[c] || L; if (src) o[c].set(src); }
      if (this.start < 0) this.start = currentFrame;
      if (L) { this.l.set(L, this.n); this.r.set(R, this.n); }
      for (let k = 0; k < 128; k++) this.buf[this.n++] = L ? Math.max(Math.abs(L[k]), Math.abs(R[k])) : 0;
      if (this.n === this.buf.length) {
        this.port.postMessage({ start: this.start, data: this.buf, l: this.l, r: this.r }, [this.buf.buffer, this.l.buffer, this.r.buffer]);
        this.fresh();
      }
      return true;
    }
  }
  registerProcessor('independent-tap', Tap);`;
  const url = URL.createObjectURL(new Blob([code], { type: 'application/javascript' }));
  const inlets = new WeakMap<BaseAudioContext, GainNode>();
  const connect = AudioNode.prototype.connect as (this: AudioNode, dest: AudioNode | AudioParam, ...rest: number[]) => AudioNode;
  AudioNode.prototype.connect = function (this: AudioNode, dest: AudioNode | AudioParam, ...rest: number[]) {
    const inlet = dest instanceof AudioDestinationNode ? inlets.get(dest.context) : undefined;
    if (inlet !== undefined && inlet !== this) return connect.call(this, inlet, ...rest);
    return connect.call(this, dest, ...rest);
  } as typeof AudioNode.prototype.connect;
  const state = {
    ready: false,
    sampleRate: 0,
    now: () => last?.currentTime ?? 0,
    frames: () => blocks.reduce((n, b) => n + b.data.length, 0),
    /** One Float32Array of the recording and its first frame (blocks are contiguous once the tap runs). */
    flat(): { start: number; data: Float32Array } {
      const data = new Float32Array(this.frames());
      let o = 0;
      for (const b of blocks) { data.set(b.data, o); o += b.data.length; }
      return { start: blocks[0]?.start ?? 0, data };
    },
    onsets(from: number, threshold: number, gapMs: number): number[] {
      const { start, data } = state.flat();
      const gap = Math.round((gapMs / 1000) * state.sampleRate);
      const out: number[] = [];
      let quiet = gap;
      for (let i = 0; i < data.length; i++) {
        if (data[i]! > threshold) {
          const t = (start + i) / state.sampleRate;
          if (quiet >= gap && t >= from) out.push(t);
          quiet = 0;
        } else quiet++;
      }
      return out;
    },
    raw(t: number, ms: number): { l: number[]; r: number[] } {
      const first = blocks[0]?.start ?? 0;
      const i0 = Math.round(t * state.sampleRate) - first;
      const n = Math.round((ms / 1000) * state.sampleRate);
      const l: number[] = [];
      const r: number[] = [];
      let o = 0;
      for (const b of blocks) {
        for (let k = 0; k < b.data.length; k++, o++) {
          if (o >= i0 && o < i0 + n) { l.push(b.l[k]!); r.push(b.r[k]!); }
        }
      }
      return { l, r };
    },
    peaksDb(times: number[], ms: number): number[] {
      const { start, data } = state.flat();
      return times.map((t) => {
        const i0 = Math.round(t * state.sampleRate) - start;
        const n = Math.round((ms / 1000) * state.sampleRate);
        let peak = 0;
        for (let i = Math.max(0, i0); i < Math.min(data.length, i0 + n); i++) peak = Math.max(peak, data[i]!);
        return 20 * Math.log10(peak);
      });
    },
    rmsDb(times: number[], ms: number): number[] {
      const { start, data } = state.flat();
      return times.map((t) => {
        const i0 = Math.round(t * state.sampleRate) - start;
        const n = Math.round((ms / 1000) * state.sampleRate);
        let sum = 0;
        for (let i = Math.max(0, i0); i < Math.min(data.length, i0 + n); i++) sum += data[i]! * data[i]!;
        return 10 * Math.log10(sum / n);
      });
    },
  };
  w.__tap = state;
  w.AudioContext = class extends Native {
    constructor(opts?: AudioContextOptions) {
      super(opts);
      last = this;
      const inlet = new GainNode(this);
      inlets.set(this, inlet);
      connect.call(inlet, this.destination); // passes through until the worklet is loaded
      void this.audioWorklet.addModule(url).then(() => {
        const tap = new AudioWorkletNode(this, 'independent-tap', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2] });
        tap.port.onmessage = (e: MessageEvent<{ start: number; data: Float32Array; l: Float32Array; r: Float32Array }>) => blocks.push(e.data);
        inlet.disconnect();
        connect.call(inlet, tap);
        connect.call(tap, this.destination);
        state.sampleRate = this.sampleRate;
        state.ready = true;
      });
    }
  };
}

export async function waitTap(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as TapWindow).__tap?.ready === true, undefined, { timeout: 5000, polling: 20 });
}
