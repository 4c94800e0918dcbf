/**
 * One requestAnimationFrame callback for everything that draws, requested only when something changed:
 * an idle page draws nothing. The draw function says whether something is still moving (a glide, a held
 * key), and then the next frame is requested at once.
 */
export class FrameLoop {
  private requested = false;

  /** `draw` runs once per frame and returns true while it needs another one. */
  constructor(private readonly draw: (t: number) => boolean) {}

  /** Draws on the next animation frame; calls before it coalesce into one frame. */
  request(): void {
    if (this.requested) return;
    this.requested = true;
    requestAnimationFrame((t) => this.frame(t));
  }

  /** A frame is requested and not drawn yet (the screen lags the state). */
  get pending(): boolean {
    return this.requested;
  }

  private frame(t: number): void {
    this.requested = false;
    if (this.draw(t)) this.request();
  }
}
