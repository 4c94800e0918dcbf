import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, FLAGS, PRESETS, parseConfig, usage } from '../src/config.js';

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

  it('a preset sets defaults that explicit flags still override', () => {
    expect(parseConfig(['--preset', 'casual'], {})).toEqual(parseConfig([], {}));
    const rplace = parseConfig(['--preset', 'rplace'], {});
    expect(rplace).toMatchObject({ preset: 'rplace', paintBurst: 1 });
    expect(1 / rplace.paintRate).toBeCloseTo(300);
    // The flag wins whichever side of --preset it is written on.
    expect(parseConfig(['--paint-burst', '3', '--preset', 'rplace'], {})).toMatchObject({ paintBurst: 3, preset: 'rplace' });
    expect(parseConfig(['--preset', 'rplace', '--paint-rate', '2'], {})).toMatchObject({ paintRate: 2, paintBurst: 1 });
    // Private: the message budget is raised with the batch size, so a full PLACE is never refused.
    const priv = parseConfig(['--preset', 'private'], {});
    expect(priv.paintRate).toBeGreaterThanOrEqual(1000);
    expect(priv.messageBurst).toBeGreaterThan(priv.maxPlaceBatch);
    expect(parseConfig(['--preset', 'private', '--max-connections-per-ip', '5'], {}).maxConnectionsPerIp).toBe(5);
    expect(() => parseConfig(['--preset', 'wplace'], {})).toThrow(/--preset must be one of casual, rplace, private/);
    expect(() => parseConfig(['--preset', 'toString'], {})).toThrow(/--preset/);
  });

  it('--help names every preset with what it sets', () => {
    const text = usage();
    for (const name of Object.keys(PRESETS)) expect(text).toContain(`--preset ${name}`);
    expect(text).toMatch(/rplace\s+like r\/place: 1 pixel every 5 minutes/);
  });

  it('README lists every flag with its default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const [flag, spec] of Object.entries(FLAGS)) {
      const d = DEFAULTS[spec.key];
      const shown = Array.isArray(d) ? (d.length ? d.join(',') : 'none') : String(d);
      expect(readme, flag).toContain(`| \`--${flag}\` | ${shown} |`);
    }
    for (const name of Object.keys(PRESETS)) expect(readme, name).toContain(`--preset ${name}`);
  });
});
