/**
 * The voices after the first eight (src/music/patterns.ts VOICES from 8 on): a snare, and two chord voices
 * that sound three tones per hit (the scheduler's `Note.chord`). synth.ts plays them with the same envelope,
 * level, pan and choke as its own; it hands `build` the note's sources already started and stopped at the
 * note's times, so a choke stops these too. Levels and envelopes as client/README.md lists them.
 */

/** Sources synth.ts makes for a note: started at the note's frame, stopped when it has rung out. */
export interface NoteSources {
  osc(type: OscillatorType, hz: number): OscillatorNode;
  noise(): AudioBufferSourceNode;
}

export interface ExtraVoice {
  name: string;
  /** Relative level (synth.ts VOICE_LEVEL). */
  level: number;
  /** As synth.ts VoiceEnvelope. */
  envelope: { attack: number; held: boolean; sustain: number; decay: number; release: number };
  /** Connects the voice's sound into `env` (the note's envelope gain); `hz`: the note and its chord tones. */
  build(ctx: BaseAudioContext, hz: readonly number[], env: AudioNode, src: NoteSources): void;
}

function filter(ctx: BaseAudioContext, type: BiquadFilterType, hz: number, q = 1): BiquadFilterNode {
  const f = ctx.createBiquadFilter();
  f.type = type;
  f.frequency.value = hz;
  f.Q.value = q;
  return f;
}

/** All the tones into one gain, scaled so a chord peaks like a single note. */
function tones(ctx: BaseAudioContext, hz: readonly number[], type: OscillatorType, src: NoteSources): GainNode {
  const mix = ctx.createGain();
  mix.gain.value = 1 / hz.length;
  for (const f of hz) src.osc(type, f).connect(mix);
  return mix;
}

/** Voices 8, 9, 10 in VOICES order: snare, chord, stab. */
export const EXTRA_VOICES: readonly ExtraVoice[] = [
  {
    // Band-passed noise (the wires) over a short tone at the note (the drum's body), both in one decay.
    name: 'snare', level: 0.9,
    envelope: { attack: 0.001, held: false, sustain: 0, decay: 0.035, release: 0 },
    build(ctx, hz, env, src) {
      const wires = src.noise();
      wires.loop = true; // the noise buffer is shorter than the ring
      wires.connect(filter(ctx, 'bandpass', 1800, 0.7)).connect(env);
      const body = ctx.createGain();
      body.gain.value = 0.5;
      src.osc('triangle', hz[0]!).connect(body).connect(env);
    },
  },
  {
    // Soft keys: three triangles, held over the gate.
    name: 'chord', level: 0.9,
    envelope: { attack: 0.02, held: true, sustain: 0.6, decay: 0.8, release: 0.15 },
    build(ctx, hz, env, src) {
      tones(ctx, hz, 'triangle', src).connect(env);
    },
  },
  {
    // A short, bright chord: three saws through one low-pass, ringing out like a pluck.
    name: 'stab', level: 0.5,
    envelope: { attack: 0.003, held: false, sustain: 0, decay: 0.07, release: 0 },
    build(ctx, hz, env, src) {
      tones(ctx, hz, 'sawtooth', src).connect(filter(ctx, 'lowpass', 1600, 0.7)).connect(env);
    },
  },
];
