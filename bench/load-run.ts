/**
 * One load of bench/server-load.bench.ts on a running `cellar serve`, for its `seconds`: the API clients and
 * the driver of load-clients.ts, the SSE clients of load-sse.ts. The driver can be bound to what the server
 * gets through (`maxActive`: no trigger while that many runs have not ended), so that runs do not pile up
 * faster than two CPU workers run them; the trigger rate it reached is a figure. After the load it lets every
 * triggered run end (the drain, timed), and can then go on sampling with no load at all (`settleMs`), so that
 * memory held by a backlog can be told from memory that stays. Then it judges the runs: a run that did not
 * succeed and was not cancelled is an error, as is a run whose end an SSE client open since before its
 * trigger never received. Returns every figure, errors by kind.
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
  /** No trigger while this many triggered runs have not ended (0 or absent: trigger on the clock alone). */
  maxActive?: number;
  /** Called every `tickEveryMs` from the load's start until the settle ends (the bench samples the server's memory, kills workers). */
  onTick?: (elapsedMs: number, stage: Stage) => void | Promise<void>;
  tickEveryMs?: number;
  /** How long the runs may take to end once the load stops. */
  drainMs?: number;
  /** After the drain, how long to go on ticking with every client stopped. */
  settleMs?: number;
}

/** What the server is doing at a tick: under load, finishing the runs left when the load stopped, or idle after them. */
export type Stage = "load" | "drain" | "settle";

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

/**
 * Triggers a run every `everyMs` (cancelling `share` of them a moment later) and, beside it, polls states,
 * until `stopped`. With `maxActive`, a trigger whose time has come waits while that many runs have not ended
 * (as the last poll knows them); returns how many of the clock's triggers it held back.
 */
async function drive(driver: Driver, stopped: () => boolean, everyMs: number, share: number, maxActive: number): Promise<number> {
  const cancels: Promise<void>[] = [];
  const polling = (async () => {
    while (!stopped()) await Promise.all([driver.poll(), sleep(1_000)]);
  })();
  const active = () => driver.runs.length - driver.ended().length;
  let held = 0;
  let due = Date.now();
  while (!stopped()) {
    await sleep(Math.max(0, due - Date.now()));
    const waitFrom = Date.now();
    while (maxActive > 0 && !stopped() && active() >= maxActive) await sleep(250);
    if (stopped()) break;
    // The clock's triggers that fell while the bound held are skipped, not fired in a burst afterwards.
    const waited = Date.now() - waitFrom;
    held += Math.floor(waited / everyMs);
    due = (waited >= 250 ? Date.now() : due) + everyMs;
    const run = await driver.trigger();
    if (run && Math.random() < share) cancels.push(sleep(300 + Math.random() * 2_200).then(() => driver.cancel(run)));
  }
  await Promise.all([...cancels, polling]);
  return held;
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
  let stage: Stage | undefined = "load";
  const sse = Array.from({ length: o.sseClients }, (_, i) => new SseClient(o.url, o.token, tally, i));
  const sseDone = sse.map((c) => c.run());
  const api = Array.from({ length: o.apiClients }, () => apiClient(http, driver, () => stopped, o.thinkMs ?? 1_000));
  const t0 = Date.now();
  const ticks = (async () => {
    while (stage) {
      await o.onTick?.(Date.now() - t0, stage);
      await sleep(o.tickEveryMs ?? 10_000);
    }
  })();
  const everyMs = o.triggerEveryMs ?? 1_500;
  const held = await drive(driver, () => Date.now() - t0 >= o.seconds * 1000, everyMs, o.cancelShare ?? 0.25, o.maxActive ?? 0);
  const loadMs = Date.now() - t0;
  const backlog = driver.runs.length - driver.ended().length;
  stage = "drain";
  // The clients go on while the last runs end, and a moment after, for the SSE clients to hear of it.
  const drained = await until(async () => (await driver.poll(), driver.ended().length === driver.runs.length), o.drainMs ?? 120_000);
  const drainMs = Date.now() - t0 - loadMs;
  await sleep(2_000);
  stopped = true;
  for (const c of sse) c.stop();
  await Promise.all([...api, ...sseDone]);
  stage = "settle";
  await sleep(o.settleMs ?? 0);
  stage = undefined;
  await ticks;
  http.close();
  if (!drained) for (const r of driver.runs.filter((r) => !driver.ended().includes(r))) tally.error("run did not end", `run ${r.id}: ${r.state}`);
  await judgeRuns(http, driver.runs);
  judgeStreams(tally, sse, driver.runs);
  const trigger = {
    every_ms: everyMs,
    max_active: o.maxActive ?? 0,
    held_back: held,
    // Runs triggered during the load (the first, before it, not counted), per minute.
    achieved_per_minute: Math.round(((driver.runs.length - 1) / (loadMs / 60_000)) * 10) / 10,
    backlog_at_load_end: backlog,
    drain_ms: drained ? drainMs : null,
  };
  return { ...figures(tally, driver.runs, sse, o, loadMs), trigger };
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
