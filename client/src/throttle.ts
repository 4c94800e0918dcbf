/**
 * Leading-and-trailing throttle: the first call runs at once, later ones at most every `ms`, and the last
 * call in a burst always runs, so the final state (where a drag ended) is never lost.
 */
export interface Throttled {
  (): void;
  /** Runs a pending trailing call now. */
  flush(): void;
  /** True while a trailing call is scheduled. */
  readonly pending: boolean;
  cancel(): void;
}

export function throttle(fn: () => void, ms: number): Throttled {
  let last = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = (): void => {
    timer = null;
    last = performance.now();
    fn();
  };
  const throttled = (() => {
    if (timer !== null) return;
    const wait = last + ms - performance.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  }) as Throttled;
  throttled.flush = () => {
    if (timer === null) return;
    clearTimeout(timer);
    run();
  };
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  Object.defineProperty(throttled, 'pending', { get: () => timer !== null });
  return throttled;
}
