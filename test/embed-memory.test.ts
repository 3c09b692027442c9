// embed_docs under the store's DuckDB memory limit (CELLAR_DB_MEMORY_LIMIT): its vectors may outweigh the limit.
// At 100K documents (146K chunks × 384 floats, 224 MB) the copy of repeated texts' vectors ran out of the default
// 512MB after 38 minutes of embedding, and a re-run's copy of the previous vectors did too: both grouped the
// vectors themselves. Here a generated 384-wide model, one layer deep, embeds 12,000 short documents (18 MB of
// vectors) under an 80MB limit. Measured on 2 cores: the grouping copies failed at 72–88MB and passed at 96MB; the
// copies by chunk id pass from 72MB (below a row group, DuckDB keeps all of an open transaction's rows in memory).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { embedDocs, type EmbedOutput } from "../cells/embed.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { MEMORY_LIMIT_ENV, Store } from "../kernel/store/store.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { computesClosedAfterAll, tempDir } from "./helpers.ts";

const DOCUMENTS = 12_000;
/** Every 50th document repeats the text of the one before it: copied within the run, not embedded. */
const REPEATED = DOCUMENTS / 50;

const { cpuOnly } = computesClosedAfterAll();
const saved = process.env[MEMORY_LIMIT_ENV];
let dir: string;
let model: string;
beforeAll(() => {
  dir = tempDir("cellar-embed-memory-");
  model = writeTinyBert(join(dir, "wide-bert"), { hidden: 384, layers: 1, heads: 4, intermediate: 64, dtypes: ["fp32"] });
});
afterEach(() => {
  if (saved === undefined) delete process.env[MEMORY_LIMIT_ENV];
  else process.env[MEMORY_LIMIT_ENV] = saved;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const words = ["wing", "flow", "heat", "shock", "layer", "panel", "drag", "lift", "jet", "plate", "nozzle", "cone"];
/** Document i's text: a few words that differ between documents, the same as i − 1's for every 50th. */
const textOf = (i: number): string => {
  const n = i % 50 === 1 ? i - 1 : i;
  return `${words[n % 12]} ${words[Math.floor(n / 12) % 12]} ${words[Math.floor(n / 144) % 12]} number ${n}`;
};

describe("embed_docs under the store's memory limit", () => {
  it("embeds, copies repeated texts' vectors, and on a re-run copies every vector, with vectors larger than the limit", async () => {
    process.env[MEMORY_LIMIT_ENV] = "80MB";
    const store = await Store.open(join(dir, "cellar.duckdb"));
    try {
      const p = pipeline({ id: "embedmemory", params: { model: "transformers", modelPath: model, dtype: "fp32", batchSize: 256, rebuild: false } })
        .cell("dedup_corpus", { cache: false }, async (ctx) => {
          const table = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
          await table.append(Array.from({ length: DOCUMENTS }, (_, i) => ({ id: `d${String(i).padStart(5, "0")}`, title: "", text: textOf(i) })));
          return { documents: await table.finish() };
        })
        .cell("embed_docs", { retries: 0 }, embedDocs);
      const cellar = openCellar({ db: store, compute: cpuOnly });
      const run = async () => {
        const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", cache: false });
        const cell = (await cellar.show(result.runId)).cells.find((c) => c.cell === "embed_docs");
        return { error: cell?.error ?? null, output: result.outputs.get("embed_docs") as EmbedOutput | undefined };
      };

      const first = await run();
      expect(first.error).toBeNull();
      expect(first.output).toMatchObject({ dimensions: 384, embedded: DOCUMENTS, reused: 0 });
      expect(first.output!.vectors.rows).toBe(DOCUMENTS);
      // A repeated text's chunk holds its original's vector; every other text has its own.
      const [pair] = await store.query(
        `SELECT count(DISTINCT hash(embedding)) AS n FROM ${first.output!.vectors.sql} WHERE chunk_id IN ('d00050#0', 'd00051#0')`,
      );
      expect(Number(pair.n)).toBe(1);
      const [all] = await store.query(`SELECT count(DISTINCT hash(embedding)) AS n FROM ${first.output!.vectors.sql}`);
      expect(Number(all.n)).toBe(DOCUMENTS - REPEATED);

      const second = await run();
      expect(second.error).toBeNull();
      expect(second.output).toMatchObject({ embedded: 0, reused: DOCUMENTS });
      expect(second.output!.vectors.hash).toBe(first.output!.vectors.hash);
    } finally {
      await store.close();
    }
  });
});
