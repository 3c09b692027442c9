// The facade's shutdown(), what `cellar serve` does on SIGTERM: every run it stops is left interrupted with
// the shutdown note (the next server adopts it), a run started while it stops included (a trigger the server
// answered meanwhile), and a run a user's cancel was already stopping is not noted. A real DuckDB file.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openCellar, pipeline, RunState } from "../kernel/mod.ts";
import { tempDir } from "./helpers.ts";

const NOTE = "interrupted by the server's shutdown; the next cellar serve on this store resumes it";
const cellar = openCellar({ db: join(tempDir(), "cellar.duckdb") });
afterAll(async () => await cellar.close());

// Its one cell runs until cancelled.
const waits = pipeline({ id: "waits", params: { k: 0 } }).cell("wait", (ctx) =>
  new Promise<number>((_resolve, reject) => {
    if (ctx.signal.aborted) return reject(ctx.signal.reason);
    ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
  }));

describe("shutdown", () => {
  it("notes each run it interrupts, one started while it stops too, and not one a user was cancelling", async () => {
    const going = await cellar.start(waits, { params: { k: 1 } });
    const cancelled = await cellar.start(waits, { params: { k: 2 } });
    cellar.cancel(cancelled.runId, "cancelled through the API");
    const stopping = cellar.shutdown("server stopping");
    const late = await cellar.start(waits, { params: { k: 3 } });
    expect((await stopping).sort()).toEqual([going.runId, late.runId].sort());
    for (const { runId } of [going, cancelled, late]) expect((await cellar.show(runId)).run.state).toBe(RunState.Interrupted);
    const noted = async (runId: number) => (await cellar.show(runId, { logs: true })).logs!.some((l) => l.message === NOTE);
    expect([await noted(going.runId), await noted(cancelled.runId), await noted(late.runId)]).toEqual([true, false, true]);
  });
});
