/**
 * What every pipeline's cells used, per UTC day: wall and CPU seconds of their tries and the units they
 * reported with `ctx.cost.add()`, summed by the day each try started (when the cost was incurred, which
 * for a backfill is not its logical date). What the server's costs page charts and downloads.
 *
 * @example
 * ```ts
 * import { costDays } from "./cost-days.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const days = await costDays(store, { days: 30 });
 * // → [{ day: "2026-05-03", pipeline: "ingest", cell: "embed_docs", resource: "cpu_seconds", amount: 41.2, unit: "second" }, …]
 * ```
 */
import { CellarError } from "./errors.ts";
import type { Store } from "./store/store.ts";

export interface CostDay {
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  pipeline: string;
  cell: string;
  resource: string;
  amount: number;
  /** "second" for wall_seconds and cpu_seconds; the resource's own name says the unit of the others. */
  unit: string;
}

export interface CostDayQuery {
  /** The last `days` UTC days, today included. Default 30. */
  days?: number;
  pipeline?: string;
  /** Where the window ends; default now. */
  now?: Date;
}

const DAY_MS = 86_400_000;

/** Amounts summed per day, pipeline, cell and resource, oldest day first. */
export async function costDays(store: Store, query: CostDayQuery = {}): Promise<CostDay[]> {
  const days = query.days ?? 30;
  if (!Number.isInteger(days) || days < 1 || days > 3660) throw new CellarError(`days ${days}: expected a whole number from 1 to 3660`);
  const today = Math.floor((query.now ?? new Date()).getTime() / DAY_MS);
  const since = new Date((today - days + 1) * DAY_MS);
  // Days as whole numbers since the epoch, so the grouping does not depend on the session's time zone.
  const rows = await store.query(
    `WITH tries AS (
       SELECT run_id, cell, try_number, coalesce(started_at, ended_at) AS started, wall_ms, cpu_ms FROM attempts
     ), used AS (
       SELECT run_id, cell, started, 'wall_seconds' AS resource, wall_ms / 1000 AS amount FROM tries WHERE wall_ms IS NOT NULL
       UNION ALL
       SELECT run_id, cell, started, 'cpu_seconds', cpu_ms / 1000 FROM tries WHERE cpu_ms IS NOT NULL
       UNION ALL
       SELECT c.run_id, c.cell, t.started, c.resource, c.amount FROM costs c JOIN tries t USING (run_id, cell, try_number)
     )
     SELECT floor(epoch(used.started) / 86400)::BIGINT AS day, runs.pipeline, used.cell, used.resource, sum(used.amount) AS amount
     FROM used JOIN runs USING (run_id)
     WHERE used.started >= ?::TIMESTAMPTZ ${query.pipeline === undefined ? "" : "AND runs.pipeline = ?"}
     GROUP BY ALL
     ORDER BY day, runs.pipeline, used.cell, used.resource`,
    query.pipeline === undefined ? [since.toISOString()] : [since.toISOString(), query.pipeline],
  );
  return rows.map((row) => {
    const resource = String(row.resource);
    return {
      day: new Date(Number(row.day) * DAY_MS).toISOString().slice(0, 10),
      pipeline: String(row.pipeline),
      cell: String(row.cell),
      resource,
      amount: Number(row.amount),
      unit: resource.endsWith("_seconds") ? "second" : resource,
    };
  });
}
