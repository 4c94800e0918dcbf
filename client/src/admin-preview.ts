/**
 * Preview, then apply: how the admin page runs a rollback or an undo. The form's submit (its Preview
 * button, or Enter) asks the admin API for a dry run and says what it would do; only then is the apply
 * button offered, labelled with the count, and it sends exactly the request that was previewed. Any edit
 * of the form withdraws it until the next preview, so nothing is applied that the moderator did not see.
 */
import { type RestorePreview, adminApi, pixelCount } from './admin-client.js';

export interface PreviewedActionOptions {
  form: HTMLFormElement;
  route: 'rollback' | 'undo';
  /** The request body from the form; throws an Error whose message is shown when the form is incomplete. */
  body(): Record<string, unknown>;
  apply: HTMLButtonElement;
  /** Where the outcome is written (beside the form, so it is read where the moderator acted). */
  result: HTMLElement;
  /** The apply button's words for n pixels: "Roll back 12 pixels". */
  verb: string;
  previewed?(r: RestorePreview): void;
  /** The preview no longer stands (the form changed, or it was applied). */
  withdrawn?(): void;
  applied?(r: RestorePreview): void;
}

export class PreviewedAction {
  private pending: string | null = null;

  constructor(private readonly o: PreviewedActionOptions) {
    o.apply.hidden = true;
    o.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.preview();
    });
    o.form.addEventListener('input', () => this.withdraw());
    o.form.addEventListener('change', () => this.withdraw());
    o.apply.addEventListener('click', () => void this.run());
  }

  /** Withdraws the preview (also when the form is changed from outside it, e.g. a rectangle dragged). */
  withdraw(): void {
    if (this.pending === null && this.o.apply.hidden) return;
    this.pending = null;
    this.o.apply.hidden = true;
    this.o.withdrawn?.();
  }

  private say(text: string, state: string): void {
    this.o.result.textContent = text;
    this.o.result.dataset.state = state;
  }

  private async preview(): Promise<void> {
    this.withdraw();
    let body: Record<string, unknown>;
    try {
      body = this.o.body();
    } catch (err) {
      this.say((err as Error).message, 'error');
      return;
    }
    this.say('Previewing…', 'busy');
    try {
      const r = await adminApi<RestorePreview>('POST', this.o.route, { ...body, dryRun: true });
      const shown = r.pixels !== undefined && r.pixels.length < r.restored ? ` (the first ${r.pixels.length} are marked)` : '';
      this.say(r.restored === 0
        ? `Nothing would change: ${pixelCount(r.candidates)} examined, ${r.kept} kept, ${r.unknown} unknown.`
        : `Preview: would restore ${pixelCount(r.restored)}${shown}; ${r.kept} kept, ${r.unknown} unknown.`, 'previewed');
      this.o.result.dataset.restored = String(r.restored);
      if (r.restored > 0) {
        this.pending = JSON.stringify(body);
        this.o.apply.textContent = `${this.o.verb} ${pixelCount(r.restored)}`;
        this.o.apply.hidden = false;
      }
      this.o.previewed?.(r);
    } catch (err) {
      this.say(`Preview failed: ${(err as Error).message}`, 'error');
    }
  }

  private async run(): Promise<void> {
    const body = this.pending;
    if (body === null) return;
    this.withdraw();
    this.say('Applying…', 'busy');
    try {
      const r = await adminApi<RestorePreview>('POST', this.o.route, JSON.parse(body));
      this.say(`Done: restored ${pixelCount(r.restored)} (${r.kept} kept, ${r.unknown} unknown).`, 'applied');
      this.o.result.dataset.restored = String(r.restored);
      this.o.applied?.(r);
    } catch (err) {
      this.say(`Failed: ${(err as Error).message}`, 'error');
    }
  }
}
