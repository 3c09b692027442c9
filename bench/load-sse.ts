/**
 * The event-stream clients of bench/server-load.bench.ts: each reads `/api/v1/events` (every tenth the whole
 * stream, the rest `?pipeline=load`, as the notebook page does), closes it after 20–60 s as a user leaving
 * the page would, and reconnects after a second with Last-Event-ID, as a browser's EventSource does. The
 * server ending a stream itself, a refused connection, a non-200 or a `missed` event (the client fell behind
 * the server's buffer) is an error; on each it reconnects too. It keeps the ids of the runs whose end it was
 * told of, so that load-run.ts can check that no client missed one.
 *
 * @example
 * ```ts
 * import { SseClient } from "./load-sse.ts";
 * import { Tally } from "./load-clients.ts";
 *
 * const client = new SseClient("http://127.0.0.1:7878", "token", new Tally(), 0);
 * const done = client.run();
 * client.stop();
 * await done;
 * client.events; // events received
 * ```
 */
import { type ClientRequest, request } from "node:http";
import { RunState } from "../kernel/mod.ts";
import type { Tally } from "./load-clients.ts";
import { LOAD_PIPELINE } from "./load-server.ts";

const ENDED: ReadonlySet<string> = new Set([RunState.Success, RunState.Failed, RunState.Interrupted]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SseClient {
  events = 0;
  reconnects = 0;
  /** When the first stream was open (Date.now()). */
  firstOpenAt: number | undefined;
  /** Runs whose `run` event with an ended state this client received. */
  readonly endsSeen = new Set<number>();
  readonly path: string;
  #lastId: string | undefined;
  #stopped = false;
  #req: ClientRequest | undefined;
  #wake: () => void = () => {};

  constructor(readonly url: string, readonly token: string, readonly tally: Tally, index: number) {
    this.path = index % 10 === 0 ? "/api/v1/events" : `/api/v1/events?pipeline=${LOAD_PIPELINE}`;
  }

  async run(): Promise<void> {
    while (!this.#stopped) {
      const lifetime = 20_000 + Math.random() * 40_000;
      let left = false;
      const leave = setTimeout(() => {
        left = true;
        this.#req?.destroy();
      }, lifetime);
      const t0 = Date.now();
      try {
        await this.#stream();
        if (!left && !this.#stopped) this.tally.error("sse stream ended by the server", `${this.path} after ${Date.now() - t0} ms`);
      } catch (err) {
        if (!this.#stopped) this.tally.error(`sse ${(err as NodeJS.ErrnoException).code ?? "error"}`, `${this.path}: ${err}`);
      } finally {
        clearTimeout(leave);
      }
      if (this.#stopped) break;
      this.reconnects++;
      // EventSource's own pause before it reconnects.
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void sleep(1_000).then(() => resolve());
      });
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#req?.destroy();
    this.#wake();
  }

  /** One stream, until it ends or is destroyed; rejects on a refused connection or a non-200. */
  #stream(): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: "text/event-stream" };
      if (this.#lastId !== undefined) headers["last-event-id"] = this.#lastId;
      const t0 = performance.now();
      const req = request(`${this.url}${this.path}`, { headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${this.path}: ${res.statusCode}`));
        }
        this.tally.latency("sse_connect", performance.now() - t0);
        this.firstOpenAt ??= Date.now();
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          const blocks = buffer.split("\n\n");
          buffer = blocks.pop()!;
          for (const block of blocks) this.#event(block);
        });
        // A destroyed request ends its response with "aborted"; either way the stream is over.
        res.once("close", () => resolve());
      });
      this.#req = req;
      req.once("error", (err) => (req.destroyed && this.#stopped ? resolve() : reject(err)));
      req.end();
    });
  }

  #event(block: string): void {
    let type = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("data: ")) data = line.slice(6);
      else if (line.startsWith("id: ")) this.#lastId = line.slice(4);
    }
    if (!data) return; // a keep-alive comment
    this.events++;
    if (type === "missed") return void this.tally.error("sse missed events", `${this.path} after id ${this.#lastId}`);
    if (type !== "run") return;
    const event = JSON.parse(data) as { runId?: number; state?: string };
    if (event.runId !== undefined && event.state !== undefined && ENDED.has(event.state)) this.endsSeen.add(event.runId);
  }
}
