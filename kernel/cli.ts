/**
 * The `cellar` command line.
 *
 *     cellar run ingest --param maxPages=50
 *     cellar cell eval run_eval_suite
 *     cellar show 12 --json
 *
 * Exit codes: 0 success; 1 a run failed (for `cellar cell`: the cell's check
 * failed, e.g. the eval gate found a regression); 2 bad input (the message
 * names it), or for `cellar cell` a cell that errored; 130 interrupted (the
 * run can be resumed).
 */
import Table from "cli-table3";
import { Command, CommanderError, Option } from "commander";
import { stringify } from "csv-stringify/sync";
import { type CostModel, costLines, parseCostModel } from "./cost.ts";
import { formatDuration } from "./duration.ts";
import { CellarError, errorLine, isCellarError } from "./errors.ts";
import { isPipelineId, loadPipeline } from "./loader.ts";
import { parseDate, type Pipeline } from "./pipeline.ts";
import { showProgress } from "./progress.ts";
import { runDetail, runLogs } from "./report.ts";
import { Runner, type RunResult } from "./runner.ts";
import {
  createManualRun,
  createScheduledRuns,
  getRun,
  hasCheckpoint,
  listRuns,
  markInterrupted,
  type RunOptions,
  type RunRecord,
  scheduledRunKey,
} from "./runs.ts";
import { runtime } from "./runtime/mod.ts";
import { Scheduler } from "./scheduler.ts";
import { RESUMABLE_RUN_STATES, RunState } from "./state.ts";
import { Store } from "./store/store.ts";
import { compute } from "./compute/devices.ts";
import type { DataInterval } from "./timetable.ts";

const DEFAULT_DB = ".cellar/cellar.duckdb";
const DEFAULT_COST_MODEL = "pipelines/cost-model.csv";

/** withStore's option for commands that only read: a mistyped --db must not create a store. */
const READ_ONLY = { create: false } as const;
/** After a first SIGINT/SIGTERM, the process ends within this, whatever a cell is blocked on. */
const STOP_DEADLINE_MS = 8_000;
let stopDeadline: ReturnType<typeof setTimeout> | undefined;

const EXIT = { ok: 0, failed: 1, badInput: 2, error: 2, interrupted: 130 } as const;

/** What a pipeline module's `search` export returns per query. */
interface SearchHit {
  rank: number;
  score: number;
  document: string;
  title: string | null;
}

interface GlobalOptions {
  db?: string;
}

/** Runs the CLI with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command("cellar")
    .description("Scheduled DAGs and GPU fan-out for RAG pipelines, as TypeScript cells")
    .option("--db <path>", `DuckDB store (default: $CELLAR_DB or ${DEFAULT_DB})`)
    .exitOverride()
    .configureOutput({ writeOut: (s) => runtime.writeOut(s), writeErr: (s) => runtime.writeErr(s) })
    .showHelpAfterError("(cellar --help for usage)");

  const dbPath = () => program.opts<GlobalOptions>().db ?? runtime.env("CELLAR_DB") ?? DEFAULT_DB;
  const action = <A extends unknown[]>(body: (...args: A) => Promise<number>) => async (...args: A) => {
    exitCode = await body(...args);
  };

  program.command("run")
    .description("run a pipeline once now (resumes its interrupted run with the same params, if any)")
    .argument("<pipeline>", "pipeline id (pipelines/<id>.ts) or file")
    .addOption(paramOption())
    .option("--date <logical-date>", "logical date of the run (default: now)")
    .option("--no-cache", "recompute every cell")
    .option("--from <cell>", "recompute this cell and everything downstream")
    .option("--new", "always start a new run, even if an interrupted one could be resumed")
    .action(action(async (ref: string, opts: { param: Record<string, string>; date?: string; cache: boolean; from?: string; new?: boolean }) => {
      const { pipeline, file } = await loadPipeline(ref);
      const params = pipeline.resolveParams(opts.param);
      const date = opts.date === undefined ? new Date() : parseDate(opts.date, "--date");
      const options: RunOptions = {
        ...(opts.cache ? {} : { noCache: true }),
        ...(opts.from ? { from: opts.from } : {}),
        ...(isPipelineId(ref) ? {} : { source: file }),
      };
      if (opts.from) pipeline.getCell(opts.from);
      return await withStore(dbPath(), async (store) => {
        const resumable = opts.new || opts.from || !opts.cache
          ? undefined
          : (await listRuns(store, pipeline.id, { states: RESUMABLE_RUN_STATES, kinds: ["manual"] }))
            .find((r) => JSON.stringify(r.params) === JSON.stringify(params) && (opts.date === undefined || +r.logicalDate === +date));
        let run: RunRecord;
        if (resumable) {
          run = resumable;
          runtime.writeErr(`resuming run ${run.runId} (interrupted); pass --new for a fresh run\n`);
        } else {
          const interval = pipeline.timetable ? pipeline.timetable.manualInterval(date) : { start: date, end: date };
          run = await createManualRun(store, pipeline.id, "manual", date, interval, params, options);
        }
        return exitFor(await execute(store, pipeline, run));
      });
    }));

  program.command("resume")
    .description("resume an interrupted or failed run: completed cells are kept, the rest run")
    .argument("<run-id>", "run id (see cellar runs)")
    .action(action(async (id: string) =>
      await withStore(dbPath(), async (store) => {
        const run = await getRun(store, parseRunId(id));
        if (run.state === RunState.Success) throw new CellarError(`run ${run.runId}: already succeeded; nothing to resume`);
        const { pipeline } = await loadPipeline(run.options.source ?? run.pipeline);
        if (pipeline.id !== run.pipeline) {
          throw new CellarError(`run ${run.runId} is of pipeline "${run.pipeline}", but ${run.options.source} now defines "${pipeline.id}"`);
        }
        return exitFor(await execute(store, pipeline, run));
      })
    ));

  program.command("cell")
    .description("run one cell, its inputs taken from the latest checkpoints of its upstream cells (like airflow tasks test)")
    .argument("<pipeline>", "pipeline id or file")
    .argument("<cell>", "cell name")
    .addOption(paramOption())
    .option("--date <logical-date>", "logical date (default: now)")
    .action(action(async (ref: string, cellName: string, opts: { param: Record<string, string>; date?: string }) => {
      const { pipeline, file } = await loadPipeline(ref);
      const cell = pipeline.getCell(cellName);
      const params = pipeline.resolveParams(opts.param);
      const date = opts.date === undefined ? new Date() : parseDate(opts.date, "--date");
      return await withStore(dbPath(), async (store) => {
        // Refuse before recording a run, so a refused call leaves nothing behind.
        for (const need of cell.needs) {
          if (!(await hasCheckpoint(store, pipeline.id, need))) {
            throw new CellarError(
              `cell "${cellName}" needs the output of "${need}", which has no checkpoint in ${store.path}; run pipeline "${pipeline.id}" first`,
            );
          }
        }
        const interval = pipeline.timetable ? pipeline.timetable.manualInterval(date) : { start: date, end: date };
        const source = isPipelineId(ref) ? {} : { source: file };
        const run = await createManualRun(store, pipeline.id, "cell", date, interval, params, { only: [cellName], ...source });
        const result = await execute(store, pipeline, run);
        if (result.outputs.has(cellName)) runtime.writeOut(`${JSON.stringify(result.outputs.get(cellName), null, 2)}\n`);
        if (result.state !== RunState.Failed) return exitFor(result);
        // CI's contract: 1 when the cell's check failed (a regression), 2 when the cell could not do its work.
        const [last] = await store.query(
          `SELECT error FROM attempts WHERE run_id = ? AND cell = ? ORDER BY try_number DESC LIMIT 1`,
          [run.runId, cellName],
        );
        return String(last?.error ?? "").startsWith("CheckFailed: ") ? EXIT.failed : EXIT.error;
      });
    }));

  program.command("backfill")
    .description("create and run the scheduled runs whose logical dates fall in [from, to]")
    .argument("<pipeline>", "pipeline id or file")
    .requiredOption("--from <date>", "first logical date (inclusive)")
    .requiredOption("--to <date>", "last logical date (inclusive)")
    .action(action(async (ref: string, opts: { from: string; to: string }) => {
      const { pipeline } = await loadPipeline(ref);
      const from = parseDate(opts.from, "--from");
      const to = parseDate(opts.to, "--to");
      if (from > to) throw new CellarError(`--from ${opts.from} is after --to ${opts.to}`);
      if (!pipeline.timetable) throw new CellarError(`pipeline "${pipeline.id}" has no schedule; backfill needs one`);
      const intervals: DataInterval[] = [];
      for (let i = pipeline.timetable.nextInterval(new Date(from.getTime() - 1)); i && i.start <= to; i = pipeline.timetable.nextInterval(i.start)) {
        intervals.push(i);
      }
      // An interval that has not ended has no complete data yet; the scheduler will run it when it does.
      const now = Date.now();
      const future = intervals.filter((i) => i.end.getTime() > now).length;
      if (future > 0) {
        intervals.splice(intervals.length - future, future);
        runtime.writeErr(`backfill ${pipeline.id}: ${future} interval(s) in the range have not ended yet and are left to the scheduler\n`);
      }
      if (intervals.length === 0) throw new CellarError(`no complete interval of "${pipeline.id}" starts between ${opts.from} and ${opts.to}`);
      return await withStore(dbPath(), async (store) => {
        const created = await createScheduledRuns(store, pipeline.id, intervals, pipeline.resolveParams({}), "backfill");
        runtime.writeErr(`backfill ${pipeline.id}: ${intervals.length} intervals, ${created} new runs\n`);
        const keys = new Set(intervals.map((i) => scheduledRunKey(i.start)));
        const runs = (await listRuns(store, pipeline.id, { kinds: ["scheduled", "backfill"] }))
          .filter((r) => keys.has(r.runKey) && r.state !== RunState.Success)
          .reverse();
        const runner = new Runner(store);
        const stop = showProgress(runner, { quiet: true });
        const unsignal = cancelOnSignals(runner);
        let worst: number = EXIT.ok;
        try {
          await runPool(runs, pipeline.maxActiveRuns, async (run) => {
            if (runner.cancelled) return;
            // Read `worst` only after the await: runs finish out of order.
            const code = exitFor(await runner.execute(pipeline, run));
            worst = Math.max(worst, code);
          });
        } finally {
          unsignal();
          stop();
        }
        return runner.cancelled ? EXIT.interrupted : worst;
      });
    }));

  program.command("schedule")
    .description("run the scheduler in the foreground until interrupted")
    .argument("[pipelines...]", "pipeline ids or files (default: every scheduled pipeline in pipelines/)")
    .option("--once", "create the due runs, run them, and exit")
    .action(action(async (refs: string[], opts: { once?: boolean }) => {
      const pipelines = await loadScheduled(refs);
      return await withStore(dbPath(), async (store) => {
        const runner = new Runner(store);
        const scheduler = new Scheduler(store, runner, pipelines);
        const stop = showProgress(runner);
        const stopping = new AbortController();
        const unsignal = cancelOnSignals(runner, () => stopping.abort());
        runtime.writeErr(`scheduling ${pipelines.map((p) => p.id).join(", ")} on ${store.path}\n`);
        try {
          if (opts.once) await scheduler.runOnce();
          else await scheduler.run(stopping.signal);
        } finally {
          unsignal();
          stop();
        }
        return runner.cancelled && opts.once ? EXIT.interrupted : EXIT.ok;
      });
    }));

  program.command("search")
    .description("search a pipeline's vector index: ranked documents with scores and titles")
    .argument("<query>", "the text to search for")
    .option("--pipeline <id>", "the pipeline whose index to search", "ingest")
    .option("--k <n>", "number of documents", "10")
    .option("--json", "print JSON")
    .action(action(async (query: string, opts: { pipeline: string; k: string; json?: boolean }) => {
      const k = Number(opts.k);
      if (!Number.isInteger(k) || k < 1) throw new CellarError(`--k ${opts.k}: expected a whole number ≥ 1`);
      const { pipeline, exports } = await loadPipeline(opts.pipeline);
      const search = exports.search;
      if (typeof search !== "function") {
        throw new CellarError(`pipeline "${pipeline.id}" has no search; its module can export search(ctx, queries, { k })`);
      }
      return await withStore(dbPath(), async (store) => {
        // A software adapter (lavapipe) is slower than the CPU path for one query: use only real GPUs.
        const device = (await compute().gpu()).live.find((d) => !d.fallback)?.handle;
        // Vectors are read chunk by chunk into one Float32Array, not as JS arrays through store.query.
        const { vectorReader } = await import("./store/vectors.ts");
        const readVectors = vectorReader(store);
        const [hits] = await search({ pipeline: pipeline.id, sql: store.query.bind(store), readVectors, device }, [query], { k }) as SearchHit[][];
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

  program.command("runs")
    .description("list a pipeline's runs, newest first")
    .argument("<pipeline>", "pipeline id")
    .option("--json", "print JSON")
    .option("--limit <n>", "at most this many runs", "20")
    .action(action(async (id: string, opts: { json?: boolean; limit: string }) =>
      await withStore(dbPath(), async (store) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new CellarError(`--limit ${opts.limit}: expected a whole number ≥ 1`);
        const runs = await listRuns(store, id, { limit });
        if (opts.json) {
          runtime.writeOut(`${JSON.stringify(runs, null, 2)}\n`);
          return EXIT.ok;
        }
        const grid = table(["run", "kind", "logical date", "state", "started", "took"]);
        for (const r of runs) {
          grid.push([
            r.runId, r.triggeredBy ? `triggered (${r.triggeredBy.pipeline} run ${r.triggeredBy.runId})` : r.kind, r.logicalDate.toISOString(), r.state, r.startedAt?.toISOString() ?? "",
            r.startedAt && r.endedAt ? formatDuration(+r.endedAt - +r.startedAt) : "",
          ]);
        }
        runtime.writeOut(runs.length ? `${grid.toString()}\n` : `no runs of "${id}" in ${store.path}\n`);
        return EXIT.ok;
      }, READ_ONLY)
    ));

  program.command("show")
    .description("show a run: its cells, states, tries, durations, errors and costs")
    .argument("<run-id>", "run id")
    .option("--json", "print JSON")
    .option("--logs", "also print the cells' log lines")
    .action(action(async (id: string, opts: { json?: boolean; logs?: boolean }) =>
      await withStore(dbPath(), async (store) => {
        const detail = await runDetail(store, parseRunId(id));
        if (opts.json) {
          const shown = opts.logs ? { ...detail, logs: await runLogs(store, detail.run.runId) } : detail;
          runtime.writeOut(`${JSON.stringify(shown, null, 2)}\n`);
          return EXIT.ok;
        }
        const { run } = detail;
        runtime.writeOut(
          `run ${run.runId} of ${run.pipeline} (${run.kind}) — ${run.state}\n` +
            (run.triggeredBy ? `triggered by ${run.triggeredBy.pipeline} run ${run.triggeredBy.runId}\n` : "") +
            `logical date ${run.logicalDate.toISOString()}, interval ${run.interval.start.toISOString()} → ${run.interval.end.toISOString()}\n` +
            `params ${JSON.stringify(run.params)}\n`,
        );
        const grid = table(["cell", "state", "tries", "took", "cpu", "costs", "error"], { wordWrap: true, colWidths: [null, null, null, null, null, 28, 48] as number[] });
        for (const c of detail.cells) {
          grid.push([
            c.cell, c.cachedFrom ? `cached (run ${c.cachedFrom})` : c.state, c.tries,
            c.durationMs === null ? "" : formatDuration(c.durationMs), c.cpuMs === null ? "" : formatDuration(c.cpuMs),
            Object.entries(c.costs).map(([k, v]) => `${k} ${round(v)}`).join(", "), c.error ?? "",
          ]);
        }
        runtime.writeOut(`${grid.toString()}\n`);
        if (opts.logs) {
          for (const line of await runLogs(store, run.runId)) {
            runtime.writeOut(`${line.ts.toISOString()} ${line.cell} #${line.tryNumber} [${line.level}] ${line.message}\n`);
          }
        }
        return EXIT.ok;
      }, READ_ONLY)
    ));

  program.command("costs")
    .description("what a pipeline's recent runs used, per cell and resource, priced by a cost model")
    .argument("<pipeline>", "pipeline id")
    .option("--model <csv>", `cost model: resource,unit,usd_per_unit (default: $CELLAR_COST_MODEL or ${DEFAULT_COST_MODEL})`)
    .option("--csv", "print CSV")
    .option("--runs <n>", "the most recent n runs", "20")
    .action(action(async (id: string, opts: { model?: string; csv?: boolean; runs: string }) => {
      const modelPath = opts.model ?? runtime.env("CELLAR_COST_MODEL") ?? DEFAULT_COST_MODEL;
      const explicit = opts.model !== undefined || runtime.env("CELLAR_COST_MODEL") !== undefined;
      let model: CostModel | undefined;
      if (await runtime.exists(modelPath)) model = parseCostModel(await runtime.readTextFile(modelPath), modelPath);
      else if (explicit) throw new CellarError(`cost model ${modelPath}: not found`);
      const runs = Number(opts.runs);
      if (!Number.isInteger(runs) || runs < 1) throw new CellarError(`--runs ${opts.runs}: expected a whole number ≥ 1`);
      return await withStore(dbPath(), async (store) => {
        const lines = await costLines(store, id, model, runs);
        if (opts.csv) {
          runtime.writeOut(stringify(lines.map((l) => ({
            run_id: l.runId, logical_date: l.logicalDate.toISOString(), cell: l.cell, resource: l.resource,
            amount: l.amount, unit: l.unit, usd: l.usd ?? "",
          })), { header: true }));
          return EXIT.ok;
        }
        // One row per run and cell, one column per resource.
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
        runtime.writeOut(lines.length ? `${out.toString()}\ntotal ${dollars(total)}${model ? "" : " (no cost model)"}\n` : `no runs of "${id}"\n`);
        return EXIT.ok;
      }, READ_ONLY);
    }));

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    runtime.writeErr(`cellar: ${errorLine(err)}\n`);
    if (!isCellarError(err) && runtime.env("CELLAR_DEBUG")) runtime.writeErr(`${(err as Error)?.stack}\n`);
    return EXIT.badInput;
  } finally {
    clearTimeout(stopDeadline);
    stopDeadline = undefined;
  }
}

/** `--param k=v`, repeatable, collected into an object. */
function paramOption(): Option {
  return new Option("--param <key=value>", "set a pipeline param (repeatable)")
    .argParser((value: string, previous: Record<string, string> = {}) => {
      const eq = value.indexOf("=");
      if (eq <= 0) throw new CellarError(`--param ${value}: expected key=value`);
      return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
    })
    .default({}, "none");
}

/** Opens the store for `body`; a read-only command (`create: false`) refuses a path where no store exists. */
async function withStore<T>(path: string, body: (store: Store) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  if (options.create === false && path !== ":memory:" && !(await runtime.exists(path))) {
    throw new CellarError(`database ${path} does not exist; pass an existing store with --db (a run creates one)`);
  }
  const store = await Store.open(path);
  try {
    await markInterrupted(store);
    return await body(store);
  } finally {
    await store.close();
  }
}

/** Executes a run with progress shown and SIGINT/SIGTERM turned into a clean, resumable stop. */
async function execute(store: Store, pipeline: Pipeline, run: RunRecord): Promise<RunResult> {
  const runner = new Runner(store);
  const stop = showProgress(runner);
  const unsignal = cancelOnSignals(runner);
  try {
    return await runner.execute(pipeline, run);
  } finally {
    unsignal();
    stop();
  }
}

function cancelOnSignals(runner: Runner, onFirst?: () => void): () => void {
  let signals = 0;
  const handler = () => {
    signals++;
    if (signals === 1) {
      runtime.writeErr("stopping: cancelling running cells (again to exit at once)\n");
      runner.cancel("interrupted by signal");
      onFirst?.();
      // Cells that ignore their signal are abandoned after 5 s, the run is marked interrupted and the store
      // closed; should any of that hang, end anyway (the store's lock dies with the process, and its next
      // open marks the run interrupted).
      stopDeadline ??= setTimeout(() => {
        runtime.writeErr(`cellar: still stopping ${STOP_DEADLINE_MS / 1000} s after the signal; exiting now\n`);
        runtime.terminate();
      }, STOP_DEADLINE_MS);
    } else {
      // Asked twice: no more waiting for cells. The run is marked interrupted when the store is next opened.
      runtime.terminate();
    }
  };
  const offs = [runtime.onSignal("SIGINT", handler), runtime.onSignal("SIGTERM", handler)];
  return () => offs.forEach((off) => off());
}

function exitFor(result: RunResult): number {
  if (result.state === RunState.Success) return EXIT.ok;
  if (result.state === RunState.Interrupted) {
    runtime.writeErr(`run ${result.runId} interrupted; resume it with: cellar resume ${result.runId}\n`);
    return EXIT.interrupted;
  }
  return EXIT.failed;
}

/** The named pipelines, or every pipeline in pipelines/ that has a schedule or triggers. */
async function loadScheduled(refs: string[]): Promise<Pipeline[]> {
  const scheduled = (p: Pipeline) => p.timetable !== undefined || p.triggers.length > 0;
  if (refs.length > 0) {
    const pipelines = await Promise.all(refs.map(async (ref) => (await loadPipeline(ref)).pipeline));
    for (const p of pipelines) {
      if (!scheduled(p)) throw new CellarError(`pipeline "${p.id}" has neither a schedule nor triggers; cellar schedule runs those that do`);
    }
    return pipelines;
  }
  const dir = runtime.resolve("pipelines");
  const files = (await runtime.exists(dir)) ? (await runtime.readDir(dir)).filter((f) => f.endsWith(".ts")).sort() : [];
  const pipelines = (await Promise.all(files.map(async (f) => (await loadPipeline(`pipelines/${f}`)).pipeline))).filter(scheduled);
  if (pipelines.length === 0) throw new CellarError(`no scheduled or triggered pipeline in ${dir}; name one: cellar schedule <pipeline>`);
  return pipelines;
}

/** Runs `work` over `items`, at most `limit` at a time, in order of starting. */
async function runPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}

function parseRunId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new CellarError(`run id ${text}: expected a positive whole number`);
  return id;
}

/** A plain table: no colours, which would only be escape codes in logs and pipes. */
function table(head: string[], options: Partial<Table.TableConstructorOptions> = {}): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, ...options });
}

function dollars(usd: number): string {
  return usd === 0 || usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(4);
}

if (runtime.isMainModule(import.meta.url)) {
  runtime.exit(await main(runtime.args()));
}
