// The shipped retrain pipeline and its triggers, end to end on a real store: an eval regression (a
// CheckFailed) fires it, an eval that merely errored does not; an ingest run whose corpus drifted past
// the threshold fires it, a small change does not; the run it starts rebuilds the index, which then is
// the newest one the eval reads.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { latestIndexPipeline } from "../cells/index/search.ts";
import { loadPipeline } from "../kernel/loader.ts";
import { type Cellar, CheckFailed, openCellar, pipeline, type Pipeline } from "../kernel/mod.ts";
import { listRuns } from "../kernel/run-records.ts";
import type { Store } from "../kernel/store/store.ts";
import { computesClosedAfterAll, ROOT, storesClosedAfterEach, tempDir } from "./helpers.ts";

type Doc = { id: string; title: string; text: string };
const CRANFIELD: Doc[] = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8")
  .trim().split("\n").slice(0, 22).map((line) => JSON.parse(line));
// 20 documents: the drift threshold is a share, and embedding them is most of this file's time.
const DOCS = CRANFIELD.slice(0, 20);

const newStore = storesClosedAfterEach();
const { cpuOnly } = computesClosedAfterAll();
let ingest: Pipeline;
let retrain: Pipeline;

beforeAll(async () => {
  ingest = (await loadPipeline("ingest")).pipeline;
  retrain = (await loadPipeline("retrain")).pipeline;
});

/** Writes `docs` as the seeds file and runs ingest over it. */
async function runIngest(cellar: Cellar, seeds: string, docs: Doc[]): Promise<number> {
  writeFileSync(seeds, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  const run = await cellar.run(ingest, { params: { seeds }, new: true });
  expect(run.state).toBe("success");
  return run.runId;
}

/** What `cellar schedule retrain --once` does: fire the triggers that are due and run what they start. */
const scheduleOnce = (cellar: Cellar) => cellar.schedule([retrain], { once: true });

/** An "eval" whose one cell fails its check, or errors. */
function evalThat(outcome: "regresses" | "errors"): Pipeline {
  return pipeline({ id: "eval" }).cell("run_eval_suite", { cache: false }, () => {
    if (outcome === "regresses") throw new CheckFailed("eval regressed against eval run 1: nDCG@10 0.2011 (-0.0312, allowed −0.02)");
    throw new TypeError("the index is missing");
  });
}

async function triggeredRuns(store: Store) {
  return (await listRuns(store, "retrain")).map((r) => ({ kind: r.kind, state: r.state, by: r.triggeredBy }));
}

describe("retrain", () => {
  it("runs after an eval regression, not after an eval error, and rebuilds the index the eval then reads", async () => {
    const store = await newStore();
    const cellar = openCellar({ db: store, compute: cpuOnly });
    const seeds = join(tempDir("cellar-retrain-"), "docs.jsonl");
    await runIngest(cellar, seeds, DOCS);
    await scheduleOnce(cellar); // the triggers are registered: runs that end from now on count

    const date = new Date();
    await cellar.run(evalThat("errors"), { date, new: true });
    await scheduleOnce(cellar);
    expect(await triggeredRuns(store)).toEqual([]);

    const regressed = await cellar.run(evalThat("regresses"), { date, new: true });
    await scheduleOnce(cellar);
    expect(await triggeredRuns(store)).toEqual([{ kind: "triggered", state: "success", by: { pipeline: "eval", runId: regressed.runId } }]);
    // Once per triggering run: another look fires nothing more.
    await scheduleOnce(cellar);
    expect(await triggeredRuns(store)).toHaveLength(1);

    // Every vector recomputed (rebuild), titles kept, and the newest index is retrain's.
    const [embed] = await store.query(
      `SELECT o.output FROM outputs o JOIN runs r USING (run_id) WHERE r.pipeline = 'retrain' AND o.cell = 'embed_docs'`,
    );
    const embedded = JSON.parse(String(embed.output));
    expect(embedded).toMatchObject({ reused: 0, model: "use-lite" });
    expect(embedded.embedded).toBe(embedded.chunks.rows);
    const [index] = await store.query(`SELECT count(DISTINCT document)::INT AS documents, count(title)::INT AS titled FROM retrain."index"`);
    expect(index.documents).toBe(DOCS.length);
    expect(index.titled).toBeGreaterThan(0);
    expect(await latestIndexPipeline((sql, values) => store.query(sql, values as never[]))).toBe("retrain");
  }, 180_000);

  it("runs when an ingest run's corpus drifted past 20%, not for a small change", async () => {
    const store = await newStore();
    const cellar = openCellar({ db: store, compute: cpuOnly });
    const seeds = join(tempDir("cellar-retrain-"), "docs.jsonl");
    await runIngest(cellar, seeds, DOCS);
    await scheduleOnce(cellar);

    // 2 of 20 documents changed (10%): below the threshold.
    const small = DOCS.map((d, i) => (i < 2 ? { ...d, text: `${d.text} (revised)` } : d));
    await runIngest(cellar, seeds, small);
    await scheduleOnce(cellar);
    expect(await triggeredRuns(store)).toEqual([]);

    // 3 more changed and 2 new, against the previous run's 20: 5 of 22 (23%) are new or changed.
    const drifted = [
      ...small.map((d, i) => (i >= 2 && i < 5 ? { ...d, text: `${d.text} (second revision)` } : d)),
      ...CRANFIELD.slice(20),
    ];
    const drift = await runIngest(cellar, seeds, drifted);
    await scheduleOnce(cellar);
    expect(await triggeredRuns(store)).toEqual([{ kind: "triggered", state: "success", by: { pipeline: "ingest", runId: drift } }]);
  }, 180_000);
});
