// Model profiles (cells/models/profiles.ts): the lookup by hub id, directory name and config, an unknown model's
// defaults said once; and the profile applied end to end — an e5-profiled tiny model's chunks stored as the raw
// library embeds "passage: " + chunk, its queries in search and in the eval as it embeds "query: " + query, and a
// bge-profiled one's CLS pooling (with its query instruction) as the raw pipeline's `pooling: "cls"`.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pipeline as hfPipeline } from "@huggingface/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEmbedder } from "../cells/embed.ts";
import { EVAL_PARAMS, type EvalOutput, runEvalSuite } from "../cells/eval.ts";
import { DEFAULT_RETRIEVAL, openRetriever, parseRetrieval } from "../cells/index/retrieval.ts";
import { evaluate } from "../cells/eval/metrics.ts";
import { parseQrels } from "../cells/eval/trec.ts";
import { DEFAULT_PROFILE, PROFILE_NAMES, PROFILES, profileFor, profileNamed, resolveProfile } from "../cells/models/profiles.ts";
import { loadPipeline } from "../kernel/loader.ts";
import { openCellar, pipeline } from "../kernel/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { commitOf, readModelFiles, startHubServer } from "./fixtures/hub-server.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { computesClosedAfterAll, ROOT, tempDir } from "./helpers.ts";

const BGE_QUERY = "Represent this sentence for searching relevant passages: ";

/**
 * Serves the model directory `dir` as hub model `id` from a local hub (test/fixtures/hub-server.ts), with
 * HF_ENDPOINT and CELLAR_MODEL_CACHE (a fresh cache under `cache`) pointed at it until `close`.
 */
async function serveOnHub(id: string, dir: string, cache: string): Promise<{ commit: string; close: () => Promise<void> }> {
  const files = readModelFiles(dir);
  const commit = commitOf(files);
  const hub = await startHubServer([{ id, commits: { [commit]: files }, refs: { main: commit } }]);
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, CELLAR_MODEL_CACHE: process.env.CELLAR_MODEL_CACHE };
  process.env.HF_ENDPOINT = hub.url;
  process.env.CELLAR_MODEL_CACHE = cache;
  return {
    commit,
    close: async () => {
      await hub.close();
      for (const [name, value] of Object.entries(saved)) value === undefined ? delete process.env[name] : (process.env[name] = value);
    },
  };
}

describe("profile lookup", () => {
  it.each([
    ["sentence-transformers/all-MiniLM-L6-v2", "minilm-l6", { pooling: "mean", normalize: true, maxTokens: 256, queryPrefix: "", documentPrefix: "" }],
    ["sentence-transformers/all-mpnet-base-v2", "mpnet", { pooling: "mean", maxTokens: 384, queryPrefix: "" }],
    ["sentence-transformers/all-MiniLM-L12-v2", "sentence-transformers", { pooling: "mean", normalize: true, queryPrefix: "", documentPrefix: "" }],
    ["sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", "sentence-transformers", { pooling: "mean" }],
    ["BAAI/bge-small-en-v1.5", "bge", { pooling: "cls", normalize: true, maxTokens: 512, queryPrefix: BGE_QUERY, documentPrefix: "" }],
    ["BAAI/bge-large-en-v1.5@main", "bge", { pooling: "cls" }],
    ["intfloat/e5-small-v2", "e5", { pooling: "mean", normalize: true, maxTokens: 512, queryPrefix: "query: ", documentPrefix: "passage: " }],
    ["intfloat/e5-large-v2", "e5", { queryPrefix: "query: " }],
    ["intfloat/multilingual-e5-base", "multilingual-e5", { pooling: "mean", queryPrefix: "query: ", documentPrefix: "passage: " }],
    ["thenlper/gte-base", "gte", { pooling: "mean", normalize: true, queryPrefix: "", documentPrefix: "" }],
    ["nomic-ai/nomic-embed-text-v1", "nomic", { pooling: "mean", maxTokens: 8192, queryPrefix: "search_query: ", documentPrefix: "search_document: " }],
    ["nomic-ai/nomic-embed-text-v1.5", "nomic", { queryPrefix: "search_query: " }],
    ["mixedbread-ai/mxbai-embed-large-v1", "mxbai", { pooling: "cls", queryPrefix: BGE_QUERY, documentPrefix: "" }],
    ["cross-encoder/ms-marco-MiniLM-L-6-v2", "cross-encoder", { pooling: "none", kind: "cross-encoder" }],
    // Local directories named after the model, and a hub cache's snapshot directory.
    ["/models/e5-base-v2", "e5", {}],
    ["C:\\models\\bge-base-en-v1.5", "bge", {}],
    ["/cache/models--intfloat--e5-small-v2/snapshots/0123456789abcdef0123456789abcdef01234567", "e5", {}],
  ])("%s → %s", (name, profile, facts) => {
    expect(profileFor(name)).toMatchObject({ name: profile, ...facts });
  });

  it("matches no model of another family or version, nor a directory merely inside one named like a model", () => {
    for (const name of ["intfloat/e5-small", "intfloat/multilingual-e5-large-instruct", "BAAI/bge-small-en", "Alibaba-NLP/gte-base-en-v1.5", "my-org/my-model", "/models/e5-small-v2/finetuned", ""]) {
      expect(profileFor(name), name).toBeUndefined();
    }
    // The first name that matches wins: a config's _name_or_path after the directory's own name.
    expect(profileFor("/tmp/my-export", "intfloat/e5-small-v2")?.name).toBe("e5");
  });

  it("names a profile outright, refuses an unknown name in one line, and lists every profile with the default last", () => {
    expect(profileNamed("bge").pooling).toBe("cls");
    expect(() => profileNamed("bert")).toThrow(/^param modelProfile: expected "auto" or one of "minilm-l6", .*"default", got "?bert"?$/);
    expect(() => profileNamed("cross-encoder")).toThrow(/param modelProfile/); // a reranker is no embedding profile
    expect(PROFILES.at(-1)).toBe(DEFAULT_PROFILE);
    expect(PROFILE_NAMES).not.toContain("cross-encoder");
    expect(new Set(PROFILES.map((p) => p.name)).size).toBe(PROFILES.length);
  });

  it("an unknown model gets the defaults, said once per model; an explicit profile is taken as named", () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const unknown = { names: ["my-org/never-seen-model"], log, describe: () => "mean pooling, normalized, no prefixes, at most 512 tokens" };
    expect(resolveProfile(unknown)).toBe(DEFAULT_PROFILE);
    expect(resolveProfile(unknown)).toBe(DEFAULT_PROFILE);
    expect(lines).toEqual([
      expect.stringMatching(/^model my-org\/never-seen-model: no profile for it \(known: .*e5.*\); using its config's defaults: mean pooling, normalized, no prefixes, at most 512 tokens/),
    ]);
    expect(resolveProfile({ explicit: "e5", names: ["my-org/never-seen-model"], log }).name).toBe("e5");
    expect(resolveProfile({ explicit: "auto", names: ["BAAI/bge-base-en-v1.5"], log }).name).toBe("bge");
    expect(lines).toHaveLength(1);
  });
});

/** The raw library's embedding of each text, as the model card's usage says: no Cellar code between. */
async function rawEmbeddings(dir: string, texts: string[], pooling: "mean" | "cls"): Promise<Float32Array[]> {
  const extractor = await hfPipeline("feature-extraction", dir, { dtype: "fp32", device: "cpu" });
  const out: Float32Array[] = [];
  for (const text of texts) {
    const tensor = await extractor([text], { pooling, normalize: true });
    out.push(Float32Array.from(tensor.data as Float32Array));
  }
  return out;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe("profiles applied", () => {
  const { cpuOnly } = computesClosedAfterAll();
  let root: string;
  let e5: string;
  let bge: string;
  let tiny: string;

  beforeAll(() => {
    root = tempDir("cellar-profiles-");
    // One tiny BERT (the same seeded weights) under three names: what it is called decides how it is used.
    e5 = writeTinyBert(join(root, "intfloat", "e5-small-v2"), { dtypes: ["fp32"] });
    bge = writeTinyBert(join(root, "BAAI", "bge-small-en-v1.5"), { dtypes: ["fp32"] });
    tiny = writeTinyBert(join(root, "tiny-bert"), { dtypes: ["fp32"] });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("an unknown model: mean pooling, normalized, no prefixes, its config's token limit, said once in the log", async () => {
    const lines: string[] = [];
    const embedder = await loadEmbedder("transformers", { modelPath: tiny, device: "cpu", log: (line) => lines.push(line) });
    expect(embedder.id).toBe("transformers:tiny-bert:fp32");
    expect(embedder.maxTokens).toBe(510);
    const text = "laminar boundary layer on a flat plate";
    const [raw] = await rawEmbeddings(tiny, [text], "mean");
    for (const as of ["query", "document"] as const) expect(maxDiff((await embedder.embed([text], { as }))[0], raw)).toBeLessThan(1e-5);
    // Another load of the same model (other options, so not the cached one) says nothing more.
    await loadEmbedder("transformers", { modelPath: tiny, device: "auto", log: (line) => lines.push(line) });
    expect(lines.filter((line) => /no profile for it/.test(line))).toEqual([
      expect.stringMatching(/tiny-bert: no profile for it .*mean pooling, normalized, no prefixes, at most 512 tokens/),
    ]);
  });

  it("a bge-profiled model pools the [CLS] token as the raw pipeline with pooling cls does, and prefixes its queries only", async () => {
    const embedder = await loadEmbedder("transformers", { modelPath: bge, device: "cpu" });
    expect(embedder.id).toBe("transformers:bge-small-en-v1.5:fp32:bge");
    expect(embedder.maxTokens).toBe(510);
    const text = "supersonic flow over a wedge";
    const [document] = await embedder.embed([text]);
    const [query] = await embedder.embed([text], { as: "query" });
    const [cls, mean, clsQuery] = [...await rawEmbeddings(bge, [text], "cls"), ...await rawEmbeddings(bge, [text], "mean"), ...await rawEmbeddings(bge, [BGE_QUERY + text], "cls")];
    expect(maxDiff(document, cls)).toBeLessThan(1e-5);
    expect(maxDiff(query, clsQuery)).toBeLessThan(1e-5);
    // Not mean pooling, and the query form is not the document form: the test would see either dropped.
    expect(maxDiff(cls, mean)).toBeGreaterThan(1e-2);
    expect(maxDiff(query, document)).toBeGreaterThan(1e-2);
    // Named outright, the default profile embeds the same directory as it always did, under the old id.
    const plain = await loadEmbedder("transformers", { modelPath: bge, device: "cpu", profile: "default" });
    expect(plain.id).toBe("transformers:bge-small-en-v1.5:fp32");
    expect(maxDiff((await plain.embed([text], { as: "query" }))[0], mean)).toBeLessThan(1e-5);
  });

  it("a directory of another name is matched by the _name_or_path its config.json records", async () => {
    const dir = writeTinyBert(join(root, "my-export"), { dtypes: ["fp32"] });
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, _name_or_path: "BAAI/bge-small-en-v1.5" }));
    const embedder = await loadEmbedder("transformers", { modelPath: dir, device: "cpu" });
    expect(embedder.id).toBe("transformers:my-export:fp32:bge");
    const text = "the drag of a slender body";
    expect(maxDiff((await embedder.embed([text]))[0], (await rawEmbeddings(dir, [text], "cls"))[0])).toBeLessThan(1e-5);
  });

  describe("an e5-profiled model from the hub (intfloat/e5-small-v2) through ingest, search and the eval", () => {
    let store: Store;
    let hub: Awaited<ReturnType<typeof serveOnHub>>;
    let modelId: string;
    let docs: Array<{ id: string; title: string; text: string }>;
    let vectors: Map<string, number[]>;
    let texts: Map<string, string>;

    beforeAll(async () => {
      docs = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").trim().split("\n").slice(0, 30).map((l) => JSON.parse(l));
      const seeds = join(root, "docs.jsonl");
      writeFileSync(seeds, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
      store = await Store.open(join(root, "cellar.duckdb"));
      // The tiny model's bytes as the hub serves them under the e5 id: its name is what gives it the e5 profile.
      hub = await serveOnHub("intfloat/e5-small-v2", e5, join(root, "model-cache"));
      modelId = `transformers:intfloat/e5-small-v2@${hub.commit.slice(0, 12)}:fp32:e5`;
      const { pipeline: ingest } = await loadPipeline("ingest");
      const run = await openCellar({ db: store, compute: cpuOnly }).run(ingest, { params: { seeds, model: "intfloat/e5-small-v2", chunkTokens: 64, chunkOverlap: 8 }, new: true });
      expect(run.state).toBe("success");
      const rows = await store.query(`SELECT v.chunk_id, v.model, v.embedding, c.text FROM ingest.vectors v JOIN ingest.chunks c USING (chunk_id) ORDER BY v.chunk_id`);
      expect(new Set(rows.map((r) => r.model))).toEqual(new Set([modelId]));
      vectors = new Map(rows.map((r) => [String(r.chunk_id), r.embedding as number[]]));
      texts = new Map(rows.map((r) => [String(r.chunk_id), String(r.text)]));
    }, 120_000);
    afterAll(async () => {
      await store?.close();
      await hub?.close();
    });

    it("stores each chunk's vector as the raw library's embedding of \"passage: \" + chunk", async () => {
      const ids = [...vectors.keys()].slice(0, 6);
      const withPrefix = await rawEmbeddings(e5, ids.map((id) => `passage: ${texts.get(id)}`), "mean");
      const without = await rawEmbeddings(e5, ids.map((id) => texts.get(id)!), "mean");
      ids.forEach((id, i) => {
        expect(maxDiff(vectors.get(id)!, withPrefix[i]), id).toBeLessThan(1e-4);
        expect(maxDiff(vectors.get(id)!, without[i]), id).toBeGreaterThan(1e-3);
      });
    });

    it("counts the prefix in the chunk budget: chunkTokens may not exceed the model's limit less \"passage: \"", async () => {
      // A local directory named after the model gets the same profile.
      const embedder = await loadEmbedder("transformers", { modelPath: e5 });
      expect(embedder.id).toBe("transformers:e5-small-v2:fp32:e5");
      const prefix = embedder.countTokens("passage: ");
      expect(prefix).toBeGreaterThan(0);
      expect(embedder.maxTokens).toBe(512 - 2 - prefix);
    });

    it("searches (cellar search, the API and the UI's retriever) with the raw embedding of \"query: \" + query", async () => {
      const question = "what is the effect of heat transfer on the boundary layer";
      const retriever = await openRetriever({ pipeline: "ingest", sql: store.query.bind(store) }, parseRetrieval("dense"));
      const [hits] = await retriever.search([question], 5);
      expect(hits).toHaveLength(5);
      const [[q], [plain]] = [await rawEmbeddings(e5, [`query: ${question}`], "mean"), await rawEmbeddings(e5, [question], "mean")];
      for (const hit of hits) {
        expect(hit.score).toBeCloseTo(dot(q, vectors.get(hit.chunk)!), 4);
        expect(Math.abs(hit.score - dot(plain, vectors.get(hit.chunk)!))).toBeGreaterThan(1e-4);
      }
    });

    it("scores the eval's questions with the raw embedding of \"query: \" + question, for retrieval and the embedding judge", async () => {
      const queries = [{ id: "q1", text: "heat transfer in hypersonic flow" }, { id: "q2", text: "buckling of thin cylindrical shells" }];
      const queriesFile = join(root, "queries.jsonl");
      const qrelsFile = join(root, "qrels.trec");
      writeFileSync(queriesFile, queries.map((q) => JSON.stringify(q)).join("\n") + "\n");
      writeFileSync(qrelsFile, `q1 0 ${docs[0].id} 1\nq2 0 ${docs[1].id} 1\n`);
      const evalPipeline = pipeline({ id: "eval", params: { ...EVAL_PARAMS } }).cell("run_eval_suite", { cache: false }, runEvalSuite);
      const result = await openCellar({ db: store, compute: cpuOnly }).run(evalPipeline, {
        params: { queries: queriesFile, qrels: qrelsFile, baseline: "none", retrieval: "dense", k: 5, judgeTop: 2, index: "ingest" },
        new: true,
      });
      expect(result.state).toBe("success");
      const out = result.outputs.get("run_eval_suite") as EvalOutput;
      expect(out.index.model).toBe(modelId);
      const retrieved = await store.query(`SELECT qid, chunk_id, score FROM ${out.tables.retrieved.sql}`);
      const judged = await store.query(`SELECT qid, chunk_id, score FROM ${out.tables.judgements.sql}`);
      expect(retrieved).toHaveLength(10);
      expect(judged).toHaveLength(4);
      const raw = new Map(queries.map((q, i) => [q.id, i]));
      const prefixed = await rawEmbeddings(e5, queries.map((q) => `query: ${q.text}`), "mean");
      const plain = await rawEmbeddings(e5, queries.map((q) => q.text), "mean");
      // A retrieved chunk's score is the cosine; the judge's is the same cosine, clamped to [0, 1].
      for (const [rows, clamp] of [[retrieved, (x: number) => x], [judged, (x: number) => Math.min(1, Math.max(0, x))]] as const) {
        for (const row of rows) {
          const i = raw.get(String(row.qid))!;
          const vector = vectors.get(String(row.chunk_id))!;
          expect(Number(row.score)).toBeCloseTo(clamp(dot(prefixed[i], vector)), 4);
          expect(Math.abs(Number(row.score) - clamp(dot(plain[i], vector)))).toBeGreaterThan(1e-4);
        }
      }
    }, 120_000);

    it("the profile is part of the embedder id: another profile re-embeds every chunk instead of reusing them", async () => {
      const { pipeline: ingest } = await loadPipeline("ingest");
      const seeds = join(root, "docs.jsonl");
      const cellar = openCellar({ db: store, compute: cpuOnly });
      const again = await cellar.run(ingest, { params: { seeds, model: "intfloat/e5-small-v2", chunkTokens: 64, chunkOverlap: 8, modelProfile: "default" }, new: true });
      expect(again.state).toBe("success");
      expect(again.outputs.get("embed_docs")).toMatchObject({ model: modelId.replace(/:e5$/, ""), reused: 0 });
    }, 120_000);
  });
});

// Item 4: `retrain --param model=intfloat/e5-small-v2` (a hub id, from the local hub) followed by `eval` shows, in the eval's comparison, the retrained model's
// dense and default hybrid retrieval beside the current default's (ingest's USE-lite), each row labelled with
// its index's pipeline, model and revision, its numbers computed over the questions. A tiny model scores poorly: this
// checks the rows, not who wins.
describe("retrain with another model, then eval: the comparison shows both indexes", () => {
  const { cpuOnly } = computesClosedAfterAll();
  let root: string;
  let store: Store;
  let e5: string;
  let queriesFile: string;
  let qrelsFile: string;
  let hub: Awaited<ReturnType<typeof serveOnHub>>;
  let modelId: string;
  const QUERIES = [
    { id: "q1", text: "heat transfer in hypersonic flow" },
    { id: "q2", text: "buckling of thin cylindrical shells" },
    { id: "q3", text: "boundary layer transition on a flat plate" },
  ];

  beforeAll(async () => {
    root = tempDir("cellar-retrain-compare-");
    e5 = writeTinyBert(join(root, "intfloat", "e5-small-v2"), { dtypes: ["fp32"] });
    const docs = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").trim().split("\n").slice(0, 30).map((l) => JSON.parse(l));
    const seeds = join(root, "docs.jsonl");
    writeFileSync(seeds, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
    queriesFile = join(root, "queries.jsonl");
    qrelsFile = join(root, "qrels.trec");
    writeFileSync(queriesFile, QUERIES.map((q) => JSON.stringify(q)).join("\n") + "\n");
    writeFileSync(qrelsFile, QUERIES.map((q, i) => `${q.id} 0 ${docs[i].id} 1\n${q.id} 0 ${docs[i + 3].id} 1\n`).join(""));
    store = await Store.open(join(root, "cellar.duckdb"));
    hub = await serveOnHub("intfloat/e5-small-v2", e5, join(root, "model-cache"));
    modelId = `transformers:intfloat/e5-small-v2@${hub.commit.slice(0, 12)}:fp32:e5`;
    const cellar = openCellar({ db: store, compute: cpuOnly });
    expect((await cellar.run((await loadPipeline("ingest")).pipeline, { params: { seeds }, new: true })).state).toBe("success");
    const retrained = await cellar.run((await loadPipeline("retrain")).pipeline, { params: { model: "intfloat/e5-small-v2" }, new: true });
    expect(retrained.state).toBe("success");
  }, 180_000);
  afterAll(async () => {
    await store?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function runEval(params: Record<string, string | number>) {
    const evalPipeline = pipeline({ id: "eval", params: { ...EVAL_PARAMS } }).cell("run_eval_suite", { cache: false }, runEvalSuite);
    const result = await openCellar({ db: store, compute: cpuOnly }).run(evalPipeline, {
      params: { queries: queriesFile, qrels: qrelsFile, baseline: "none", k: 10, judgeTop: 1, ...params },
      new: true,
    });
    expect(result.state).toBe("success");
    return { out: result.outputs.get("run_eval_suite") as EvalOutput, runId: result.runId };
  }

  /** nDCG@10 of `spec` on `pipeline`'s index over the questions, computed here from the retriever itself. */
  async function ndcgOf(pipelineId: string, spec: string): Promise<number> {
    const retriever = await openRetriever({ pipeline: pipelineId, sql: store.query.bind(store) }, parseRetrieval(spec));
    const lists = await retriever.search(QUERIES.map((q) => q.text), 10);
    const run = new Map(QUERIES.map((q, i) => [q.id, lists[i].map((h) => ({ docid: h.document.slice(h.document.lastIndexOf("#") + 1), score: h.score }))]));
    const qrels = parseQrels(readFileSync(qrelsFile, "utf8"), "qrels.trec");
    return evaluate(qrels, run, { k: [10] }).mean["nDCG@10"];
  }

  it("reads retrain's index (the newest) and adds ingest's dense and default hybrid rows, labelled with pipeline and model", async () => {
    const { out, runId } = await runEval({});
    expect(out.index).toMatchObject({ pipeline: "retrain", model: modelId });
    const rows = out.comparison.rows.map((r) => ({ spec: r.spec, primary: r.primary, index: r.index }));
    const retrain = { pipeline: "retrain", model: modelId, revision: hub.commit.slice(0, 12) };
    const ingest = { pipeline: "ingest", model: "use-lite", revision: null };
    expect(rows).toEqual([
      { spec: DEFAULT_RETRIEVAL, primary: true, index: retrain },
      { spec: "lexical", primary: false, index: retrain },
      { spec: "dense", primary: false, index: retrain },
      { spec: "dense", primary: false, index: ingest },
      { spec: DEFAULT_RETRIEVAL, primary: false, index: ingest },
    ]);
    // Each row's numbers are its own index's, over the questions.
    for (const row of out.comparison.rows.filter((r) => r.spec === "dense" || r.spec === DEFAULT_RETRIEVAL)) {
      expect(row.metrics["nDCG@10"], `${row.index!.pipeline} ${row.spec}`).toBeCloseTo(await ndcgOf(row.index!.pipeline, row.spec), 12);
      expect(row.msPerQuery).toBeGreaterThan(0);
    }
    const dense = out.comparison.rows.filter((r) => r.spec === "dense");
    expect(dense[0].metrics).not.toEqual(dense[1].metrics);
    // The gate and the judge are the index read's: the primary row's.
    expect(out.metrics["nDCG@10"]).toBeCloseTo(out.comparison.rows[0].metrics["nDCG@10"], 12);

    const table = await store.query(`SELECT retrieval, is_primary, index_pipeline, model, revision FROM ${out.tables.comparison.sql} WHERE retrieval = 'dense' ORDER BY index_pipeline`);
    expect(table).toEqual([
      { retrieval: "dense", is_primary: false, index_pipeline: "ingest", model: "use-lite", revision: null },
      { retrieval: "dense", is_primary: false, index_pipeline: "retrain", model: modelId, revision: hub.commit.slice(0, 12) },
    ]);
    const [logged] = await store.query(`SELECT message FROM logs WHERE run_id = ? AND message LIKE 'retrieval compared%'`, [runId]);
    const message = String(logged.message);
    expect(message).toMatch(/ms\/query\s*│\s*index/);
    expect(message).toContain("ingest: use-lite");
    expect(message).toContain(`retrain: ${modelId}`);
    expect(message).toMatch(/^dense by nDCG@10: (ingest: use-lite|retrain: transformers:intfloat\/e5-small-v2@[0-9a-f]{12}:fp32:e5) \d\.\d{4}, .* — (best: (ingest|retrain)|a tie at the top)$/m);
  }, 180_000);

  it("the other way round, and none: index=ingest compares retrain's rows; compareIndexes=none leaves the table as it was", async () => {
    const { out } = await runEval({ index: "ingest", retrieval: "dense" });
    expect(out.comparison.rows.map((r) => [r.spec, r.primary, r.index?.pipeline])).toEqual([
      ["dense", true, "ingest"],
      ["dense", false, "retrain"],
      [DEFAULT_RETRIEVAL, false, "retrain"],
    ]);
    const alone = await runEval({ index: "ingest", retrieval: "dense", compareIndexes: "none" });
    expect(alone.out.comparison.rows.map((r) => [r.spec, r.index?.pipeline])).toEqual([["dense", "ingest"]]);
  }, 180_000);
});
