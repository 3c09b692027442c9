// `cellar search` and `/api/v1/search` open the GPU device pool (WebGPU through Dawn, with its warnings on
// stderr) only when the search takes the GPU path, a vector top-k: a search that reads no vectors never asks.
// Counted on the facade's Compute; the vector search is the real openIndex over a real index table.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar } from "../kernel/mod.ts";
import { createTable } from "../kernel/tables.ts";
import { ROOT, tempDir, writePipeline } from "./helpers.ts";

/** The facade's compute, counting how often the GPU pool is asked for; no devices, so Dawn never loads here. */
class CountingCompute extends Compute {
  asked = 0;
  override gpu() {
    this.asked++;
    return super.gpu();
  }
}

const dir = tempDir();
const compute = new CountingCompute({ devices: "cpu" });
const cellar = openCellar({ db: join(dir, "cellar.duckdb"), compute });
afterAll(async () => await cellar.close());

// mode "words": a search that reads no vectors (as a lexical one); otherwise the real vector search.
const finder = writePipeline(dir, "finder.ts", `
import { searchIndex } from ${JSON.stringify(join(ROOT, "cells/index/search.ts"))};
export default pipeline({ id: "finder" }).cell("a", () => 1);
export async function search(ctx, queries, options) {
  if (options.mode === "words") return [[{ rank: 1, score: 1, document: "d0", title: null, chunk: "c0" }]];
  return await searchIndex(ctx, queries, { k: options.k });
}`);

describe("search's GPU pool", () => {
  it("is not opened by a search that takes no GPU path, and is asked for by a vector search's top-k", async () => {
    const store = await cellar.store();
    expect(await cellar.search("wing", { pipeline: finder, mode: "words" })).toHaveLength(1);
    expect(compute.asked).toBe(0);
    // A vector search that fails before its top-k (no index yet) does not open it either.
    await expect(cellar.search("wing", { pipeline: finder })).rejects.toThrow(/has no index yet/);
    expect(compute.asked).toBe(0);
    await store.query(`CREATE SCHEMA IF NOT EXISTS "finder"`);
    await store.transaction(async (conn) => {
      const columns = { chunk_id: "VARCHAR", document: "VARCHAR", title: "VARCHAR", chunk_index: "INTEGER", model: "VARCHAR", embedding: "FLOAT[512]" };
      const table = await createTable(conn, "finder", "index", 1, columns, () => {});
      await table.append([0, 1, 2].map((i) => ({
        chunk_id: `c${i}`, document: `d${i}`, title: null, chunk_index: 0, model: "use-lite",
        embedding: Float32Array.from({ length: 512 }, (_, d) => (d === i ? 1 : 0)),
      })));
      await table.finish();
    });
    await store.query(`CREATE OR REPLACE VIEW "finder"."index" AS SELECT * FROM "finder"."index@1"`);
    const hits = await cellar.search("wing", { pipeline: finder, k: 2 });
    expect(hits.map((h) => h.rank)).toEqual([1, 2]);
    expect(compute.asked).toBe(1);
  });
});
