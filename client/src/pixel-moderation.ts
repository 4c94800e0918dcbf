/**
 * Pixel info for moderators. On the painter page opened in the tab where a moderator signed in (the admin
 * token, ./admin-client.ts), pixel info asks GET /api/admin/pixel instead of /api/pixel and shows who painted
 * the pixel as moderation acts on it — the painter's identity and the hash of its address — with an undo
 * of that painter's pixels (a dry run first: the count, then "Undo N pixels") and a ban. Without a token
 * nothing here runs and the page asks only the public /api/pixel: the server reveals identities only to an
 * authenticated admin request, so a painter never sees them.
 */
import { AdminApiError, type RestorePreview, adminApi, adminToken, pixelCount } from './admin-client.js';
import type { AdminPixelAnswer } from '../../src/net/api-types.js';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

type Target = 'identity' | 'address';

export class PixelModeration {
  private readonly box = byId('info-mod');
  private readonly target = byId<HTMLSelectElement>('mod-target');
  private readonly since = byId<HTMLSelectElement>('mod-since');
  private readonly preview = byId<HTMLButtonElement>('mod-preview');
  private readonly undo = byId<HTMLButtonElement>('mod-undo');
  private readonly ban = byId<HTMLButtonElement>('mod-ban');
  private readonly banConfirm = byId<HTMLButtonElement>('mod-ban-confirm');
  private readonly result = byId('mod-result');
  /** The painter shown: what the buttons act on (null: nothing to act on). */
  private painter: { identity: string; address: string; x: number; y: number } | null = null;
  /** The undo the last preview described, so "Undo N pixels" does exactly what was previewed. */
  private previewed: Record<string, unknown> | null = null;
  /** Why the last admin lookup failed (shown instead of the painter), or ''. */
  private refused = '';

  constructor() {
    this.preview.addEventListener('click', () => void this.runPreview());
    this.undo.addEventListener('click', () => void this.runUndo());
    this.ban.addEventListener('click', () => {
      this.ban.hidden = true;
      this.banConfirm.hidden = false;
      this.banConfirm.textContent = `Confirm: ban this ${this.target.value}`;
      this.banConfirm.focus();
    });
    this.banConfirm.addEventListener('click', () => void this.runBan());
    // A changed choice is not what was previewed: preview again before undoing.
    for (const el of [this.target, this.since]) el.addEventListener('change', () => this.resetActions());
  }

  /** Whether this tab holds a moderator's token (then pixel info asks the admin API). */
  get active(): boolean {
    return adminToken() !== '';
  }

  /** The pixel as moderators see it, or null when not signed in or the admin API refused (why is shown). */
  async lookup(x: number, y: number): Promise<AdminPixelAnswer | null> {
    this.refused = '';
    if (!this.active) return null;
    try {
      return await adminApi<AdminPixelAnswer>('GET', `pixel?x=${x}&y=${y}`);
    } catch (err) {
      this.refused = err instanceof AdminApiError && err.status === 401
        ? 'The moderator token was refused: sign in again on the moderation page.'
        : `Moderator lookup failed: ${(err as Error).message}`;
      return null;
    }
  }

  /** Fills the moderator block for pixel (x, y) (answer from lookup), or hides it for a painter. */
  render(x: number, y: number, a: AdminPixelAnswer | null): void {
    this.box.hidden = !this.active;
    if (!this.active) return;
    this.resetActions();
    const identity = a?.identity ?? '';
    const address = a?.address ?? '';
    this.painter = a === null || a.moderation || (identity === '' && address === '') ? null : { identity, address, x, y };
    byId('info-identity').textContent = identity || '—';
    byId('info-address').textContent = address || '—';
    const identityOption = this.target.querySelector<HTMLOptionElement>('option[value="identity"]')!;
    identityOption.disabled = identity === '';
    if (identity === '') this.target.value = 'address';
    for (const el of [this.target, this.since, this.preview, this.ban]) el.disabled = this.painter === null;
    this.say(this.refused || (a === null ? '' : a.placedAt === null ? 'Never painted: nothing to act on.'
      : a.moderation ? 'A moderator’s fix: nothing to act on.' : this.painter === null ? 'Placed before painters were recorded.' : ''));
  }

  /** While another pixel loads: nothing shown may be acted on for the wrong painter. */
  hide(): void {
    this.box.hidden = true;
    this.painter = null;
    this.resetActions();
  }

  private say(text: string): void {
    this.result.textContent = text;
  }

  private resetActions(): void {
    this.previewed = null;
    this.undo.hidden = true;
    this.ban.hidden = false;
    this.banConfirm.hidden = true;
  }

  private who(): Record<string, string> {
    const t = this.target.value as Target;
    return { [t]: this.painter![t] };
  }

  private async runPreview(): Promise<void> {
    if (this.painter === null) return;
    const hours = Number(this.since.value);
    const body = { ...this.who(), since: hours === 0 ? 0 : Date.now() - hours * 3_600_000 };
    this.resetActions();
    this.say('Previewing…');
    try {
      const r = await adminApi<RestorePreview>('POST', 'undo', { ...body, dryRun: true });
      this.say(r.restored === 0 ? `Nothing to undo (${pixelCount(r.candidates)} placed, ${r.kept} painted over since).`
        : `Would restore ${pixelCount(r.restored)}${r.kept ? ` (${r.kept} painted over since, kept)` : ''}.`);
      if (r.restored > 0) {
        this.previewed = body;
        this.undo.textContent = `Undo ${pixelCount(r.restored)}`;
        this.undo.dataset.count = String(r.restored);
        this.undo.hidden = false;
      }
    } catch (err) {
      this.say(`Preview failed: ${(err as Error).message}`);
    }
  }

  private async runUndo(): Promise<void> {
    const body = this.previewed;
    if (body === null) return;
    this.resetActions();
    try {
      const r = await adminApi<RestorePreview>('POST', 'undo', body);
      this.say(`Undone: restored ${pixelCount(r.restored)}.`);
    } catch (err) {
      this.say(`Undo failed: ${(err as Error).message}`);
    }
  }

  private async runBan(): Promise<void> {
    if (this.painter === null) return;
    const kind = this.target.value as Target;
    this.resetActions();
    try {
      const r = await adminApi<{ silenced: number }>('POST', 'ban', { ...this.who(), reason: `pixel info at (${this.painter.x}, ${this.painter.y})` });
      this.say(`Banned this ${kind}${r.silenced ? ` (${r.silenced} connected, now silenced)` : ''}.`);
    } catch (err) {
      this.say(`Ban failed: ${(err as Error).message}`);
    }
  }
}
