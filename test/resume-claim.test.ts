// Two triggers with the same params at once, while a run with those params is interrupted: exactly one of them
// resumes it. The run is claimed in the store (a conditional UPDATE that one caller wins) before it is resumed;
// a caller of the same facade joins the resume (its result is the same run's), a caller of another facade over
// the store (another process, as far as the store can tell) starts a fresh run. Before the claim both resumed
// the run: its unfinished cell ran twice at once, and two runners wrote one run's state.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cellar, type CellarEvent, openCellar, pipeline } from "../kernel/mod.ts";
import { CellState, RunState } from "../kernel/state.ts";
import { Store } from "../kernel/store/store.ts";
import { tempDir } from "./helpers.ts";

const DATE = "2026-05-03T00:00:00Z";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// One store for both cases (each with a pipeline of its own): opening a store is most of what they cost.
let store: Store;
const closing: Cellar[] = [];
beforeAll(async () => void (store = await Store.open(join(tempDir("cellar-claim-"), "cellar.duckdb"))));
afterAll(async () => {
  for (const c of closing) await c.close();
  await store.close();
});

/** A pipeline whose second cell waits until released (or cancelled), and the cells it executed. */
function slow(id: string) {
  const executed: string[] = [];
  const gate = { open: false };
  const p = pipeline({ id })
    .cell("first", () => (executed.push("first"), 1))
    .cell("second", async (ctx) => {
      executed.push("second");
      while (!gate.open) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await sleep(5);
      }
      return 2;
    });
  return { p, executed, gate };
}

/** A store holding one interrupted run of `p` (cancelled while its second cell ran). */
async function interrupted(cellar: Cellar, p: ReturnType<typeof slow>["p"]): Promise<number> {
  const off = cellar.on((e) => {
    if (e.type === "cell" && e.cell === "second" && e.state === CellState.Running) setTimeout(() => cellar.cancel(e.runId), 20);
  });
  const first = await cellar.run(p, { date: DATE });
  off();
  expect(first.state).toBe(RunState.Interrupted);
  return first.runId;
}

describe("two triggers for one interrupted run", () => {
  it("on one facade: one claims and resumes it, the other joins that resume", async () => {
    const cellar = openCellar({ db: store });
    closing.push(cellar);
    const { p, executed, gate } = slow("joined");
    const runId = await interrupted(cellar, p);
    const resuming: CellarEvent[] = [];
    cellar.on((e) => e.type === "resuming" && resuming.push(e));

    const [a, b] = [cellar.start(p, { date: DATE }), cellar.start(p, { date: DATE })];
    const started = await Promise.all([a, b]);
    expect(started.map((s) => s.runId)).toEqual([runId, runId]);
    gate.open = true;
    const results = await Promise.all(started.map((s) => s.done));
    expect(results.map((r) => `${r.runId} ${r.state}`)).toEqual([`${runId} success`, `${runId} success`]);
    expect(resuming).toEqual([{ type: "resuming", runId, pipeline: "joined", state: RunState.Interrupted }]);
    expect(executed).toEqual(["first", "second", "second"]);
    expect((await cellar.runs("joined")).map((r) => r.runId)).toEqual([runId]);
  });

  it("on two facades over one store: one claims and resumes it, the other starts a fresh run", async () => {
    const [one, two] = [openCellar({ db: store }), openCellar({ db: store })];
    closing.push(one, two);
    const { p, executed, gate } = slow("fresh");
    const runId = await interrupted(one, p);
    const resuming: CellarEvent[] = [];
    for (const c of [one, two]) c.on((e) => e.type === "resuming" && resuming.push(e));

    const started = await Promise.all([one.start(p, { date: DATE }), two.start(p, { date: DATE })]);
    gate.open = true;
    const results = await Promise.all(started.map((s) => s.done));
    expect(results.every((r) => r.state === RunState.Success)).toBe(true);
    const ids = results.map((r) => r.runId).sort((x, y) => x - y);
    expect(ids[0]).toBe(runId);
    expect(ids[1]).toBeGreaterThan(runId);
    expect(resuming).toHaveLength(1);
    // The fresh run served the first cell from its checkpoint; the second it computed or served, as the
    // resumed run had or had not committed it by then.
    expect(executed.filter((c) => c === "first")).toHaveLength(1);
    expect((await one.runs("fresh")).map((r) => `${r.runId} ${r.state}`).sort()).toEqual([`${runId} success`, `${ids[1]} success`]);
  });
});
