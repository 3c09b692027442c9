/**
 * How the UI writes durations, times and costs: short, and the same on every page.
 *
 * @example
 * ```ts
 * import { duration, when } from "./format.ts";
 *
 * duration(95_000); // → "1m 35s"
 * when(new Date("2026-05-03T00:00:00Z")); // → "2026-05-03 00:00:00 UTC"
 * ```
 */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  // A sub-10 ms span (a timeline axis of fast cells) would read "1 ms … 1 ms" rounded.
  if (ms < 10 && !Number.isInteger(ms)) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function when(date: Date | null | undefined): string {
  return date ? `${date.toISOString().slice(0, 19).replace("T", " ")} UTC` : "–";
}

/** A run's wall time: from start to end, or to now while it runs. */
export function runMs(run: { startedAt: Date | null; endedAt: Date | null }): number | null {
  if (!run.startedAt) return null;
  return (run.endedAt ?? new Date()).getTime() - run.startedAt.getTime();
}

export function costs(values: Record<string, number>): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? "–" : entries.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`).join(", ");
}
