/**
 * The CPU pool: one worker per core, running task-handle chunks (closures
 * cannot cross threads). A chunk whose signal aborts is dropped by
 * terminating its worker, which is replaced on next use.
 *
 * @example
 * ```ts
 * import { task } from "./task.ts";
 * import { CpuPool } from "./cpu-pool.ts";
 * declare const texts: string[];
 * declare const signal: AbortSignal;
 *
 * const cpu = new CpuPool();
 * const out = await cpu.run(task(import.meta.url, "shingle"), texts, signal); // one result per text
 * cpu.close();
 * ```
 */
import { Semaphore } from "../async.ts";
import { CellarError } from "../errors.ts";
import { runtime, type WorkerHandle } from "../runtime/mod.ts";
import type { TaskHandle } from "./task.ts";

export interface TaskRequest {
  id: number;
  module: string;
  name: string;
  chunk: unknown[];
  index: number;
}

export type TaskResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; retryable: boolean };

interface Slot {
  worker: WorkerHandle | undefined;
  busy: boolean;
  /** The request the worker is running, to fail if the worker dies. */
  current: number | undefined;
}

const WORKER_URL = new URL("./cpu-worker.ts", import.meta.url).href;

export class CpuPool {
  readonly size: number;
  readonly #slots: Slot[];
  readonly #free: Semaphore;
  readonly #pending = new Map<number, { resolve: (r: unknown[]) => void; reject: (e: unknown) => void }>();
  #nextId = 1;

  constructor(size = runtime.cpuCount()) {
    this.size = size;
    this.#slots = Array.from({ length: size }, () => ({ worker: undefined, busy: false, current: undefined }));
    this.#free = new Semaphore(size);
  }

  async run(task: TaskHandle, chunk: unknown[], signal: AbortSignal, index = 0): Promise<unknown[]> {
    signal.throwIfAborted();
    const slot = await this.#take(signal);
    try {
      const worker = slot.worker ??= this.#spawn(slot);
      const id = this.#nextId++;
      slot.current = id;
      return await new Promise<unknown[]>((resolve, reject) => {
        const onAbort = () => {
          this.#pending.delete(id);
          worker.terminate();
          slot.worker = undefined;
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.#pending.set(id, {
          resolve: (r) => (signal.removeEventListener("abort", onAbort), resolve(r)),
          reject: (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
        });
        worker.post({ id, module: task.module, name: task.name, chunk, index } satisfies TaskRequest);
      });
    } finally {
      slot.current = undefined;
      this.#give(slot);
    }
  }

  close(): void {
    for (const slot of this.#slots) {
      slot.worker?.terminate();
      slot.worker = undefined;
    }
  }

  #spawn(slot: Slot): WorkerHandle {
    const worker: WorkerHandle = runtime.spawnWorker(WORKER_URL, (message) => {
      const response = message as TaskResponse;
      const pending = this.#pending.get(response.id);
      if (!pending) return;
      this.#pending.delete(response.id);
      if (response.ok) pending.resolve(response.result as unknown[]);
      else pending.reject(new CellarError(response.error, { retryable: response.retryable !== false }));
    }, (error) => {
      // A worker terminated for a cancelled chunk exits after its slot has a new one; that chunk was rejected already.
      if (slot.worker !== worker) return;
      // A dead worker fails the chunk it was running (the chunk may be retried) and is replaced on next use.
      slot.worker = undefined;
      const pending = slot.current === undefined ? undefined : this.#pending.get(slot.current);
      if (pending) {
        this.#pending.delete(slot.current!);
        pending.reject(new CellarError(`CPU worker died: ${error.message}`, { retryable: true }));
      }
    });
    return worker;
  }

  /** A free worker slot; a chunk whose signal aborts while it waits leaves the line. */
  async #take(signal: AbortSignal): Promise<Slot> {
    await this.#free.acquire(signal);
    const slot = this.#slots.find((s) => !s.busy)!;
    slot.busy = true;
    return slot;
  }

  #give(slot: Slot): void {
    slot.busy = false;
    this.#free.release();
  }
}
