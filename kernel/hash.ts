/**
 * Content hashes for cache keys and checkpoints.
 *
 * Synchronous on purpose: `crypto.subtle.digest` is asynchronous and queues on
 * the same thread pool as DuckDB's work, which put a commit's latency in front
 * of every cell's cache key.
 *
 * @example
 * ```ts
 * import { sha256 } from "./hash.ts";
 *
 * sha256("hello"); // → "2cf24dba…"
 * ```
 */
import { runtime } from "./runtime/mod.ts";

export function sha256(text: string): string {
  return runtime.sha256Hex(text);
}
