/**
 * The cell cache: a cell's cache key (its code and its upstream outputs), the
 * params and interval each try read (recorded with its checkpoint), the index
 * of a pipeline's checkpoints, and serving a cell from an earlier run's
 * checkpoint whose key and reads match, instead of running it.
 *
 * @example
 * ```ts
 * import { type CacheHost, CellCache } from "./cache.ts";
 * import type { CellDef } from "./pipeline.ts";
 * declare const execution: CacheHost;
 * declare const cell: CellDef;
 *
 * const cache = new CellCache(execution); // one per execution of a run
 * const key = await cache.key(cell);
 * const served = cell.cache && await cache.serve(cell, key); // → true: settled as cached, so the cell does not run
 * ```
 */
import { CacheReason, type CellReason, type KeyParts, missReason } from "./cache-reason.ts";
import { codeVersion } from "./fingerprint.ts";
import { sha256 } from "./hash.ts";
import { encodeOutput } from "./output.ts";
import type { CellDef, ParamValue, Pipeline } from "./pipeline.ts";
import type { RunRecord } from "./run-records.ts";
import { AttemptState, CellState } from "./state.ts";
import type { Store } from "./store/store.ts";

/** A cell's committed output as its dependents read it, and the hash its dependents' cache keys include. */
export interface RunCheckpoint {
  output: unknown;
  hash: string;
}

/** What a cell read from its run, recorded with its checkpoint. */
export interface Reads {
  params: Record<string, unknown>;
  interval?: string;
}

/** What the cache needs of the execution it serves (runner.ts's Execution). */
export interface CacheHost {
  readonly store: Store;
  readonly pipeline: Pipeline;
  readonly run: RunRecord;
  /** The last try number of each cell in this run, from the store on resume. */
  readonly tries: ReadonlyMap<string, number>;
  readonly checkpoints: Map<string, RunCheckpoint>;
  settle(cell: string, state: CellState): void;
  report(cell: string, state: CellState, extra?: { tryNumber?: number }): void;
}

type IndexEntry = { runId: number; reads: Reads };

/** The cache of one execution of a run. */
export class CellCache {
  #index: Promise<Map<string, IndexEntry[]>> | undefined;

  constructor(readonly host: CacheHost) {}

  /**
   * The identity of a cell's computation: its code as written and the hashes
   * of its upstream outputs. The params and interval it reads are matched
   * against each checkpoint's recorded reads (see `serve`).
   */
  async key(cell: CellDef): Promise<string> {
    return keyOf(cell, await this.parts(cell));
  }

  /** What the cell's key is made of: recorded with its cache reason, so that a later miss can say which part changed. */
  async parts(cell: CellDef): Promise<KeyParts> {
    const upstream = cell.needs.map((n): [string, string | null] => [n, this.host.checkpoints.get(n)?.hash ?? null]);
    return { codeVersion: await codeVersion(cell), upstream };
  }

  /** Why `serve` found no checkpoint for the cell (see missReason). */
  async missReason(cell: CellDef, cacheKey: string, parts: KeyParts): Promise<CellReason> {
    const { host } = this;
    const sameKey = (await this.index).get(`${cell.name}\u0000${cacheKey}`) ?? [];
    const target = { pipeline: host.pipeline.id, cell: cell.name, runId: host.run.runId, interval: intervalKey(host.run), params: host.run.params };
    return await missReason(host.store, target, parts, sameKey, (v) => encodeOutput("params", v).json);
  }

  /**
   * Serves the newest checkpoint with the same key whose recorded reads match
   * this run: the same value for every param it read, the same data interval
   * if it read that. A param only one cell reads then invalidates only that cell.
   */
  async serve(cell: CellDef, cacheKey: string, parts?: KeyParts): Promise<boolean> {
    const { host } = this;
    const candidates = (await this.index).get(`${cell.name}\u0000${cacheKey}`) ?? [];
    const match = candidates.find((c) => sameReads(c.reads, host.run));
    if (!match) return false;
    const [hit] = await host.store.query(
      `SELECT run_id, output, output_hash, reads FROM outputs WHERE run_id = ? AND cell = ?`,
      [match.runId, cell.name],
    );
    const { runId } = host.run;
    // A new attempt row: on resume the cell may have earlier tries whose errors and times must stay.
    const prior = host.tries.get(cell.name);
    const tryNumber = prior === undefined ? 0 : prior + 1;
    const durable = host.store.writer.write({
      outputs: [{
        runId, cell: cell.name, pipeline: host.pipeline.id, tryNumber, cacheKey,
        output: String(hit.output), outputHash: String(hit.output_hash),
        reads: String(hit.reads),
        cachedFrom: Number(hit.run_id),
      }],
      attempts: [{ runId, cell: cell.name, tryNumber, state: AttemptState.Cached, startedAt: new Date(), endedAt: new Date() }],
      reasons: [reasonRecord(runId, cell.name, { reason: CacheReason.Hit, detail: null }, parts ?? await this.parts(cell))],
    });
    host.checkpoints.set(cell.name, { output: JSON.parse(String(hit.output)), hash: String(hit.output_hash) });
    host.settle(cell.name, CellState.Cached);
    await durable;
    host.report(cell.name, CellState.Cached, { tryNumber });
    return true;
  }

  /**
   * The pipeline's checkpoints by (cell, cache key), newest first, read once per
   * run: one query instead of one per cell, which matters for long pipelines.
   */
  get index(): Promise<Map<string, IndexEntry[]>> {
    this.#index ??= this.host.store.query(
      `SELECT cell, cache_key, run_id, reads FROM outputs WHERE pipeline = ?
       QUALIFY row_number() OVER (PARTITION BY cell, cache_key ORDER BY created_at DESC) <= 20
       ORDER BY created_at DESC`,
      [this.host.pipeline.id],
    ).then((rows) => {
      const index = new Map<string, IndexEntry[]>();
      for (const row of rows) {
        const key = `${row.cell}\u0000${row.cache_key}`;
        if (!index.has(key)) index.set(key, []);
        index.get(key)!.push({ runId: Number(row.run_id), reads: JSON.parse(String(row.reads)) });
      }
      return index;
    });
    return this.#index;
  }
}

/** Which params, and whether the data interval, one try read: recorded with its checkpoint for cache matching. */
export class ReadTracker {
  readonly params = new Set<string>();
  interval = false;

  /** A read-only view of `params` that notes each name read; listing them reads them all. */
  view(params: Record<string, ParamValue>): Readonly<Record<string, ParamValue>> {
    const read = this.params;
    const frozen = Object.freeze(structuredClone(params));
    return new Proxy(frozen, {
      get(target, key, receiver) {
        if (typeof key === "string") read.add(key);
        return Reflect.get(target, key, receiver);
      },
      has(target, key) {
        if (typeof key === "string") read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        for (const key of Object.keys(target)) read.add(key);
        return Reflect.ownKeys(target);
      },
    });
  }

  /** The reads as the checkpoint's `reads` column stores them: the values of the params read, the interval if read. */
  encode(run: RunRecord): string {
    const { params } = run;
    const read = Object.fromEntries([...this.params].filter((k) => k in params).map((k) => [k, params[k]]));
    return encodeOutput("reads", { params: read, interval: this.interval ? intervalKey(run) : undefined }).json;
  }
}

/** The cache key: the same text as before reasons were recorded, so that older checkpoints still serve. */
export function keyOf(cell: CellDef, parts: KeyParts): string {
  return sha256(JSON.stringify([cell.name, parts.codeVersion, parts.upstream]));
}

/** A cell's cache reason as the writer stores it. */
export function reasonRecord(runId: number, cell: string, reason: CellReason, parts: KeyParts) {
  return { runId, cell, reason: reason.reason, detail: reason.detail, codeVersion: parts.codeVersion, upstream: JSON.stringify(parts.upstream) };
}

/** A run's data interval as the `reads` column records it. */
function intervalKey(run: RunRecord): string {
  return `${run.interval.start.toISOString()}/${run.interval.end.toISOString()}`;
}

/** True when `run` has what a checkpoint's cell read: the same data interval if it read that, the same param values. */
function sameReads(reads: Reads, run: RunRecord): boolean {
  if (reads.interval !== undefined && reads.interval !== intervalKey(run)) return false;
  return Object.entries(reads.params).every(([name, value]) =>
    name in run.params && encodeOutput("params", run.params[name]).json === encodeOutput("params", value).json
  );
}
