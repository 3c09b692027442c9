/**
 * Cellar's public API: define a pipeline of cells; run it with `openCellar`, the CLI or the scheduler.
 *
 * @example
 * ```ts
 * import { pipeline } from "./mod.ts"; // from pipelines/hello.ts
 *
 * export default pipeline({ id: "hello", schedule: "@daily", startDate: "2026-05-01" })
 *   .cell("greet", (ctx) => `hello ${ctx.logicalDate.toISOString().slice(0, 10)}`)
 *   .cell("shout", { retries: 2, retryDelay: "30s" }, (_ctx, text: string) => text.toUpperCase());
 * ```
 */
export { parseDate, pipeline } from "./pipeline.ts";
export { REPROCESS, type Reprocess } from "./backfill-plan.ts";
export { Cellar, loadPipelineFile, openCellar } from "./cellar.ts";
export type { BackfillPlanned, BackfillRange, BackfillResult, CellarEvent, CellarOptions, CellResult, PipelineRef, RunRequest, SearchHit } from "./cellar.ts";
export type { RunEvent, RunResult } from "./runner.ts";
export type { RunKind, RunRecord } from "./run-records.ts";
export type { CellReport, LogLine, RunDetail } from "./report.ts";
export { CACHE_REASONS, CacheReason, type CellReason, reasonText } from "./cache-reason.ts";
export type { StaleCell } from "./stale.ts";
export { LOG_LEVELS, type LogLevel, type LogPage, type LogQuery, MAX_LOG_PAGE } from "./run-logs.ts";
export type { CellLogTail, CellLogTails } from "./cell-log-tails.ts";
export type { GridCell, GridRun } from "./run-grid.ts";
export type { AlertHook, CellOptions, ParamValue, Pipeline, PipelineOptions, RetryOptions, RunFailure } from "./pipeline.ts";
export type { PipelineTrigger, RunOutcome } from "./pipeline.ts";
export { accepts, cellParams, flag, nonEmptyText, numberIn, oneOf, paramError, text, wholeNumber, z } from "./params.ts";
export type { CellParams, ParamDoc } from "./params.ts";
export type { Context, Logger } from "./context.ts";
export type { TableRef } from "./output.ts";
export type { Columns, TableWriter } from "./tables.ts";
export type { Duration } from "./duration.ts";
export type { DataInterval } from "./timetable.ts";
export { CellarError, type CellarErrorOptions, CheckFailed, type CheckFailedOptions, errorLine, isCellarError, isCheckFailed, isRetryable } from "./errors.ts";
export { backoffMs, delay, retry, type RetryPolicy, Semaphore, sleep } from "./async.ts";
export { task } from "./compute/task.ts";
export type { TaskHandle } from "./compute/task.ts";
export type { ChunkFn, ChunkInfo, MapOptions, MapPlacement, MapResult } from "./compute/map.ts";
export type { RemoteOptions } from "./remote/remote-placement.ts";
export type { ClaimOptions } from "./compute/claim.ts";
export type { GpuDevice } from "./compute/gpu-device.ts";
export type { DeviceSnapshot, DeviceState } from "./compute/device-snapshot.ts";
export type { CostDay } from "./cost-days.ts";
export { isTableRef } from "./output.ts";
export { AttemptState, CellState, RunState, WorkerState } from "./state.ts";
export { LocalNats, type LocalNatsOptions, type NatsUser, startLocalNats } from "./remote/nats-local.ts";
export { newTicketSecret } from "./remote/ticket.ts";
export type { JoinAnswer, JoinBody, NatsAccess, WorkerDevice, WorkerView } from "./remote/join.ts";
export { quoteIdent } from "./tables.ts";
export type { CellResultsQuery, CellRunResult, ResultRun } from "./cell-results.ts";
export { MAX_CHECK_DETAILS_BYTES } from "./check-details.ts";
export { collectProcessMetrics, registry as metricsRegistry } from "./prometheus.ts";
export { type Checkpoint, checkpointOf, type CheckpointQuery, latestCheckpoint, type SqlSource } from "./checkpoints.ts";
export { type CellRuntime, runtime } from "./runtime/cell-runtime.ts";
export { type ServerRuntime, serverRuntime } from "./runtime/server-runtime.ts";
export type { FetchHandler, Served, ServeOptions } from "./runtime/types.ts";
export type { FileKind, HttpGetInit, HttpResponse } from "./runtime/types.ts";
export type { VectorReader, VectorRows } from "./store/vectors.ts";
