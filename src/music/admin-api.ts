/**
 * HTTP routes of music mode: `GET /api/music` (the pattern palette and tempo map as JSON, for bots and
 * tools) and `POST /admin/tempo` (change the tempo; needs `Authorization: Bearer $ADMIN_TOKEN`, disabled
 * when ADMIN_TOKEN is unset). Returns false for paths it does not own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Conductor } from './conductor.js';
import { MAX_BPM, MIN_BPM } from './tempo-map.js';
import { VOICES, subdivisionName } from './patterns.js';
import { HttpError, sendHttpError } from '../http/http-error.js';

const MAX_BODY = 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (m === null) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createMusicApi(conductor: Conductor, adminToken: string | undefined) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (url.pathname === '/api/music') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendHttpError(res, new HttpError('METHOD_NOT_ALLOWED', 'GET only'));
        return true;
      }
      const info = conductor.info();
      json(res, 200, {
        mode: 'music', musicEpoch: info.musicEpoch, beatsPerBar: info.beatsPerBar, tempoMap: info.tempoMap,
        patterns: info.patterns.map((p, i) => ({
          index: i, group: p.group, name: p.name, voice: VOICES[p.voice], subdivision: subdivisionName(p.stepsPerBeat),
          stepsPerBeat: p.stepsPerBeat, steps: p.steps, pitches: p.pitches, gain: p.gain, colour: `#${p.colour.toString(16).padStart(6, '0')}`,
        })),
      });
      return true;
    }
    if (url.pathname !== '/admin/tempo') return false;
    if (req.method !== 'POST') {
      sendHttpError(res, new HttpError('METHOD_NOT_ALLOWED', 'POST {"bpm": n}'));
      return true;
    }
    if (!adminToken) {
      sendHttpError(res, new HttpError('ADMIN_DISABLED', 'set ADMIN_TOKEN in the server environment to enable admin actions'));
      return true;
    }
    if (!tokenMatches(req.headers.authorization, adminToken)) {
      sendHttpError(res, new HttpError('UNAUTHORIZED', 'Authorization: Bearer <ADMIN_TOKEN> required'));
      return true;
    }
    let body = '';
    let tooBig = false;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) tooBig = true;
    });
    req.on('end', () => {
      if (tooBig) return sendHttpError(res, new HttpError('TOO_LARGE', `body over ${MAX_BODY} bytes`));
      let bpm: unknown = url.searchParams.get('bpm') === null ? undefined : Number(url.searchParams.get('bpm'));
      try {
        if (body.trim() !== '') bpm = (JSON.parse(body) as { bpm?: unknown }).bpm;
      } catch {
        return sendHttpError(res, new HttpError('BAD_REQUEST', 'body must be JSON {"bpm": n}'));
      }
      if (typeof bpm !== 'number' || !(bpm >= MIN_BPM && bpm <= MAX_BPM)) {
        return sendHttpError(res, new HttpError('BAD_TEMPO', `bpm must be a number ${MIN_BPM}..${MAX_BPM}`));
      }
      const seg = conductor.changeTempo(bpm);
      json(res, 200, { startBeat: seg.startBeat, startTime: seg.startTime, bpm: seg.bpm, tempoMap: conductor.tempoMap });
    });
    req.on('error', () => {});
    return true;
  };
}
