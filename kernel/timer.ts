/**
 * Timers of any length. Node and Deno keep a timer's delay in 32 bits: one
 * longer than 2^31−1 ms (24.8 days) fires after about 1 ms. These chain waits
 * of at most that long, so a "30d" timeout or retry delay really waits 30 days.
 * Every duration that becomes a timer (cell timeouts, retry waits, scheduler
 * sleeps) goes through here.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * import { clearLongTimeout, setLongTimeout } from "./timer.ts";
 * const controller = new AbortController();
 *
 * const timer = setLongTimeout(() => controller.abort(), parseDuration("30d", "timeout"));
 * clearLongTimeout(timer);
 * ```
 */

/** The longest delay one setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimer {
  /** The pending setTimeout of the current step; undefined once fired or cleared. */
  handle: ReturnType<typeof setTimeout> | undefined;
}

/** Calls `fn` once after `ms` milliseconds, however long that is. `maxStep` is for tests. */
export function setLongTimeout(fn: () => void, ms: number, maxStep = MAX_TIMER_MS): LongTimer {
  const timer: LongTimer = { handle: undefined };
  let remaining = Number.isFinite(ms) ? Math.max(0, ms) : ms > 0 ? Infinity : 0;
  const step = () => {
    const wait = Math.min(remaining, maxStep);
    timer.handle = setTimeout(() => {
      remaining -= wait;
      if (remaining > 0) return step();
      timer.handle = undefined;
      fn();
    }, wait);
  };
  step();
  return timer;
}

export function clearLongTimeout(timer: LongTimer | undefined): void {
  if (timer?.handle === undefined) return;
  clearTimeout(timer.handle);
  timer.handle = undefined;
}
