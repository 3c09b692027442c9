// The vector index's read and search paths on real DuckDB files: chunked reading of FLOAT[n]
// columns, openIndex and its refusals, the fast CPU top-k against the reference, and
// latestIndexPipeline over real checkpoint rows. The models are the real USE-lite weights.
import { describe, expect, it } from "vitest";
import { latestIndexPipeline, openIndex, type SearchContext } from "../cells/index/search.ts";
import { dotsKernel } from "../cells/index/dots-simd.ts";
import { topK, type TopKResult } from "../cells/index/topk.ts";
import { topKCpu } from "../cells/index/topk-cpu.ts";
import { CellarError } from "../kernel/errors.ts";
import type { Store } from "../kernel/store/store.ts";
import { vectorReader } from "../kernel/store/vectors.ts";
import { createTable } from "../kernel/tables.ts";
import { storesClosedAfterEach } from "./helpers.ts";
import { rng } from "./random.ts";

const openStore = storesClosedAfterEach();

interface Row {
  chunk_id: string;
  document: string;
  title: string | null;
  embedding: Float32Array;
}

/** An index table the way build_index lays it out: "<pipeline>"."index@<run>" and the view over it. */
async function writeIndex(store: Store, pipeline: string, rows: Row[], model = "use-lite"): Promise<void> {
  const dim = rows[0].embedding.length;
  await store.query(`CREATE SCHEMA IF NOT EXISTS "${pipeline}"`);
  await store.transaction(async (conn) => {
    const table = await createTable(conn, pipeline, "index", 1, {
      chunk_id: "VARCHAR", document: "VARCHAR", title: "VARCHAR", chunk_index: "INTEGER", model: "VARCHAR", embedding: `FLOAT[${dim}]`,
    }, () => {});
    await table.append(rows.map((row, i) => ({ ...row, chunk_index: i, model })));
    await table.finish();
  });
  await store.query(`CREATE OR REPLACE VIEW "${pipeline}"."index" AS SELECT * FROM "${pipeline}"."index@1"`);
}

function unit(random: () => number, dim: number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => random() * 2 - 1);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function searchContext(store: Store, pipeline: string, fast: boolean): SearchContext {
  return { pipeline, sql: store.query.bind(store), ...(fast ? { readVectors: vectorReader(store) } : {}) };
}

describe("readVectors", () => {
  it("reads a FLOAT[n] column chunk by chunk into exactly the stored floats", async () => {
    const store = await openStore();
    const dim = 7;
    // 2,500 rows: past DuckDB's 2,048-row vector, so the read crosses a chunk boundary.
    const rows: Row[] = Array.from({ length: 2500 }, (_, i) => ({
      chunk_id: `c${String(i).padStart(5, "0")}`,
      document: `d${i % 40}`,
      title: i % 3 === 0 ? null : `title ${i}`,
      embedding: Float32Array.from({ length: dim }, (_, d) => Math.fround(i * 0.25 - d / 3)),
    }));
    await writeIndex(store, "p", rows);
    const read = vectorReader(store);
    for (const options of [{ rows: 2500 }, { rows: 10 }, {}]) {
      const got = await read(`SELECT chunk_id, document, title, embedding FROM p.index ORDER BY chunk_id`, [], options);
      expect(got.count).toBe(2500);
      expect(got.dimensions).toBe(dim);
      expect(got.vectors.length).toBe(2500 * dim);
      const expected = new Float32Array(2500 * dim);
      rows.forEach((row, i) => expected.set(row.embedding, i * dim));
      expect(Buffer.from(got.vectors.buffer, got.vectors.byteOffset, got.vectors.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(got.columns.chunk_id).toEqual(rows.map((r) => r.chunk_id));
      expect(got.columns.title).toEqual(rows.map((r) => r.title));
      expect(Object.keys(got.columns)).toEqual(["chunk_id", "document", "title"]);
    }
  });

  it("refuses NULL vectors, NULL elements and queries without exactly one FLOAT[n] column", async () => {
    const store = await openStore();
    await store.query(`CREATE TABLE t AS SELECT i AS id, [i, i + 1]::FLOAT[2] AS e FROM range(3000) r(i)`);
    const read = vectorReader(store);
    await expect(read(`SELECT id FROM t`)).rejects.toThrow(/expected a query with exactly one FLOAT\[n\] column, got \(id BIGINT\)/);
    await expect(read(`SELECT e, e AS f FROM t`)).rejects.toThrow(CellarError);
    await store.query(`UPDATE t SET e = NULL WHERE id = 2900`);
    await expect(read(`SELECT e FROM t ORDER BY id`)).rejects.toThrow(/column "e" row 2900 is NULL; expected 2 numbers/);
    await store.query(`UPDATE t SET e = [7, NULL]::FLOAT[2] WHERE id = 2900`);
    await expect(read(`SELECT e FROM t ORDER BY id`)).rejects.toThrow(/column "e" row 2900 holds a NULL at position 1/);
  });
});

describe("openIndex", () => {
  it("refuses a pipeline without an index, and vectors the model cannot have made", async () => {
    const store = await openStore();
    await expect(openIndex(searchContext(store, "ingest", true), { pipeline: "nope" }))
      .rejects.toThrow(/^pipeline "nope" has no index yet; run it first \(cellar run nope\)$/);
    const random = rng(5);
    await writeIndex(store, "small", [{ chunk_id: "a", document: "A", title: null, embedding: unit(random, 8) }]);
    await expect(openIndex(searchContext(store, "small", true)))
      .rejects.toThrow(/^the index holds 8-dimensional vectors but model "use-lite" gives 512; rebuild the index$/);
  });

  it("loads vectors, documents and the embedder once, and searches by vector and by text", async () => {
    const store = await openStore();
    const random = rng(11);
    const dim = 512;
    // 300 documents of 1–3 chunks, and one document ("big") of 40 near-identical chunks.
    const rows: Row[] = [];
    for (let d = 0; d < 300; d++) {
      for (let c = 0; c <= d % 3; c++) rows.push({ chunk_id: `doc${d}#${c}`, document: `doc${d}`, title: `Document ${d}`, embedding: unit(random, dim) });
    }
    const anchor = unit(random, dim);
    for (let c = 0; c < 40; c++) {
      const near = anchor.map((x) => x + (random() - 0.5) * 0.01);
      rows.push({ chunk_id: `big#${String(c).padStart(2, "0")}`, document: "big", title: null, embedding: near.map((x) => x / Math.hypot(...near)) });
    }
    await writeIndex(store, "ingest", rows);

    const index = await openIndex(searchContext(store, "eval", true), { pipeline: "ingest" });
    expect(index).toMatchObject({ pipeline: "ingest", model: "use-lite", dimensions: 512, size: rows.length, documents: 301 });
    expect(index.embedder.id).toBe("use-lite");

    // A stored vector finds its own document first, at cosine 1.
    const target = rows.find((r) => r.chunk_id === "doc125#1")!;
    const [[first]] = await index.search(target.embedding, 5);
    expect(first).toMatchObject({ rank: 1, document: "doc125", title: "Document 125", chunk: "doc125#1" });
    expect(first.score).toBeCloseTo(1, 5);

    // Near the big document, its 40 chunks outrank everything: k distinct documents need a second fetch.
    const [hits] = await index.search(anchor, 5);
    expect(hits.map((h) => h.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(hits[0].document).toBe("big");
    expect(new Set(hits.map((h) => h.document)).size).toBe(5);
    for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);

    // Texts go through the index's own model; the same vectors found by value give the same hits.
    const texts = ["supersonic flow over a wedge", "boundary layer transition"];
    const byText = await index.search(texts, 10);
    const embedded = await index.embedder.embed(texts);
    const byVector = await index.search(Float32Array.from(embedded.flatMap((v) => [...v])), 10);
    expect(byText).toEqual(byVector);
    expect(byText.map((h) => h.length)).toEqual([10, 10]);

    // The path through plain SQL (a cell's ctx) opens the same index.
    const slow = await openIndex(searchContext(store, "ingest", false));
    expect(await slow.search(anchor, 5)).toEqual([hits]);
    await expect(index.search(new Float32Array(100), 3)).rejects.toThrow(/100 query values are not a whole number of 512-dimensional vectors/);
    await expect(index.search(["x"], 0)).rejects.toThrow(/k=0: expected a whole number ≥ 1/);
  }, 60_000);
});

describe("topKCpu", () => {
  /** Every index the fast path gives scores, in exact arithmetic, within 1e-5 of the reference's at that rank. */
  function expectSameAsReference(queries: Float32Array, vectors: Float32Array, dim: number, fast: TopKResult, ref: TopKResult): number {
    expect(fast.indices.length).toBe(ref.indices.length);
    const k = ref.indices.length / (queries.length / dim);
    let differences = 0;
    for (let i = 0; i < ref.indices.length; i++) {
      expect(Math.abs(fast.scores[i] - ref.scores[i])).toBeLessThanOrEqual(1e-5);
      if (fast.indices[i] === ref.indices[i]) continue;
      differences++;
      const q = Math.floor(i / k);
      let exact = 0;
      for (let d = 0; d < dim; d++) exact += queries[q * dim + d] * vectors[fast.indices[i] * dim + d];
      expect(Math.abs(exact - ref.scores[i])).toBeLessThanOrEqual(1e-5);
    }
    return differences;
  }

  it("runs WebAssembly SIMD here (Node 20 has it), so the fast path is the one tested", () => {
    expect(dotsKernel()).toBeDefined();
  });

  for (const [dim, numVectors, numQueries, k] of [[512, 3000, 13, 100], [48, 5000, 9, 10], [100, 2000, 5, 7], [16, 40, 3, 50], [64, 500, 4, 0]]) {
    it(`equals the reference at dim ${dim}, ${numVectors} vectors, ${numQueries} queries, k ${k}`, () => {
      const random = rng(dim * 7 + k);
      const vectors = Float32Array.from({ length: numVectors * dim }, () => random() * 2 - 1);
      const queries = Float32Array.from({ length: numQueries * dim }, () => random() * 2 - 1);
      const ref = topK(queries, vectors, dim, k);
      // Small tiles and blocks too, so that several tiles and a ragged last block are crossed.
      for (const options of [{}, { tileVectors: 37, queryBlock: 4 }, { simd: false }, { simd: false, tileVectors: 100, queryBlock: 3 }]) {
        const fast = topKCpu(queries, vectors, dim, k, options);
        expect(expectSameAsReference(queries, vectors, dim, fast, ref)).toBeLessThanOrEqual(ref.indices.length / 100);
      }
    });
  }

  it("breaks ties between equal scores by the lower index, as the reference does", () => {
    const random = rng(3);
    const dim = 32;
    const base = Float32Array.from({ length: 10 * dim }, () => random());
    // Every vector three times: each score appears three times, bit for bit.
    const vectors = new Float32Array(30 * dim);
    for (let copy = 0; copy < 3; copy++) vectors.set(base, copy * 10 * dim);
    const queries = Float32Array.from({ length: 2 * dim }, () => random());
    for (const simd of [true, false]) {
      const fast = topKCpu(queries, vectors, dim, 12, { simd, tileVectors: 7 });
      const ref = topK(queries, vectors, dim, 12);
      for (let q = 0; q < 2; q++) {
        const at = q * 12;
        for (let i = 0; i < 12; i += 3) {
          // The three copies of one vector, lowest index first.
          const trio = [...fast.indices.subarray(at + i, at + i + 3)];
          expect(trio).toEqual([...trio].sort((a, b) => a - b));
          expect(new Set(trio.map((v) => v % 10)).size).toBe(1);
        }
        expect([...fast.indices.subarray(at, at + 12)]).toEqual([...ref.indices.subarray(at, at + 12)]);
      }
    }
  });

  it("refuses shapes that do not fit", () => {
    expect(() => topKCpu(new Float32Array(5), new Float32Array(8), 4, 1)).toThrow(/5 query values are not a multiple of dim=4/);
    expect(() => topKCpu(new Float32Array(4), new Float32Array(8), 4, -1)).toThrow(/k=-1: expected a non-negative integer/);
  });
});

describe("latestIndexPipeline", () => {
  async function checkpoint(store: Store, runId: number, pipeline: string, cell: string, at: string): Promise<void> {
    await store.query(
      `INSERT INTO runs VALUES (?, ?, ?, 'manual', ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, '{}', '{}', 'success', ?::TIMESTAMPTZ, NULL, NULL)
       ON CONFLICT DO NOTHING`,
      [runId, pipeline, `key-${runId}`, at, at, at, at],
    );
    await store.query(
      `INSERT INTO outputs VALUES (?, ?, ?, 1, 'key', '{}', 'hash', '{}', NULL, ?::TIMESTAMPTZ)`,
      [runId, cell, pipeline, at],
    );
  }

  it("names the pipeline whose build_index checkpoint is newest, or says to run ingest", async () => {
    const store = await openStore();
    const sql = store.query.bind(store);
    await expect(latestIndexPipeline(sql)).rejects.toThrow(/^no pipeline has built an index yet; run ingest first \(cellar run ingest\)$/);
    await checkpoint(store, 1, "ingest", "build_index", "2026-05-01T00:00:00Z");
    await checkpoint(store, 2, "retrain", "build_index", "2026-05-03T00:00:00Z");
    await checkpoint(store, 3, "ingest", "crawl_seeds", "2026-05-05T00:00:00Z");
    expect(await latestIndexPipeline(sql)).toBe("retrain");
    await checkpoint(store, 4, "ingest", "build_index", "2026-05-04T00:00:00Z");
    expect(await latestIndexPipeline(sql)).toBe("ingest");
  });
});
