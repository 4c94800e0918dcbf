/**
 * The record control: captures what this page plays (the engine's master bus, through a
 * MediaStreamAudioDestinationNode, after every voice and effect) with MediaRecorder, and downloads it when
 * stopped, so people can share what a region sounded like. Opus in WebM where the browser has it.
 */
export class MusicRecorder {
  private dest: MediaStreamAudioDestinationNode | null = null;
  private recorder: MediaRecorder | null = null;
  private chunks: Blob[] = [];

  get recording(): boolean {
    return this.recorder !== null;
  }

  /** Starts recording `master` of `ctx` (connected once to a stream destination beside the speakers). */
  start(ctx: AudioContext, master: AudioNode): void {
    if (this.recorder !== null) return;
    if (this.dest === null || this.dest.context !== ctx) {
      this.dest = ctx.createMediaStreamDestination();
      master.connect(this.dest);
    }
    const mimeType = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus'].find((t) => MediaRecorder.isTypeSupported(t));
    const rec = new MediaRecorder(this.dest.stream, mimeType === undefined ? {} : { mimeType });
    this.chunks = [];
    rec.ondataavailable = (e) => { if (e.data.size > 0) this.chunks.push(e.data); };
    rec.start(250);
    this.recorder = rec;
  }

  /** Stops and downloads what was recorded as `pixel-canvas-<time>.webm`; resolves once the download is offered. */
  stop(): Promise<void> {
    const rec = this.recorder;
    if (rec === null) return Promise.resolve();
    this.recorder = null;
    return new Promise((resolve) => {
      rec.onstop = () => {
        const blob = new Blob(this.chunks, { type: rec.mimeType || 'audio/webm' });
        this.chunks = [];
        const a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = `pixel-canvas-${new Date().toISOString().replace(/[:.]/g, '-')}.${blob.type.includes('ogg') ? 'ogg' : 'webm'}`;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
        resolve();
      };
      rec.stop();
    });
  }
}
