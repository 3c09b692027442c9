/**
 * The task of bench/server-load.bench.ts's pipeline: a ctx.map chunk that waits, as a chunk of real work
 * would take time, without taking a core (the machine has two, shared by the server and its load). Run in
 * the server's CPU workers, or by `cellar worker` processes when the map's placement is remote.
 *
 * @example
 * ```ts
 * import { wait } from "./load-tasks.ts";
 *
 * await wait([{ n: 3, ms: 10 }]); // → [9]
 * ```
 */

export interface WaitItem {
  n: number;
  /** How long the chunk takes, in ms (its first item's). */
  ms: number;
}

/** Waits the chunk's `ms`, then squares each item. */
export async function wait(items: WaitItem[]): Promise<number[]> {
  await new Promise((resolve) => setTimeout(resolve, items[0]?.ms ?? 0));
  return items.map((item) => item.n * item.n);
}
