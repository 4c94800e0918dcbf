/**
 * The music controls that replace the colour palette on a music canvas: play/mute, a beat pulse with the
 * bar and beat, the subdivision to place with, and one swatch per pattern (a click selects it and previews
 * its sound). Plain DOM, added to the bottom bar;
 * styled by music.css (bundled into app.css: the page CSP allows no injected <style>).
 */
import { VOICES, subdivisionName, type MusicPattern } from '../../../src/music/patterns.js';
import { labelColour } from './contrast.js';


export interface PanelActions {
  togglePlay(): void;
  /** Start or stop (and download) a recording of what this page plays. */
  toggleRecord(): void;
  /** A palette index was chosen (pattern × subdivision); `preview` when a swatch was clicked. */
  choose(index: number, preview: boolean): void;
}

function hex(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}

export class MusicPanel {
  readonly root = document.createElement('div');
  private readonly play = document.createElement('button');
  private readonly record = document.createElement('button');
  private readonly pulse = document.createElement('span');
  private readonly position = document.createElement('span');
  private readonly subsEl = document.createElement('div');
  private readonly swatchesEl = document.createElement('div');
  private patterns: readonly MusicPattern[] = [];
  private shown: readonly number[] = [];
  private key = '';
  /** Chosen subdivision (steps per beat) and pattern group. */
  subdivision = 2;
  group = 1;

  constructor(private readonly actions: PanelActions) {
    this.root.id = 'music-panel';
    this.root.setAttribute('role', 'toolbar');
    this.root.setAttribute('aria-label', 'Patterns');
    this.play.id = 'music-play';
    this.play.type = 'button';
    this.play.addEventListener('click', () => actions.togglePlay());
    this.setPlaying(false);
    this.record.id = 'music-record';
    this.record.type = 'button';
    this.record.title = 'record what you hear and download it';
    this.record.addEventListener('click', () => actions.toggleRecord());
    this.setRecording(false);
    const beat = document.createElement('div');
    beat.className = 'music-beat';
    this.pulse.className = 'music-pulse';
    this.pulse.id = 'music-pulse';
    this.position.id = 'music-position';
    beat.append(this.pulse, this.position);
    this.subsEl.className = 'music-subs';
    this.subsEl.setAttribute('aria-label', 'Subdivision');
    this.swatchesEl.style.display = 'contents';
    this.root.append(this.play, this.record, beat, this.subsEl, this.swatchesEl);
    const palette = document.getElementById('palette');
    palette?.before(this.root);
    if (palette !== null) palette.style.display = 'none'; // the patterns are the palette here
  }

  setPlaying(playing: boolean): void {
    this.play.textContent = playing ? '■ Mute' : '▶ Play';
    this.play.setAttribute('aria-pressed', String(playing));
  }

  setRecording(recording: boolean): void {
    this.record.textContent = recording ? '■ Save' : '● Rec';
    this.record.setAttribute('aria-pressed', String(recording));
  }

  /** Beat (fractional) and tempo for the pulse and the "beat n/4" read-out; NaN shows that the clock is syncing. */
  showBeat(beat: number, beatsPerBar: number, bpm: number): void {
    if (!Number.isFinite(beat)) {
      this.position.textContent = 'syncing…';
      this.pulse.style.opacity = '0.2';
      return;
    }
    const whole = Math.floor(beat);
    const phase = beat - whole;
    this.pulse.style.opacity = String(Math.max(0.15, 1 - phase * 1.6));
    this.pulse.style.transform = `scale(${1 + 0.5 * Math.max(0, 1 - phase * 4)})`;
    // Beat within the bar (bars count from 2024-01-01, far too many to show).
    this.position.textContent = `beat ${(((whole % beatsPerBar) + beatsPerBar) % beatsPerBar) + 1}/${beatsPerBar} · ${Math.round(bpm)} bpm`;
  }

  /**
   * Builds the swatches and subdivision buttons for a pattern palette (again only when it changed);
   * `shown` is the palette as the canvas draws it, so a swatch has its cells' colour.
   */
  setPatterns(patterns: readonly MusicPattern[], selected: number, shown: readonly number[]): void {
    this.shown = shown;
    const key = patterns.map((p) => `${p.group}/${p.stepsPerBeat}/${p.colour}/${p.name}`).join(',');
    this.patterns = patterns;
    const sel = patterns[selected];
    if (sel !== undefined && sel.group > 0) {
      this.group = sel.group;
      this.subdivision = sel.stepsPerBeat;
    } else if (!patterns.some((p) => p.group === this.group)) {
      this.group = 1;
    }
    if (key !== this.key) {
      this.key = key;
      this.build();
    }
    this.refresh();
  }

  /** The palette index for (group, subdivision): the group's entry at that subdivision, else its first. */
  indexFor(group: number, subdivision: number): number {
    let first = -1;
    for (let i = 0; i < this.patterns.length; i++) {
      const p = this.patterns[i]!;
      if (p.group !== group) continue;
      if (p.stepsPerBeat === subdivision) return i;
      if (first < 0) first = i;
    }
    return first;
  }

  private build(): void {
    const subs = [...new Set(this.patterns.filter((p) => p.group > 0).map((p) => p.stepsPerBeat))].sort((a, b) => a - b);
    this.subsEl.replaceChildren(...subs.map((spb) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = subdivisionName(spb);
      b.dataset.stepsPerBeat = String(spb);
      b.title = `place patterns at ${subdivisionName(spb)} notes`;
      b.addEventListener('click', () => {
        this.subdivision = spb;
        this.refresh();
        this.actions.choose(this.indexFor(this.group, spb), false);
      });
      return b;
    }));
    const groups = [...new Set(this.patterns.filter((p) => p.group > 0).map((p) => p.group))];
    this.swatchesEl.replaceChildren(...groups.map((g) => {
      const p = this.patterns.find((q) => q.group === g)!;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'music-swatch';
      b.dataset.group = String(g);
      b.textContent = p.name;
      b.title = `${p.name} (${VOICES[p.voice] ?? 'voice ' + p.voice}): click to choose and hear it`;
      b.addEventListener('click', () => {
        this.group = g;
        this.refresh();
        this.actions.choose(this.indexFor(g, this.subdivision), true);
      });
      return b;
    }));
  }

  private refresh(): void {
    for (const b of this.subsEl.children as HTMLCollectionOf<HTMLButtonElement>) {
      b.setAttribute('aria-pressed', String(Number(b.dataset.stepsPerBeat) === this.subdivision));
    }
    for (const b of this.swatchesEl.children as HTMLCollectionOf<HTMLButtonElement>) {
      const g = Number(b.dataset.group);
      const i = this.indexFor(g, this.subdivision);
      const p = this.patterns[i];
      if (p !== undefined) {
        const rgb = this.shown[i] ?? p.colour;
        b.style.background = hex(rgb);
        b.style.color = labelColour(rgb);
        b.dataset.colorIndex = String(i);
      }
      b.setAttribute('aria-pressed', String(g === this.group));
    }
  }
}
