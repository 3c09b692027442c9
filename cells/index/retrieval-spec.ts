/**
 * Retrieval specs: the one-word-and-options strings `cellar search --mode`, the
 * eval's `--param retrieval=` and the UI's mode select name a retrieval by.
 *
 * ```
 * spec   := mode ["+rm3"] [":" fusion] (":" key "=" value)*
 * mode   := dense | lexical | hybrid         ("+rm3": lexical and hybrid, RM3 on the lexical side)
 * fusion := rrf | weighted                   (hybrid only; `hybrid` alone is the default fusion below)
 * key    := alpha (weighted, dense side's weight in [0, 1]) | rrfK (rrf, ≥ 0)
 *         | k1 (> 0) | b ([0, 1])            (BM25; default: what the index was built with)
 *         | fbDocs | fbTerms (whole ≥ 1) | originalWeight ([0, 1])   (+rm3 only)
 * value  := a number | v1|v2|… (a grid) | cv (the default grid): grids are for the eval, which picks a
 *           value per fold by cross-validation; search takes plain numbers only
 * ```
 *
 * `parseRetrieval` gives a config ready to search; `parseRetrievalGrid` also
 * the tunable keys with their candidate values; `formatRetrieval` the canonical
 * spec of a config (every option spelled out), which parses back to the same config.
 *
 * @example
 * ```ts
 * import { formatRetrieval, parseRetrieval, parseRetrievalGrid } from "./retrieval-spec.ts";
 *
 * parseRetrieval("hybrid:weighted:alpha=0.3"); // { mode: "hybrid", fusion: "weighted", alpha: 0.3 }
 * parseRetrieval("lexical+rm3:fbTerms=20");    // { mode: "lexical", rm3: { fbDocs: 10, fbTerms: 20, originalWeight: 0.5 } }
 * parseRetrievalGrid("hybrid:weighted:alpha=cv").grid; // { alpha: [0, 0.1, …, 1] }
 * formatRetrieval(parseRetrieval("hybrid:rrf"));        // "hybrid:rrf:rrfK=60"
 * ```
 */
import { CellarError } from "../../kernel/mod.ts";
import { DEFAULT_RRF_K } from "./fusion.ts";
import type { Rm3Options } from "./lexical.ts";

export type { Rm3Options } from "./lexical.ts";

/** BM25's k1 and b, and RM3, for the lexical side; unset k1 and b are the index's own. */
export interface LexicalSettings {
  k1?: number;
  b?: number;
  rm3?: Rm3Options;
}

export type RetrievalConfig =
  | { mode: "dense" }
  | ({ mode: "lexical" } & LexicalSettings)
  | { mode: "hybrid"; fusion: "rrf" | "weighted"; alpha?: number; rrfK?: number; lexical?: LexicalSettings };

/** A spec's config with the grid of each key given as `cv` or `v1|v2|…`: the eval's cross-validation picks one value of each. */
export interface RetrievalGrid {
  config: RetrievalConfig;
  grid: Partial<Record<TunableKey, number[]>>;
}

export type TunableKey = "alpha" | "rrfK" | "k1" | "b" | "fbDocs" | "fbTerms" | "originalWeight";

/**
 * What the pipelines search with unless told otherwise: the point most folds chose when the grid
 * `hybrid+rm3:weighted:alpha=0.2|0.3:k1=0.9|1.2|1.5:b=0.3|0.4|0.6` won the cross-validated comparison on
 * Cranfield (README, bench/retrieval.bench.ts); on CISI, tuned on nothing of it, it beats plain BM25 too.
 */
export const DEFAULT_RETRIEVAL = "hybrid+rm3:weighted:alpha=0.2:k1=1.5:b=0.6";

/** `hybrid` with no fusion named, and the options' values when not given. */
export const DEFAULT_FUSION = "weighted" as const;
export const DEFAULT_ALPHA = 0.2;
export const DEFAULT_RM3: Rm3Options = { fbDocs: 10, fbTerms: 10, originalWeight: 0.5 };

/** The candidate values of `key=cv`. */
export const DEFAULT_GRID: Record<TunableKey, number[]> = {
  alpha: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  rrfK: [5, 10, 20, 40, 60, 100],
  k1: [0.6, 0.9, 1.2, 1.5],
  b: [0.3, 0.4, 0.5, 0.75],
  fbDocs: [5, 10, 20],
  fbTerms: [5, 10, 20, 40],
  originalWeight: [0.3, 0.5, 0.7],
};

const GRAMMAR = "mode[+rm3][:rrf|:weighted][:key=value…], mode dense|lexical|hybrid, keys alpha rrfK k1 b fbDocs fbTerms originalWeight";

interface KeyRule {
  check: (v: number) => boolean;
  expected: string;
  /** Which configs take the key. */
  applies: (mode: string, rm3: boolean, fusion: string | undefined) => boolean;
}

const KEYS: Record<TunableKey, KeyRule> = {
  alpha: { check: (v) => v >= 0 && v <= 1, expected: "a number in [0, 1]", applies: (m, _, f) => m === "hybrid" && f === "weighted" },
  rrfK: { check: (v) => v >= 0, expected: "a number ≥ 0", applies: (m, _, f) => m === "hybrid" && f === "rrf" },
  k1: { check: (v) => v > 0, expected: "a number > 0", applies: (m) => m !== "dense" },
  b: { check: (v) => v >= 0 && v <= 1, expected: "a number in [0, 1]", applies: (m) => m !== "dense" },
  fbDocs: { check: (v) => Number.isInteger(v) && v >= 1, expected: "a whole number ≥ 1", applies: (_, rm3) => rm3 },
  fbTerms: { check: (v) => Number.isInteger(v) && v >= 1, expected: "a whole number ≥ 1", applies: (_, rm3) => rm3 },
  originalWeight: { check: (v) => v >= 0 && v <= 1, expected: "a number in [0, 1]", applies: (_, rm3) => rm3 },
};

/** The config `spec` names, every value a plain number (a grid or `cv` is refused: only the eval tunes). */
export function parseRetrieval(spec: string): RetrievalConfig {
  const { config, grid } = parseRetrievalGrid(spec);
  const tuned = Object.keys(grid);
  if (tuned.length > 0) {
    throw new CellarError(`retrieval "${spec}": ${tuned.join(", ")} given as a grid or cv, which only the eval's cross-validation takes; expected a number`);
  }
  return config;
}

/** The config `spec` names, with the candidate values of each key given as a grid (the config holds the first). */
export function parseRetrievalGrid(spec: string): RetrievalGrid {
  const fail = (why: string) => new CellarError(`retrieval "${spec}": ${why}; expected ${GRAMMAR}`);
  if (typeof spec !== "string" || spec.trim() === "") throw fail("empty");
  const [head, ...parts] = spec.trim().split(":");
  const [mode, extra, ...more] = head.split("+");
  if (!["dense", "lexical", "hybrid"].includes(mode)) throw fail(`unknown mode "${mode}"`);
  if (more.length > 0 || (extra !== undefined && extra !== "rm3")) throw fail(`"+${[extra, ...more].join("+")}": only +rm3 may follow the mode`);
  const rm3 = extra === "rm3";
  if (rm3 && mode === "dense") throw fail("+rm3 expands the lexical query; dense has none");
  let fusion: string | undefined = mode === "hybrid" ? DEFAULT_FUSION : undefined;
  if (mode === "hybrid" && (parts[0] === "rrf" || parts[0] === "weighted")) fusion = parts.shift();
  const values: Partial<Record<TunableKey, number>> = {};
  const grid: RetrievalGrid["grid"] = {};
  for (const part of parts) {
    const [key, value, ...rest] = part.split("=");
    const rule = KEYS[key as TunableKey];
    if (!rule || rest.length > 0 || value === undefined) throw fail(`"${part}" is not key=value with a known key`);
    if (!rule.applies(mode, rm3, fusion)) throw fail(`${key} does not apply to ${head}${fusion && mode === "hybrid" ? `:${fusion}` : ""}`);
    if (key in values) throw fail(`${key} given twice`);
    const candidates = value === "cv" ? DEFAULT_GRID[key as TunableKey] : value.split("|").map(Number);
    const bad = value === "cv" ? undefined : value.split("|").find((v, i) => v.trim() === "" || !Number.isFinite(candidates[i]) || !rule.check(candidates[i]));
    if (bad !== undefined) throw fail(`${key}=${bad}: expected ${rule.expected}`);
    values[key as TunableKey] = candidates[0];
    if (value === "cv" || candidates.length > 1) grid[key as TunableKey] = candidates;
  }
  return { config: configOf(mode, rm3, fusion, values), grid };
}

/** The config of a parsed spec, defaults filled in. */
function configOf(mode: string, rm3: boolean, fusion: string | undefined, v: Partial<Record<TunableKey, number>>): RetrievalConfig {
  if (mode === "dense") return { mode: "dense" };
  const lexical: LexicalSettings = {};
  if (v.k1 !== undefined) lexical.k1 = v.k1;
  if (v.b !== undefined) lexical.b = v.b;
  if (rm3) {
    lexical.rm3 = {
      fbDocs: v.fbDocs ?? DEFAULT_RM3.fbDocs,
      fbTerms: v.fbTerms ?? DEFAULT_RM3.fbTerms,
      originalWeight: v.originalWeight ?? DEFAULT_RM3.originalWeight,
    };
  }
  if (mode === "lexical") return { mode: "lexical", ...lexical };
  const hybrid: RetrievalConfig = fusion === "rrf"
    ? { mode: "hybrid", fusion: "rrf", rrfK: v.rrfK ?? DEFAULT_RRF_K }
    : { mode: "hybrid", fusion: "weighted", alpha: v.alpha ?? DEFAULT_ALPHA };
  if (Object.keys(lexical).length > 0) hybrid.lexical = lexical;
  return hybrid;
}

/** `config` with the tuned keys set to `values` (one point of a grid). */
export function withValues(config: RetrievalConfig, values: Partial<Record<TunableKey, number>>): RetrievalConfig {
  return parseRetrieval(formatRetrieval(config, values));
}

/** The canonical spec of `config` (with `values` over its own), every option spelled out. */
export function formatRetrieval(config: RetrievalConfig, values: Partial<Record<TunableKey, number>> = {}): string {
  if (config.mode === "dense") return "dense";
  const lexical = config.mode === "lexical" ? config : config.lexical ?? {};
  const head = `${config.mode}${lexical.rm3 ? "+rm3" : ""}`;
  const parts: string[] = [head];
  if (config.mode === "hybrid") {
    parts.push(config.fusion);
    if (config.fusion === "weighted") parts.push(`alpha=${values.alpha ?? config.alpha ?? DEFAULT_ALPHA}`);
    else parts.push(`rrfK=${values.rrfK ?? config.rrfK ?? DEFAULT_RRF_K}`);
  }
  const k1 = values.k1 ?? lexical.k1;
  const b = values.b ?? lexical.b;
  if (k1 !== undefined) parts.push(`k1=${k1}`);
  if (b !== undefined) parts.push(`b=${b}`);
  if (lexical.rm3) {
    parts.push(`fbDocs=${values.fbDocs ?? lexical.rm3.fbDocs}`, `fbTerms=${values.fbTerms ?? lexical.rm3.fbTerms}`);
    parts.push(`originalWeight=${values.originalWeight ?? lexical.rm3.originalWeight}`);
  }
  return parts.join(":");
}
