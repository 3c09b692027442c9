/**
 * One load of bench/server-load.bench.ts on a running `cellar serve`, for its `seconds`: the API clients and
 * the driver of load-clients.ts, the SSE clients of load-sse.ts. After the load it lets every triggered run
 * end, then judges them: a run that did not succeed and was not cancelled is an error, as is a run whose end
 * an SSE client open since before its trigger never received. Returns every figure, errors by kind.
 *
 * @example
 * ```ts
 * import { runLoad } from "./load-run.ts";
 *
 * const result = await runLoad({ url: "http://127.0.0.1:7878", token: "t", apiClients: 50, sseClients: 20, seconds: 20 });
 * result.error_count; // → 0 when nothing went wrong
 * ```
 */
import { RunState } from "../kernel/mod.ts";
import { apiClient, Driver, Http, Tally, type TrackedRun } from "./load-clients.ts";
import { SseClient } from "./load-sse.ts";

export interface LoadOptions {
  url: string;
  token: string;
  apiClients: number;
  sseClients: number;
  seconds: number;
  /** Each API client waits this long on average between requests (uniform from half to 1.5×). */
  thinkMs?: number;
  /** A run is triggered this often. */
  triggerEveryMs?: number;
  /** This share of the runs is cancelled, at a random moment of its first 2.5 s. */
  cancelShare?: number;
  /** Called every `tickEveryMs` while the load runs (the bench samples the server's memory, kills workers). */
  onTick?: (elapsedMs: number) => void | Promise<void>;
  tickEveryMs?: number;
  /** How long the runs may take to end once the load stops. */
  drainMs?: number;
}

export interface Summary {
  count: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] * 10) / 10;
  return { count: sorted.length, p50_ms: at(0.5), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: at(1) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) return false;
    await sleep(500);
  }
  return true;
}

/** Triggers a run every `everyMs` (cancelling `share` of them a moment later) and, beside it, polls states, until `stopped`. */
async function drive(driver: Driver, stopped: () => boolean, everyMs: number, share: number): Promise<void> {
  const cancels: Promise<void>[] = [];
  const polling = (async () => {
    while (!stopped()) await Promise.all([driver.poll(), sleep(1_000)]);
  })();
  let next = Date.now();
  while (!stopped()) {
    next += everyMs;
    const run = await driver.trigger();
    if (run && Math.random() < share) cancels.push(sleep(300 + Math.random() * 2_200).then(() => driver.cancel(run)));
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all([...cancels, polling]);
}

export async function runLoad(o: LoadOptions) {
  const tally = new Tally();
  const http = new Http(o.url, o.token, tally);
  const driver = new Driver(http, tally);
  // One run first, so that the clients asking for a run's output have one.
  const first = await driver.trigger();
  if (!first || !(await until(async () => (await driver.poll(), first.state === RunState.Success), 120_000))) {
    throw new Error(`the first run did not succeed: ${JSON.stringify(first)} ${JSON.stringify(Object.fromEntries(tally.errors))}`);
  }
  let stopped = false;
  let loadStopped = false;
  const sse = Array.from({ length: o.sseClients }, (_, i) => new SseClient(o.url, o.token, tally, i));
  const sseDone = sse.map((c) => c.run());
  const api = Array.from({ length: o.apiClients }, () => apiClient(http, driver, () => stopped, o.thinkMs ?? 1_000));
  const t0 = Date.now();
  const ticks = (async () => {
    while (!loadStopped) {
      await o.onTick?.(Date.now() - t0);
      await sleep(o.tickEveryMs ?? 10_000);
    }
  })();
  const driving = drive(driver, () => Date.now() - t0 >= o.seconds * 1000, o.triggerEveryMs ?? 1_500, o.cancelShare ?? 0.25);
  await driving;
  const loadMs = Date.now() - t0;
  // The clients go on while the last runs end, and a moment after, for the SSE clients to hear of it.
  const drained = await until(async () => (await driver.poll(), driver.ended().length === driver.runs.length), o.drainMs ?? 120_000);
  await sleep(2_000);
  stopped = true;
  loadStopped = true;
  for (const c of sse) c.stop();
  await Promise.all([...api, ...sseDone, ticks]);
  http.close();
  if (!drained) for (const r of driver.runs.filter((r) => !driver.ended().includes(r))) tally.error("run did not end", `run ${r.id}: ${r.state}`);
  await judgeRuns(http, driver.runs);
  judgeStreams(tally, sse, driver.runs);
  return figures(tally, driver.runs, sse, o, loadMs);
}

/** A run that did not succeed is an error unless its cancel was accepted. */
async function judgeRuns(http: Http, runs: TrackedRun[]): Promise<void> {
  for (const run of runs) {
    if (run.state === RunState.Success || run.cancelled || !run.endedAt) continue;
    const detail = await http.call("GET", `/api/v1/runs/${run.id}?logsLimit=20`).catch((err) => ({ text: String(err) }));
    http.tally.error(`run ${run.state} without a cancel`, `run ${run.id}: ${detail.text}`);
  }
}

/** Each SSE client heard the end of every run triggered after its first stream opened. */
function judgeStreams(tally: Tally, clients: SseClient[], runs: TrackedRun[]): void {
  for (const client of clients) {
    if (client.firstOpenAt === undefined) {
      tally.error("sse client never connected", client.path);
      continue;
    }
    const missing = runs.filter((r) => r.endedAt && r.triggeredAt > client.firstOpenAt! + 1_000 && !client.endsSeen.has(r.id));
    if (missing.length > 0) tally.error("sse client missed run ends", `${client.path}: runs ${missing.map((r) => r.id).join(", ")}`);
  }
}

function figures(tally: Tally, runs: TrackedRun[], sse: SseClient[], o: LoadOptions, loadMs: number) {
  const byRoute = Object.fromEntries([...tally.latencies].sort().map(([route, values]) => [route, summarize(values)]));
  const apiRoutes = [...tally.latencies].filter(([route]) => !["sse_connect", "trigger", "cancel", "healthz_reference"].includes(route));
  const requests = apiRoutes.reduce((n, [, v]) => n + v.length, 0);
  const count = (f: (r: TrackedRun) => boolean) => runs.filter(f).length;
  const events = sse.map((c) => c.events);
  return {
    seconds: Math.round(loadMs / 1000),
    api_clients: o.apiClients,
    sse_clients: o.sseClients,
    api_requests_ok: requests,
    api_requests_per_second: Math.round(requests / (loadMs / 1000)),
    latency_api_overall: summarize(apiRoutes.flatMap(([, v]) => v)),
    latency_by_route: byRoute,
    error_count: [...tally.errors.values()].reduce((n, e) => n + e.count, 0),
    errors: Object.fromEntries(tally.errors),
    expected_not_errors: Object.fromEntries(tally.expected),
    runs: {
      triggered: runs.length,
      succeeded: count((r) => r.state === RunState.Success && !r.cancelled),
      cancelled: count((r) => r.cancelled && r.state !== RunState.Success),
      cancel_accepted_then_succeeded: count((r) => r.cancelled && r.state === RunState.Success),
      failed_uncancelled: count((r) => !r.cancelled && r.state === RunState.Failed),
      not_ended: count((r) => !r.endedAt),
    },
    sse: {
      events_received: events.reduce((a, b) => a + b, 0),
      min_events_per_client: Math.min(...events),
      reconnects: sse.reduce((n, c) => n + c.reconnects, 0),
      run_ends_heard: sse.reduce((n, c) => n + c.endsSeen.size, 0),
    },
  };
}

export type LoadResult = Awaited<ReturnType<typeof runLoad>>;
