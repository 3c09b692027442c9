/**
 * A ctx.map's chunks counted as their tries end — done, failed, retried — for the `chunks` events the server
 * shows on a running cell and for `cellar_map_chunks_total{state}`. A map of 15,000 small chunks would send
 * 15,000 events to every browser following the run: the counts go out at most every 100 ms, and once more at
 * the end if the last change was held back.
 *
 * @example
 * ```ts
 * import { ChunkTally } from "./chunk-tally.ts";
 * import { ChunkState } from "../state.ts";
 *
 * const tally = new ChunkTally((counts) => console.log(counts), 4);
 * tally.count(ChunkState.Retried);
 * tally.count(ChunkState.Done); // → { done: 1, failed: 0, retried: 1, total: 4 }, 100 ms after the first report
 * tally.end();
 * ```
 */
import { metrics } from "../prometheus.ts";
import { ChunkState } from "../state.ts";

export interface ChunkCounts {
  done: number;
  failed: number;
  retried: number;
  /** Chunks the map will run, when its items are an array. */
  total?: number;
}

/** Reports at most this often while chunks end. */
const EVERY_MS = 100;

export class ChunkTally {
  readonly #counts: ChunkCounts;
  readonly #report: ((counts: ChunkCounts) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;

  constructor(report: ((counts: ChunkCounts) => void) | undefined, total?: number) {
    this.#report = report;
    this.#counts = { done: 0, failed: 0, retried: 0, ...(total === undefined ? {} : { total }) };
  }

  count(state: ChunkState): void {
    metrics.mapChunks.inc({ state });
    if (state === ChunkState.Done) this.#counts.done++;
    else if (state === ChunkState.Failed) this.#counts.failed++;
    else this.#counts.retried++;
    if (!this.#report || this.#timer) return;
    const wait = this.#last + EVERY_MS - Date.now();
    if (wait <= 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), wait);
  }

  /** The map is over: what was held back goes out now, and no timer outlives it. */
  end(): void {
    if (this.#timer) this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#last = Date.now();
    this.#report?.({ ...this.#counts });
  }
}
