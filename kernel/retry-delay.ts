/**
 * Airflow's retry wait: `retryDelay` before every retry ("fixed"), or
 * `retryDelay × 2^(retry−1)` ("exponential"), never more than `maxRetryDelay`.
 *
 * @example
 * ```ts
 * import { retryDelayMs } from "./retry-delay.ts";
 *
 * retryDelayMs({ retryDelayMs: 60_000, exponential: true, maxRetryDelayMs: 600_000 }, 3); // → 240000
 * ```
 */
export function retryDelayMs(
  cell: { retryDelayMs: number; exponential: boolean; maxRetryDelayMs: number },
  retry: number,
): number {
  const delay = cell.exponential ? cell.retryDelayMs * 2 ** (retry - 1) : cell.retryDelayMs;
  return Math.min(delay, cell.maxRetryDelayMs);
}
