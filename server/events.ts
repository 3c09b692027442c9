/**
 * The facade's events, numbered and kept in a bounded buffer, for the live updates over SSE: a client that
 * reconnects with `Last-Event-ID` gets what it missed (while the buffer still holds it), then what comes.
 * Nothing is sent, and nothing runs, while nothing happens.
 *
 * @example
 * ```ts
 * import { openCellar } from "../kernel/mod.ts";
 * import { EventLog } from "./events.ts";
 *
 * const log = new EventLog(openCellar({ db: ":memory:" }));
 * const { events, missed } = log.since(0); // → every event buffered so far; missed: false
 * log.close();
 * ```
 */
import type { Cellar, CellarEvent } from "../kernel/mod.ts";
import type { PipelineRegistry } from "./deps.ts";
import type { WorkerChanged } from "./workers.ts";

/** The server's own event beside the facade's: a served pipeline's file changed and was reloaded (or removed). */
export interface PipelineChanged {
  type: "pipeline_changed";
  pipeline: string;
}

export type ServerEvent = CellarEvent | PipelineChanged | WorkerChanged;

export interface NumberedEvent {
  id: number;
  event: ServerEvent;
  /** The event as JSON, made once for all the clients it goes to. */
  data: string;
}

/** How many events a reconnecting client can catch up on. */
const CAPACITY = 10_000;

export class EventLog {
  readonly #buffer: NumberedEvent[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #offs: Array<() => void>;
  /** Each run's pipeline, from its run events: a cell's or a log line's event names only the run. */
  readonly #pipelineOfRun = new Map<number, string>();
  readonly #capacity: number;
  #next = 1;
  #closed = false;

  /**
   * `pipelines`: whose reloads are sent as `pipeline_changed`, so that an open notebook redraws its cells;
   * `workers`: the remote kernels, whose changes are sent as `worker` (the devices page lists them).
   */
  constructor(cellar: Cellar, options: { capacity?: number; pipelines?: PipelineRegistry; workers?: { changed(listener: (event: WorkerChanged) => void): () => void } } = {}) {
    this.#capacity = options.capacity ?? CAPACITY;
    this.#offs = [cellar.on((event) => this.#push(event))];
    const { pipelines, workers } = options;
    if (pipelines) this.#offs.push(pipelines.changed((pipeline) => this.#push({ type: "pipeline_changed", pipeline })));
    if (workers) this.#offs.push(workers.changed((event) => this.#push(event)));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The id the next event will have: a new client starts from `next - 1`. */
  get next(): number {
    return this.#next;
  }

  /** The pipeline an event is of: its own `pipeline`, or that of the run it names. */
  pipelineOf(event: ServerEvent): string | undefined {
    if ("pipeline" in event) return event.pipeline;
    return "runId" in event ? this.#pipelineOfRun.get(event.runId) : undefined;
  }

  #push(event: ServerEvent): void {
    if (event.type === "run" || event.type === "resuming") {
      this.#pipelineOfRun.delete(event.runId);
      this.#pipelineOfRun.set(event.runId, event.pipeline);
      // The runs longest unseen go first: a client asking for a pipeline follows its recent runs.
      if (this.#pipelineOfRun.size > this.#capacity) this.#pipelineOfRun.delete(this.#pipelineOfRun.keys().next().value!);
    }
    this.#buffer.push({ id: this.#next++, event, data: JSON.stringify(event) });
    if (this.#buffer.length > this.#capacity) this.#buffer.splice(0, this.#buffer.length - this.#capacity);
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    waiters.forEach((wake) => wake());
  }

  /** The buffered events after `lastId`; `missed` when some after it have already left the buffer. */
  since(lastId: number): { events: NumberedEvent[]; missed: boolean } {
    const first = this.#buffer[0]?.id ?? this.#next;
    const events = this.#buffer.slice(Math.max(0, lastId + 1 - first));
    return { events, missed: lastId + 1 < first };
  }

  /** Resolves at the next event, at close(), or when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Stops listening and ends every waiting stream (a server cannot shut down under an open one). */
  close(): void {
    this.#closed = true;
    this.#offs.forEach((off) => off());
    this.#wake();
  }
}
