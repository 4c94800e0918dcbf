/**
 * Turns input into camera moves and paint requests: drag (mouse, pen or one finger) pans, wheel and pinch
 * zoom around the pointer, arrows/WASD pan and +/- zoom from the keyboard. A press that moves less than
 * DRAG_THRESHOLD before it is released is a click, which paints; anything longer is a pan.
 */
import type { Camera } from './camera.js';

/** CSS pixels a press may wander and still count as a click (r/place and pxls use about this). */
export const DRAG_THRESHOLD = 5;
/** Keyboard pan speed, CSS pixels per second. */
const KEY_PAN_SPEED = 700;
/** Zoom factor per +/- key press. */
const KEY_ZOOM_STEP = 1.5;
/** A touch held this long without moving is a long press (pixel info), not a tap. */
export const LONG_PRESS_MS = 500;

/** How a click or tap was made. */
export interface TapKind {
  /** A finger (or pen), not a mouse. */
  touch: boolean;
  /** Shift or Alt held: asks for pixel info instead of painting. */
  modifier: boolean;
}

export interface NavigationHooks {
  /** The camera moved. */
  viewChanged(): void;
  /** A click or tap at screen point (sx, sy). */
  tap(sx: number, sy: number, kind: TapKind): void;
  /** A touch held still for LONG_PRESS_MS at (sx, sy); the release that follows does nothing. */
  longPress(sx: number, sy: number): void;
  /** The pointer is over screen point (sx, sy), or left the canvas (null). */
  hover(sx: number, sy: number): void;
  leave(): void;
  /** Keyboard panning needs frames while a key is held. */
  requestFrame(): void;
}

interface TrackedPointer {
  x: number;
  y: number;
}

type Gesture =
  | { kind: 'none' }
  /** One pointer down; `dragging` once it moved past the threshold. */
  | { kind: 'press'; id: number; startX: number; startY: number; dragging: boolean; paints: boolean }
  /** Two pointers: pinch-zoom about their midpoint and pan with it. */
  | { kind: 'pinch'; distance: number; midX: number; midY: number };

const PAN_KEYS: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1],
  a: [-1, 0], d: [1, 0], w: [0, -1], s: [0, 1],
};

/** 'W' with shift held and 'w' are one key: its keyup may come with either. */
function keyName(e: KeyboardEvent): string {
  return e.key.length === 1 ? e.key.toLowerCase() : e.key;
}

/** Wheel deltas in pixels, whatever unit the device reports. */
function wheelPixels(e: WheelEvent): number {
  if (e.deltaMode === WheelEvent.DOM_DELTA_LINE) return e.deltaY * 16;
  if (e.deltaMode === WheelEvent.DOM_DELTA_PAGE) return e.deltaY * 800;
  return e.deltaY;
}

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

export class Navigation {
  private readonly pointers = new Map<number, TrackedPointer>();
  private gesture: Gesture = { kind: 'none' };
  private readonly heldKeys = new Set<string>();
  private lastStep = 0;
  private longPressTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly el: HTMLElement, private readonly camera: Camera, private readonly hooks: NavigationHooks) {
    el.addEventListener('pointerdown', (e) => this.onDown(e));
    el.addEventListener('pointermove', (e) => this.onMove(e));
    el.addEventListener('pointerup', (e) => this.onUp(e, false));
    el.addEventListener('pointercancel', (e) => this.onUp(e, true));
    el.addEventListener('pointerleave', (e) => { if (e.pointerType === 'mouse' || !this.pointers.has(e.pointerId)) hooks.leave(); });
    el.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    el.addEventListener('contextmenu', (e) => e.preventDefault()); // right-drag pans
    window.addEventListener('keydown', (e) => this.onKeyDown(e));
    window.addEventListener('keyup', (e) => this.heldKeys.delete(keyName(e)));
    window.addEventListener('blur', () => this.heldKeys.clear());
  }

  /** Advances keyboard panning; true while keys are held (the caller keeps requesting frames). */
  step(now: number): boolean {
    if (this.heldKeys.size === 0) return false;
    const dt = Math.min(0.05, Math.max(0, (now - this.lastStep) / 1000));
    this.lastStep = now;
    let dx = 0;
    let dy = 0;
    for (const key of this.heldKeys) {
      const d = PAN_KEYS[key];
      if (d) {
        dx += d[0];
        dy += d[1];
      }
    }
    if (dx !== 0 || dy !== 0) {
      // Keys move the view, so the content moves the other way.
      this.camera.panBy(-dx * KEY_PAN_SPEED * dt, -dy * KEY_PAN_SPEED * dt);
      this.hooks.viewChanged();
    }
    return true;
  }

  private local(e: { clientX: number; clientY: number }): { x: number; y: number } {
    const r = this.el.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private onDown(e: PointerEvent): void {
    // preventDefault below also stops the focus change a press would make: let the name field go (and save) here.
    const focused = document.activeElement;
    if (focused instanceof HTMLElement && focused !== document.body) focused.blur();
    const p = this.local(e);
    this.pointers.set(e.pointerId, p);
    try {
      this.el.setPointerCapture(e.pointerId);
    } catch {
      // synthetic or already-released pointers cannot be captured; tracking still works without it
    }
    if (this.pointers.size === 1) {
      // Only the primary button (or a touch / pen contact) paints; middle and right buttons only pan.
      const paints = e.pointerType !== 'mouse' || e.button === 0;
      const g: Gesture & { kind: 'press' } = { kind: 'press', id: e.pointerId, startX: p.x, startY: p.y, dragging: false, paints };
      this.gesture = g;
      this.cancelLongPress();
      if (e.pointerType !== 'mouse') {
        this.longPressTimer = setTimeout(() => {
          this.longPressTimer = null;
          if (this.gesture !== g || g.dragging || !g.paints) return;
          g.paints = false; // the release after a long press is not a tap
          this.hooks.longPress(g.startX, g.startY);
        }, LONG_PRESS_MS);
      }
    } else if (this.pointers.size === 2) {
      this.cancelLongPress();
      this.gesture = this.pinchState();
    }
    e.preventDefault();
  }

  private onMove(e: PointerEvent): void {
    const p = this.local(e);
    if (e.pointerType === 'mouse' || this.pointers.size <= 1) this.hooks.hover(p.x, p.y);
    const tracked = this.pointers.get(e.pointerId);
    if (tracked === undefined) return;
    const g = this.gesture;
    if (g.kind === 'press' && g.id === e.pointerId) {
      if (!g.dragging && Math.hypot(p.x - g.startX, p.y - g.startY) > DRAG_THRESHOLD) {
        g.dragging = true;
        this.cancelLongPress();
        // Pan the whole way from the press, so the content stays under the pointer.
        tracked.x = g.startX;
        tracked.y = g.startY;
      }
      if (g.dragging) {
        this.camera.panBy(p.x - tracked.x, p.y - tracked.y);
        this.hooks.viewChanged();
      }
    }
    tracked.x = p.x;
    tracked.y = p.y;
    if (g.kind === 'pinch') {
      const next = this.pinchState();
      if (g.distance > 0 && next.distance > 0) this.camera.zoomAt(next.distance / g.distance, next.midX, next.midY);
      this.camera.panBy(next.midX - g.midX, next.midY - g.midY);
      this.gesture = next;
      this.hooks.viewChanged();
    }
  }

  private onUp(e: PointerEvent, cancelled: boolean): void {
    if (!this.pointers.has(e.pointerId)) return;
    const p = this.local(e);
    this.pointers.delete(e.pointerId);
    const g = this.gesture;
    if (g.kind === 'press' && g.id === e.pointerId) {
      this.gesture = { kind: 'none' };
      this.cancelLongPress();
      if (!cancelled && !g.dragging && g.paints) this.hooks.tap(p.x, p.y, { touch: e.pointerType !== 'mouse', modifier: e.shiftKey || e.altKey });
    } else if (g.kind === 'pinch') {
      // The finger left on the glass keeps panning, but lifting it must not paint.
      const [id, rest] = [...this.pointers.entries()][0] ?? [];
      this.gesture = id === undefined || rest === undefined
        ? { kind: 'none' }
        : { kind: 'press', id, startX: rest.x, startY: rest.y, dragging: true, paints: false };
    }
  }

  private cancelLongPress(): void {
    if (this.longPressTimer !== null) clearTimeout(this.longPressTimer);
    this.longPressTimer = null;
  }

  private pinchState(): Gesture & { kind: 'pinch' } {
    const [a, b] = [...this.pointers.values()];
    if (a === undefined || b === undefined) return { kind: 'pinch', distance: 0, midX: 0, midY: 0 };
    return { kind: 'pinch', distance: Math.hypot(a.x - b.x, a.y - b.y), midX: (a.x + b.x) / 2, midY: (a.y + b.y) / 2 };
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const p = this.local(e);
    // Trackpad pinches arrive as ctrl+wheel with small deltas: give them a steeper curve.
    const k = e.ctrlKey ? 0.01 : 0.002;
    const delta = Math.max(-400, Math.min(400, wheelPixels(e)));
    this.camera.zoomAt(Math.exp(-delta * k), p.x, p.y);
    this.hooks.viewChanged();
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = keyName(e);
    if (key in PAN_KEYS) {
      e.preventDefault();
      if (this.heldKeys.size === 0) this.lastStep = performance.now();
      this.heldKeys.add(key);
      this.hooks.requestFrame();
      return;
    }
    let factor = 0;
    if (e.key === '+' || e.key === '=') factor = KEY_ZOOM_STEP;
    else if (e.key === '-' || e.key === '_') factor = 1 / KEY_ZOOM_STEP;
    if (factor === 0) return;
    e.preventDefault();
    this.camera.zoomAt(factor, this.camera.screenW / 2, this.camera.screenH / 2);
    this.hooks.viewChanged();
  }
}
