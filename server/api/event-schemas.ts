/**
 * `GET /api/v1/events` in the OpenAPI document: its query (run, pipeline, lastEventId), the Last-Event-ID
 * header, and each event of the text/event-stream with its data's shape, as zod schemas (with OpenAPI names).
 * The stream itself is events.ts's (hono/streaming, not an OpenAPI route): this only describes it, and the
 * type check below fails when an event type is added to the facade or the server without its shape here.
 *
 * @example
 * ```ts
 * import { OpenAPIHono } from "@hono/zod-openapi";
 * import { describeEvents, EventData } from "./event-schemas.ts";
 *
 * const api = new OpenAPIHono();
 * describeEvents(api.openAPIRegistry);
 * EventData.parse({ type: "pipeline_changed", pipeline: "ingest" });
 * ```
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { CellState, RunState, WorkerState } from "../../kernel/mod.ts";
import type { ServerEvent } from "../events.ts";
import { ErrorBody } from "./schemas.ts";

const RUN_STATES = Object.values(RunState) as [RunState, ...RunState[]];
const CELL_STATES = Object.values(CellState) as [CellState, ...CellState[]];
const Id = z.number().int();

export const EventsQuery = z.object({
  run: z.string().regex(/^[1-9]\d{0,15}$/).optional().openapi({ description: "Only this run's events" }),
  pipeline: z.string().min(1).optional().openapi({ description: "Only this pipeline's events: its own (pipeline_changed, backfills) and those of its runs" }),
  lastEventId: z.string().regex(/^\d+$/).optional().openapi({
    description: "Resume after this event id, as the Last-Event-ID header does (for a client that cannot set headers)",
  }),
});

const EventsHeaders = z.object({
  "last-event-id": z.string().regex(/^\d+$/).optional().openapi({ description: "The id of the last event received: what came after it is sent first" }),
});

/** Each event's `data`, by its `type` (which is also the SSE `event:` field). */
const EVENT_DATA = {
  run: z.object({ type: z.literal("run"), runId: Id, pipeline: z.string(), state: z.enum(RUN_STATES) }).openapi("RunEvent", {
    description: "A run's state changed (running at its start, its end state at its end)",
  }),
  cell: z.object({
    type: z.literal("cell"),
    runId: Id,
    cell: z.string(),
    state: z.enum(CELL_STATES),
    tryNumber: Id,
    error: z.string().optional(),
    /** The try's wall time, at its end. */
    ms: z.number().optional(),
    /** For up_for_retry: when the next try starts. */
    retryInMs: z.number().optional(),
    /** For a cell failed by its check: what it measured (CheckFailed's details, JSON of at most 64 KB). */
    details: z.unknown().optional(),
  }).openapi("CellEvent", { description: "A cell's state changed" }),
  progress: z.object({ type: z.literal("progress"), runId: Id, cell: z.string(), done: z.number(), total: z.number().optional() }).openapi("ProgressEvent", {
    description: "A cell reported its progress (ctx.progress)",
  }),
  chunks: z.object({
    type: z.literal("chunks"),
    runId: Id,
    cell: z.string(),
    done: Id,
    failed: Id,
    retried: Id,
    total: Id.optional(),
  }).openapi("ChunksEvent", { description: "A ctx.map's chunks so far, at most every 100 ms and at the end" }),
  log: z.object({
    type: z.literal("log"),
    runId: Id,
    cell: z.string(),
    level: z.string(),
    message: z.string(),
    tryNumber: Id.optional(),
    /** The line's cursor in GET /runs/{id}/logs; absent for a notice that is not stored. */
    seq: Id.optional(),
    ts: z.string().optional(),
    /** A failed try's own error line, which the cell event that follows also carries. */
    failure: z.boolean().optional(),
  }).openapi("LogEvent", { description: "A log line, a failed try's error line included (failure: true)" }),
  resuming: z.object({ type: z.literal("resuming"), runId: Id, pipeline: z.string(), state: z.enum(RUN_STATES) }).openapi("ResumingEvent", {
    description: "A trigger found a run with the same params and resumes it; state: what it was (interrupted, or queued and never started)",
  }),
  backfill: z.object({ type: z.literal("backfill"), pipeline: z.string(), intervals: Id, notEnded: Id }).openapi("BackfillEvent", {
    description: "A backfill planned its range",
  }),
  "backfill-created": z.object({ type: z.literal("backfill-created"), pipeline: z.string(), intervals: Id, created: Id }).openapi("BackfillCreatedEvent", {
    description: "A backfill created the runs its range lacked",
  }),
  scheduling: z.object({ type: z.literal("scheduling"), pipelines: z.array(z.string()), db: z.string() }).openapi("SchedulingEvent", {
    description: "The scheduler started its loop",
  }),
  pipeline_changed: z.object({ type: z.literal("pipeline_changed"), pipeline: z.string() }).openapi("PipelineChangedEvent", {
    description: "A served pipeline's file changed and was reloaded (or removed)",
  }),
  worker: z.object({ type: z.literal("worker"), name: z.string(), state: z.enum(Object.values(WorkerState) as [WorkerState, ...WorkerState[]]).nullable() })
    .openapi("WorkerEvent", { description: "A remote kernel joined or came back (alive), was lost (missed heartbeats), was revoked, or left (state null)" }),
} satisfies Record<ServerEvent["type"], z.ZodType>;

// Every event the stream can send has its shape above (and nothing else is listed there).
type Documented = keyof typeof EVENT_DATA;
const everyEvent: [ServerEvent["type"]] extends [Documented] ? ([Documented] extends [ServerEvent["type"]] ? true : never) : never = true;
void everyEvent;

/** Any event's data. */
export const EventData = z.discriminatedUnion("type", Object.values(EVENT_DATA) as unknown as [typeof EVENT_DATA.run, ...Array<typeof EVENT_DATA.run>]);

/** One message of the stream as its fields: `event` (the type), `id` (what Last-Event-ID resumes after), `data` (JSON). */
const messages = [
  ...Object.entries(EVENT_DATA).map(([type, data]) => z.object({ event: z.literal(type), id: Id, data })),
  z.object({ event: z.literal("missed"), id: Id, data: z.strictObject({}) }).openapi({
    description: "Events after Last-Event-ID have left the server's buffer: read the state again (GET /runs/{id})",
  }),
];
const SseMessage = z.union(messages as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]).openapi("SseMessage");

export function describeEvents(registry: OpenAPIHono["openAPIRegistry"]): void {
  registry.registerPath({
    method: "get",
    path: "/events",
    summary: "Live updates over Server-Sent Events",
    description: "A text/event-stream: each message is `event: <type>`, `data: <JSON>` and `id: <n>`, then a blank line; " +
      "an idle stream sends only a `: keepalive` comment every 15 s. Only changes are sent, from the moment of " +
      "connecting, or after Last-Event-ID (header or `lastEventId`) while the server still holds them.",
    request: { query: EventsQuery, headers: EventsHeaders },
    responses: {
      200: { description: "The stream of events (SseMessage: one per message)", content: { "text/event-stream": { schema: SseMessage } } },
      400: { description: "A run that is not a run id", content: { "application/json": { schema: ErrorBody } } },
    },
  });
}
