/** The part of gifenc (mattdesl/gifenc, no bundled types) that src/http/timelapse.ts uses. */
declare module 'gifenc' {
  export interface GifEncoder {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: {
      palette?: number[][]; delay?: number; repeat?: number; transparent?: boolean; first?: boolean;
    }): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  export function GIFEncoder(opts?: { auto?: boolean; initialCapacity?: number }): GifEncoder;
  const gifenc: { GIFEncoder: typeof GIFEncoder };
  export default gifenc;
}

/** The decoder the timelapse tests read GIFs back with (omggif, no bundled types). */
declare module 'omggif' {
  export class GifReader {
    constructor(buf: Uint8Array);
    width: number;
    height: number;
    numFrames(): number;
    frameInfo(i: number): { x: number; y: number; width: number; height: number; delay: number };
    decodeAndBlitFrameRGBA(i: number, pixels: Uint8Array): void;
  }
  const omggif: { GifReader: typeof GifReader };
  export default omggif;
}
