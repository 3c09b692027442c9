import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { pipeline, type Pipeline, type RunFailure } from "../kernel/mod.ts";
import { runDetail } from "../kernel/report.ts";
import { Runner, type RunEvent } from "../kernel/runner.ts";
import { createManualRun, getRun, type RunOptions } from "../kernel/run-records.ts";
import type { Store } from "../kernel/store/store.ts";
import { storesClosedAfterEach } from "./helpers.ts";

const store = storesClosedAfterEach();

async function run(s: Store, p: Pipeline, options: RunOptions & { params?: Record<string, string> } = {}, runner = new Runner(s)) {
  const date = new Date("2026-05-03T00:00:00Z");
  const { params, ...runOptions } = options;
  const record = await createManualRun(s, p.id, "manual", date, { start: date, end: date }, p.resolveParams(params ?? {}), runOptions);
  return await runner.execute(p, record);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runner", () => {
  it("runs cells in order, passing each its predecessor's output", async () => {
    const s = await store();
    const p = pipeline({ id: "chain", params: { base: 2 } })
      .cell("a", (ctx) => ctx.params.base)
      .cell("b", (_ctx, x: number) => x * 10)
      .cell("c", (ctx, x: number) => ({ x, a: ctx.upstream("b") }));
    const result = await run(s, p);
    expect(result.state).toBe("success");
    expect(result.outputs.get("c")).toEqual({ x: 20, a: 20 });
    expect((await getRun(s, result.runId)).state).toBe("success");
  });

  it("runs independent branches at the same time, bounded by maxActiveCells", async () => {
    const s = await store();
    let active = 0;
    let peak = 0;
    const branch = async () => {
      active++;
      peak = Math.max(peak, active);
      await sleep(150);
      active--;
      return null;
    };
    const p = pipeline({ id: "fan", maxActiveCells: 3 })
      .cell("root", () => 1)
      .cell("b1", { needs: ["root"] }, branch)
      .cell("b2", { needs: ["root"] }, branch)
      .cell("b3", { needs: ["root"] }, branch)
      .cell("b4", { needs: ["root"] }, branch)
      .cell("join", { needs: ["b1", "b2", "b3", "b4"] }, () => "done");
    const result = await run(s, p);
    expect(result.state).toBe("success");
    expect(peak).toBe(3);
  });

  it("retries with exponential backoff and records every try", async () => {
    const s = await store();
    const starts: number[] = [];
    const p = pipeline({ id: "flaky" }).cell("f", { retries: 3, retryDelay: 100, retryBackoff: "exponential", maxRetryDelay: 250 }, () => {
      starts.push(performance.now());
      if (starts.length < 4) throw new Error(`boom ${starts.length}`);
      return "ok";
    });
    const result = await run(s, p);
    expect(result.state).toBe("success");
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    // 100, 200, then 400 capped at 250
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(245);
    expect(gaps[2]).toBeLessThan(380);
    const detail = await runDetail(s, result.runId);
    expect(detail.cells[0].attempts.map((a) => [a.tryNumber, a.state, a.error])).toEqual([
      [1, "failed", "boom 1"], [2, "failed", "boom 2"], [3, "failed", "boom 3"], [4, "success", null],
    ]);
    expect(detail.cells[0]).toMatchObject({ state: "success", tries: 4 });
  });

  it("fails after the last retry and marks dependents upstream_failed; all_done still runs", async () => {
    const s = await store();
    const seen: unknown[] = [];
    const p = pipeline({ id: "broken" })
      .cell("bad", { retries: 1, retryDelay: 10 }, () => {
        throw new TypeError("no such thing");
      })
      .cell("after", () => "never")
      .cell("later", () => "never either")
      .cell("cleanup", { needs: ["bad"], triggerRule: "all_done" }, (_ctx, input) => {
        seen.push(input);
        return "cleaned";
      });
    const result = await run(s, p);
    expect(result.state).toBe("failed");
    expect(Object.fromEntries(result.cells)).toEqual({ bad: "failed", after: "upstream_failed", later: "upstream_failed", cleanup: "success" });
    expect(seen).toEqual([undefined]);
    const detail = await runDetail(s, result.runId);
    expect(detail.cells.find((c) => c.cell === "bad")).toMatchObject({ tries: 2, error: "TypeError: no such thing" });
  });

  it("aborts the signal on timeout and counts it as a failed try", async () => {
    const s = await store();
    let reason: unknown;
    const p = pipeline({ id: "slow" }).cell("wait", { timeout: 100 }, (ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      }));
    const t0 = performance.now();
    const result = await run(s, p);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(result.state).toBe("failed");
    expect((reason as Error).name).toBe("TimeoutError");
    expect((await runDetail(s, result.runId)).cells[0].error).toMatch(/TimeoutError: timed out after 100ms/);
  });

  it("abandons a cell that ignores its aborted signal", async () => {
    const s = await store();
    let finishedLate = false;
    const p = pipeline({ id: "stubborn" }).cell("ignore", { timeout: 50 }, async (ctx) => {
      await sleep(1_500);
      finishedLate = true;
      ctx.log.info("too late"); // refused: the try is over
      return "late";
    });
    const t0 = performance.now();
    const result = await run(s, p, {}, new Runner(s, { abandonAfterMs: 200 }));
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(result.state).toBe("failed");
    expect((await runDetail(s, result.runId)).cells[0].error).toMatch(/timed out after 50ms; ignored its abort signal for 200ms and was abandoned/);
    await sleep(1_600);
    expect(finishedLate).toBe(true);
    const outputs = await s.query("SELECT * FROM outputs WHERE run_id = ?", [result.runId]);
    expect(outputs).toEqual([]);
  });

  it("names the cell and the path of an output that cannot be stored, and does not retry it", async () => {
    const s = await store();
    let tries = 0;
    const p = pipeline({ id: "unstorable" }).cell("x", { retries: 3, retryDelay: 10 }, () => {
      tries++;
      return { docs: [{ id: 1, at: new Map() }] };
    });
    const result = await run(s, p);
    expect(result.state).toBe("failed");
    expect(tries).toBe(1);
    expect((await runDetail(s, result.runId)).cells[0].error).toBe(
      `cell "x": its output cannot be stored: output.docs[0].at is a Map; return a plain object, array or primitive`,
    );
  });

  it("fires the alert hook once, on final failure, with the failed cells", async () => {
    const s = await store();
    const alerts: RunFailure[] = [];
    const p = pipeline({ id: "alerting", alert: (f) => void alerts.push(f) })
      .cell("ok", () => 1)
      .cell("bad", { retries: 1, retryDelay: 5 }, () => {
        throw new Error("disk full");
      });
    const result = await run(s, p);
    expect(alerts).toEqual([{
      pipeline: "alerting", runId: result.runId, logicalDate: "2026-05-03T00:00:00.000Z",
      failedCells: [{ cell: "bad", tries: 2, error: "disk full" }],
    }]);
    const good = pipeline({ id: "fine", alert: (f) => void alerts.push(f) }).cell("ok", () => 1);
    await run(s, good);
    expect(alerts).toHaveLength(1);
  });

  it("POSTs the failure as JSON to a webhook URL", async () => {
    const s = await store();
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        received.push({ method: req.method, type: req.headers["content-type"], body: JSON.parse(body) });
        res.end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const p = pipeline({ id: "hooked", alert: url }).cell("bad", () => {
        throw new Error("nope");
      });
      const result = await run(s, p);
      expect(received).toEqual([{
        method: "POST", type: "application/json",
        body: { event: "run_failed", pipeline: "hooked", runId: result.runId, logicalDate: "2026-05-03T00:00:00.000Z", failedCells: [{ cell: "bad", tries: 1, error: "nope" }] },
      }]);
    } finally {
      server.close();
    }
  });

  it("cancels running cells, leaves the run interrupted, and resumes without redoing finished cells", async () => {
    const s = await store();
    const executed: string[] = [];
    let release = false;
    const p = pipeline({ id: "cancellable" })
      .cell("first", () => {
        executed.push("first");
        return 1;
      })
      .cell("second", async (ctx) => {
        executed.push("second");
        while (!release) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          await sleep(10);
        }
        return 2;
      });
    const runner = new Runner(s);
    runner.on((e: RunEvent) => {
      if (e.type === "cell" && e.cell === "second" && e.state === "running") setTimeout(() => runner.cancel(), 50);
    });
    const first = await run(s, p, {}, runner);
    expect(first.state).toBe("interrupted");
    expect(first.cells.get("second")).toBe("cancelled");
    expect((await getRun(s, first.runId)).state).toBe("interrupted");

    release = true;
    const resumed = await new Runner(s).execute(p, await getRun(s, first.runId));
    expect(resumed.state).toBe("success");
    expect(executed).toEqual(["first", "second", "second"]);
    const attempts = await s.query("SELECT cell, try_number, state FROM attempts WHERE run_id = ? ORDER BY cell, try_number", [first.runId]);
    expect(attempts.map((a) => `${a.cell}#${a.try_number}:${a.state}`)).toEqual(["first#1:success", "second#1:cancelled", "second#2:success"]);
  });
});

describe("checkpoints and cache", () => {
  const counting = (calls: Record<string, number>) =>
    pipeline({ id: "cached", params: { n: 2 } })
      .cell("a", (ctx) => {
        calls.a = (calls.a ?? 0) + 1;
        return ctx.params.n;
      })
      .cell("b", (_ctx, n: number) => {
        calls.b = (calls.b ?? 0) + 1;
        return n % 2;
      })
      .cell("c", (_ctx, parity: number) => {
        calls.c = (calls.c ?? 0) + 1;
        return `parity ${parity}`;
      });

  it("serves unchanged cells from their checkpoints and recomputes what changed", async () => {
    const s = await store();
    const calls: Record<string, number> = {};
    const p = counting(calls);
    const first = await run(s, p);
    expect(Object.fromEntries(first.cells)).toEqual({ a: "success", b: "success", c: "success" });

    const second = await run(s, p);
    expect(Object.fromEntries(second.cells)).toEqual({ a: "cached", b: "cached", c: "cached" });
    expect(second.outputs).toEqual(first.outputs);
    expect(calls).toEqual({ a: 1, b: 1, c: 1 });

    // n=4 changes a and b's input, but b's output (parity 0) is the same, so c is served from cache.
    const third = await run(s, p, { params: { n: "4" } });
    expect(Object.fromEntries(third.cells)).toEqual({ a: "success", b: "success", c: "cached" });
    expect(calls).toEqual({ a: 2, b: 2, c: 1 });

    const detail = await runDetail(s, second.runId);
    expect(detail.cells.map((c) => [c.cell, c.state, c.cachedFrom])).toEqual([
      ["a", "cached", first.runId], ["b", "cached", first.runId], ["c", "cached", first.runId],
    ]);
  });

  it("recomputes everything with noCache, and a cell and its downstream with from", async () => {
    const s = await store();
    const calls: Record<string, number> = {};
    const p = counting(calls);
    await run(s, p);
    await run(s, p, { noCache: true });
    expect(calls).toEqual({ a: 2, b: 2, c: 2 });
    const from = await run(s, p, { from: "b" });
    expect(Object.fromEntries(from.cells)).toEqual({ a: "cached", b: "success", c: "success" });
    expect(calls).toEqual({ a: 2, b: 3, c: 3 });
  });

  it("never caches a cell with cache: false", async () => {
    const s = await store();
    let calls = 0;
    const p = pipeline({ id: "fresh" }).cell("now", { cache: false }, () => ++calls);
    await run(s, p);
    const again = await run(s, p);
    expect(again.cells.get("now")).toBe("success");
    expect(again.outputs.get("now")).toBe(2);
  });

  it("keys the cache on the data interval when, and only when, the cell reads it", async () => {
    const s = await store();
    const calls = { dated: 0, plain: 0 };
    const p = pipeline({ id: "dated" })
      .cell("dated", { needs: [] }, (ctx) => (calls.dated++, ctx.logicalDate.toISOString()))
      .cell("plain", { needs: [] }, () => (calls.plain++, "same every day"));
    for (const day of ["2026-05-03", "2026-05-03", "2026-05-04"]) {
      const date = new Date(`${day}T00:00:00Z`);
      const record = await createManualRun(s, p.id, "manual", date, { start: date, end: date }, {}, {});
      await new Runner(s).execute(p, record);
    }
    expect(calls).toEqual({ dated: 2, plain: 1 });
  });

  it("commits a cell's tables with its checkpoint, and leaves nothing from a failed try", async () => {
    const s = await store();
    let tries = 0;
    const p = pipeline({ id: "tables" })
      .cell("write", { retries: 1, retryDelay: 5, cache: false }, async (ctx) => {
        tries++;
        const t = await ctx.table("items", { id: "BIGINT", vec: "FLOAT[3]" });
        await t.append(Array.from({ length: 1000 }, (_, i) => ({ id: i, vec: new Float32Array([i, 0, 1]) })));
        if (tries === 1) throw new Error("crash after writing");
        return { items: await t.finish() };
      })
      .cell("read", async (ctx, input) => {
        const rows = await ctx.sql(`SELECT count(*) AS n, sum(vec[1]) AS s FROM ${input.items.sql}`);
        return { n: Number(rows[0].n), s: Number(rows[0].s) };
      });
    const result = await run(s, p);
    expect(result.state).toBe("success");
    expect(result.outputs.get("read")).toEqual({ n: 1000, s: 499_500 });
    const ref = result.outputs.get("write") as { items: { rows: number; sql: string } };
    expect(ref.items.rows).toBe(1000);
    expect(await s.query(`SELECT count(*)::INT AS n FROM tables.items`)).toEqual([{ n: 1000 }]);

    // The same rows written by a later run hash the same, so the reader is served from cache.
    const again = await run(s, p);
    expect(Object.fromEntries(again.cells)).toEqual({ write: "success", read: "cached" });
    expect(tries).toBe(3);
  });

  it("names the table, column and row of a value that does not fit, and stores nothing", async () => {
    const s = await store();
    const p = pipeline({ id: "misfit" }).cell("write", async (ctx) => {
      const t = await ctx.table("vectors", { id: "VARCHAR", embedding: "FLOAT[4]" });
      await t.append([{ id: "a", embedding: new Float32Array(4) }, { id: "b", embedding: new Float32Array(3) }]);
      return { vectors: await t.finish() };
    });
    const result = await run(s, p);
    expect((await runDetail(s, result.runId)).cells[0].error).toBe(
      `table "vectors" column "embedding" (FLOAT[4]) row 1: expected 4 numbers, got 0,0,0`,
    );
    expect(await s.query(`SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_schema = 'misfit'`)).toEqual([{ n: 0 }]);
  });
});
