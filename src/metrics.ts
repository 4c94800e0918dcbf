/**
 * Prometheus metrics for one server instance. Each server gets its own registry, so several servers in one
 * process (tests) never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  registry: Registry;
  connections: Gauge;
  pixelsAccepted: Counter;
  pixelsRejected: Counter<'reason'>;
  protocolErrors: Counter<'code'>;
  tickDuration: Histogram;
  tickRate: Gauge;
  /** Bytes queued for all clients together (WebSocket bufferedAmount summed), read at each scrape. */
  bufferedBytes: Gauge;
  bytesSent: Counter;
  clientsStale: Counter;
  clientsDropped: Counter<'reason'>;
  handshakesRefused: Counter<'reason'>;
  forwardedForInvalid: Counter;
  /** Seconds spent in each phase of the tick (commit, backlog, fanout, cursors, online, write), summed. */
  tickPhase: Counter<'phase'>;
  /** The overload policy (src/realtime/overload.ts): degradation level 0.., read at each scrape. */
  overloadLevel: Gauge;
  /** Welcomed clients by the cadence they are served at (1: every tick), read at each scrape. */
  clientCadence: Gauge<'cadence'>;
  /** Chunk snapshots owed to clients and not yet sent, summed, read at each scrape. */
  snapshotBacklog: Gauge;
  /** Ticks whose work did not fit their budget. */
  ticksOverBudget: Gauge;
  /** From a VIEWPORT to the write of the last snapshot it was owed. */
  panSnapshotSeconds: Histogram;
}

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  // Includes nodejs_eventloop_lag_seconds and process CPU/RSS, which the load test reads.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const p = 'pixel_canvas_';
  return {
    registry,
    connections: new Gauge({ name: `${p}connections`, help: 'Open WebSocket connections', registers: [registry] }),
    pixelsAccepted: new Counter({ name: `${p}pixels_accepted_total`, help: 'Pixels committed and applied', registers: [registry] }),
    pixelsRejected: new Counter({ name: `${p}pixels_rejected_total`, help: 'Pixels refused, by reason', labelNames: ['reason'], registers: [registry] }),
    protocolErrors: new Counter({ name: `${p}protocol_errors_total`, help: 'Bad client messages, by error code', labelNames: ['code'], registers: [registry] }),
    tickDuration: new Histogram({
      name: `${p}tick_duration_seconds`, help: 'Time spent in one tick that had work',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.016, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
    }),
    tickRate: new Gauge({ name: `${p}tick_rate_hz`, help: 'Ticks started during the last second', registers: [registry] }),
    bufferedBytes: new Gauge({ name: `${p}buffered_bytes`, help: 'Bytes queued for all clients together, not yet taken by their sockets', registers: [registry] }),
    bytesSent: new Counter({ name: `${p}bytes_sent_total`, help: 'Payload bytes written to client sockets by ticks', registers: [registry] }),
    clientsStale: new Counter({ name: `${p}clients_stale_total`, help: 'Times a client went above the high-water mark', registers: [registry] }),
    clientsDropped: new Counter({ name: `${p}clients_dropped_total`, help: 'Clients closed by the server, by reason', labelNames: ['reason'], registers: [registry] }),
    handshakesRefused: new Counter({ name: `${p}handshakes_refused_total`, help: 'Upgrades refused, by reason', labelNames: ['reason'], registers: [registry] }),
    forwardedForInvalid: new Counter({ name: `${p}forwarded_for_invalid_total`, help: 'X-Forwarded-For last hops that were not an IP address (socket address used)', registers: [registry] }),
    tickPhase: new Counter({ name: `${p}tick_phase_seconds_total`, help: 'Time spent in each phase of ticks that had work', labelNames: ['phase'], registers: [registry] }),
    overloadLevel: new Gauge({ name: `${p}overload_level`, help: 'Degradation level: clients are served every 2^level-th tick', registers: [registry] }),
    clientCadence: new Gauge({ name: `${p}client_cadence`, help: 'Welcomed clients by cadence (served every n-th tick)', labelNames: ['cadence'], registers: [registry] }),
    snapshotBacklog: new Gauge({ name: `${p}snapshot_backlog`, help: 'Chunk snapshots owed to clients, not yet sent', registers: [registry] }),
    ticksOverBudget: new Gauge({ name: `${p}ticks_over_budget`, help: 'Ticks whose work did not fit the tick budget (--tick-budget), since start', registers: [registry] }),
    panSnapshotSeconds: new Histogram({
      name: `${p}pan_snapshot_seconds`, help: 'From a VIEWPORT to the write of the last snapshot it was owed',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10], registers: [registry],
    }),
  };
}
