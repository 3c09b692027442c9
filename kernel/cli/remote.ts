/**
 * The commands when a `cellar serve` holds their store (server-file.ts finds it): `run`, `cell`,
 * `backfill`, `runs`, `show` and `cancel` send their request through its `/api/v1` instead of meeting the
 * store's lock, and print what it answers as the local command prints it (format.ts), with the same exit
 * code. `run`, `cell` and `backfill` follow their runs over `/api/v1/events` (SSE), resuming with
 * `Last-Event-ID` when the connection drops, and show the same progress. The bearer token is --token or
 * $CELLAR_TOKEN.
 *
 * @example
 * ```ts
 * import type { Cli } from "./command.ts";
 * import { remoteFor } from "./remote.ts";
 * declare const cli: Cli;
 *
 * const remote = await remoteFor(cli);
 * if (remote) console.log((await remote.runs("hello", 5)).length);
 * ```
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { CellarEvent } from "../cellar.ts";
import { CellarError, errorLine } from "../errors.ts";
import { isPipelineId } from "../loader.ts";
import { showProgress } from "../progress.ts";
import type { LogLine, RunDetail } from "../report.ts";
import type { RunEvent } from "../runner.ts";
import type { RunRecord } from "../run-records.ts";
import { runtime } from "../runtime/mod.ts";
import { RunState } from "../state.ts";
import { type Cli, printNotice, stopOnSignals } from "./command.ts";
import { liveServer } from "./server-file.ts";

/** Log lines per request of `show --logs`: the API's largest page. */
const LOG_PAGE = 10_000;
/** How long a dropped event stream is retried before the command gives up following its runs. */
const RECONNECT_FOR_MS = 10_000;

/** A run's ids and the state each ended in. */
export type Ended = Map<number, RunState>;

/** The server holding the command's store, if one runs and answers; undefined: the command runs here. */
export async function remoteFor(cli: Cli): Promise<Remote | undefined> {
  const file = await liveServer(cli.db());
  return file && new Remote(file.url, cli.db(), cli.token());
}

export class Remote {
  constructor(readonly url: string, readonly db: string, readonly token: string | undefined) {}

  /** `cellar runs`: a pipeline's runs, newest logical date first, as RunRecords. */
  async runs(pipeline: string, limit: number): Promise<RunRecord[]> {
    const body = await this.call<{ runs: ApiRun[] }>("GET", `/pipelines/${encodeURIComponent(pipeline)}/runs?limit=${limit}`);
    return body.runs.map(runRecordOf);
  }

  /** `cellar show`: a run's detail, and with `logs` every log line, paged through. */
  async show(runId: string, options: { logs?: boolean } = {}): Promise<RunDetail & { logs?: LogLine[] }> {
    const path = `/runs/${encodeURIComponent(runId)}`;
    const first = await this.call<ApiDetail>("GET", `${path}?logsLimit=1`);
    const detail: RunDetail & { logs?: LogLine[] } = { run: runRecordOf(first.run), cells: first.cells.map(cellOf) };
    if (!options.logs) return detail;
    const logs: LogLine[] = [];
    let after = "";
    while (true) {
      const page = await this.call<{ lines: ApiLogLine[]; later: number | null }>("GET", `${path}/logs?limit=${LOG_PAGE}${after}`);
      logs.push(...page.lines.map(logOf));
      if (page.lines.length === 0 || page.later === null) return { ...detail, logs };
      after = `&after=${page.later}`;
    }
  }

  /** `cellar cancel`: asks the server to cancel the run's running cells. */
  async cancel(runId: string): Promise<void> {
    await this.call("POST", `/runs/${encodeURIComponent(runId)}/cancel`);
  }

  /** `cellar run`: starts the run on the server and follows it to its end. */
  async run(ref: string, request: { params: Record<string, string>; date?: string; cache: boolean; from?: string; new?: boolean }): Promise<{ runId: number; state: RunState }> {
    const id = await pipelineId(ref);
    const body = {
      params: request.params,
      ...(request.date !== undefined ? { date: request.date } : {}),
      ...(request.from !== undefined ? { from: request.from } : {}),
      ...(request.cache ? {} : { cache: false }),
      ...(request.new ? { new: true } : {}),
    };
    const ended = await this.follow(async () => [(await this.call<{ id: number }>("POST", `/pipelines/${encodeURIComponent(id)}/runs`, body)).id]);
    const [[runId, state]] = [...ended];
    return { runId, state };
  }

  /**
   * `cellar cell`: runs one cell on the server, follows it, and reads back what `cellar cell` prints: the
   * cell's output, if it left one, and whether it failed its check.
   */
  async cell(ref: string, cellName: string, request: { params: Record<string, string>; date?: string }): Promise<{ runId: number; state: RunState; outputs: Map<string, unknown>; checkFailed: boolean }> {
    const id = await pipelineId(ref);
    const body = { params: request.params, ...(request.date !== undefined ? { date: request.date } : {}) };
    const path = `/pipelines/${encodeURIComponent(id)}/cells/${encodeURIComponent(cellName)}/runs`;
    const ended = await this.follow(async () => [(await this.call<{ id: number }>("POST", path, body)).id]);
    const [[runId, state]] = [...ended];
    const outputs = new Map<string, unknown>();
    const output = await this.call<{ output: unknown }>("GET", `/runs/${runId}/cells/${encodeURIComponent(cellName)}/output`, undefined, [404]);
    if (output) outputs.set(cellName, output.output);
    const { cells } = await this.show(String(runId));
    const last = cells.find((c) => c.cell === cellName)?.attempts.reduce((a, b) => (b.tryNumber > a.tryNumber ? b : a));
    return { runId, state, outputs, checkFailed: String(last?.error ?? "").startsWith("CheckFailed: ") };
  }

  /** `cellar backfill`: creates the range's runs on the server and follows them all to their ends. */
  async backfill(ref: string, range: { from: string; to: string; reprocess?: string }): Promise<{ ended: Ended; cancelled: boolean }> {
    const id = await pipelineId(ref);
    const body = { start: range.from, end: range.to, ...(range.reprocess !== undefined ? { reprocess: range.reprocess } : {}) };
    let cancelled = false;
    const ended = await this.follow(async () => {
      const plan = await this.call<{ intervals: number; notEnded: number; created: number; runs: ApiRun[] }>("POST", `/pipelines/${encodeURIComponent(id)}/backfills`, body);
      // The notices the local backfill prints from the facade's events.
      printNotice({ type: "backfill", pipeline: id, intervals: plan.intervals, notEnded: plan.notEnded });
      printNotice({ type: "backfill-created", pipeline: id, intervals: plan.intervals, created: plan.created });
      return plan.runs.map((r) => r.id);
    }, { quiet: true, onStop: () => (cancelled = true) });
    return { ended, cancelled };
  }

  /**
   * Opens the server's event stream, then calls `start` (which answers the run ids it started), shows
   * those runs' progress as a local run shows it, and resolves once each has ended. The stream is open
   * before the runs start, so none of their events is missed. A SIGINT or SIGTERM asks the server to cancel
   * them (they stay resumable) and goes on following them to their end.
   */
  async follow(start: () => Promise<number[]>, options: { quiet?: boolean; onStop?: () => void } = {}): Promise<Ended> {
    // Unfiltered: the stream's pipeline filter would drop cell and log events, which name only their run.
    const stream = new EventStream(this, "/events");
    await stream.open();
    const listeners = new Set<(event: RunEvent) => void>();
    const stopProgress = showProgress({ on: (l) => (listeners.add(l), () => listeners.delete(l)) }, { quiet: options.quiet ?? false });
    const ended: Ended = new Map();
    let ids = new Set<number>();
    const unsignal = stopOnSignals(() => {
      runtime.writeErr("stopping: cancelling running cells (again to exit at once)\n");
      options.onStop?.();
      for (const id of ids) if (!ended.has(id)) void this.call("POST", `/runs/${id}/cancel`, undefined, [409]).catch(() => {});
    });
    try {
      ids = new Set(await start());
      while (ended.size < ids.size) {
        const event = await stream.next();
        if (event === "missed") {
          // Events left the server's buffer before we read them: ask for the runs' states instead.
          for (const id of ids) {
            const { run } = await this.show(String(id));
            if (hasEnded(run.state)) ended.set(id, run.state);
          }
          continue;
        }
        if (!("runId" in event) || !ids.has(event.runId)) continue;
        if (event.type === "resuming") printNotice(event);
        else if (event.type === "run" || event.type === "cell" || event.type === "progress" || event.type === "log") {
          for (const listener of listeners) listener(event);
          if (event.type === "run" && hasEnded(event.state)) ended.set(event.runId, event.state);
        }
      }
      return ended;
    } finally {
      unsignal();
      stopProgress();
      stream.close();
    }
  }

  /** The answer's JSON; a refusal throws its one line, as the local command would. `allowed`: statuses answered as undefined. */
  async call<T>(method: string, path: string, body?: unknown, allowed: number[] = []): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/api/v1${path}`, {
        method,
        headers: { ...this.authorization(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new CellarError(`the server holding ${this.db} at ${this.url} did not answer ${method} ${path}: ${errorLine((err as Error).cause ?? err)}`);
    }
    if (res.status === 401) throw this.unauthorized(res);
    if (allowed.includes(res.status)) {
      await res.body?.cancel();
      return undefined as T;
    }
    const text = await res.text();
    let value: { error?: string } | undefined;
    try {
      value = JSON.parse(text);
    } catch {
      throw new CellarError(`the server at ${this.url} answered ${method} ${path} with ${res.status} and no JSON`);
    }
    if (!res.ok) throw new CellarError(value?.error ?? `the server at ${this.url} answered ${method} ${path} with ${res.status}`);
    return value as T;
  }

  authorization(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  unauthorized(res: Response): CellarError {
    void res.body?.cancel();
    return new CellarError(
      `the server holding ${this.db} at ${this.url} ${this.token ? "refused the token given" : "needs its token"}: pass --token or set CELLAR_TOKEN`,
    );
  }
}

/** The API's event stream, its events in order, reconnecting after a drop from the last event it read. */
class EventStream {
  readonly #remote: Remote;
  readonly #path: string;
  readonly #queue: Array<CellarEvent | "missed"> = [];
  readonly #aborted = new AbortController();
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #lastId: string | undefined;
  #parser = createParser({ onEvent: (message) => this.#take(message) });

  constructor(remote: Remote, path: string) {
    this.#remote = remote;
    this.#path = path;
  }

  /** Resolves once the server has the stream open: from then on, every event is ours. */
  async open(): Promise<void> {
    const headers: Record<string, string> = { accept: "text/event-stream", ...this.#remote.authorization() };
    if (this.#lastId !== undefined) headers["last-event-id"] = this.#lastId;
    const res = await fetch(`${this.#remote.url}/api/v1${this.#path}`, { headers, signal: this.#aborted.signal });
    if (res.status === 401) throw this.#remote.unauthorized(res);
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new CellarError(`the server at ${this.#remote.url} answered GET /api/v1${this.#path} with ${res.status}`);
    }
    this.#parser = createParser({ onEvent: (message) => this.#take(message) });
    this.#reader = res.body.getReader();
  }

  #take(message: EventSourceMessage): void {
    if (message.id !== undefined) this.#lastId = message.id;
    if (message.event === "missed") this.#queue.push("missed");
    else this.#queue.push(JSON.parse(message.data) as CellarEvent);
  }

  async next(): Promise<CellarEvent | "missed"> {
    const decoder = new TextDecoder();
    while (this.#queue.length === 0) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader!.read();
      } catch {
        chunk = { done: true, value: undefined };
      }
      if (chunk.done) await this.#reconnect();
      else this.#parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
    return this.#queue.shift()!;
  }

  async #reconnect(): Promise<void> {
    const until = Date.now() + RECONNECT_FOR_MS;
    for (let wait = 100;; wait = Math.min(wait * 2, 1_000)) {
      try {
        return await this.open();
      } catch (err) {
        if (err instanceof CellarError && /token/.test(err.message)) throw err;
        if (Date.now() + wait > until) {
          throw new CellarError(`lost the server at ${this.#remote.url} while following its runs; they may go on there (cellar runs, cellar show)`);
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  close(): void {
    this.#aborted.abort();
  }
}

function hasEnded(state: RunState): boolean {
  return state === RunState.Success || state === RunState.Failed || state === RunState.Interrupted;
}

/** The server knows pipelines by id: a file given to the command is loaded here for its id. */
async function pipelineId(ref: string): Promise<string> {
  if (isPipelineId(ref)) return ref;
  const { loadPipeline } = await import("../loader.ts");
  return (await loadPipeline(ref)).pipeline.id;
}

// ---- The API's JSON back into the kernel's records, their keys in the kernel's order (for --json) -------------

interface ApiRun {
  id: number;
  pipeline: string;
  runKey: string;
  kind: RunRecord["kind"];
  state: RunState;
  logicalDate: string;
  interval: { start: string; end: string };
  params: RunRecord["params"];
  options: RunRecord["options"];
  triggeredBy: RunRecord["triggeredBy"];
  createdAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
}

interface ApiDetail {
  run: ApiRun;
  cells: Array<Omit<RunDetail["cells"][number], "startedAt" | "endedAt" | "attempts"> & {
    startedAt: string | null;
    endedAt: string | null;
    attempts: Array<Omit<RunDetail["cells"][number]["attempts"][number], "startedAt"> & { startedAt: string | null }>;
  }>;
}

type ApiLogLine = Omit<LogLine, "ts"> & { ts: string };

const dateOf = (iso: string | null) => (iso === null ? null : new Date(iso));

function runRecordOf(r: ApiRun): RunRecord {
  return {
    runId: r.id,
    pipeline: r.pipeline,
    runKey: r.runKey,
    kind: r.kind,
    logicalDate: new Date(r.logicalDate),
    interval: { start: new Date(r.interval.start), end: new Date(r.interval.end) },
    params: r.params,
    options: r.options,
    state: r.state,
    createdAt: new Date(r.createdAt!),
    startedAt: dateOf(r.startedAt),
    endedAt: dateOf(r.endedAt),
    triggeredBy: r.triggeredBy,
  };
}

/** A cell as the kernel reports it: the API's extras (a cache reason's wording, `text`) left out, the order kept. */
function cellOf(c: ApiDetail["cells"][number]): RunDetail["cells"][number] {
  // The output preview is the API's (for the UI); `cellar show` prints what the facade's show() has.
  const entries = Object.entries(c).filter(([key]) => key !== "preview").map(([key, value]): [string, unknown] => {
    if (key === "startedAt" || key === "endedAt") return [key, dateOf(value as string | null)];
    if (key === "attempts") return [key, c.attempts.map((a) => ({ ...a, startedAt: dateOf(a.startedAt) }))];
    if (key === "cacheReason" && value !== null && typeof value === "object") {
      const { text: _text, ...reason } = value as Record<string, unknown>;
      return [key, reason];
    }
    return [key, value];
  });
  return Object.fromEntries(entries) as unknown as RunDetail["cells"][number];
}

function logOf(l: ApiLogLine): LogLine {
  return { ...l, ts: new Date(l.ts) };
}
