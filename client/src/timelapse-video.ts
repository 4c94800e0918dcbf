/**
 * The replay as a video file: a canvas of the region, scaled up by a whole factor so pixels stay sharp,
 * recorded with MediaRecorder over canvas.captureStream() into WebM. Browsers encode it themselves, so the
 * server does no work beyond the JSON it already sent (the GIF endpoint is the server-side alternative).
 */

/** Longest side of the video in pixels, before rounding the scale down to a whole number. */
const TARGET_SIDE = 720;
const FPS = 30;
/** The last picture is held this long: viewers see the result, and a short replay still yields frames. */
const HOLD_END_MS = 1000;

/** The first WebM codec this browser records, or null when it records none (then only the GIF is offered). */
export function webmType(): string | null {
  if (typeof MediaRecorder === 'undefined' || typeof HTMLCanvasElement.prototype.captureStream !== 'function') return null;
  for (const t of ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm']) {
    if (MediaRecorder.isTypeSupported(t)) return t;
  }
  return null;
}

export class VideoRecording {
  private readonly canvas = document.createElement('canvas');
  private readonly ctx: CanvasRenderingContext2D;
  private readonly recorder: MediaRecorder;
  private readonly parts: Blob[] = [];
  private last: HTMLCanvasElement | null = null;

  constructor(w: number, h: number, type: string) {
    const k = Math.max(1, Math.min(16, Math.floor(TARGET_SIDE / Math.max(w, h))));
    // Encoders want even sides (4:2:0 chroma); the extra row or column stays black.
    this.canvas.width = (w * k + 1) & ~1;
    this.canvas.height = (h * k + 1) & ~1;
    this.ctx = this.canvas.getContext('2d')!;
    this.ctx.imageSmoothingEnabled = false;
    this.recorder = new MediaRecorder(this.canvas.captureStream(FPS), { mimeType: type });
    this.recorder.ondataavailable = (e) => { if (e.data.size > 0) this.parts.push(e.data); };
    this.recorder.start(1000);
  }

  /** Draws the replay's current picture into the video. */
  frame(picture: HTMLCanvasElement): void {
    const k = Math.floor(this.canvas.width / picture.width);
    this.ctx.drawImage(picture, 0, 0, picture.width * k, picture.height * k);
    this.last = picture;
  }

  /** Ends the recording; resolves with the whole video. */
  async stop(): Promise<Blob> {
    // Keep painting the end state: the stream only carries frames the canvas was painted for, and a replay
    // over in a fraction of a second (a fast speed, a busy machine) would otherwise leave an empty file.
    const until = performance.now() + HOLD_END_MS;
    while (performance.now() < until) {
      if (this.last !== null) this.frame(this.last);
      await new Promise((r) => setTimeout(r, 1000 / FPS));
    }
    const done = new Promise<void>((r) => { this.recorder.onstop = () => r(); });
    this.recorder.stop();
    await done;
    return new Blob(this.parts, { type: 'video/webm' });
  }

  cancel(): void {
    if (this.recorder.state !== 'inactive') this.recorder.stop();
  }
}
