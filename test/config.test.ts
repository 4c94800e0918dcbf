import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, FLAGS, parseConfig } from '../src/config.js';

describe('config', () => {
  it('starts with no flags at all', () => {
    expect(parseConfig([], {})).toEqual(DEFAULTS);
  });

  it('parses every kind of flag and the environment', () => {
    const c = parseConfig(['--width', '2048', '--paint-rate', '0.5', '--in-memory', '--allowed-origins', 'https://a, https://b', '--no-eager-tick'], { PORT: '9000' });
    expect(c).toMatchObject({ port: 9000, width: 2048, paintRate: 0.5, inMemory: true, allowedOrigins: ['https://a', 'https://b'], eagerTick: false });
  });

  it('a lower --tick-hz alone starts: cadences above it mean every tick', () => {
    expect(parseConfig(['--tick-hz', '10'], {})).toMatchObject({ tickHz: 10, cursorBroadcastHz: 15, lodHz: 15 });
    expect(() => parseConfig(['--lod-hz', '0'], {})).toThrow(/--lod-hz/);
    expect(() => parseConfig(['--cursor-broadcast-hz', '0'], {})).toThrow(/--cursor-broadcast-hz/);
  });

  it('rejects bad values with a message naming the flag', () => {
    expect(() => parseConfig(['--width', '1000'], {})).toThrow(/--width must be a multiple of 64/);
    expect(() => parseConfig(['--port', 'x'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--bogus'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--high-water-bytes', '999999999'], {})).toThrow(/backpressure marks/);
    expect(() => parseConfig(['--max-viewport-area', String(8192 * 8192)], {})).toThrow(/--max-message-bytes/);
  });

  it('README lists every flag with its default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const [flag, spec] of Object.entries(FLAGS)) {
      const d = DEFAULTS[spec.key];
      const shown = Array.isArray(d) ? (d.length ? d.join(',') : 'none') : String(d);
      expect(readme, flag).toContain(`| \`--${flag}\` | ${shown} |`);
    }
  });
});
