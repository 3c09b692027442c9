/**
 * Batches for a padded model (BERT-like, through transformers.js): every text of a
 * batch is padded to the batch's longest, so a batch of one long chunk and 63 short
 * ones costs 64 long ones. `tokenBatches` sorts the items by token length within a
 * bounded window (`window` items: memory and the order of results stay local) and
 * cuts each window into batches whose padded size — items × the longest item's
 * tokens — stays within `batchTokens`, with at most `batchSize` items; an item longer
 * than the budget alone goes in a batch of its own. `inInputOrder` puts the results,
 * which come batch by batch, back in the items' order, holding at most about one
 * window of them.
 *
 * Sorting is stable and depends only on the lengths, so the batches — and the vectors,
 * which a padded model computes per batch — are the same on every run.
 *
 * @example
 * ```ts
 * import { inInputOrder, tokenBatches } from "./token-batches.ts";
 *
 * const lengths = [200, 3, 180, 5];
 * const batches = tokenBatches(lengths, { batchTokens: 400, batchSize: 64, window: 1024 }); // [[1, 3], [2, 0]]
 * async function* embedded() { for (const b of batches) yield b.map((i) => `vector of ${i}`); }
 * for await (const [position, vector] of inInputOrder(batches, embedded())) console.log(position, vector); // 0, 1, 2, 3
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";

export interface TokenBatchOptions {
  /** Most padded tokens in one batch: its items × its longest item's tokens. */
  batchTokens: number;
  /** Most items in one batch. */
  batchSize: number;
  /** Items sorted together; a window's batches all come before the next window's. */
  window: number;
}

/** Positions into `lengths`, batch by batch; each position exactly once. */
export function tokenBatches(lengths: readonly number[], options: TokenBatchOptions): number[][] {
  const { batchTokens, batchSize, window } = options;
  for (const [name, value] of Object.entries({ batchTokens, batchSize, window })) {
    if (!Number.isInteger(value) || value < 1) throw new CellarError(`tokenBatches: ${name} ${value}; expected a whole number ≥ 1`);
  }
  const batches: number[][] = [];
  for (let from = 0; from < lengths.length; from += window) {
    const positions = Array.from({ length: Math.min(window, lengths.length - from) }, (_, i) => from + i);
    // Shortest first; ties keep their input order (Array.prototype.sort is stable).
    positions.sort((a, b) => lengths[a] - lengths[b]);
    let batch: number[] = [];
    for (const position of positions) {
      // Sorted ascending: the item being added is the batch's longest.
      const padded = (batch.length + 1) * Math.max(1, lengths[position]);
      if (batch.length > 0 && (batch.length === batchSize || padded > batchTokens)) {
        batches.push(batch);
        batch = [];
      }
      batch.push(position);
    }
    if (batch.length > 0) batches.push(batch);
  }
  return batches;
}

/**
 * `[position, result]` pairs in position order (0, 1, 2, …), from results that arrive
 * one array per batch of `batches`, in the batches' order.
 */
export async function* inInputOrder<R>(batches: readonly number[][], results: AsyncIterable<R[]>): AsyncGenerator<[number, R]> {
  const held = new Map<number, R>();
  let next = 0;
  let b = 0;
  for await (const rows of results) {
    const batch = batches[b++];
    if (!batch || rows.length !== batch.length) {
      throw new CellarError(`inInputOrder: batch ${b - 1} gave ${rows.length} results for ${batch?.length ?? 0} items; expected one per item`);
    }
    batch.forEach((position, i) => held.set(position, rows[i]));
    for (let row; (row = held.get(next)) !== undefined || held.has(next); next++) {
      held.delete(next);
      yield [next, row as R];
    }
  }
  if (held.size > 0 || b !== batches.length) {
    throw new CellarError(`inInputOrder: ${batches.length - b} of ${batches.length} batches gave no results; expected every batch's`);
  }
}
