/**
 * The synth voices: one note = a few short-lived Web Audio nodes (source → [filter] → envelope gain →
 * StereoPanner → out), started at an exact AudioContext time. Works on an AudioContext and an
 * OfflineAudioContext alike. Voice ids are src/music/patterns.ts VOICES.
 */
import type { Note } from '../../../src/music/scheduler.js';

/** Per-voice level, so a square lead and a sine pad sound about as loud at the same note gain. */
const VOICE_LEVEL = [1, 1, 0.35, 0.3, 0.7, 1.2, 0.5, 0.6];
/** Longest a note of each voice rings, seconds (the gate is the shorter of this and the step). */
const VOICE_MAX = [0.9, 0.35, 0.5, 0.5, 0.5, 0.3, 0.05, 1.2];
const ATTACK = 0.004;
const FLOOR = 0.0001;

export function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

const noiseBuffers = new WeakMap<BaseAudioContext, AudioBuffer>();
function noise(ctx: BaseAudioContext): AudioBuffer {
  let b = noiseBuffers.get(ctx);
  if (b === undefined) {
    b = ctx.createBuffer(1, Math.ceil(ctx.sampleRate * 0.1), ctx.sampleRate);
    const d = b.getChannelData(0);
    // Seeded (xorshift), so offline renders repeat exactly.
    let s = 0x9e3779b9;
    for (let i = 0; i < d.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      d[i] = ((s >>> 0) / 0xffffffff) * 2 - 1;
    }
    noiseBuffers.set(ctx, b);
  }
  return b;
}

function osc(ctx: BaseAudioContext, type: OscillatorType, hz: number, when: number, end: number): OscillatorNode {
  const o = ctx.createOscillator();
  o.type = type;
  o.frequency.setValueAtTime(hz, when);
  o.start(when);
  o.stop(end);
  return o;
}

function lowpass(ctx: BaseAudioContext, hz: number): BiquadFilterNode {
  const f = ctx.createBiquadFilter();
  f.type = 'lowpass';
  f.frequency.value = hz;
  return f;
}

/** A scheduled note: when its nodes stop, and the node that joins it to the output (disconnect it to cancel). */
export interface PlayedNote {
  end: number;
  outlet: AudioNode;
}

/** Schedules one note at AudioContext time `when` (seconds) into `out`. */
export function playNote(ctx: BaseAudioContext, out: AudioNode, note: Pick<Note, 'voice' | 'midi' | 'pan' | 'gain' | 'duration'>, at: number): PlayedNote {
  // On a whole sample frame: a buffer source started between two frames is interpolated by the browser
  // (Chromium), which dulls a hat by up to ~4 dB depending on the fraction, so its level drifts from loop to
  // loop. The envelope starts on the same frame; half a frame (≤ 11 µs) is far below any timing one hears.
  const when = Math.round(at * ctx.sampleRate) / ctx.sampleRate;
  const v = note.voice < VOICE_LEVEL.length ? note.voice : 0;
  const len = Math.max(0.02, Math.min(VOICE_MAX[v]!, note.duration / 1000));
  const end = when + len + 0.01;
  const peak = Math.max(FLOOR * 2, note.gain * VOICE_LEVEL[v]!);
  const env = ctx.createGain();
  // Silent until its first event: a source can start a frame before the event at the same time takes
  // effect (the two round `when` to frames separately), and one frame at the default gain of 1 is a click.
  env.gain.value = 0;
  env.gain.setValueAtTime(0, when);
  env.gain.linearRampToValueAtTime(peak, when + ATTACK);
  env.gain.exponentialRampToValueAtTime(FLOOR, when + len);
  env.gain.setValueAtTime(0, when + len);
  const pan = ctx.createStereoPanner();
  pan.pan.setValueAtTime(Math.max(-1, Math.min(1, note.pan)), when);
  env.connect(pan).connect(out);
  const hz = midiToHz(note.midi);
  switch (v) {
    case 0: osc(ctx, 'sine', hz, when, end).connect(env); break;
    case 1: osc(ctx, 'triangle', hz, when, end).connect(env); break;
    case 2: osc(ctx, 'square', hz, when, end).connect(lowpass(ctx, 2400)).connect(env); break;
    case 3: osc(ctx, 'sawtooth', hz, when, end).connect(lowpass(ctx, 1800)).connect(env); break;
    case 4: osc(ctx, 'sawtooth', hz, when, end).connect(lowpass(ctx, 500)).connect(env); break;
    case 5: {
      const o = osc(ctx, 'sine', 150, when, end);
      o.frequency.exponentialRampToValueAtTime(Math.max(30, hz), when + 0.12);
      o.connect(env);
      break;
    }
    case 6: {
      const src = ctx.createBufferSource();
      src.buffer = noise(ctx);
      const hp = ctx.createBiquadFilter();
      hp.type = 'highpass';
      hp.frequency.value = 7000;
      src.connect(hp).connect(env);
      src.start(when);
      src.stop(end);
      break;
    }
    case 7: {
      osc(ctx, 'sine', hz, when, end).connect(env);
      const partial = ctx.createGain();
      partial.gain.value = 0.35;
      osc(ctx, 'sine', hz * 2.76, when, end).connect(partial).connect(env);
      break;
    }
  }
  return { end, outlet: pan };
}
