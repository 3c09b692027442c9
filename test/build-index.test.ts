// build_index pages its input by key (chunk_id > the last one read), not by OFFSET: over 10,000 chunks —
// three pages of 4,096 — every chunk is indexed exactly once, in chunk_id order, its vector at unit length.
import { describe, expect, it } from "vitest";
import { buildIndex } from "../cells/build-index.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { storesClosedAfterEach } from "./helpers.ts";
import { rng } from "./random.ts";

const openStore = storesClosedAfterEach();

describe("build_index", () => {
  it("indexes every chunk once, across pages, in chunk_id order", async () => {
    const store = await openStore();
    const cellar = openCellar({ db: store });
    const count = 10_000, dim = 8;
    const random = rng(9);
    // Written out of chunk_id order, with a vector of another model per chunk that must be left out.
    const ids = Array.from({ length: count }, (_, i) => `d${String(i % 997).padStart(4, "0")}#${String(i).padStart(5, "0")}`);
    const order = ids.map((_, i) => i).sort(() => random() - 0.5);
    const vectorOf = ids.map(() => Float32Array.from({ length: dim }, () => random() * 2 - 1));
    const p = pipeline({ id: "paging" })
      .cell("embed_docs", async (ctx) => {
        const chunks = await ctx.table("chunks", { chunk_id: "VARCHAR", document: "VARCHAR", chunk_index: "INTEGER", text: "VARCHAR" });
        const vectors = await ctx.table("vectors", { chunk_id: "VARCHAR", model: "VARCHAR", embedding: `FLOAT[${dim}]` });
        await chunks.append(order.map((i) => ({ chunk_id: ids[i], document: ids[i].split("#")[0], chunk_index: i, text: `chunk ${i}` })));
        await vectors.append(order.flatMap((i) => [
          { chunk_id: ids[i], model: "m", embedding: vectorOf[i] },
          { chunk_id: ids[i], model: "other", embedding: new Float32Array(dim).fill(1) },
        ]));
        return { chunks: await chunks.finish(), vectors: await vectors.finish(), model: "m", dimensions: dim };
      })
      .cell("build_index", buildIndex);
    const run = await cellar.run(p, { new: true });
    expect(run.state).toBe("success");
    const rows = await store.query(`SELECT chunk_id, chunk_index, embedding FROM paging."index"`);
    expect(rows.map((r) => r.chunk_id)).toEqual([...ids].sort());
    for (const row of rows) {
      const i = Number(row.chunk_index);
      expect(row.chunk_id).toBe(ids[i]);
      const norm = Math.hypot(...vectorOf[i]);
      (row.embedding as number[]).forEach((x, d) => expect(x).toBeCloseTo(vectorOf[i][d] / norm, 5));
    }
    const [out] = await store.query(`SELECT output FROM outputs WHERE cell = 'build_index'`);
    expect(JSON.parse(String(out.output))).toMatchObject({ vectors: count, documents: 997 });
  }, 60_000);
});
