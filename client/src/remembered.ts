/**
 * What the page remembers between visits (the painter's name and colour), in localStorage. Storage may be
 * unavailable (private modes, sandboxed frames): then nothing is remembered and everything still works.
 */

const KEYS = {
  name: 'pixel-canvas:name',
  color: 'pixel-canvas:color',
  minimap: 'pixel-canvas:minimap',
} as const;

export type RememberedKey = keyof typeof KEYS;

/** The stored value, or null when there is none or storage cannot be read. */
export function recall(key: RememberedKey): string | null {
  try {
    return localStorage.getItem(KEYS[key]);
  } catch {
    return null;
  }
}

export function remember(key: RememberedKey, value: string): void {
  try {
    localStorage.setItem(KEYS[key], value);
  } catch {
    // not remembered; everything still works for this visit
  }
}
