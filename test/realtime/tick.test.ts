/** The tick's stage order, what it reports to the loop, and its phase metrics. */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { TICK_PHASES, Tick, type TickStages } from '../../src/realtime/tick.js';
import { ready } from './doubles.js';

function stages(calls: string[], over: Partial<TickStages> = {}): TickStages {
  return {
    commit: () => (calls.push('commit'), -1),
    backlog: () => void calls.push('backlog'),
    cursorsDue: () => (calls.push('cursorsDue'), false),
    fanout: (_t, due, placed) => (calls.push(`fanout ${due} ${placed}`), false),
    cursors: (_t, due) => (calls.push(`cursors ${due}`), false),
    online: () => void calls.push('online'),
    write: () => (calls.push('write'), 0),
    ...over,
  };
}

describe('Tick', () => {
  it('runs the stages in the phase order, passing the cursor cadence and whether placements were applied', () => {
    const calls: string[] = [];
    const tick = new Tick(stages(calls, { commit: () => (calls.push('commit'), 3), cursorsDue: () => (calls.push('cursorsDue'), true) }), new Outbox(), createMetrics());
    expect(tick.run(0)).toBe(true);
    expect(calls).toEqual(['commit', 'backlog', 'cursorsDue', 'fanout true true', 'cursors true', 'online', 'write']);
    expect(TICK_PHASES).toEqual(['commit', 'backlog', 'fanout', 'cursors', 'online', 'write']);
  });

  it('reports an idle tick as idle, and one with backlog or writes as busy; counts ticks', () => {
    const outbox = new Outbox();
    const idle = new Tick(stages([]), outbox, createMetrics());
    expect(idle.run(0)).toBe(false);
    expect(outbox.tick).toBe(1);
    outbox.backlog.add(ready().s);
    expect(idle.run(1)).toBe(true);
    outbox.backlog.clear();
    const writing = new Tick(stages([], { write: () => 1 }), outbox, createMetrics());
    expect(writing.run(2)).toBe(true);
    const emptyBatch = new Tick(stages([], { commit: () => 0 }), outbox, createMetrics()); // acks only
    expect(emptyBatch.run(3)).toBe(true);
    expect(outbox.tick).toBe(4);
  });

  it('times the phases of ticks that worked, one labelled counter per phase', async () => {
    const metrics = createMetrics();
    const spin = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end); };
    const tick = new Tick(stages([], { commit: () => (spin(3), 1), write: () => (spin(3), 1) }), new Outbox(), metrics);
    tick.run(0);
    new Tick(stages([]), new Outbox(), metrics).run(0); // idle: not observed
    const phases = (await metrics.tickPhase.get()).values;
    const byPhase = new Map(phases.map((v) => [v.labels.phase, v.value]));
    expect([...byPhase.keys()].sort()).toEqual([...TICK_PHASES].sort());
    expect(byPhase.get('commit')).toBeGreaterThanOrEqual(0.002);
    expect(byPhase.get('write')).toBeGreaterThanOrEqual(0.002);
    expect((await metrics.tickDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
  });
});
