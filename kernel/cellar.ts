/**
 * The facade over one store: what the `cellar` commands do, as methods. The
 * CLI and the server are thin layers over it, and tests run pipelines through
 * it instead of assembling runs by hand.
 *
 * @example
 * ```ts
 * import { openCellar } from "./mod.ts";
 *
 * const cellar = openCellar({ db: ".cellar/cellar.duckdb" });
 * try {
 *   cellar.on((event) => console.log(event));
 *   const result = await cellar.run("hello", { params: { name: "world" } });
 *   console.log((await cellar.show(result.runId)).cells);
 * } finally {
 *   await cellar.close();
 * }
 * ```
 */
import type { Reprocess } from "./backfill-plan.ts";
import type { Compute } from "./compute/devices.ts";
import type { RemoteJob } from "./compute/map.ts";
import type { RemoteChunks, RemoteOptions } from "./remote/remote-placement.ts";
import type { CostLine, CostModel } from "./cost.ts";
import type { CostDay } from "./cost-days.ts";
import type { DeviceSnapshot } from "./compute/device-snapshot.ts";
import { CellarError } from "./errors.ts";
import type { CellResultsQuery, CellRunResult } from "./cell-results.ts";
import { type ParamValue, parseDate, type Pipeline } from "./pipeline.ts";
import type { LogLine, RunDetail } from "./report.ts";
import type { CellLogTails } from "./cell-log-tails.ts";
import type { LogPage, LogQuery } from "./run-logs.ts";
import type { GridRun } from "./run-grid.ts";
import type { RunEvent, Runner, RunResult } from "./runner.ts";
import type { RunOptions, RunRecord } from "./run-records.ts";
import type { StaleCell } from "./stale.ts";
import { CLAIMABLE_RUN_STATES, isOneOf, RESUMABLE_RUN_STATES, RunState } from "./state.ts";
import type { Store } from "./store/store.ts";
import type { DataInterval } from "./timetable.ts";

/**
 * The runtime, store and runner, loaded at first use: see kernel/engine.ts for why. The import is kept, not
 * made again per call: under a loader (tsx) each import() of a module already loaded still goes through its
 * resolve hooks, about a millisecond, which was most of what a server's API call cost.
 */
let engine: Promise<typeof import("./engine.ts")> | undefined;
const loadEngine = () => (engine ??= import("./engine.ts"));

export interface CellarOptions {
  /** The DuckDB store's path (opened at first use, closed by close()), or an open store (left open). */
  db: string | Store;
  /** false: refuse a path where no store exists, instead of creating one (what read-only commands want). */
  create?: boolean;
  /** Devices and CPU workers for ctx.map. Default: the process's, from CELLAR_DEVICES. */
  compute?: Compute;
  /** How long a cancelled cell may ignore its signal before it is abandoned. Default 5 s. */
  abandonAfterMs?: number;
  /**
   * Remote kernels over NATS JetStream (`cellar serve --nats <url>`): ctx.map's `placement: "remote" | "auto"`
   * send task chunks to `cellar worker`s. The connection stays the caller's to close. Default: none, and
   * every chunk runs in this process.
   */
  remote?: RemoteOptions;
}

/** A pipeline object, or what `cellar` takes: an id (`pipelines/<id>.ts`) or a file path. */
export type PipelineRef = Pipeline | string;

export interface RunRequest {
  /** Param overrides: strings are parsed as `--param` values are. */
  params?: Record<string, string | ParamValue>;
  /** Logical date. Default: now. */
  date?: Date | string;
  /** false: recompute every cell (`--no-cache`). */
  cache?: boolean;
  /** Recompute this cell and everything downstream. */
  from?: string;
  /** Always start a new run, even if an interrupted one with the same params could be resumed. */
  new?: boolean;
}

export interface CellResult extends RunResult {
  /** The cell failed its check (CheckFailed, e.g. a regression) rather than erroring. */
  checkFailed: boolean;
}

export interface BackfillRange {
  /** The first logical date (inclusive). */
  from: Date | string;
  /** The last logical date (inclusive). */
  to: Date | string;
  /** Which dates that already have a run are run again (Airflow 3's reprocess behaviours, backfill-plan.ts): by default, those whose latest run failed. */
  reprocess?: Reprocess | string;
  /** Called as each run ends, before the others have: the CLI says there how to resume an interrupted one. */
  onResult?: (result: RunResult) => void;
  /** Called once the runs to execute exist, before any executes. */
  onPlanned?: (plan: BackfillPlanned) => void;
}

/** What a backfill is about to do: `runs` are those it executes, oldest logical date first. */
/** An orphan a facade adopted (Cellar.adopt). */
export interface Adoption {
  runId: number;
  /** What the run's log, and the server's output, say of it. */
  line: string;
  /** The first cell it executes again; absent when every cell has its checkpoint. */
  resumeAt?: string;
  /** The resumed run's end; absent when a scheduler is to claim it. */
  done?: Promise<RunResult>;
}

export interface BackfillPlanned {
  intervals: number;
  /** Intervals in the range that have not ended: left to the scheduler. */
  notEnded: number;
  created: number;
  runs: RunRecord[];
}

export interface BackfillResult {
  /** The complete intervals in the range; those that have not ended are left to the scheduler. */
  intervals: DataInterval[];
  /** Runs created by this call (the others existed: a backfill twice over a range creates nothing). */
  created: number;
  /** One result per run executed, in the order they finished. */
  results: RunResult[];
  /** The backfill was cancelled; the runs not started stay queued. */
  cancelled: boolean;
}

/** What a pipeline module's `search` export returns per query. */
export interface SearchHit {
  rank: number;
  score: number;
  document: string;
  title: string | null;
}

/** What the facade tells its listeners: the runner's events, and the facade's own notices. */
export type CellarEvent =
  | RunEvent
  /**
   * `run` found a run with the same params and resumes it instead of starting one; `state` is what it was when
   * taken: interrupted, or queued (created by a process that ended before starting it).
   */
  | { type: "resuming"; runId: number; pipeline: string; state: RunState }
  /** `backfill` planned its range, before writing anything; `notEnded` intervals are left to the scheduler. */
  | { type: "backfill"; pipeline: string; intervals: number; notEnded: number }
  /** `backfill` created the runs its range lacked. */
  | { type: "backfill-created"; pipeline: string; intervals: number; created: number }
  /** `schedule` opened the store and starts its loop. */
  | { type: "scheduling"; pipelines: string[]; db: string };

/** One facade call that executes runs: its runner, made once the store is open, and the runs it executes. */
interface Operation {
  runner?: Runner;
  /** cancel() was called before the runner existed; `reason` undefined is the runner's default. */
  cancelled?: { reason: string | undefined };
  runIds: Set<number>;
  stopping: AbortController;
}

/** Opens the facade over `db`. Nothing is opened until the first call that needs the store. */
export function openCellar(options: CellarOptions): Cellar {
  return new Cellar(options);
}

export class Cellar implements AsyncDisposable {
  readonly #options: CellarOptions;
  readonly #listeners = new Set<(event: CellarEvent) => void>();
  readonly #operations = new Set<Operation>();
  /** What close() waits for: every operation's body, settled or not. */
  readonly #running = new Set<Promise<unknown>>();
  /** Wakes each open events() iterator, so that it sees close(). */
  readonly #enders = new Set<() => void>();
  /** The scheduler loops this facade runs: unpausing a pipeline wakes them. */
  readonly #schedulers = new Set<{ wake(): void }>();
  #store: Promise<Store> | undefined;
  /** The runs markInterrupted found running as this facade opened the store: orphans(). */
  #interrupted: number[] = [];
  /** Manual runs still queued as this facade opened the store: their process died before it started them (orphans.ts). */
  #queuedAtOpen = new Set<number>();
  /** The runs #run resumes, by id, until they end: a second trigger for one of them joins it instead of taking it again. */
  readonly #resuming = new Map<number, Promise<RunResult>>();
  /** Callers of #resumeMatching, one at a time: a run claimed here is in #resuming before the next one looks. */
  #taking: Promise<unknown> = Promise.resolve();
  #remote: Promise<RemoteChunks> | undefined;
  #workerCounts: (() => Record<string, number>) | undefined;
  #closed = false;
  /** Set by shutdown(): what starts from then on is cancelled as it starts; the runs of `ops` are noted. */
  #shuttingDown: { reason: string | undefined; ops: Set<Operation>; runIds: Set<number> } | undefined;

  constructor(options: CellarOptions) {
    this.#options = options;
  }

  /** The store's path. */
  get path(): string {
    const { db } = this.#options;
    return typeof db === "string" ? db : db.path;
  }

  /** The open store (opening it if need be): for reading the tables cells wrote. */
  store(): Promise<Store> {
    if (this.#closed) return Promise.reject(new CellarError(`cellar ${this.path}: closed`));
    this.#store ??= this.#open();
    return this.#store;
  }

  async #open(): Promise<Store> {
    const k = await loadEngine();
    const { db, create } = this.#options;
    if (typeof db !== "string") return db;
    if (create === false && db !== ":memory:" && !(await k.runtime.exists(db))) {
      throw new CellarError(`database ${db} does not exist; pass an existing store with --db (a run creates one)`);
    }
    const store = await k.Store.open(db);
    try {
      // Only one process opens the store for writing: what is still marked running here died with its process.
      this.#interrupted = await k.markInterrupted(store);
      this.#queuedAtOpen = new Set((await k.orphanedRuns(store, [])).filter((r) => r.kind === "manual").map((r) => r.runId));
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Subscribes to events; returns the unsubscribe function. A throwing listener is ignored. */
  on(listener: (event: CellarEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The events from now on (subscribed at this call, not at the first
   * next()), until close(), `signal`, or the loop breaking; none is dropped.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<CellarEvent> {
    const queue: CellarEvent[] = [];
    let wake: () => void = () => {};
    let done = false;
    const off = this.on((event) => {
      queue.push(event);
      wake();
    });
    const poke = () => wake();
    this.#enders.add(poke);
    options.signal?.addEventListener("abort", poke);
    const finish = (): IteratorResult<CellarEvent> => {
      done = true;
      off();
      this.#enders.delete(poke);
      options.signal?.removeEventListener("abort", poke);
      return { value: undefined, done: true };
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next: async () => {
        while (true) {
          if (queue.length > 0) return { value: queue.shift()!, done: false };
          if (done || this.#closed || options.signal?.aborted) return finish();
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      return: () => Promise.resolve(finish()),
    };
  }

  #emit(event: CellarEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken display must not break a run.
      }
    }
  }

  /**
   * Runs a pipeline once (`cellar run`): resumes its interrupted manual run
   * with the same params (and date, if given) unless `new`, `from` or
   * `cache: false` asks for a fresh one.
   */
  run(ref: PipelineRef, request: RunRequest = {}): Promise<RunResult> {
    return this.#run(ref, request, () => {});
  }

  /**
   * Starts a run as run() does, and answers once it exists (its id) while it goes on (`done`): what the
   * server's trigger answers with. Rejects, as run() would, when the request is refused before a run exists.
   */
  async start(ref: PipelineRef, request: RunRequest = {}): Promise<{ runId: number; done: Promise<RunResult> }> {
    return await started((created) => this.#run(ref, request, created));
  }

  async #run(ref: PipelineRef, request: RunRequest, onCreated: (runId: number) => void): Promise<RunResult> {
    const k = await loadEngine();
    const { pipeline, source } = await resolve(ref);
    const params = pipeline.resolveParams(request.params ?? {});
    const date = request.date === undefined ? new Date() : parseDate(request.date, "--date");
    const cache = request.cache ?? true;
    const options: RunOptions = {
      ...(cache ? {} : { noCache: true }),
      ...(request.from ? { from: request.from } : {}),
      ...source,
    };
    if (request.from) pipeline.getCell(request.from);
    return await this.#operate(async (store, op) => {
      const fresh = request.new || request.from || !cache;
      const resumed = fresh ? undefined : await this.#resumeMatching(store, op, pipeline, params, request.date === undefined ? undefined : date, onCreated);
      if (resumed) return await resumed.done;
      const interval = pipeline.timetable ? pipeline.timetable.manualInterval(date) : { start: date, end: date };
      const run = await k.createManualRun(store, pipeline.id, "manual", date, interval, params, options);
      onCreated(run.runId);
      return await this.#execute(op, pipeline, run);
    });
  }

  /**
   * Resumes the interrupted manual run with these params (and date, if given), or one a killed `cellar run`
   * created and never started (queued when the store was opened: this process may be about to start one it
   * made). Each is claimed in the store first, which one caller wins, another process included; the loser
   * looks on. A run this facade already resumes is joined: its result is this call's. Undefined: none, start anew.
   */
  #resumeMatching(
    store: Store,
    op: Operation,
    pipeline: Pipeline,
    params: Record<string, ParamValue>,
    date: Date | undefined,
    onCreated: (runId: number) => void,
  ): Promise<{ done: Promise<RunResult> } | undefined> {
    const take = this.#taking.then(async () => {
      const k = await loadEngine();
      const states = [...RESUMABLE_RUN_STATES, RunState.Queued, RunState.Running];
      const candidates = (await k.listRuns(store, pipeline.id, { states, kinds: ["manual"] }))
        .filter((r) => r.state !== RunState.Queued || this.#queuedAtOpen.has(r.runId))
        .filter((r) => r.state !== RunState.Running || this.#resuming.has(r.runId))
        .filter((r) => JSON.stringify(r.params) === JSON.stringify(params) && (date === undefined || +r.logicalDate === +date));
      for (const run of candidates) {
        const joined = this.#resuming.get(run.runId);
        if (joined) return (onCreated(run.runId), { done: joined });
        if (!(await k.claimRun(store, run.runId))) continue;
        this.#emit({ type: "resuming", runId: run.runId, pipeline: pipeline.id, state: run.state });
        onCreated(run.runId);
        const done = this.#execute(op, pipeline, run);
        this.#resuming.set(run.runId, done);
        done.finally(() => this.#resuming.delete(run.runId)).catch(() => {});
        return { done };
      }
      return undefined;
    });
    this.#taking = take.catch(() => {});
    return take;
  }

  /**
   * Resumes an interrupted or failed run (`cellar resume`): completed cells
   * are kept, the rest run. The pipeline is loaded as the run was started
   * (its id or file) unless given.
   */
  async resume(runId: number | string, options: { pipeline?: Pipeline } = {}): Promise<RunResult> {
    const k = await loadEngine();
    return await this.#operate(async (store, op) => {
      const run = await k.getRun(store, parseRunId(runId));
      if (run.state === RunState.Success) throw new CellarError(`run ${run.runId}: already succeeded; nothing to resume`);
      const pipeline = options.pipeline ?? (await k.loadPipeline(run.options.source ?? run.pipeline)).pipeline;
      if (pipeline.id !== run.pipeline) {
        throw new CellarError(`run ${run.runId} is of pipeline "${run.pipeline}", but ${options.pipeline ? "the pipeline given" : run.options.source} now defines "${pipeline.id}"`);
      }
      return await this.#execute(op, pipeline, run);
    });
  }

  /**
   * The runs a process that ended left unfinished (orphans.ts) and nobody has claimed since, oldest first: those
   * this facade found running as it opened the store (it marked them interrupted), and manual runs still queued.
   * What `cellar serve` adopts at start.
   */
  async orphans(): Promise<RunRecord[]> {
    const k = await loadEngine();
    return await k.orphanedRuns(await this.store(), this.#interrupted);
  }

  /**
   * Adopts an orphan: claims it, writes into its log the line saying where it resumes ("adopted run 12 (ingest)
   * left by a process that ended; resuming at embed_docs"), and resumes it with the same run id as this
   * facade's run (cancel() and close() stop it). With `start: false` it only writes the line, for a scheduler
   * of this facade to claim the run within its pipeline's maxActiveRuns. Undefined when another took it first.
   */
  async adopt(run: RunRecord, pipeline: Pipeline, options: { start?: boolean } = {}): Promise<Adoption | undefined> {
    const k = await loadEngine();
    if (pipeline.id !== run.pipeline) throw new CellarError(`run ${run.runId} is of pipeline "${run.pipeline}", not "${pipeline.id}"`);
    const store = await this.store();
    const resumeAt = await k.resumePoint(store, pipeline, run);
    const line = k.adoptionLine(run, resumeAt);
    const adoption = { runId: run.runId, line, ...(resumeAt ? { resumeAt } : {}) };
    if (options.start === false) {
      await this.note(run.runId, line);
      return adoption;
    }
    let claimed!: (ok: boolean) => void;
    let refused!: (err: unknown) => void;
    const claim = new Promise<boolean>((resolve, reject) => ((claimed = resolve), (refused = reject)));
    // Claimed within the operation, so that a close() meanwhile waits for the run rather than leaving it claimed.
    const done = this.#operate(async (store, op) => {
      if (!(await k.claimRun(store, run.runId))) return (claimed(false), undefined);
      await this.note(run.runId, line);
      claimed(true);
      return await this.#execute(op, pipeline, await k.getRun(store, run.runId));
    });
    done.catch(refused);
    if (!(await claim)) return undefined;
    return { ...adoption, done: done as Promise<RunResult> };
  }

  /** A line in a run's own log (no cell's): stored, and sent to listeners, as a cell's log lines are. */
  async note(runId: number, message: string, level = "info"): Promise<void> {
    const store = await this.store();
    const record = { runId, cell: "", tryNumber: 0, seq: store.writer.nextLogSeq(), ts: new Date(), level, message };
    this.#emit({ type: "log", ...record });
    await store.writer.write({ logs: [record] });
  }

  /**
   * Runs one cell (`cellar cell`), its inputs taken from the latest
   * checkpoints of its upstream cells; refuses, recording nothing, when one
   * has none.
   */
  cell(ref: PipelineRef, cellName: string, request: Pick<RunRequest, "params" | "date"> = {}): Promise<CellResult> {
    return this.#cell(ref, cellName, request, () => {});
  }

  /** Starts one cell's run as cell() does, and answers once it exists (its id) while it goes on, as start() does. */
  async startCell(ref: PipelineRef, cellName: string, request: Pick<RunRequest, "params" | "date"> = {}): Promise<{ runId: number; done: Promise<CellResult> }> {
    return await started((created) => this.#cell(ref, cellName, request, created));
  }

  async #cell(ref: PipelineRef, cellName: string, request: Pick<RunRequest, "params" | "date">, onCreated: (runId: number) => void): Promise<CellResult> {
    const k = await loadEngine();
    const { pipeline, source } = await resolve(ref);
    const cell = pipeline.getCell(cellName);
    const params = pipeline.resolveParams(request.params ?? {});
    const date = request.date === undefined ? new Date() : parseDate(request.date, "--date");
    return await this.#operate(async (store, op) => {
      for (const need of cell.needs) {
        if (!(await k.hasCheckpoint(store, pipeline.id, need))) {
          throw new CellarError(
            `cell "${cellName}" needs the output of "${need}", which has no checkpoint in ${store.path}; run pipeline "${pipeline.id}" first`,
          );
        }
      }
      const interval = pipeline.timetable ? pipeline.timetable.manualInterval(date) : { start: date, end: date };
      const run = await k.createManualRun(store, pipeline.id, "cell", date, interval, params, { only: [cellName], ...source });
      onCreated(run.runId);
      const result = await this.#execute(op, pipeline, run);
      if (result.state !== RunState.Failed) return { ...result, checkFailed: false };
      const [last] = await store.query(
        `SELECT error FROM attempts WHERE run_id = ? AND cell = ? ORDER BY try_number DESC LIMIT 1`,
        [run.runId, cellName],
      );
      return { ...result, checkFailed: String(last?.error ?? "").startsWith("CheckFailed: ") };
    });
  }

  /**
   * Creates and runs the scheduled runs whose logical dates fall in
   * [from, to] (`cellar backfill`), at most the pipeline's maxActiveRuns at a
   * time; which dates that have a run already are run again is `range.reprocess`'s
   * choice (by default those whose latest run did not succeed).
   */
  async backfill(ref: PipelineRef, range: BackfillRange): Promise<BackfillResult> {
    const k = await loadEngine();
    const { pipeline } = await resolve(ref);
    const reprocess = k.parseReprocess(range.reprocess);
    const { intervals, notEnded } = this.#backfillIntervals(pipeline, range);
    return await this.#operate(async (store, op) => {
      const { runs, created } = await k.prepareBackfill(store, pipeline, intervals, reprocess);
      this.#emit({ type: "backfill-created", pipeline: pipeline.id, intervals: intervals.length, created });
      range.onPlanned?.({ intervals: intervals.length, notEnded, created, runs });
      const results: RunResult[] = [];
      await runPool(runs, pipeline.maxActiveRuns, async (run) => {
        if (op.runner!.cancelled) return;
        // The server's scheduler may take a waiting run of the range first: it is then not run twice.
        if (isOneOf(CLAIMABLE_RUN_STATES, run.state) && !(await k.claimRun(store, run.runId))) return;
        const result = await this.#execute(op, pipeline, run);
        results.push(result);
        range.onResult?.(result);
      });
      return { intervals, created, results, cancelled: op.runner!.cancelled };
    });
  }

  /**
   * Starts a backfill as backfill() does, and answers once its runs exist (those it executes) while it goes
   * on (`done`): what the server's backfill route answers. Rejects, as backfill() would, on a refused range.
   */
  async startBackfill(ref: PipelineRef, range: BackfillRange): Promise<BackfillPlanned & { done: Promise<BackfillResult> }> {
    let planned!: (plan: BackfillPlanned) => void;
    let refused!: (err: unknown) => void;
    const plan = new Promise<BackfillPlanned>((resolve, reject) => ((planned = resolve), (refused = reject)));
    const done = this.backfill(ref, { ...range, onPlanned: (p) => (planned(p), range.onPlanned?.(p)) });
    // Once planned, `done` is the caller's to await; before, its failure is the answer's.
    done.catch(refused);
    return { ...(await plan), done };
  }

  /** The complete intervals of `pipeline` starting in the range; emits the plan. */
  #backfillIntervals(pipeline: Pipeline, range: BackfillRange): { intervals: DataInterval[]; notEnded: number } {
    const from = parseDate(range.from, "--from");
    const to = parseDate(range.to, "--to");
    const text = (d: Date | string) => (typeof d === "string" ? d : d.toISOString());
    if (from > to) throw new CellarError(`--from ${text(range.from)} is after --to ${text(range.to)}`);
    if (!pipeline.timetable) throw new CellarError(`pipeline "${pipeline.id}" has no schedule; backfill needs one`);
    const intervals: DataInterval[] = [];
    for (let i = pipeline.timetable.nextInterval(new Date(from.getTime() - 1)); i && i.start <= to; i = pipeline.timetable.nextInterval(i.start)) {
      intervals.push(i);
    }
    // An interval that has not ended has no complete data yet; the scheduler will run it when it does.
    const now = Date.now();
    const notEnded = intervals.filter((i) => i.end.getTime() > now).length;
    intervals.splice(intervals.length - notEnded, notEnded);
    this.#emit({ type: "backfill", pipeline: pipeline.id, intervals: intervals.length, notEnded });
    if (intervals.length === 0) throw new CellarError(`no complete interval of "${pipeline.id}" starts between ${text(range.from)} and ${text(range.to)}`);
    return { intervals, notEnded };
  }

  /**
   * Runs the scheduler (`cellar schedule`) over these pipelines, or every
   * scheduled or triggered pipeline in pipelines/: until `signal` or
   * cancel(), or with `once`, over the runs due now.
   */
  async schedule(refs: PipelineRef[] = [], options: { once?: boolean; signal?: AbortSignal } = {}): Promise<{ cancelled: boolean }> {
    const k = await loadEngine();
    const pipelines = await loadScheduled(refs);
    return await this.#operate(async (store, op) => {
      const scheduler = new k.Scheduler(store, op.runner!, pipelines);
      this.#emit({ type: "scheduling", pipelines: pipelines.map((p) => p.id), db: store.path });
      this.#schedulers.add(scheduler);
      try {
        if (options.once) await scheduler.runOnce();
        else await scheduler.run(options.signal ? AbortSignal.any([options.signal, op.stopping.signal]) : op.stopping.signal);
      } finally {
        this.#schedulers.delete(scheduler);
      }
      return { cancelled: op.runner!.cancelled };
    });
  }

  /**
   * Pauses a pipeline's schedule (`cellar pause`): no scheduled run of it is created or started until
   * unpause(). `changed` is false when it was paused already.
   */
  async pause(ref: PipelineRef): Promise<{ pipeline: string; paused: true; changed: boolean }> {
    const k = await loadEngine();
    const { pipeline } = await resolve(ref);
    return { pipeline: pipeline.id, paused: true, changed: await k.setPaused(await this.store(), pipeline.id, true) };
  }

  /**
   * Unpauses a pipeline's schedule (`cellar unpause`); with catchup, the intervals missed while paused are
   * run now (this facade's scheduler loops wake at once).
   */
  async unpause(ref: PipelineRef): Promise<{ pipeline: string; paused: false; changed: boolean }> {
    const k = await loadEngine();
    const { pipeline } = await resolve(ref);
    const changed = await k.setPaused(await this.store(), pipeline.id, false);
    for (const scheduler of this.#schedulers) scheduler.wake();
    return { pipeline: pipeline.id, paused: false, changed };
  }

  /** The paused pipelines, each with when it was paused; cellar_pipeline_paused is set for those `served`. */
  async paused(served: readonly string[] = []): Promise<Map<string, Date>> {
    const k = await loadEngine();
    return await k.pausedPipelines(await this.store(), served);
  }

  /** A pipeline's cells whose code changed since their latest checkpoint (the notebook marks them stale). */
  async stale(ref: PipelineRef): Promise<StaleCell[]> {
    const k = await loadEngine();
    const { pipeline } = await resolve(ref);
    return await k.staleCells(await this.store(), pipeline);
  }

  /**
   * Cancels the running cells of run `runId` (or of every run this facade is
   * executing) and starts nothing new; the runs stay resumable. Runs executed
   * by one call (a backfill, the scheduler) are cancelled together. Returns
   * whether anything was cancelled.
   */
  cancel(runId?: number, reason?: string): boolean {
    let any = false;
    for (const op of this.#operations) {
      if (runId !== undefined && !op.runIds.has(runId)) continue;
      any = true;
      op.cancelled ??= { reason };
      op.runner?.cancel(reason);
      op.stopping.abort();
    }
    return any;
  }

  /**
   * Stops everything as a server's SIGTERM does (a deploy's restart): cancels it as cancel() does, waits for
   * it to end, and hands each run that was left interrupted over to the next server (orphans.ts handOver),
   * with the shutdown note in its log; what starts from then on (a trigger answered as the server stops) is
   * cancelled as it starts, and noted too. A run a user's cancel was already stopping gets none: it stays
   * interrupted. Answers the runs noted.
   */
  async shutdown(reason?: string): Promise<number[]> {
    // A trigger the server answers while it stops starts an operation after this: born cancelled (#operate).
    const stopping = (this.#shuttingDown ??= { reason, ops: new Set(), runIds: new Set() });
    for (const op of this.#operations) {
      if (op.cancelled) continue;
      stopping.ops.add(op);
      for (const runId of op.runIds) stopping.runIds.add(runId);
    }
    this.cancel(undefined, reason);
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    const going = stopping.runIds;
    if (going.size === 0) return [];
    const k = await loadEngine();
    const store = await this.store();
    const noted: number[] = [];
    for (const runId of going) {
      if ((await k.getRun(store, runId)).state !== RunState.Interrupted) continue;
      await k.handOver(store, runId);
      await this.note(runId, k.SHUTDOWN_NOTE, "warn");
      noted.push(runId);
    }
    return noted;
  }

  /** A pipeline's runs, newest first (`cellar runs`). */
  async runs(pipeline: string, options: { limit?: number | string } = {}): Promise<RunRecord[]> {
    const k = await loadEngine();
    const store = await this.store();
    const limit = Number(options.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1) throw new CellarError(`--limit ${options.limit}: expected a whole number ≥ 1`);
    return await k.listRuns(store, pipeline, { limit });
  }

  /**
   * Runs across pipelines, newest id first, a page at a time (the server's run list): `before` is the
   * previous page's `next`.
   */
  async runPage(query: { pipeline?: string; states?: readonly RunState[]; before?: number; limit?: number } = {}): Promise<{ runs: RunRecord[]; next: number | null }> {
    const k = await loadEngine();
    const limit = query.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1) throw new CellarError(`limit ${limit}: expected a whole number ≥ 1`);
    return await k.pageRuns(await this.store(), { ...query, limit });
  }

  /** A pipeline's last `runs` runs, newest first, with each cell's state, tries and duration, in two reads: the server's grid. */
  async grid(pipeline: string, options: { runs?: number } = {}): Promise<GridRun[]> {
    const k = await loadEngine();
    const runs = options.runs ?? 25;
    if (!Number.isInteger(runs) || runs < 1) throw new CellarError(`runs ${runs}: expected a whole number ≥ 1`);
    return await k.runGrid(await this.store(), pipeline, runs);
  }

  /**
   * A run's cells, states, tries, durations, errors and costs (`cellar show`), and with `logs`, all its log
   * lines (a page of them is logs()'s).
   */
  async show(runId: number | string, options: { logs?: boolean } = {}): Promise<RunDetail & { logs?: LogLine[] }> {
    const k = await loadEngine();
    const store = await this.store();
    const detail = await k.runDetail(store, parseRunId(runId));
    if (!options.logs) return detail;
    return { ...detail, logs: await k.runLogs(store, detail.run.runId) };
  }

  /** A page of a run's log lines, filtered and read by cursor (run-logs.ts): as fast deep in a long log as at its start. */
  async logs(runId: number | string, query: LogQuery = {}): Promise<LogPage> {
    const k = await loadEngine();
    const store = await this.store();
    const run = await k.getRun(store, parseRunId(runId));
    return await k.logPage(store, run.runId, query);
  }

  /**
   * The last `lines` lines (default 20) of each cell's latest try in run `runId`, every cell in two reads
   * (cell-log-tails.ts): what a notebook shows under each cell; `cells` keeps only those.
   */
  async logTails(runId: number | string, options: { lines?: number; cells?: readonly string[] } = {}): Promise<CellLogTails> {
    const k = await loadEngine();
    const store = await this.store();
    const run = await k.getRun(store, parseRunId(runId));
    return await k.cellLogTails(store, run.runId, options);
  }

  /** The kernel's Prometheus metrics (cells, chunks, devices) in the text exposition format, for `/metrics`. */
  async metrics(): Promise<{ contentType: string; text: string }> {
    const k = await loadEngine();
    if (this.#workerCounts) k.workerCounts.read = this.#workerCounts;
    const { registry } = k;
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  /** Where metrics() reads `cellar_workers{state}` from: the server's registry of remote kernels. */
  countWorkers(read: () => Record<string, number>): void {
    this.#workerCounts = read;
  }

  /** What a pipeline's most recent `runs` runs used, per cell and resource, priced by `model` (`cellar costs`). */
  async costs(pipeline: string, options: { model?: CostModel; runs?: number } = {}): Promise<CostLine[]> {
    const k = await loadEngine();
    return await k.costLines(await this.store(), pipeline, options.model, options.runs ?? 20);
  }

  /** What every pipeline's cells (or one pipeline's) used per UTC day over the last `days` days: the server's costs page. */
  async costsByDay(query: { days?: number; pipeline?: string } = {}): Promise<CostDay[]> {
    const k = await loadEngine();
    return await k.costDays(await this.store(), query);
  }

  /** This process's GPU device pool now (opened if it was not): each device's claimed fraction and memory, its leases, the claims waiting. */
  async devices(): Promise<DeviceSnapshot> {
    const k = await loadEngine();
    const pool = await (this.#options.compute ?? k.compute()).gpu();
    return k.deviceSnapshot(pool, k.runtime.hostname());
  }

  /**
   * A cell's results over runs (cell-results.ts): per run of `pipeline` in which `cell` left one, newest
   * logical date first, its checkpoint's output or the details of the check that refused it, marked which;
   * `limit` (default 50) runs, or only run `runId`.
   */
  async cellResults(query: Omit<CellResultsQuery, "limit"> & { limit?: number }): Promise<CellRunResult[]> {
    const k = await loadEngine();
    const limit = query.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1) throw new CellarError(`limit ${limit}: expected a whole number ≥ 1`);
    return await k.cellResults(await this.store(), { ...query, limit });
  }

  /**
   * Searches a pipeline's indexes (`cellar search`) through its module's `search` export; `mode` is the
   * pipeline's retrieval spec (ingest: cells/index/retrieval-spec.ts), its own default when not given.
   */
  async search(query: string, options: { pipeline?: string; k?: number; mode?: string } = {}): Promise<SearchHit[]> {
    const k = await loadEngine();
    const count = options.k ?? 10;
    if (!Number.isInteger(count) || count < 1) throw new CellarError(`--k ${count}: expected a whole number ≥ 1`);
    const { pipeline, exports } = await k.loadPipeline(options.pipeline ?? "ingest");
    const search = exports.search;
    if (typeof search !== "function") {
      throw new CellarError(`pipeline "${pipeline.id}" has no search; its module can export search(ctx, queries, { k, mode })`);
    }
    const store = await this.store();
    const compute = this.#options.compute ?? k.compute();
    // Opened when a search takes the GPU path (a vector top-k), not for a lexical one. A software adapter
    // (lavapipe) is slower than the CPU path for one query: use only real GPUs.
    const gpu = async () => (await compute.gpu()).live.find((d) => !d.fallback)?.handle;
    // Vectors are read chunk by chunk into one Float32Array, not as JS arrays through store.query.
    const readVectors = k.vectorReader(store);
    const mode = options.mode || undefined;
    const [hits] = await search({ pipeline: pipeline.id, sql: store.query.bind(store), readVectors, gpu }, [query], { k: count, mode }) as SearchHit[][];
    return hits;
  }

  /** Cancels what is still running, waits for it, closes the store if this facade opened it, and ends events(). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.cancel();
    this.#closed = true;
    for (const end of this.#enders) end();
    await Promise.allSettled(this.#running);
    await this.#remote?.then((remote) => remote.close(), () => {});
    const store = this.#store;
    this.#store = undefined;
    if (!store || typeof this.#options.db !== "string") return;
    let opened: Store;
    try {
      opened = await store;
    } catch {
      return;
    }
    await opened.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Sets up remote kernels now — the chunk stream, its consumers, the result buckets and the watchers — rather
   * than at the first remote map: `cellar serve --nats` calls it at start, so that workers that join find the
   * stream. Throws one line if NATS refuses; does nothing without the `remote` option.
   */
  async openRemote(): Promise<void> {
    if (this.#options.remote) await this.#openRemote(await this.store());
  }

  /** The remote kernels, opened once per facade (stream, buckets, watchers) at its first remote map; again after a failure. */
  #openRemote(store: Store): Promise<RemoteChunks> {
    const options = this.#options.remote!;
    this.#remote ??= import("./remote/remote-placement.ts").then(({ openRemote }) => openRemote(options, store.path));
    this.#remote.catch(() => (this.#remote = undefined));
    return this.#remote;
  }

  /** Runs `body` as one cancellable operation, which close() waits for. */
  async #operate<T>(body: (store: Store, op: Operation) => Promise<T>): Promise<T> {
    const op: Operation = { runIds: new Set(), stopping: new AbortController() };
    if (this.#shuttingDown) {
      op.cancelled = { reason: this.#shuttingDown.reason };
      op.stopping.abort();
      this.#shuttingDown.ops.add(op);
    }
    this.#operations.add(op);
    const done = this.#operation(op, body);
    this.#running.add(done);
    try {
      return await done;
    } finally {
      this.#running.delete(done);
      this.#operations.delete(op);
    }
  }

  /** The store open, and a runner of the operation's own that forwards its events. */
  async #operation<T>(op: Operation, body: (store: Store, op: Operation) => Promise<T>): Promise<T> {
    const k = await loadEngine();
    const store = await this.store();
    const runner = new k.Runner(store, {
      ...(this.#options.compute ? { compute: this.#options.compute } : {}),
      ...(this.#options.abandonAfterMs !== undefined ? { abandonAfterMs: this.#options.abandonAfterMs } : {}),
      // Opened at the first map that goes remote: a run that sends nothing needs no NATS.
      ...(this.#options.remote ? { remote: { open: (job: RemoteJob) => this.#openRemote(store).then((remote) => remote.open(job)) } } : {}),
    });
    // A cancel() while the store opened applies to the runner made after it.
    if (op.cancelled) runner.cancel(op.cancelled.reason);
    op.runner = runner;
    const off = runner.on((event) => {
      k.recordRunMetrics(event);
      this.#emit(event);
    });
    try {
      return await body(store, op);
    } finally {
      off();
    }
  }

  async #execute(op: Operation, pipeline: Pipeline, run: RunRecord): Promise<RunResult> {
    op.runIds.add(run.runId);
    if (this.#shuttingDown?.ops.has(op)) this.#shuttingDown.runIds.add(run.runId);
    try {
      return await op.runner!.execute(pipeline, run);
    } finally {
      op.runIds.delete(run.runId);
    }
  }
}

/** The pipeline, and for one loaded from a file (not by id), the file: a resume loads it again. */
async function resolve(ref: PipelineRef): Promise<{ pipeline: Pipeline; source: { source?: string } }> {
  const k = await loadEngine();
  if (typeof ref !== "string") return { pipeline: ref, source: {} };
  const { pipeline, file } = await k.loadPipeline(ref);
  return { pipeline, source: k.isPipelineId(ref) ? {} : { source: file } };
}

/** The named pipelines, or every pipeline in pipelines/ that has a schedule or triggers. */
async function loadScheduled(refs: PipelineRef[]): Promise<Pipeline[]> {
  const k = await loadEngine();
  const scheduled = (p: Pipeline) => p.timetable !== undefined || p.triggers.length > 0;
  if (refs.length > 0) {
    const pipelines = await Promise.all(refs.map(async (ref) => (await resolve(ref)).pipeline));
    for (const p of pipelines) {
      if (!scheduled(p)) throw new CellarError(`pipeline "${p.id}" has neither a schedule nor triggers; cellar schedule runs those that do`);
    }
    return pipelines;
  }
  const dir = k.runtime.resolve("pipelines");
  const files = (await k.runtime.exists(dir)) ? (await k.runtime.readDir(dir)).filter((f) => f.endsWith(".ts")).sort() : [];
  const pipelines = (await Promise.all(files.map(async (f) => (await k.loadPipeline(`pipelines/${f}`)).pipeline))).filter(scheduled);
  if (pipelines.length === 0) throw new CellarError(`no scheduled or triggered pipeline in ${dir}; name one: cellar schedule <pipeline>`);
  return pipelines;
}

/**
 * Loads the pipeline module at `file` (what a server serving a directory of pipeline files does); with
 * `fresh`, anew though this process loaded it before, as after the file changed. Whether the file's last
 * load failed is counted in cellar_pipeline_load_errors.
 */
export async function loadPipelineFile(file: string, options: { fresh?: boolean } = {}): Promise<{ pipeline: Pipeline; file: string }> {
  const k = await loadEngine();
  const path = k.runtime.resolve(file);
  try {
    const { pipeline } = await k.loadPipeline(path, k.runtime.cwd(), options);
    k.recordPipelineLoad(path, true);
    return { pipeline, file: path };
  } catch (err) {
    // A file that is gone is no load error; one that is there and fails is (cellar_pipeline_load_errors).
    k.recordPipelineLoad(path, (await k.runtime.exists(path)) ? false : undefined);
    throw err;
  }
}

/** Runs `body`, answering once it calls `created` with its run's id; a failure before that is the answer's. */
async function started<R>(body: (created: (runId: number) => void) => Promise<R>): Promise<{ runId: number; done: Promise<R> }> {
  let created!: (runId: number) => void;
  let refused!: (err: unknown) => void;
  const runId = new Promise<number>((resolve, reject) => ((created = resolve), (refused = reject)));
  const done = body(created);
  // After the run exists, `done` is the caller's to await; before, its failure is the answer's.
  done.catch(refused);
  return { runId: await runId, done };
}

/** Runs `work` over `items`, at most `limit` at a time, in order of starting. */
async function runPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}

function parseRunId(value: number | string): number {
  const text = String(value);
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new CellarError(`run id ${text}: expected a positive whole number`);
  return id;
}
