// Pausing a pipeline's schedule, as Airflow pauses a DAG: the scheduler creates and starts none of its
// runs while paused, and unpausing with catchup runs the intervals missed meanwhile. Through the Scheduler,
// the facade (whose scheduler loop wakes on unpause), the metric and `cellar pause|unpause`.
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Cellar, openCellar, pipeline } from "../kernel/mod.ts";
import { main } from "../kernel/cli.ts";
import { setPaused } from "../kernel/pause.ts";
import { schedulerLoops } from "../kernel/prometheus.ts";
import { Runner } from "../kernel/runner.ts";
import { runtime } from "../kernel/runtime/mod.ts";
import { createScheduledRuns, listRuns } from "../kernel/run-records.ts";
import { Scheduler } from "../kernel/scheduler.ts";
import { announceServer } from "../kernel/cli/server-file.ts";
import { startServer } from "../server/serve.ts";
import { storesClosedAfterEach, tempDir, writePipeline } from "./helpers.ts";

const store = storesClosedAfterEach();
const opened: Cellar[] = [];
afterEach(async () => {
  for (const cellar of opened.splice(0)) await cellar.close();
});

const daily = (id: string) =>
  pipeline({ id, schedule: "@daily", startDate: "2026-05-01", catchup: true }).cell("day", (ctx) => ctx.logicalDate.toISOString().slice(0, 10));

/** Runs oldest first, as "YYYY-MM-DD state". */
async function days(s: Awaited<ReturnType<typeof store>>, id: string): Promise<string[]> {
  return (await listRuns(s, id)).reverse().map((r) => `${r.logicalDate.toISOString().slice(0, 10)} ${r.state}`);
}

describe("pause", () => {
  it("keeps the scheduler from creating or starting a paused pipeline's runs; unpausing catches up", async () => {
    const s = await store();
    const p = daily("nightly");
    const other = daily("other");
    const clock = { now: new Date("2026-05-03T01:00:00Z") };
    const scheduler = new Scheduler(s, new Runner(s), [p, other], () => new Date(clock.now));
    await scheduler.runOnce();
    expect(await days(s, "nightly")).toEqual(["2026-05-01 success", "2026-05-02 success"]);

    expect(await setPaused(s, "nightly", true)).toBe(true);
    expect(await setPaused(s, "nightly", true)).toBe(false);
    clock.now = new Date("2026-05-06T01:00:00Z");
    // A queued run of the paused pipeline (a backfill would leave one) is not started either.
    await createScheduledRuns(s, "nightly", [{ start: new Date("2026-05-03T00:00:00Z"), end: new Date("2026-05-04T00:00:00Z") }], {}, "scheduled");
    await scheduler.runOnce();
    expect(await days(s, "nightly")).toEqual(["2026-05-01 success", "2026-05-02 success", "2026-05-03 queued"]);
    // The other pipeline is not held up.
    expect(await days(s, "other")).toHaveLength(5);

    expect(await setPaused(s, "nightly", false)).toBe(true);
    await scheduler.runOnce();
    expect(await days(s, "nightly")).toEqual(["01", "02", "03", "04", "05"].map((d) => `2026-05-${d} success`));
  });

  it("pauses through the facade, reports cellar_pipeline_paused, and wakes a sleeping scheduler loop on unpause", async () => {
    const cellar = openCellar({ db: join(tempDir(), "cellar.duckdb") });
    opened.push(cellar);
    // Its intervals since three days ago are all due: only the pause keeps them from running.
    const start = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const p = pipeline({ id: "woken", schedule: "@daily", startDate: start, catchup: true }).cell("day", () => 1);
    expect(await cellar.pause(p)).toEqual({ pipeline: "woken", paused: true, changed: true });
    expect([...(await cellar.paused()).keys()]).toEqual(["woken"]);
    expect((await cellar.metrics()).text).toContain('cellar_pipeline_paused{pipeline="woken"} 1');

    const stopping = new AbortController();
    const sleepingBefore = schedulerLoops.sleeping;
    const loop = cellar.schedule([p], { signal: stopping.signal });
    // The loop looked, found the pipeline paused, and sleeps (up to a minute): nothing ran.
    await vi.waitFor(() => expect(schedulerLoops.sleeping).toBeGreaterThan(sleepingBefore), { timeout: 5_000, interval: 10 });
    expect(await cellar.runs("woken")).toEqual([]);

    const ended = new Promise<void>((resolve) => cellar.on((e) => e.type === "run" && e.state === "success" && resolve()));
    expect(await cellar.unpause(p)).toEqual({ pipeline: "woken", paused: false, changed: true });
    await ended;
    stopping.abort();
    await loop;
    expect((await cellar.runs("woken")).length).toBeGreaterThanOrEqual(3);
    expect((await cellar.metrics()).text).toContain('cellar_pipeline_paused{pipeline="woken"} 0');
  });

  it("cellar pause and unpause name the pipeline and say when nothing changed", async () => {
    const dir = tempDir();
    const file = writePipeline(dir, "nightly.ts", `export default pipeline({ id: "nightly", schedule: "@daily", startDate: "2026-05-01" }).cell("a", () => 1);`);
    const db = join(dir, "cellar.duckdb");
    const out: string[] = [];
    // In this process, what the command prints: the CLI writes through the runtime.
    const write = vi.spyOn(runtime, "writeOut").mockImplementation((text) => void out.push(text));
    try {
      expect(await main(["--db", db, "pause", file])).toBe(0);
      expect(await main(["--db", db, "pause", file])).toBe(0);
      expect(await main(["--db", db, "unpause", file])).toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(out.join("")).toBe("nightly: paused\nnightly: already paused\nnightly: unpaused\n");
  });

  it("cellar pause goes through the API of the cellar serve that holds the store, with its token", async () => {
    const dir = tempDir();
    writePipeline(dir, "nightly.ts", `export default pipeline({ id: "nightly", schedule: "@daily", startDate: "2026-05-01" }).cell("a", () => 1);`);
    const db = join(dir, "cellar.duckdb");
    const server = await startServer({ db, host: "127.0.0.1", port: 0, pipelines: dir, schedule: false, token: "s3cret" });
    // What `cellar serve` does once listening: the file a command finds the server by.
    const withdraw = await announceServer(db, { url: server.url, tokenRequired: true });
    const out: string[] = [];
    const spies = [
      vi.spyOn(runtime, "writeOut").mockImplementation((text) => void out.push(text)),
      vi.spyOn(runtime, "writeErr").mockImplementation((text) => void out.push(text)),
    ];
    try {
      // Without the token the server refuses: the request went to it, not to the store it holds.
      expect(await main(["--db", db, "pause", "nightly"])).toBe(2);
      expect(await main(["--db", db, "--token", "s3cret", "pause", "nightly"])).toBe(0);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
      await withdraw();
    }
    try {
      expect(out).toEqual([`cellar: ${server.url}: missing or wrong bearer token\n`, "nightly: paused\n"]);
      expect([...(await server.cellar.paused()).keys()]).toEqual(["nightly"]);
    } finally {
      await server.close();
    }
  });
});
