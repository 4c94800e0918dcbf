/**
 * HTTP of music mode: `GET /api/music` (the pattern palette and tempo map as JSON, for bots and tools), and
 * two admin actions, publishing a palette (`patternsAction`) and the tempo change (`tempoAction`), which
 * src/admin serves at POST /api/admin/patterns and /api/admin/tempo (the tempo also at its old path
 * /admin/tempo) behind the same token check, failure lockout and audit log as every admin action. (The
 * tempo used to check the token itself here: no lockout and no audit, so ADMIN_TOKEN could be guessed
 * through it.) This module imports nothing from src/admin: an action is a plain object it hands over.
 * With --redis a tempo change is decided in the shared log (`TempoLog`, src/cluster's SharedTempo), so it
 * lands on the same bar on every node; the answer comes once the log has taken it. A published palette
 * goes the same way (its file and bar, src/cluster's SharedValue under field `a`): every node switches on
 * the same bar, and keeps the file in its data dir when the log gives it (server.ts), not before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Conductor } from './conductor.js';
import { MAX_BPM, MIN_BPM, tempoMapText, type TempoSegment } from './tempo-map.js';
import { PatternFileError, VOICES, parsePatternFile, subdivisionName, type MusicPattern, type PatternPalette } from './patterns.js';
import { PaletteFitError, switchTime } from './palette-switch.js';
import { HttpError, sendHttpError } from '../http/http-error.js';
import { MUSIC_DEFAULTS } from '../defaults.js';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** `GET /api/music`; false for every other path. */
export function createMusicApi(conductor: Conductor) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/api/music') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHttpError(res, new HttpError('METHOD_NOT_ALLOWED', 'GET only', { Allow: 'GET, HEAD' }));
      return true;
    }
    const info = conductor.info();
    const next = conductor.pendingSwitch;
    json(res, 200, {
      mode: 'music', musicEpoch: info.musicEpoch, beatsPerBar: info.beatsPerBar, tempoMap: info.tempoMap, patterns: patternsJson(info.patterns),
      ...(next === null ? {} : { next: { beat: next.beat, time: next.time, patterns: patternsJson(next.patterns) } }),
    });
    return true;
  };
}

function patternsJson(patterns: readonly MusicPattern[]) {
  return patterns.map((p, i) => ({
    index: i, group: p.group, name: p.name, voice: VOICES[p.voice], subdivision: subdivisionName(p.stepsPerBeat),
    stepsPerBeat: p.stepsPerBeat, steps: p.steps, pitches: p.pitches, gain: p.gain, colour: `#${p.colour.toString(16).padStart(6, '0')}`,
  }));
}

/**
 * Where tempo changes and published palettes are decided when nodes share the canvas: src/cluster's
 * SharedValue (one for each), handed in by server.ts.
 */
export interface TempoLog {
  /**
   * Appends the text `next()` returns (tempoMapText of a map planned from the one this node holds, or
   * Conductor.planPublish's; called again when another node's change landed first); resolves once the log
   * took it, and this node holds it. Rejects when the change cannot be confirmed.
   */
  change(next: () => string): Promise<string>;
}

/**
 * The tempo change, `{"bpm": n}` in the body (or `?bpm=n`), as an admin action (src/admin AdminAction).
 * `log`: the shared log of a canvas served by several nodes; absent on a single node.
 */
export function tempoAction(conductor: Conductor, log?: TempoLog) {
  return {
    name: 'tempo',
    aliases: ['/admin/tempo'],
    async run(body: Record<string, unknown>, query: URLSearchParams): Promise<{ answer: unknown; audit: Record<string, unknown> }> {
      const fromQuery = query.get('bpm');
      const bpm = 'bpm' in body ? body.bpm : fromQuery === null ? undefined : Number(fromQuery);
      if (typeof bpm !== 'number' || !(bpm >= MIN_BPM && bpm <= MAX_BPM)) {
        throw new HttpError('BAD_TEMPO', `bpm must be a number ${MIN_BPM}..${MAX_BPM}`);
      }
      let seg: TempoSegment;
      if (log === undefined) seg = conductor.changeTempo(bpm);
      else {
        let planned: TempoSegment[] = [];
        try {
          await log.change(() => tempoMapText((planned = conductor.planTempo(bpm))));
        } catch (err) {
          throw new HttpError('TEMPO_UNAVAILABLE', `the tempo change was not confirmed by the shared log (${(err as Error).message}); retry`,
            { 'Retry-After': '1' });
        }
        seg = { ...planned[planned.length - 1]! };
      }
      return {
        answer: { startBeat: seg.startBeat, startTime: seg.startTime, bpm: seg.bpm, tempoMap: conductor.tempoMap },
        audit: { bpm: seg.bpm, startBeat: seg.startBeat, startTime: seg.startTime },
      };
    },
  };
}

/**
 * Publishing a palette, as an admin action (POST /api/admin/patterns): the body is a pattern file, checked
 * exactly as `--patterns` is (parsePatternFile), then against this canvas (Conductor.fitted); `keep` stores
 * it (the data dir's published palette) before anything changes, so what clients switch to survives a
 * restart. Every client switches on a bar boundary at least 2 s ahead. `log`: the shared log of a canvas
 * served by several nodes (absent on a single node); the switch's bar is decided by this node, and the log
 * orders publishes (compare-and-set, as for the tempo: a publish that lost the race is planned again on top
 * of the one that won, which it then replaces as a later publish before the bar does). `scope` in the
 * answer: 'canvas' on a single node, 'cluster' with the log (every node of the canvas).
 */
export function patternsAction(conductor: Conductor, opts: { keep?: (json: unknown) => void; log?: TempoLog }) {
  const scope = opts.log === undefined ? 'canvas' : 'cluster';
  return {
    name: 'patterns',
    maxBodyBytes: MUSIC_DEFAULTS.maxPatternBodyBytes,
    async run(body: Record<string, unknown>): Promise<{ answer: unknown; audit: Record<string, unknown> }> {
      let palette: PatternPalette;
      try {
        palette = parsePatternFile(body);
        conductor.fitted(palette);
      } catch (err) {
        if (err instanceof PatternFileError) throw new HttpError('BAD_PATTERNS', err.message);
        if (err instanceof PaletteFitError) throw new HttpError(err.problem, err.message);
        throw err;
      }
      let next: { beat: number; time: number };
      if (opts.log === undefined) {
        opts.keep?.(body);
        next = conductor.publishPatterns(palette);
      } else {
        let beat = 0;
        try {
          await opts.log.change(() => {
            const planned = conductor.planPublish(body);
            beat = planned.beat;
            return planned.text;
          });
        } catch (err) {
          throw new HttpError('PATTERNS_UNAVAILABLE', `the palette was not confirmed by the shared log (${(err as Error).message}); retry`,
            { 'Retry-After': '1' });
        }
        next = { beat, time: switchTime(conductor.tempoMap, { beat, patterns: [] }) };
      }
      const groups = new Set(palette.patterns.filter((p) => p.group > 0).map((p) => p.name));
      return {
        answer: { beat: next.beat, time: next.time, entries: palette.patterns.length, paletteSize: conductor.paletteSize, patterns: [...groups], scope },
        audit: { beat: next.beat, time: next.time, entries: palette.patterns.length, patterns: [...groups], scope },
      };
    },
  };
}
