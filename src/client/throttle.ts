/** Client-side throttling to the rates the server announces in WELCOME. */

/** Throttle intervals are stretched a little so timer jitter never lands a message just over the server's rate. */
const THROTTLE_SLACK = 1.05;

/** Milliseconds between messages sent at most `hz` times a second (0: no limit). */
export function throttleIntervalMs(hz: number): number {
  return hz > 0 ? (1000 / hz) * THROTTLE_SLACK : 0;
}

export function now(): number {
  return performance.now();
}
