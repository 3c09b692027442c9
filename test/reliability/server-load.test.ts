// The server under load, quick form (issue 14, item 5; the long form is bench/server-load.bench.ts): a real
// `cellar serve` child process on a temp store, 50 API clients on the route mix of bench/load-clients.ts and
// 20 SSE clients that leave and reconnect with Last-Event-ID, for 20 s while runs (2–3 s of ctx.map chunks
// each) are triggered every 1.5 s and a quarter of them cancelled. Nothing may go wrong: no non-2xx but a
// cancel's 409, no refused or broken connection, no SSE stream ended by the server and no `missed` event,
// every triggered run ended (succeeded, or was cancelled), and every SSE client heard the end of each run
// triggered while it listened.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOAD_TOKEN, type LoadServer, startLoadServer } from "../../bench/load-server.ts";
import { runLoad } from "../../bench/load-run.ts";

let server: LoadServer;

beforeAll(async () => {
  server = await startLoadServer({ runtime: "node", remote: false });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("cellar serve under load", () => {
  it("answers 50 API and 20 SSE clients for 20 s of triggered and cancelled runs without an error", async () => {
    const rss: number[] = [];
    const result = await runLoad({
      url: server.url,
      token: LOAD_TOKEN,
      apiClients: 50,
      sseClients: 20,
      seconds: 20,
      thinkMs: 500,
      tickEveryMs: 5_000,
      onTick: async () => void rss.push((await server.memory()).rss),
      drainMs: 30_000,
    });
    expect(result.errors, JSON.stringify(result.errors, null, 1)).toEqual({});
    expect(result.error_count).toBe(0);
    expect(result.runs.triggered).toBeGreaterThanOrEqual(6);
    expect(result.runs.not_ended).toBe(0);
    expect(result.runs.succeeded).toBeGreaterThanOrEqual(4);
    expect(result.runs.succeeded + result.runs.cancelled + result.runs.cancel_accepted_then_succeeded).toBe(result.runs.triggered);
    // Every client heard runs end (judged per run inside runLoad), and the API answered every route class.
    expect(result.sse.run_ends_heard).toBeGreaterThanOrEqual(20 * 4);
    expect(result.sse.min_events_per_client).toBeGreaterThan(0);
    for (const route of ["runs_list", "run_detail", "log_tail", "cell_output", "notebook_html", "search", "metrics", "sse_connect"]) {
      expect(result.latency_by_route[route]?.count, route).toBeGreaterThan(0);
    }
    expect(rss.length).toBeGreaterThanOrEqual(3);
    expect(rss.every((bytes) => bytes > 0)).toBe(true);
  }, 120_000);
});
