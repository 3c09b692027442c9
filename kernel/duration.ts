import { CellarError, quoteValue } from "./errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as written in a pipeline: milliseconds, or "500ms", "30s", "15m", "2h", "1d". */
export type Duration = number | string;

/**
 * Milliseconds in a duration. `what` names the option in the error.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("15m", "retryDelay"); // → 900000
 * ```
 */
export function parseDuration(value: Duration, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    if (match) return Math.round(Number(match[1]) * UNITS[match[2]]);
  }
  throw new CellarError(
    `${what}: ${quoteValue(value)} is not a duration; expected milliseconds or a string like "30s", "15m", "2h", "1d"`,
  );
}

/** A short human form of milliseconds: "850ms", "12.3s", "4m05s", "2h10m". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) {
    const s = Math.round(ms / 1_000);
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }
  const m = Math.round(ms / 60_000);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
