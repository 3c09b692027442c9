/**
 * Waiting, retrying and bounding work, once for the whole code base: an
 * abortable delay of any length, exponential backoff with jitter, a retry
 * loop, and a first-come-first-served semaphore. Cells reach them through
 * kernel/mod.ts.
 *
 * @example
 * ```ts
 * import { delay, retry, Semaphore, sleep } from "./async.ts";
 * import { parseDuration } from "./duration.ts";
 * import { isWriteConflict } from "./run-records.ts";
 * import type { Store } from "./store/store.ts";
 * declare const signal: AbortSignal;
 * declare const store: Store;
 * declare const sql: string;
 * declare const url: string;
 *
 * await delay(250, signal);                       // rejects with signal.reason on abort
 * const slept = await sleep(parseDuration("30d", "retryDelay"), signal); // → true, or false once aborted
 * const rows = await retry(() => store.query(sql), { tries: 20, retryable: isWriteConflict, delayMs: (n) => 2 * n });
 * const slots = new Semaphore(4);
 * await slots.use(() => fetch(url), signal);      // at most 4 at once
 * ```
 */
import { clearLongTimeout, setLongTimeout } from "./timer.ts";

/** Resolves after `ms` (any length: see timer.ts), or rejects with `signal.reason` as soon as it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearLongTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves true after `ms`, or false as soon as `signal` aborts: for loops that end quietly on cancellation. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The wait before retry `n` (1 for the first): `baseMs × 2^(n−1)`, at most `maxMs`, and with `jitter` a
 * random share of it kept (between half and all), so that clients that failed together do not retry together.
 */
export function backoffMs(n: number, options: { baseMs: number; maxMs: number; jitter?: boolean }): number {
  const wait = Math.min(options.maxMs, options.baseMs * 2 ** (n - 1));
  return options.jitter === false ? wait : wait * (0.5 + Math.random() / 2);
}

export interface RetryPolicy {
  /** Tries in all, the first included (≥ 1). */
  tries: number;
  /** Whether a failure may succeed on another try; anything else is thrown at once. */
  retryable: (err: unknown) => boolean;
  /** The wait before retry `n` (1 for the first), given the failure; see backoffMs. */
  delayMs: (n: number, err: unknown) => number;
  /** Aborts the wait between tries (with the signal's reason). */
  signal?: AbortSignal;
}

/** `body` until it succeeds, fails with something not retryable, or has been tried `tries` times (the last failure is thrown). */
export async function retry<T>(body: (tryNumber: number) => Promise<T>, options: RetryPolicy): Promise<T> {
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      return await body(tryNumber);
    } catch (err) {
      if (tryNumber >= options.tries || !options.retryable(err)) throw err;
      await delay(options.delayMs(tryNumber, err), options.signal);
    }
  }
}

/** At most `size` holders at once; waiters are served first come, first served, and leave the line when their signal aborts. */
export class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiting.splice(this.#waiting.indexOf(grant), 1);
        reject(signal!.reason);
      };
      this.#waiting.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.#free++;
  }

  /** `fn` while holding a slot. */
  async use<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
