// Long synchronous work cut into slices of a few milliseconds, with the event loop let through
// between them: a reload of 10,000 hosts turns thousands of entries into a new plan, and done in
// one go that held every request in flight for hundreds of milliseconds (docs/architecture.md,
// "Reload"). Two ways in, one clock:
// - an async loop asks `await slices.pause()` after each item (nothing happens until the slice
//   has run its time);
// - work that must also run synchronously (config/ is called at once by `validate` and the
//   tests) is written as a generator that `yield`s where it may pause; `runAtOnce` runs it
//   through, `runSliced` pauses at those points when the slice is used up.

/** Longest stretch of work before other work (requests, timers) gets a turn, in milliseconds. */
export const SLICE_MS = 3;

/** Where a generator may pause; the value is ignored. */
export type Steps<T> = Generator<void, T, void>;

export class Slices {
  private since = performance.now();
  private waiting: Promise<void> | undefined;

  /**
   * Undefined (nothing to await) while the current slice has time left; otherwise a promise that
   * resolves once timers and I/O have run (setImmediate: after the poll phase), starting a new
   * slice. Loops running side by side (mapBounded's workers) share one pause and then one slice:
   * with a pause each, every one of their immediates started a slice of its own, and 32 workers
   * held the event loop for 32 slices in a row.
   */
  pause(): Promise<void> | undefined {
    if (this.waiting !== undefined) return this.waiting;
    if (performance.now() - this.since < SLICE_MS) return undefined;
    this.waiting = new Promise<void>((resolve) =>
      setImmediate(() => {
        this.since = performance.now();
        this.waiting = undefined;
        resolve();
      }),
    );
    return this.waiting;
  }
}

/** Runs `steps` to the end without pausing. */
export function runAtOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs `steps` to the end, letting the event loop through whenever a slice is used up. */
export async function runSliced<T>(steps: Steps<T>, slices = new Slices()): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    const wait = slices.pause();
    if (wait) await wait;
  }
}
