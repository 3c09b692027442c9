/**
 * The JSON API's shapes, as zod schemas (with their OpenAPI names): what a request may hold and what an
 * answer holds. Routes parse their answers through these, so a response never drifts from the document.
 *
 * @example
 * ```ts
 * import { ErrorBody } from "./schemas.ts";
 *
 * ErrorBody.parse({ error: "run 99: no such run" });
 * ```
 */
import { z } from "@hono/zod-openapi";
import { CACHE_REASONS } from "../../kernel/mod.ts";
import { LOG_LEVELS, MAX_LOG_PAGE, REPROCESS, RunState } from "../../kernel/mod.ts";
import { ComparisonShape } from "../eval-history.ts";
import type { JsonNode } from "../preview/output-preview.ts";

export const ErrorBody = z.object({ error: z.string() }).openapi("Error");

const Instant = z.string().datetime({ offset: true }).nullable();
const ParamValue: z.ZodType<unknown> = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);
const RUN_STATES = Object.values(RunState) as [RunState, ...RunState[]];

export const CellOptionsBody = z.object({
  name: z.string(),
  needs: z.array(z.string()),
  triggerRule: z.enum(["all_success", "all_done"]),
  retries: z.number().int(),
  retryDelayMs: z.number(),
  exponential: z.boolean(),
  maxRetryDelayMs: z.number(),
  timeoutMs: z.number().nullable(),
  cache: z.boolean(),
  claim: z.object({ gpu: z.number(), gpuMemory: z.number().optional() }).nullable(),
  source: z.string(),
}).openapi("Cell");

export const PipelineSummary = z.object({
  id: z.string(),
  description: z.string().nullable(),
  schedule: z.string().nullable(),
  timezone: z.string().nullable(),
  cells: z.array(z.string()),
  nextLogicalDates: z.array(z.string()),
  /** Its schedule is paused (POST /pipelines/{id}/pause): the scheduler creates and starts none of its runs. */
  paused: z.boolean(),
}).openapi("PipelineSummary");

export const PipelineDetail = PipelineSummary.extend({
  params: z.record(z.string(), ParamValue),
  maxActiveRuns: z.number().int(),
  maxActiveCells: z.number().int(),
  cells: z.array(CellOptionsBody),
  /** Cells whose code changed since their latest checkpoint (that checkpoint's run): the notebook marks them stale. */
  stale: z.array(z.object({ cell: z.string(), checkpointRun: z.number().int() })),
}).openapi("Pipeline");

export const PipelineList = z.object({
  pipelines: z.array(PipelineSummary),
  loadErrors: z.array(z.object({ file: z.string(), error: z.string() })),
}).openapi("PipelineList");

export const RunBody = z.object({
  id: z.number().int(),
  pipeline: z.string(),
  /** Unique per pipeline: a scheduled or backfilled run's is its logical date's. */
  runKey: z.string(),
  kind: z.string(),
  state: z.enum(RUN_STATES),
  logicalDate: z.string(),
  interval: z.object({ start: z.string(), end: z.string() }),
  params: z.record(z.string(), ParamValue),
  /** How it runs: noCache, from, only (a one-cell run), source (the file it was started from). */
  options: z.record(z.string(), z.unknown()),
  /** For a triggered run, the run whose end fired it. */
  triggeredBy: z.object({ pipeline: z.string(), runId: z.number().int() }).nullable(),
  createdAt: Instant,
  startedAt: Instant,
  endedAt: Instant,
}).openapi("Run");

export const RunList = z.object({
  runs: z.array(RunBody),
  /** The cursor of the next page, or null on the last. */
  next: z.number().int().nullable(),
}).openapi("RunList");

/** A small JSON output as a tree (output-preview.ts's JsonNode): bounded in depth and entries a level. */
const JsonNodeBody: z.ZodType<JsonNode> = z.lazy(() =>
  z.union([
    z.object({ kind: z.literal("leaf"), key: z.string().optional(), type: z.enum(["string", "number", "boolean", "null"]), text: z.string() }),
    /** A vector (16 or more numbers): its dimensions, never its elements. */
    z.object({ kind: z.literal("vector"), key: z.string().optional(), dims: z.number().int() }),
    /** `children`: the first entries; `size` counts them all; `folded` past the deepest level shown. */
    z.object({ kind: z.literal("branch"), key: z.string().optional(), array: z.boolean(), size: z.number().int(), children: z.array(JsonNodeBody), folded: z.boolean() }),
  ])
).openapi("JsonNode");

/** A cell's output as the notebook previews it, bounded in bytes (server/preview/). */
export const OutputPreviewBody = z.union([
  z.object({
    kind: z.literal("table"),
    /** The table's name and its row count; never its rows beyond `sample`. */
    name: z.string(),
    rows: z.number().int(),
    /** Its first rows (values as short text: a vector as its dimensions) and column types, through DuckDB LIMIT; null when the table is gone. */
    sample: z.object({
      columns: z.array(z.object({ name: z.string(), type: z.string() })),
      rows: z.array(z.array(z.string())),
      /** Columns past the first 40, not read. */
      hiddenColumns: z.number().int(),
    }).nullable(),
  }),
  z.object({
    kind: z.literal("json"),
    /** Pretty-printed, cut at 4,096 bytes when `truncated`; vectors written as [n numbers]. */
    text: z.string(),
    truncated: z.boolean(),
    /** The whole output's size as text. */
    bytes: z.number().int(),
    /** For a small object or array: the tree the notebook folds. */
    tree: JsonNodeBody.optional(),
  }),
]).openapi("OutputPreview");

const Attempt = z.object({
  tryNumber: z.number().int(),
  state: z.string(),
  startedAt: Instant,
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
});

export const CellRunBody = z.object({
  cell: z.string(),
  state: z.string(),
  tries: z.number().int(),
  startedAt: Instant,
  endedAt: Instant,
  durationMs: z.number().nullable(),
  cpuMs: z.number().nullable(),
  error: z.string().nullable(),
  cachedFrom: z.number().int().nullable(),
  /** Why it was served from cache or recomputed; null when the run recorded none (before reasons were kept). */
  cacheReason: z.object({ reason: z.enum(CACHE_REASONS), detail: z.string().nullable(), text: z.string() }).nullable(),
  costs: z.record(z.string(), z.number()),
  attempts: z.array(Attempt),
  /** Its output's preview, for a cell that succeeded or was served from cache; null otherwise. */
  preview: OutputPreviewBody.nullable(),
}).openapi("CellRun");

export const LogLineBody = z.object({
  /** The line's cursor: `after` it is the next page, `before` it the previous one. */
  seq: z.number().int(),
  ts: z.string(),
  cell: z.string(),
  tryNumber: z.number().int(),
  level: z.string(),
  message: z.string(),
}).openapi("LogLine");

export const RunDetailBody = z.object({
  run: RunBody,
  state: z.enum(RUN_STATES),
  cells: z.array(CellRunBody),
  /** The first page of its logs: the rest are GET /runs/{id}/logs?after=<logsNext>. */
  logs: z.array(LogLineBody),
  /** The `after` of the next page of logs, or null when this page was the last. */
  logsNext: z.number().int().nullable(),
}).openapi("RunDetail");

export const LogPageBody = z.object({
  /** Oldest first, whichever way the page was read. */
  lines: z.array(LogLineBody),
  /** The `before` of the previous page, or null when no line matching the filter precedes this one. */
  earlier: z.number().int().nullable(),
  /** The `after` of the next page, or null when no line matching the filter follows yet. */
  later: z.number().int().nullable(),
  /** Lines matching the filter in the whole run. */
  matching: z.number().int(),
}).openapi("LogPage");

export const TriggerBody = z.object({
  params: z.record(z.string(), ParamValue).optional(),
  date: z.string().min(1).optional(),
  /** Recompute this cell and everything downstream ("run from here"). */
  from: z.string().min(1).optional(),
  /** false: recompute every cell (`cellar run --no-cache`). */
  cache: z.boolean().optional(),
  /** Start a new run even if an interrupted one with these params could be resumed (`cellar run --new`). */
  new: z.boolean().optional(),
}).strict().openapi("Trigger");

export const CellTriggerBody = TriggerBody.omit({ from: true, cache: true, new: true }).strict().openapi("CellTrigger");

export const BackfillBody = z.object({
  /** The first logical date (inclusive). */
  start: z.string().min(1),
  /** The last logical date (inclusive). */
  end: z.string().min(1),
  /** Airflow 3's reprocess behaviours for dates that have a run: none, failed (the default), all. */
  reprocess: z.enum(REPROCESS).optional(),
}).strict().openapi("Backfill");

export const BackfillAccepted = z.object({
  /** Complete intervals in the range. */
  intervals: z.number().int(),
  /** Intervals in the range that have not ended: left to the scheduler. */
  notEnded: z.number().int(),
  /** Runs this backfill created. */
  created: z.number().int(),
  /** The runs it executes (created or run again), oldest logical date first; they go on after the answer. */
  runs: z.array(RunBody),
}).openapi("BackfillAccepted");

export const PipelineRunsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(20),
});

export const RunCellPath = z.object({
  id: z.string().regex(/^[1-9]\d{0,15}$/).openapi({ param: { name: "id", in: "path" } }),
  cell: z.string().min(1).openapi({ param: { name: "cell", in: "path" } }),
});

export const CellOutputBody = z.object({ output: z.unknown() }).openapi("CellOutput");

export const CellPath = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }),
  cell: z.string().min(1).openapi({ param: { name: "cell", in: "path" } }),
});

export const Accepted = z.object({ id: z.number().int() }).openapi("Accepted");

export const Cancelled = z.object({ id: z.number().int(), cancelled: z.boolean() }).openapi("Cancelled");

export const PauseState = z.object({
  pipeline: z.string(),
  paused: z.boolean(),
  /** False when it already was (un)paused. */
  changed: z.boolean(),
}).openapi("PauseState");

export const RunId = z.object({ id: z.string().regex(/^[1-9]\d{0,15}$/).openapi({ param: { name: "id", in: "path" } }) });

export const PipelineId = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });

export const RunQuery = z.object({
  pipeline: z.string().min(1).optional(),
  state: z.enum(RUN_STATES).optional(),
  cursor: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const LogQuery = z.object({
  logsLimit: z.coerce.number().int().min(1).max(MAX_LOG_PAGE).default(500),
});

const Cursor = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A query flag: present as 1 or true, absent or 0 or false otherwise. */
const Flag = z.enum(["1", "0", "true", "false", ""]).transform((v) => v === "1" || v === "true");

export const LogPageQuery = z.object({
  cell: z.string().min(1).optional().openapi({ description: "Only this cell's lines" }),
  try: z.coerce.number().int().min(0).optional().openapi({ description: "Only the lines of this try (attempt)" }),
  level: z.enum(LOG_LEVELS).optional().openapi({ description: "Only lines of this level or a higher one" }),
  errors: Flag.optional().openapi({ description: "Only error lines" }),
  after: Cursor.optional().openapi({ description: "The page after this cursor (a page's `later`)" }),
  before: Cursor.optional().openapi({ description: "The page before this cursor (a page's `earlier`)" }),
  tail: Flag.optional().openapi({ description: "The newest page" }),
  limit: z.coerce.number().int().min(1).max(MAX_LOG_PAGE).default(200),
});

export const SearchQuery = z.object({
  q: z.string().min(1).max(2000),
  pipeline: z.string().min(1).default("ingest"),
  k: z.coerce.number().int().min(1).max(1000).default(10),
  /** The pipeline's retrieval spec (`dense`, `lexical+rm3`, `hybrid:rrf`, …); its default when absent. */
  mode: z.string().max(200).optional(),
});

export const SearchHits = z.object({
  hits: z.array(z.object({ rank: z.number().int(), score: z.number(), document: z.string(), title: z.string().nullable() })),
}).openapi("SearchHits");

export const EvalQuery = z.object({
  pipeline: z.string().min(1).default("eval"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const EvalVerdictRowBody = z.object({
  metric: z.string(),
  baseline: z.number().nullable(),
  now: z.number(),
  delta: z.number().nullable(),
  /** The gate's threshold is baseline − allowedDrop. */
  allowedDrop: z.number(),
  result: z.enum(["pass", "FAIL", "new"]),
});

export const EvalRunBody = z.object({
  id: z.number().int(),
  kind: z.string(),
  state: z.enum(RUN_STATES),
  logicalDate: z.string(),
  finishedAt: Instant,
  metrics: z.record(z.string(), z.number()),
  verdict: z.object({
    baseline: z.string().nullable(),
    pass: z.boolean(),
    rows: z.array(EvalVerdictRowBody),
    /** For each regressed metric, the questions that fell most, worst first. */
    drops: z.record(z.string(), z.array(z.object({ qid: z.string(), baseline: z.number(), now: z.number() }))),
  }),
  /** Every retrieval spec the run scored, side by side (nDCG@10, recall@10, MRR, MAP, ms/query); null before the eval compared them. */
  comparison: ComparisonShape.nullable(),
}).openapi("EvalRun");

export const EvalHistoryBody = z.object({
  pipeline: z.string(),
  cell: z.string(),
  /** Newest logical date first. */
  runs: z.array(EvalRunBody),
}).openapi("EvalHistory");
