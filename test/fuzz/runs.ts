/**
 * The one knob of the fuzz suite: how many cases each property runs. 1,000 in CI (`npx vitest run test/fuzz`),
 * `FUZZ_RUNS` for a long mode (`npm run test:fuzz` runs 100,000), and `FUZZ_SEED` to replay a failure
 * (fast-check prints the seed and the shrunk counterexample of any that fails).
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { fuzz, oneLineError } from "./runs.ts";
 *
 * fc.assert(fc.property(fc.string(), (s) => s.length >= 0), fuzz());
 * ```
 */
import fc from "fast-check";
import { expect } from "vitest";
import { isCellarError } from "../../kernel/errors.ts";

const DEFAULT_RUNS = 1_000;

/** Cases per property: FUZZ_RUNS when set (a whole number ≥ 1), 1,000 otherwise. */
export const NUM_RUNS = readRuns(process.env.FUZZ_RUNS);

/** A property's time limit, for `it(name, fn, FUZZ_TIMEOUT)`: 60 s per 1,000 cases, so that the long mode has time. */
export const FUZZ_TIMEOUT = 60_000 * Math.max(1, NUM_RUNS / DEFAULT_RUNS);

function readRuns(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_RUNS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS ${JSON.stringify(value)}: expected a whole number ≥ 1`);
  return n;
}

/** fc.assert's parameters: NUM_RUNS cases (times `scale`, for a costly property, never below 1,000), FUZZ_SEED if set. */
export function fuzz<T = unknown>(extra: fc.Parameters<T> = {}, scale = 1): fc.Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  return {
    numRuns: Math.max(Math.min(DEFAULT_RUNS, NUM_RUNS), Math.round(NUM_RUNS * scale)),
    ...(seed ? { seed: Number(seed) } : {}),
    ...extra,
  };
}

/** Cellar's answer to bad input: a CellarError of one line that contains `named` (the input, as the message quotes it). */
export function expectOneLineError(err: unknown, named?: string): void {
  expect(isCellarError(err), `not a CellarError: ${String(err)}`).toBe(true);
  const message = (err as Error).message;
  expect(message).not.toMatch(/[\n\r]/);
  expect(message.trim()).not.toBe("");
  if (named !== undefined) expect(message).toContain(named);
}

/** Runs `fn`; its value, or the error it threw (which must be Cellar's one-line error naming `named`). */
export function valueOrOneLineError<T>(fn: () => T, named?: string): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    expectOneLineError(err, named);
    return { ok: false, error: err as Error };
  }
}

/** valueOrOneLineError for async work. */
export async function valueOrOneLineErrorAsync<T>(fn: () => Promise<T>, named?: string): Promise<{ ok: true; value: T } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    expectOneLineError(err, named);
    return { ok: false, error: err as Error };
  }
}
