/**
 * The cooldown read-out: how long until the next pixel and how many are available, ticking while the
 * estimate refills, and — when the painter asked for it with the bell — a notification when painting is
 * possible again while the page is hidden.
 */
import type { Hud, PaintBlock } from './hud.js';
import type { CooldownEstimate } from './painter.js';

const COOLDOWN_REFRESH_MS = 100;

export interface CooldownReadoutHost {
  hud: Hud;
  cooldown: CooldownEstimate;
  /** Why no pixel can be placed now (not connected, banned, read-only), or null when one can. */
  blocked(): PaintBlock | null;
}

export class CooldownReadout {
  private timer: ReturnType<typeof setInterval> | null = null;
  private notifyWanted = false;
  private wasWaiting = false;

  constructor(private readonly host: CooldownReadoutHost) {
    const notify = document.getElementById('notify')!;
    if ('Notification' in window) {
      notify.hidden = false;
      notify.addEventListener('click', () => this.toggleNotify(notify));
    }
  }

  refresh(): void {
    const { hud, cooldown } = this.host;
    const now = performance.now();
    const remaining = cooldown.remaining(now);
    // Blocked (not connected, banned, read-only): nothing claims "Ready" or counts down; the pill says why
    // (the wait is kept for when painting is possible again).
    const blocked = this.host.blocked();
    if (blocked !== null) {
      hud.setCooldown(null, 0, blocked);
      this.stop();
      return;
    }
    hud.setCooldown(remaining, cooldown.available(now));
    // Ready again: tell a painter who looked away, if they asked to be told.
    if (this.wasWaiting && remaining === 0 && this.notifyWanted && document.hidden) {
      try {
        new Notification('pixel-canvas', { body: 'You can place a pixel again.' });
      } catch {
        // some browsers only notify from a service worker; the title shows it anyway
      }
    }
    this.wasWaiting = remaining > 0;
    // Tick while waiting, and while the estimate refills, so the pixel count stays true.
    const settled = remaining === 0 && cooldown.full(now);
    if (!settled && this.timer === null) {
      this.timer = setInterval(() => this.refresh(), COOLDOWN_REFRESH_MS);
    } else if (settled) {
      this.stop();
    }
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private toggleNotify(button: HTMLElement): void {
    if (this.notifyWanted) {
      this.notifyWanted = false;
      button.setAttribute('aria-pressed', 'false');
      return;
    }
    void Notification.requestPermission().then((p) => {
      this.notifyWanted = p === 'granted';
      button.setAttribute('aria-pressed', String(this.notifyWanted));
      if (p !== 'granted') this.host.hud.toast('Notifications are blocked for this site.', 'info');
    });
  }
}
