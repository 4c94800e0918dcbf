/**
 * The synth voices: one note = a few short-lived Web Audio nodes (source → [filter] → envelope gain →
 * StereoPanner → out), started at an exact AudioContext time. Works on an AudioContext and an
 * OfflineAudioContext alike. Voice ids are src/music/patterns.ts VOICES.
 */
import type { Note } from '../../../src/music/scheduler.js';
import { EXTRA_VOICES } from './synth-extra.js';

/** Per-voice level, so a square lead and a sine pad sound about as loud at the same note gain. */
const VOICE_LEVEL = [1, 1, 0.35, 0.3, 0.7, 1.2, 0.5, 0.6, ...EXTRA_VOICES.map((x) => x.level)];

/**
 * Each voice's envelope (client/README.md lists what each sounds like). Every decay is a time constant
 * (setTargetAtTime), so a note falls 60 dB below its own peak in the same time whatever its level (a fixed
 * floor made quiet notes shorter). `held` voices sustain at `sustain` × peak over their gate (the steps up
 * to the next hit), decaying with `decay` meanwhile, then release with `release`; the others (plucked,
 * struck, drums) decay with `decay` from the attack on, ringing past their step; `release` then only
 * bounds a gate shorter than the ring. Nodes stop once a note is 60 dB (6.9 time constants) down.
 */
export interface VoiceEnvelope {
  attack: number;
  held: boolean;
  sustain: number;
  /** Time constant (s) of the fall after the attack. */
  decay: number;
  /** Time constant (s) after the gate (held voices). */
  release: number;
}
export const ENVELOPES: readonly VoiceEnvelope[] = [
  /* 0 sine: pad */ { attack: 0.04, held: true, sustain: 0.8, decay: 1.5, release: 0.12 },
  /* 1 triangle: pluck */ { attack: 0.003, held: false, sustain: 0, decay: 0.09, release: 0 },
  /* 2 square: lead */ { attack: 0.008, held: true, sustain: 0.7, decay: 0.4, release: 0.04 },
  /* 3 sawtooth: arp */ { attack: 0.005, held: true, sustain: 0.5, decay: 0.15, release: 0.03 },
  /* 4 bass */ { attack: 0.005, held: true, sustain: 0.8, decay: 0.5, release: 0.03 },
  /* 5 kick */ { attack: 0.002, held: false, sustain: 0, decay: 0.045, release: 0 },
  /* 6 hat */ { attack: 0.001, held: false, sustain: 0, decay: 0.008, release: 0 },
  /* 7 bell */ { attack: 0.002, held: false, sustain: 0, decay: 0.25, release: 0 },
  /* 8 snare, 9 chord, 10 stab */ ...EXTRA_VOICES.map((x) => x.envelope),
];
/** Time constants to fall 60 dB: ln(1000). */
const TAU_60DB = Math.log(1000);

/** How long a note of `voice` with a gate of `gateS` seconds sounds, to 60 dB below its peak (s). */
export function audibleSeconds(voice: number, gateS: number): number {
  const e = ENVELOPES[voice < ENVELOPES.length ? voice : 0]!;
  if (!e.held) return e.attack + TAU_60DB * e.decay;
  const gate = Math.max(e.attack, gateS);
  return gate + TAU_60DB * e.release;
}

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

function osc(ctx: BaseAudioContext, type: OscillatorType, hz: number, when: number, end: number, sources: AudioScheduledSourceNode[]): OscillatorNode {
  const o = ctx.createOscillator();
  o.type = type;
  o.frequency.setValueAtTime(hz, when);
  o.start(when);
  sources.push(o);
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
  /** Fades the note out from audio time `at` (time constant 10 ms) and stops its sources soon after, if it still rings. */
  choke(at: number): void;
}

/**
 * At most RING_OVERLAP notes of one voice ring at once: a new note chokes the oldest still ringing. Long
 * rings (a bell, a pad's release) overlap their successor, but a fast pattern does not pile up dozens of
 * ringing notes per voice, which is what a render costs (bench/music.bench.ts).
 */
export const RING_OVERLAP = 2;
export class VoiceChoke {
  private readonly ringing = new Map<string, PlayedNote[]>();
  /** Registers `played` (starting at `when`) for the voice `key`; chokes what it pushes past the overlap. */
  add(key: string, played: PlayedNote, when: number): void {
    let list = this.ringing.get(key);
    if (list === undefined) this.ringing.set(key, list = []);
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.end <= when) list.splice(i, 1);
    list.push(played);
    while (list.length > RING_OVERLAP) list.shift()!.choke(when);
  }
  clear(): void {
    this.ringing.clear();
  }
}

/** Schedules one note at AudioContext time `when` (seconds) into `out`. */
export function playNote(ctx: BaseAudioContext, out: AudioNode, note: Pick<Note, 'voice' | 'midi' | 'pan' | 'gain' | 'duration' | 'chord'>, at: number): PlayedNote {
  // On a whole sample frame: a buffer source started between two frames is interpolated by the browser
  // (Chromium), which dulls a hat by up to ~4 dB depending on the fraction, so its level drifts from loop to
  // loop. The envelope starts on the same frame; half a frame (≤ 11 µs) is far below any timing one hears.
  const when = Math.round(at * ctx.sampleRate) / ctx.sampleRate;
  const v = note.voice < VOICE_LEVEL.length ? note.voice : 0;
  const e = ENVELOPES[v]!;
  const gate = Math.max(e.attack, note.duration / 1000);
  const end = when + audibleSeconds(v, gate) + 0.005;
  // The envelope runs from 0 to 1 and the level is a separate gain: the browser ends an exponential approach
  // once it is within a fixed distance of its target, so an envelope scaled by the level would end sooner
  // for a quiet note (18 ms shorter at -12 dB for the lead).
  const peak = 1;
  const level = ctx.createGain();
  level.gain.value = note.gain * VOICE_LEVEL[v]!;
  const env = ctx.createGain();
  // Silent until its first event: a source can start a frame before the event at the same time takes
  // effect (the two round `when` to frames separately), and one frame at the default gain of 1 is a click.
  env.gain.value = 0;
  env.gain.setValueAtTime(0, when);
  env.gain.linearRampToValueAtTime(peak, when + e.attack);
  if (e.held) {
    env.gain.setTargetAtTime(peak * e.sustain, when + e.attack, e.decay);
    env.gain.setTargetAtTime(0, when + gate, e.release);
  } else {
    env.gain.setTargetAtTime(0, when + e.attack, e.decay);
  }
  const pan = ctx.createStereoPanner();
  pan.pan.setValueAtTime(Math.max(-1, Math.min(1, note.pan)), when);
  env.connect(level).connect(pan).connect(out);
  const hz = midiToHz(note.midi);
  const sources: AudioScheduledSourceNode[] = [];
  switch (v) {
    case 0: osc(ctx, 'sine', hz, when, end, sources).connect(env); break;
    case 1: osc(ctx, 'triangle', hz, when, end, sources).connect(env); break;
    case 2: osc(ctx, 'square', hz, when, end, sources).connect(lowpass(ctx, 2400)).connect(env); break;
    case 3: osc(ctx, 'sawtooth', hz, when, end, sources).connect(lowpass(ctx, 1800)).connect(env); break;
    case 4: osc(ctx, 'sawtooth', hz, when, end, sources).connect(lowpass(ctx, 500)).connect(env); break;
    case 5: {
      const o = osc(ctx, 'sine', 150, when, end, sources);
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
      sources.push(src);
      src.stop(end);
      break;
    }
    case 7: {
      osc(ctx, 'sine', hz, when, end, sources).connect(env);
      const partial = ctx.createGain();
      partial.gain.value = 0.35;
      osc(ctx, 'sine', hz * 2.76, when, end, sources).connect(partial).connect(env);
      break;
    }
    default:
      EXTRA_VOICES[v - 8]?.build(ctx, [hz, ...(note.chord ?? []).map(midiToHz)], env, {
        osc: (type, f) => osc(ctx, type, f, when, end, sources),
        noise: () => {
          const src = ctx.createBufferSource();
          src.buffer = noise(ctx);
          src.start(when);
          sources.push(src);
          src.stop(end);
          return src;
        },
      });
  }
  return {
    end, outlet: pan,
    choke(at: number): void {
      if (at >= end) return;
      level.gain.setTargetAtTime(0, at, 0.01);
      // The last stop() call wins (Web Audio): the sources end once the fade is 60 dB down.
      for (const src of sources) try { src.stop(Math.min(end, at + 0.07)); } catch { /* already stopped */ }
    },
  };
}
