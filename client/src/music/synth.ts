/**
 * The synth voices: one note = two short-lived Web Audio nodes, a source and its envelope gain, started at
 * an exact AudioContext time into `out`: the mix's panner for the note's place (./mix.ts). A voice's own
 * filter lives in its source (./waves.ts), the note's level in its envelope, and parameters that do not
 * move are plain values, not automation events: a render costs in proportion to the nodes alive
 * (bench/music.bench.ts: four to six nodes a note became two). Works on an AudioContext and an
 * OfflineAudioContext alike. Voice ids are src/music/patterns.ts VOICES.
 */
import type { Note } from '../../../src/music/scheduler.js';
import { EXTRA_VOICES } from './synth-extra.js';
import { BELL_DIVISOR, FILTERED, bellWave, filteredWave, hatNoise, midiToHz, whiteNoise } from './waves.js';

/**
 * Envelopes run this much louder than the note (the mix divides it back out before its limiter). The
 * browser ends an exponential approach to 0 once the value is within a fixed distance of it, so a note at
 * true level ended early when quiet (18 ms at -12 dB for the lead): at this scale that distance is more
 * than 60 dB below the peak of any note above about -99 dBFS. A power of two: the scaling is exact.
 */
export const ENV_SCALE = 4096;

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

/** A scheduled note: when its nodes stop, and the node that joins it to the output (disconnect it to cancel). */
export interface PlayedNote {
  end: number;
  /** Its envelope, mono. */
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

/** The envelope's value (0..1 of its peak) `t` seconds after the note's start, gate `gate` s (as playNote schedules it). */
export function envelopeAt(e: VoiceEnvelope, gate: number, t: number): number {
  if (t <= 0) return 0;
  if (t < e.attack) return t / e.attack;
  if (!e.held) return Math.exp(-(t - e.attack) / e.decay);
  const hold = (u: number) => e.sustain + (1 - e.sustain) * Math.exp(-(u - e.attack) / e.decay);
  if (t < gate) return hold(t);
  return hold(gate) * Math.exp(-(t - gate) / e.release);
}

/** Schedules one note at AudioContext time `at` (seconds) into `out`. */
export function playNote(ctx: BaseAudioContext, out: AudioNode, note: Pick<Note, 'voice' | 'midi' | 'gain' | 'duration' | 'chord'>, at: number): PlayedNote {
  // On a whole sample frame: a buffer source started between two frames is interpolated by the browser
  // (Chromium), which dulls a hat by up to ~4 dB depending on the fraction, so its level drifts from loop to
  // loop. The envelope starts on the same frame; half a frame (≤ 11 µs) is far below any timing one hears.
  const when = Math.round(at * ctx.sampleRate) / ctx.sampleRate;
  const v = note.voice < VOICE_LEVEL.length ? note.voice : 0;
  const e = ENVELOPES[v]!;
  const gate = Math.max(e.attack, note.duration / 1000);
  const end = when + audibleSeconds(v, gate) + 0.005;
  // The envelope carries the level (a gain node less per note), at ENV_SCALE.
  const peak = note.gain * VOICE_LEVEL[v]! * ENV_SCALE;
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
  env.connect(out);
  const hz = midiToHz(note.midi);
  const sources: AudioScheduledSourceNode[] = [];
  const timed = <T extends AudioScheduledSourceNode>(src: T): T => {
    src.start(when);
    src.stop(end);
    sources.push(src);
    return src;
  };
  if (v >= 8) {
    EXTRA_VOICES[v - 8]?.build(ctx, [hz, ...(note.chord ?? []).map(midiToHz)], env, {
      osc: (type, f) => {
        const o = ctx.createOscillator();
        o.type = type;
        o.frequency.value = f;
        return timed(o);
      },
      noise: () => {
        const b = ctx.createBufferSource();
        b.buffer = whiteNoise(ctx);
        return timed(b);
      },
    });
  } else if (v === 6) {
    const b = ctx.createBufferSource();
    b.buffer = hatNoise(ctx);
    timed(b).connect(env);
  } else {
    const o = ctx.createOscillator();
    if (FILTERED[v] !== undefined) {
      o.setPeriodicWave(filteredWave(ctx, v, note.midi));
      o.frequency.value = hz;
    } else if (v === 7) {
      o.setPeriodicWave(bellWave(ctx));
      o.frequency.value = hz / BELL_DIVISOR;
    } else if (v === 5) {
      // The kick's pitch falls from 150 Hz to the note: the one source whose parameter moves.
      o.frequency.setValueAtTime(150, when);
      o.frequency.exponentialRampToValueAtTime(Math.max(30, hz), when + 0.12);
    } else {
      o.type = v === 1 ? 'triangle' : 'sine';
      o.frequency.value = hz;
    }
    timed(o).connect(env);
  }
  return {
    end, outlet: env,
    choke(at0: number): void {
      if (at0 >= end) return;
      // After the attack (cancelling its ramp, or the decay that starts with it, would silence the note).
      const at = Math.max(at0, when + e.attack + 1 / ctx.sampleRate);
      // From the value the envelope has then (it is all in the future: no reading it back), 10 ms to silence.
      env.gain.cancelScheduledValues(at);
      env.gain.setValueAtTime(peak * envelopeAt(e, gate, at - when), at);
      env.gain.setTargetAtTime(0, at, 0.01);
      // The last stop() call wins (Web Audio): the sources end once the fade is 60 dB down.
      for (const src of sources) try { src.stop(Math.min(end, at + 0.07)); } catch { /* already stopped */ }
    },
  };
}
