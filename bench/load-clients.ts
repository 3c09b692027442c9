/**
 * The HTTP side of bench/server-load.bench.ts's load (load-run.ts puts it together; load-sse.ts is the event
 * stream's clients): API clients on a realistic mix of routes, and a driver that triggers runs, cancels some
 * of them and follows their states. Everything that goes wrong is tallied by kind with a few examples; latencies are kept
 * by route class. Node only (node:http, one keep-alive agent for the API clients, as a browser keeps its
 * connections).
 *
 * Expected answers that are not errors: 409 from a cancel (the run has ended, or is not executing yet), and
 * a keep-alive race (the server closed an idle connection as a request went out on it: ECONNRESET on a reused
 * socket), retried once as browsers and Node's docs do, and counted apart.
 *
 * @example
 * ```ts
 * import { apiClient, Driver, Http, Tally } from "./load-clients.ts";
 *
 * const http = new Http("http://127.0.0.1:7878", "token", new Tally());
 * const driver = new Driver(http, http.tally);
 * await driver.trigger();
 * let stop = false;
 * const client = apiClient(http, driver, () => stop, 1000);
 * stop = true;
 * await client;
 * ```
 */
import { Agent, request } from "node:http";
import { RunState } from "../kernel/mod.ts";
import { LOAD_PIPELINE } from "./load-server.ts";

export class Tally {
  readonly errors = new Map<string, { count: number; examples: string[] }>();
  readonly latencies = new Map<string, number[]>();
  readonly expected = new Map<string, number>();

  error(kind: string, detail: string): void {
    const entry = this.errors.get(kind) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push(detail.slice(0, 300));
    this.errors.set(kind, entry);
  }

  latency(route: string, ms: number): void {
    const list = this.latencies.get(route) ?? [];
    list.push(ms);
    this.latencies.set(route, list);
  }

  expect(kind: string): void {
    this.expected.set(kind, (this.expected.get(kind) ?? 0) + 1);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (ms: number) => ms * (0.5 + Math.random());

interface Answer {
  status: number;
  text: string;
}

export class Http {
  // An idle connection is closed after 4 s, before the server's keep-alive timeout (5 s) closes it under a
  // request, as browsers keep theirs shorter than servers do. (`timeout` on a socket in use only emits an event.)
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 512, timeout: 4_000 });
  constructor(readonly url: string, readonly token: string, readonly tally: Tally) {}

  /** One request; a keep-alive race on a reused socket is retried once, on a new connection. */
  async call(method: string, path: string, body?: unknown): Promise<Answer> {
    try {
      return await this.#once(method, path, body, this.#agent);
    } catch (err) {
      if ((err as { reused?: boolean }).reused && (err as NodeJS.ErrnoException).code === "ECONNRESET") {
        this.tally.expect("keepalive_race_retried");
        return await this.#once(method, path, body, false);
      }
      throw err;
    }
  }

  #once(method: string, path: string, body: unknown, agent: Agent | false): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      const req = request(`${this.url}${path}`, { method, agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.once("error", reject);
      });
      req.once("error", (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The kind of a failed request: its route, the error code, and whether it went on a reused connection. */
function connectionError(route: string, err: unknown): string {
  const reused = (err as { reused?: boolean }).reused ? " (reused connection)" : "";
  return `${route} connection ${(err as NodeJS.ErrnoException).code ?? ""}${reused}`;
}

/** A triggered run as the driver knows it. */
export interface TrackedRun {
  id: number;
  triggeredAt: number;
  /** The cancel was accepted (202). */
  cancelled: boolean;
  state: string;
  endedAt?: number;
}

const ENDED: ReadonlySet<string> = new Set([RunState.Success, RunState.Failed, RunState.Interrupted]);

export class Driver {
  readonly runs: TrackedRun[] = [];
  #round = Math.floor(Math.random() * 1e6);
  constructor(readonly http: Http, readonly tally: Tally) {}

  ended(): TrackedRun[] {
    return this.runs.filter((r) => ENDED.has(r.state));
  }

  succeeded(): TrackedRun[] {
    return this.runs.filter((r) => r.state === RunState.Success);
  }

  async trigger(): Promise<TrackedRun | undefined> {
    const t0 = performance.now();
    const res = await this.#request("trigger", "POST", `/api/v1/pipelines/${LOAD_PIPELINE}/runs`, { params: { round: ++this.#round } });
    if (!res) return;
    if (res.status !== 202) return void this.tally.error(`trigger ${res.status}`, res.text);
    this.tally.latency("trigger", performance.now() - t0);
    const run: TrackedRun = { id: (JSON.parse(res.text) as { id: number }).id, triggeredAt: Date.now(), cancelled: false, state: RunState.Queued };
    this.runs.push(run);
    return run;
  }

  async cancel(run: TrackedRun): Promise<void> {
    const t0 = performance.now();
    const res = await this.#request("cancel", "POST", `/api/v1/runs/${run.id}/cancel`);
    if (!res) return;
    this.tally.latency("cancel", performance.now() - t0);
    if (res.status === 202) run.cancelled = true;
    else if (res.status === 409) this.tally.expect("cancel_409_ended_or_not_executing");
    else this.tally.error(`cancel ${res.status}`, res.text);
  }

  /** Reads the state of each run not yet known to have ended. */
  async poll(): Promise<void> {
    await Promise.all(this.runs.filter((r) => !ENDED.has(r.state)).map(async (run) => {
      const res = await this.#request("poll", "GET", `/api/v1/runs/${run.id}?logsLimit=1`);
      if (!res) return;
      if (res.status !== 200) return void this.tally.error(`poll ${res.status}`, res.text);
      run.state = (JSON.parse(res.text) as { state: string }).state;
      if (ENDED.has(run.state)) run.endedAt = Date.now();
    }));
  }

  async #request(what: string, method: string, path: string, body?: unknown): Promise<Answer | undefined> {
    try {
      return await this.http.call(method, path, body);
    } catch (err) {
      this.tally.error(connectionError(what, err), String(err));
    }
  }
}

/** The API clients' mix: route class, weight, and the path (undefined while there is no run to ask about). */
function routeMix(driver: Driver): Array<[string, number, () => string | undefined]> {
  const any = () => driver.runs[Math.floor(Math.random() * driver.runs.length)]?.id;
  const done = () => {
    const ok = driver.succeeded();
    return ok[Math.floor(Math.random() * ok.length)]?.id;
  };
  const withRun = (id: number | undefined, path: (id: number) => string) => (id === undefined ? undefined : path(id));
  return [
    ["runs_list", 3, () => (Math.random() < 0.5 ? "/api/v1/runs?limit=50" : `/api/v1/runs?limit=50&pipeline=${LOAD_PIPELINE}`)],
    ["run_detail", 2, () => withRun(any(), (id) => `/api/v1/runs/${id}`)],
    ["log_tail", 2, () => withRun(any(), (id) => `/api/v1/runs/${id}/logs?tail=true&limit=50`)],
    ["cell_output", 1, () => withRun(done(), (id) => `/api/v1/runs/${id}/cells/sum/output`)],
    ["notebook_html", 1, () => withRun(any(), (id) => `/pipelines/${LOAD_PIPELINE}?run=${id}`)],
    ["search", 1, () => `/api/v1/search?q=squares&pipeline=${LOAD_PIPELINE}&k=10`],
    ["metrics", 0.5, () => "/metrics"],
    // The reference: what the HTTP stack, the token check and the machine's noise cost under the same load.
    ["healthz_reference", 0.5, () => "/healthz"],
  ];
}

export async function apiClient(http: Http, driver: Driver, stopped: () => boolean, thinkMs: number): Promise<void> {
  const mix = routeMix(driver);
  const total = mix.reduce((n, [, w]) => n + w, 0);
  await sleep(Math.random() * thinkMs);
  while (!stopped()) {
    let r = Math.random() * total;
    const [route, , pathOf] = mix.find(([, w]) => (r -= w) < 0) ?? mix[0];
    const path = pathOf();
    if (path !== undefined) {
      const t0 = performance.now();
      try {
        const res = await http.call("GET", path);
        if (res.status === 200) http.tally.latency(route, performance.now() - t0);
        else http.tally.error(`${route} ${res.status}`, `${path}: ${res.text}`);
      } catch (err) {
        http.tally.error(connectionError(route, err), `${path}: ${err}`);
      }
    }
    await sleep(jitter(thinkMs));
  }
}
