/**
 * Why a cell of a run was served from cache or recomputed: the reasons, their wording, and explaining a
 * miss by the checkpoint that came closest (the same cache key but other reads, else the cell's latest).
 * The runner records one reason per cell of a run with the code version and upstream hashes its cache key
 * was made of (the `cell_reasons` table), which is what a later miss is compared with.
 *
 * @example
 * ```ts
 * import { CacheReason, reasonText } from "./cache-reason.ts";
 *
 * reasonText({ reason: CacheReason.ParamsChanged, detail: "n" }); // → "recomputed: params changed (n)"
 * ```
 */
import type { Store } from "./store/store.ts";

export const CacheReason = {
  /** Served from an earlier checkpoint with the same code, upstream outputs, params read and interval. */
  Hit: "hit",
  /** Its code (the source of its function, or a project file it imports) changed since its latest checkpoint. */
  CodeChanged: "code_changed",
  /** An upstream cell's output differs from the one its latest checkpoint was made from. */
  UpstreamChanged: "upstream_changed",
  /** Its code or an upstream output changed; its latest checkpoint predates recorded reasons, so not which. */
  KeyChanged: "key_changed",
  /** A param it read has another value than in every checkpoint with its cache key. */
  ParamsChanged: "params_changed",
  /** It read the data interval (logical date), and no checkpoint with its cache key is of this interval. */
  IntervalChanged: "interval_changed",
  /** The cell is declared `cache: false`. */
  CacheOff: "cache_off",
  /** The cell has no earlier checkpoint in this pipeline. */
  NoCheckpoint: "no_checkpoint",
  /** The run was asked to recompute every cell (`--no-cache`). */
  NoCache: "no_cache",
  /** The run recomputes it on purpose: run from this cell (or one upstream of it), or this cell run alone. */
  Forced: "forced",
} as const;
export type CacheReason = typeof CacheReason[keyof typeof CacheReason];

export const CACHE_REASONS = Object.values(CacheReason) as [CacheReason, ...CacheReason[]];

export interface CellReason {
  reason: CacheReason;
  /** What changed, or what forced it (param or upstream names, the intervals, the run it was served from). */
  detail: string | null;
}

const WORDS: Record<CacheReason, string> = {
  [CacheReason.Hit]: "served from cache: same code, params, inputs and interval",
  [CacheReason.CodeChanged]: "recomputed: code changed",
  [CacheReason.UpstreamChanged]: "recomputed: upstream changed",
  [CacheReason.KeyChanged]: "recomputed: code or upstream changed",
  [CacheReason.ParamsChanged]: "recomputed: params changed",
  [CacheReason.IntervalChanged]: "recomputed: interval (logical date) changed",
  [CacheReason.CacheOff]: "recomputed: the cell is cache: false",
  [CacheReason.NoCheckpoint]: "computed: no earlier checkpoint",
  [CacheReason.NoCache]: "recomputed: the run was started with no cache",
  [CacheReason.Forced]: "recomputed: forced",
};

/** The reason in words, as `cellar show` and the UI say it, its detail in parentheses. */
export function reasonText(r: CellReason): string {
  return r.detail ? `${WORDS[r.reason]} (${r.detail})` : WORDS[r.reason];
}

/** What a cell's cache key is made of, recorded with its reason. */
export interface KeyParts {
  codeVersion: string;
  /** [upstream cell, its output hash or null], in the cell's needs order. */
  upstream: Array<[string, string | null]>;
}

/** A checkpoint with the cell's cache key, and what it read (cache.ts's index entry). */
export interface SameKey {
  runId: number;
  reads: { params: Record<string, unknown>; interval?: string };
}

/**
 * Why no checkpoint served the cell. Among checkpoints with its key, one of this interval (or that read
 * none) means a param differs; otherwise the interval does. With none of its key, its latest checkpoint's
 * recorded code version and upstream hashes say which part of the key changed.
 */
export async function missReason(
  store: Store,
  target: { pipeline: string; cell: string; runId: number; interval: string; params: Record<string, unknown> },
  parts: KeyParts,
  sameKey: SameKey[],
  encode: (value: unknown) => string,
): Promise<CellReason> {
  if (sameKey.length > 0) {
    const ofInterval = sameKey.find((c) => c.reads.interval === undefined || c.reads.interval === target.interval);
    if (!ofInterval) return { reason: CacheReason.IntervalChanged, detail: `${sameKey[0].reads.interval} → ${target.interval}` };
    const changed = Object.entries(ofInterval.reads.params)
      .filter(([name, value]) => !(name in target.params) || encode(target.params[name]) !== encode(value))
      .map(([name]) => name);
    return { reason: CacheReason.ParamsChanged, detail: changed.join(", ") || null };
  }
  const [last] = await store.query(
    `SELECT o.run_id, r.code_version, r.upstream FROM outputs o
     LEFT JOIN cell_reasons r ON r.run_id = o.run_id AND r.cell = o.cell
     WHERE o.pipeline = ? AND o.cell = ? AND o.run_id <> ? ORDER BY o.created_at DESC LIMIT 1`,
    [target.pipeline, target.cell, target.runId],
  );
  if (!last) return { reason: CacheReason.NoCheckpoint, detail: null };
  const since = `since run #${Number(last.run_id)}`;
  if (last.code_version === null) return { reason: CacheReason.KeyChanged, detail: since };
  if (String(last.code_version) !== parts.codeVersion) return { reason: CacheReason.CodeChanged, detail: since };
  const before = new Map(JSON.parse(String(last.upstream)) as Array<[string, string | null]>);
  const changed = parts.upstream.filter(([name, hash]) => before.get(name) !== hash).map(([name]) => name);
  return { reason: CacheReason.UpstreamChanged, detail: changed.length > 0 ? changed.join(", ") : since };
}
