/**
 * The connection's status pill (connecting, online, reconnecting with a countdown and "Retry now",
 * offline), and the page shown instead of the canvas while a first visit cannot connect at all.
 */
import type { CanvasClient, ClientState } from '../../src/client/canvas-client.js';
import type { Hud } from './hud.js';
import { formatSeconds } from './painter.js';

/** The countdown's refresh period: the pill reads in whole seconds, so twice a second keeps it true. */
const RETRY_REFRESH_MS = 500;

export class ConnectionStatus {
  /** Some client of this page has been welcomed: from then on a lost connection reconnects in the pill, not the down page. */
  private everOpen = false;

  /** `client` is the live client, undefined while the first one is being made. */
  constructor(private readonly hud: Hud, private readonly client: () => CanvasClient | undefined) {
    document.getElementById('down-retry')!.addEventListener('click', () => this.client()!.retryNow());
  }

  /** Shows "Connecting…" and starts the countdown's refresh. */
  start(): void {
    this.hud.setStatus('connecting');
    setInterval(() => this.refreshRetry(), RETRY_REFRESH_MS);
  }

  stateChanged(s: ClientState): void {
    if (s === 'open') this.hud.setStatus('online');
    else if (s === 'closed') this.hud.setStatus('offline');
    else this.hud.setStatus(this.everOpen ? 'reconnecting' : 'connecting');
    this.busy = false;
    this.refreshRetry();
  }

  /** Some client of this page has been welcomed (a lost connection now is "offline", not "connecting"). */
  get welcomedOnce(): boolean {
    return this.everOpen;
  }

  /** Shown while the server serves this client at a slower cadence (ONLINE's cadence > 1: it is overloaded). */
  private busy = false;

  private refreshBusy(client: CanvasClient): void {
    const busy = client.state === 'open' && client.cadence > 1;
    if (busy === this.busy) return;
    this.busy = busy;
    const pill = document.getElementById('status')!;
    pill.dataset.busy = String(busy);
    if (busy) document.getElementById('status-text')!.textContent = 'Online · busy — updates slowed';
    else if (client.state === 'open') this.hud.setStatus('online');
  }

  /** A WELCOME: the canvas is reachable, so the down page goes. */
  welcomed(): void {
    this.everOpen = true;
    document.getElementById('down-page')!.hidden = true;
  }

  /** The reconnect countdown and Retry now, and the page shown while a first load cannot connect. */
  refreshRetry(): void {
    const client = this.client();
    if (client === undefined) return; // events during the first client's start, before it returned
    this.refreshBusy(client);
    const at = client.nextAttemptAt;
    const waiting = client.state === 'connecting' && at !== null;
    const inMs = waiting ? Math.max(0, at - Date.now()) : null;
    this.hud.setRetry(this.everOpen ? inMs : null, () => this.client()!.retryNow());
    const down = document.getElementById('down-page')!;
    if (!this.everOpen && waiting) {
      down.hidden = false;
      document.getElementById('down-next')!.textContent = inMs! > 500 ? `Next try in ${formatSeconds(inMs!)}.` : 'Trying again…';
    }
  }
}
