import { describe, expect, it } from 'vitest';
import { formatTimelapseHash, parseTimelapseHash, timelapseQuery } from '../../client/src/timelapse-link.js';

describe('timelapse link', () => {
  const r = { x: 388, y: 373, w: 26, h: 54, since: 1_796_307_038_277, until: 1_796_307_638_277 };

  it('round-trips after the view, beside a template', () => {
    expect(parseTimelapseHash(`#401,400,16${formatTimelapseHash(r)}`)).toEqual(r);
    expect(parseTimelapseHash(`#1,2,3&template=a.png&ox=1${formatTimelapseHash(r)}`)).toEqual(r);
    expect(formatTimelapseHash(r)).toBe('&timelapse=388,373,26,54,1796307038277,1796307638277');
  });

  it('names no timelapse when absent or malformed', () => {
    for (const h of ['', '#1,2,3', '#1,2,3&template=x', '#1,2,3&timelapse=1,2,3', '#1,2,3&timelapse=0,0,0,5,1,2',
      '#1,2,3&timelapse=0,0,5,5,9,9', '#1,2,3&timelapse=0,0,5,5,a,9', '#1,2,3&timelapse=-1,0,5,5,1,9']) {
      expect(parseTimelapseHash(h), h).toBeNull();
    }
  });

  it('is the API query of the same range', () => {
    expect(timelapseQuery(r)).toBe('x=388&y=373&w=26&h=54&since=1796307038277&until=1796307638277');
  });
});
