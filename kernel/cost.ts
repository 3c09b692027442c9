/**
 * Cost tracking: what each cell attempt used — wall time, CPU time, and the
 * units the cell reported with `ctx.cost.add()` — priced by a cost model.
 *
 * A cost model is a CSV of `resource,unit,usd_per_unit`, for example:
 *
 *     resource,unit,usd_per_unit
 *     cpu_seconds,second,0.000011
 *     llm_tokens,token,0.000002
 *
 * @example
 * ```ts
 * import { costLines, parseCostModel } from "./cost.ts";
 * import { runtime } from "./runtime/mod.ts";
 * import type { Store } from "./store/store.ts";
 * declare const store: Store;
 *
 * const model = parseCostModel(await runtime.readTextFile("pipelines/cost-model.csv"), "cost-model.csv");
 * const lines = await costLines(store, "eval", model);
 * ```
 */
import { parse } from "csv-parse/sync";
import { CellarError, isCellarError } from "./errors.ts";
import type { Store } from "./store/store.ts";

export interface CostModel {
  /** resource → price and unit */
  prices: Map<string, { unit: string; usdPerUnit: number }>;
}

export interface CostLine {
  runId: number;
  logicalDate: Date;
  cell: string;
  resource: string;
  amount: number;
  unit: string;
  /** undefined when the model has no price for the resource. */
  usd: number | undefined;
}

const HEADER = ["resource", "unit", "usd_per_unit"] as const;

export function parseCostModel(text: string, source: string): CostModel {
  const expected = `expected the header ${HEADER.join(",")}`;
  let sawHeader = false;
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    records = parse(text, {
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const missing = HEADER.filter((column) => !names.includes(column));
        if (missing.length > 0) {
          throw new CellarError(`cost model ${source}: header ${JSON.stringify(names.join(","))} has no ${missing.join(", ")}; ${expected}`);
        }
        sawHeader = true;
        return names;
      },
      skip_empty_lines: true,
      trim: true,
      // Line numbers as in the file: blank lines and quoted newlines make them differ from record numbers.
      info: true,
    });
  } catch (err) {
    if (isCellarError(err)) throw err;
    throw new CellarError(`cost model ${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!sawHeader) throw new CellarError(`cost model ${source}: empty; ${expected}`);
  const prices = new Map<string, { unit: string; usdPerUnit: number }>();
  for (const { record, info } of records) {
    const where = `cost model ${source} line ${info.lines}`;
    const { resource, unit, usd_per_unit: price } = record;
    if (!resource) throw new CellarError(`${where}: no resource; expected a resource name such as cpu_seconds`);
    const usdPerUnit = Number(price);
    if (price === "" || !Number.isFinite(usdPerUnit) || usdPerUnit < 0) {
      throw new CellarError(`${where}: ${JSON.stringify(price)} is not a price; expected a number ≥ 0 in usd_per_unit`);
    }
    if (prices.has(resource)) throw new CellarError(`${where}: resource "${resource}" is priced twice`);
    prices.set(resource, { unit, usdPerUnit });
  }
  return { prices };
}

/** Every resource used by every cell of a pipeline's runs, newest run first, priced by `model`. */
export async function costLines(store: Store, pipeline: string, model?: CostModel, limitRuns = 50): Promise<CostLine[]> {
  const rows = await store.query(
    `WITH recent AS (
       SELECT run_id, logical_date FROM runs WHERE pipeline = ? ORDER BY logical_date DESC, run_id DESC LIMIT ?
     ), used AS (
       SELECT run_id, cell, 'wall_seconds' AS resource, sum(wall_ms) / 1000 AS amount FROM attempts
         WHERE wall_ms IS NOT NULL GROUP BY ALL
       UNION ALL
       SELECT run_id, cell, 'cpu_seconds', sum(cpu_ms) / 1000 FROM attempts WHERE cpu_ms IS NOT NULL GROUP BY ALL
       UNION ALL
       SELECT run_id, cell, resource, sum(amount) FROM costs GROUP BY ALL
     )
     SELECT recent.run_id, recent.logical_date, used.cell, used.resource, used.amount
     FROM used JOIN recent USING (run_id)
     ORDER BY recent.logical_date DESC, recent.run_id DESC, used.cell, used.resource`,
    [pipeline, limitRuns],
  );
  return rows.map((row) => {
    const resource = String(row.resource);
    const amount = Number(row.amount);
    const price = model?.prices.get(resource);
    return {
      runId: Number(row.run_id),
      logicalDate: new Date(row.logical_date as Date),
      cell: String(row.cell),
      resource,
      amount,
      unit: price?.unit ?? (resource.endsWith("_seconds") ? "second" : ""),
      usd: price ? amount * price.usdPerUnit : undefined,
    };
  });
}
