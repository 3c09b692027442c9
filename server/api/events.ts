/**
 * `GET /api/v1/events`: live updates over Server-Sent Events — run and cell states, progress (ctx.map
 * chunks), log lines and `pipeline_changed` (a served pipeline's file was reloaded) — optionally for one run, or
 * one pipeline (its own events and those of its runs). Each event's id is its place in the EventLog,
 * so a browser's EventSource resumes after a reconnect through `Last-Event-ID`. The OpenAPI document describes
 * the stream, its query and each event's data through event-schemas.ts.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { eventRoutes } from "./events.ts";
 * import type { EventLog } from "../events.ts";
 * declare const log: EventLog;
 *
 * const app = new Hono().route("/api/v1", eventRoutes(log)); // new EventSource("/api/v1/events?run=12")
 * ```
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { EventLog, ServerEvent } from "../events.ts";

/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/** One event in the stream's wire format; `data` is JSON, which holds no newline. */
function sse(event: string, data: string, id: number): string {
  return `event: ${event}\ndata: ${data}\nid: ${id}\n\n`;
}

export function eventRoutes(log: EventLog): Hono {
  const app = new Hono();
  app.get("/events", (c) => {
    const run = c.req.query("run");
    const pipeline = c.req.query("pipeline");
    if (run !== undefined && !/^[1-9]\d{0,15}$/.test(run)) return c.json({ error: `run ${run}: expected a run id` }, 400);
    const resume = c.req.header("last-event-id") ?? c.req.query("lastEventId");
    let lastId = resume !== undefined && /^\d+$/.test(resume) ? Number(resume) : log.next - 1;
    const wanted = (e: ServerEvent) =>
      (run === undefined || ("runId" in e && e.runId === Number(run))) && (pipeline === undefined || log.pipelineOf(e) === pipeline);
    return streamSSE(c, async (stream) => {
      const aborted = new AbortController();
      stream.onAbort(() => aborted.abort());
      const keepalive = setInterval(() => void stream.write(": keepalive\n\n").catch(() => aborted.abort()), KEEPALIVE_MS);
      try {
        while (!aborted.signal.aborted && !log.closed) {
          const { events, missed } = log.since(lastId);
          // What came since the last wake-up goes out as one write (writeSSE's format: event, data, id), not
          // one per event: a cell's start, log lines and end often come together, to every client.
          let chunk = missed ? sse("missed", "{}", lastId) : "";
          for (const { id, event, data } of events) {
            if (wanted(event)) chunk += sse(event.type, data, id);
            lastId = id;
          }
          if (chunk) await stream.write(chunk);
          // Events pushed while the writes above awaited woke no one: waiting now would hold them until the next.
          if (log.next - 1 === lastId) await log.wait(aborted.signal);
        }
      } finally {
        clearInterval(keepalive);
      }
    });
  });
  return app;
}
