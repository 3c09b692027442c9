/**
 * The commands that only read the store: `cellar runs`, `show`, `costs` and
 * `search`. None creates a store where there is none. `runs` and `show` ask a
 * `cellar serve` that holds the store, when one runs (remote.ts).
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { inspectCommands } from "./inspect.ts";
 * declare const cli: Cli;
 *
 * inspectCommands(cli); // cellar show 12 --json
 * ```
 */
import { stringify } from "csv-stringify/sync";
import { type CostLine, type CostModel, parseCostModel } from "../cost.ts";
import { CellarError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import type { LogLine, RunDetail } from "../report.ts";
import type { RunRecord } from "../run-records.ts";
import { type Cli, EXIT, READ_ONLY, table, withCellar } from "./command.ts";
import { logLineText, round, runsTable, runText } from "./format.ts";
import { remoteFor } from "./remote.ts";

const DEFAULT_COST_MODEL = "pipelines/cost-model.csv";

export function inspectCommands(cli: Cli): void {
  searchCommand(cli);
  runsCommand(cli);
  showCommand(cli);
  costsCommand(cli);
}

function searchCommand(cli: Cli): void {
  cli.program.command("search")
    .description("search a pipeline's indexes: ranked documents with scores and titles")
    .argument("<query>", "the text to search for")
    .option("--pipeline <id>", "the pipeline whose index to search", "ingest")
    .option("--k <n>", "number of documents", "10")
    .option("--mode <spec>", "retrieval: dense, lexical, lexical+rm3, hybrid, hybrid:rrf, hybrid:weighted:alpha=0.3, … (default: the pipeline's)")
    .option("--json", "print JSON")
    .action(cli.action(async (query: string, opts: { pipeline: string; k: string; mode?: string; json?: boolean }) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1) throw new CellarError(`--k ${opts.k}: expected a whole number ≥ 1`);
      return await withCellar(cli, async (cellar) => {
        const hits = await cellar.search(query, { pipeline: opts.pipeline, k, mode: opts.mode });
        if (opts.json) {
          runtime.writeOut(`${JSON.stringify(hits, null, 2)}\n`);
          return EXIT.ok;
        }
        const grid = table(["rank", "score", "title", "document"], { wordWrap: true, colWidths: [null, null, 50, null] as number[] });
        for (const hit of hits) grid.push([hit.rank, hit.score.toFixed(4), hit.title ?? "", hit.document]);
        runtime.writeOut(`${grid.toString()}\n`);
        return EXIT.ok;
      }, READ_ONLY);
    }));
}

function runsCommand(cli: Cli): void {
  cli.program.command("runs")
    .description("list a pipeline's runs, newest first")
    .argument("<pipeline>", "pipeline id")
    .option("--json", "print JSON")
    .option("--limit <n>", "at most this many runs", "20")
    .action(cli.action(async (id: string, opts: { json?: boolean; limit: string }) => {
      const remote = await remoteFor(cli);
      const print = (runs: RunRecord[]) => runtime.writeOut(opts.json ? `${JSON.stringify(runs, null, 2)}\n` : runsTable(runs, id, cli.db()));
      if (remote) {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new CellarError(`--limit ${opts.limit}: expected a whole number ≥ 1`);
        print(await remote.runs(id, limit));
        return EXIT.ok;
      }
      return await withCellar(cli, async (cellar) => {
        print(await cellar.runs(id, { limit: opts.limit }));
        return EXIT.ok;
      }, READ_ONLY);
    }));
}

function showCommand(cli: Cli): void {
  cli.program.command("show")
    .description("show a run: its cells, states, tries, durations, errors and costs")
    .argument("<run-id>", "run id")
    .option("--json", "print JSON")
    .option("--logs", "also print the cells' log lines")
    .action(cli.action(async (id: string, opts: { json?: boolean; logs?: boolean }) => {
      const print = (shown: RunDetail & { logs?: LogLine[] }) => {
        if (opts.json) return runtime.writeOut(`${JSON.stringify(shown, null, 2)}\n`);
        runtime.writeOut(runText(shown));
        for (const line of shown.logs ?? []) runtime.writeOut(logLineText(line));
      };
      const remote = await remoteFor(cli);
      if (remote) print(await remote.show(id, { logs: opts.logs }));
      else await withCellar(cli, async (cellar) => print(await cellar.show(id, { logs: opts.logs })), READ_ONLY);
      return EXIT.ok;
    }));
}

function costsCommand(cli: Cli): void {
  cli.program.command("costs")
    .description("what a pipeline's recent runs used, per cell and resource, priced by a cost model")
    .argument("<pipeline>", "pipeline id")
    .option("--model <csv>", `cost model: resource,unit,usd_per_unit (default: $CELLAR_COST_MODEL or ${DEFAULT_COST_MODEL})`)
    .option("--csv", "print CSV")
    .option("--runs <n>", "the most recent n runs", "20")
    .action(cli.action(async (id: string, opts: { model?: string; csv?: boolean; runs: string }) => {
      const model = await costModel(opts.model);
      const runs = Number(opts.runs);
      if (!Number.isInteger(runs) || runs < 1) throw new CellarError(`--runs ${opts.runs}: expected a whole number ≥ 1`);
      return await withCellar(cli, async (cellar) => {
        const lines = await cellar.costs(id, { model, runs });
        runtime.writeOut(opts.csv ? costsCsv(lines) : costsTable(lines, id, model !== undefined));
        return EXIT.ok;
      }, READ_ONLY);
    }));
}

/** --model, else $CELLAR_COST_MODEL, else the shipped model if present: only a named model must exist. */
async function costModel(option: string | undefined): Promise<CostModel | undefined> {
  const modelPath = option ?? runtime.env("CELLAR_COST_MODEL") ?? DEFAULT_COST_MODEL;
  const explicit = option !== undefined || runtime.env("CELLAR_COST_MODEL") !== undefined;
  if (await runtime.exists(modelPath)) return parseCostModel(await runtime.readTextFile(modelPath), modelPath);
  if (explicit) throw new CellarError(`cost model ${modelPath}: not found`);
  return undefined;
}

function costsCsv(lines: CostLine[]): string {
  return stringify(lines.map((l) => ({
    run_id: l.runId, logical_date: l.logicalDate.toISOString(), cell: l.cell, resource: l.resource,
    amount: l.amount, unit: l.unit, usd: l.usd ?? "",
  })), { header: true });
}

/** One row per run and cell, one column per resource. */
function costsTable(lines: CostLine[], id: string, priced: boolean): string {
  if (lines.length === 0) return `no runs of "${id}"\n`;
  const resources = [...new Set(lines.map((l) => l.resource))];
  const rows = new Map<string, { runId: number; cell: string; amounts: Map<string, number>; usd: number | undefined }>();
  for (const l of lines) {
    const key = `${l.runId}/${l.cell}`;
    if (!rows.has(key)) rows.set(key, { runId: l.runId, cell: l.cell, amounts: new Map(), usd: undefined });
    const row = rows.get(key)!;
    row.amounts.set(l.resource, l.amount);
    if (l.usd !== undefined) row.usd = (row.usd ?? 0) + l.usd;
  }
  const out = table(["run", "cell", ...resources, "usd"]);
  let total = 0;
  for (const row of rows.values()) {
    total += row.usd ?? 0;
    out.push([row.runId, row.cell, ...resources.map((r) => (row.amounts.has(r) ? round(row.amounts.get(r)!) : "")), row.usd === undefined ? "-" : dollars(row.usd)]);
  }
  return `${out.toString()}\ntotal ${dollars(total)}${priced ? "" : " (no cost model)"}\n`;
}

function dollars(usd: number): string {
  return usd === 0 || usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}
