/**
 * The session with the server: makes the CanvasClient (again when the name changes, since the name travels
 * in HELLO), routes its events to the parts of the page, and tells the player what the server said.
 */
import { CanvasClient, type WebSocketLike, type Welcome } from '../../src/client/canvas-client.js';
import { CloseCode, ErrorCode } from '../../src/net/protocol.js';
import type { ChunkRenderer } from './chunk-renderer.js';
import type { ConnectionStatus } from './connection-status.js';
import type { CooldownReadout } from './cooldown-readout.js';
import type { Hud } from './hud.js';
import { errorText } from './messages.js';
import { type Painter, formatSeconds } from './painter.js';
import { recall, remember } from './remembered.js';
import type { ToolFeed } from './tool-feed.js';

function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

export interface ConnectionParts {
  hud: Hud;
  renderer: ChunkRenderer;
  painter: Painter;
  status: ConnectionStatus;
  cooldown: CooldownReadout;
  feed: ToolFeed;
  welcome(w: Welcome): void;
  /** A new client, before it connects: it should subscribe the current view. */
  subscribe(client: CanvasClient): void;
  requestFrame(): void;
}

export class Connection {
  private current: CanvasClient | undefined;
  private unsubscribe: (() => void)[] = [];
  private readonly hud: Hud;

  constructor(private readonly parts: ConnectionParts) {
    this.hud = parts.hud;
  }

  /** The live client (replaced when the name changes). Only after start(). */
  get client(): CanvasClient {
    return this.current!;
  }

  /** The live client, or undefined while the first one is being made (its first events come before it returns). */
  get live(): CanvasClient | undefined {
    return this.current;
  }

  /** Connects under the remembered name; the name field renames (a new session). */
  start(): void {
    const input = this.hud.nameInput;
    const name = recall('name') ?? '';
    input.value = name;
    input.addEventListener('change', () => this.rename(input.value.trim()));
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') input.blur(); });
    this.current = this.startClient(name);
  }

  private rename(name: string): void {
    remember('name', name);
    this.hud.toast(name ? `You are now “${name}”.` : 'You are now anonymous.', 'info');
    // The name travels in HELLO: a new session carries it.
    for (const off of this.unsubscribe) off();
    this.client.close();
    // Assigned once made: while it starts, the others still see the old (closed) client, as on first start.
    this.current = this.startClient(name);
  }

  private startClient(name: string): CanvasClient {
    const { hud, renderer, painter, status, cooldown, feed } = this.parts;
    const client = new CanvasClient({ url: wsUrl(), name, socketFactory: (u) => new WebSocket(u) as WebSocketLike });
    renderer.attach(client.replica);
    painter.use(client);
    this.unsubscribe = [
      client.on('open', (w) => this.parts.welcome(w)),
      client.on('stateChange', (s) => {
        status.stateChanged(s);
        cooldown.refresh();
      }),
      client.on('close', (info) => {
        painter.abandonAll();
        if (info.code === CloseCode.TOO_SLOW) this.hud.toast(errorText(ErrorCode.TOO_SLOW));
        status.refreshRetry();
        this.parts.requestFrame(); // cursors were cleared
      }),
      client.on('placeResult', (r) => {
        const why = painter.onResult(r);
        if (r.status === ErrorCode.OK) return;
        if (why === 'budget') {
          hud.toast('Too many messages too fast: the server is pacing this connection (not your paint cooldown). Try again in a moment.', 'error', 'budget');
          return;
        }
        if (r.status === ErrorCode.RATE_LIMITED) {
          const wait = r.retryAfterMs > 0 ? ` ${formatSeconds(r.retryAfterMs)} left.` : '';
          hud.toast(errorText(r.status) + wait, 'error', 'cooldown');
          return;
        }
        hud.toast(errorText(r.status), 'error', `status-${r.status}`);
      }),
      client.on('delta', (d) => feed.delta(d.cx, d.cy, d.offsets, d.colors)),
      client.on('snapshot', () => feed.snapshot()),
      client.on('cursors', () => this.parts.requestFrame()),
      // Zoomed out, chunks come from a level of detail: draw from the replica of the level subscribed.
      client.on('levelChange', (level) => {
        renderer.attach(level === 0 ? client.replica : client.lod!, level);
        this.parts.requestFrame();
      }),
      client.on('online', (n) => hud.setOnline(n)),
      client.on('error', (m) => hud.toast(errorText(m.code))),
      client.on('protocolError', () => hud.toast('The server sent something this page cannot read. Reconnecting…')),
    ];
    this.parts.subscribe(client);
    client.connect();
    return client;
  }
}
