// Models by hub id (issue 15): downloads from a local server speaking the Hugging Face hub's protocol
// (test/fixtures/hub-server.ts), into the cache in huggingface_hub's layout, verified, resumed, offline
// afterwards; and a hub id as embed_docs' model and as the cross-encoder judge's model.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { embedDocs, type EmbedOutput } from "../cells/embed.ts";
import { loadCrossEncoder } from "../cells/eval/judges/cross-encoder.ts";
import { fetchHubModel, parseHubId } from "../cells/models/hub.ts";
import { openCellar, pipeline, type ParamValue } from "../kernel/mod.ts";
import { writeTinyBert } from "./fixtures/tiny-bert.ts";
import { writeTinyReranker } from "./fixtures/tiny-reranker.ts";
import { commitOf, type HubRepo, type HubServer, readModelFiles, startHubServer } from "./fixtures/hub-server.ts";
import { cli, computesClosedAfterAll, ROOT, storesClosedAfterEach, tempDir } from "./helpers.ts";

const FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"];
const TOKEN = "hf_secretTOKEN1234567890";

let work: string;
let filesA: Record<string, Uint8Array>;
let filesB: Record<string, Uint8Array>;
let reranker: Record<string, Uint8Array>;
let commitA: string;
let commitB: string;
let hub: HubServer;
let cache: string;
let logs: string[];

beforeAll(() => {
  work = tempDir("cellar-hub-");
  filesA = readModelFiles(writeTinyBert(join(work, "a"), { dtypes: ["fp32"], seed: 7 }));
  filesB = readModelFiles(writeTinyBert(join(work, "b"), { dtypes: ["fp32"], seed: 8 }));
  reranker = readModelFiles(writeTinyReranker(join(work, "reranker")));
  commitA = commitOf(filesA);
  commitB = commitOf(filesB);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const repos = (): HubRepo[] => [
  { id: "acme/tiny-bert", commits: { [commitA]: filesA, [commitB]: filesB }, refs: { main: commitB, "v1.0": commitA } },
  { id: "acme/gated-bert", commits: { [commitA]: filesA }, refs: { main: commitA }, gatedToken: TOKEN },
  // Ids of their own for the cell and judge tests: a loaded model is kept per process by its id.
  { id: "acme/embed-bert", commits: { [commitA]: filesA, [commitB]: filesB }, refs: { main: commitB, "v1.0": commitA } },
  { id: "acme/tiny-reranker", commits: { [commitOf(reranker)]: reranker }, refs: { main: commitOf(reranker) } },
  { id: "acme/index-bert", commits: { [commitA]: filesA, [commitB]: filesB }, refs: { main: commitB } },
];

/** A fresh server and an empty cache for each test; HF_ENDPOINT and CELLAR_MODEL_CACHE point at them. */
async function fresh(): Promise<void> {
  hub = await startHubServer(repos());
  cache = join(work, `cache-${Math.random().toString(36).slice(2)}`);
  process.env.HF_ENDPOINT = hub.url;
  process.env.CELLAR_MODEL_CACHE = cache;
  delete process.env.HF_TOKEN;
  logs = [];
}
afterEach(async () => {
  await hub?.close();
  delete process.env.HF_TOKEN;
});

const fetchTiny = (ref = "acme/tiny-bert", extra: { optionalFiles?: string[] } = {}) =>
  fetchHubModel(ref, { files: FILES, log: (line) => logs.push(line), connectMs: 2_000, stallMs: 2_000, ...extra });
const repoDir = (id = "acme/tiny-bert") => join(cache, `models--${id.replace("/", "--")}`);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const cdnRequests = () => hub.requests.filter((r) => r.server === "cdn");
/** A file's sha256: comparing megabytes element by element is slow in expect, and its diff unreadable. */
const digestOf = (path: string) => sha256(readFileSync(path));

describe("parseHubId", () => {
  it("takes org/name with an optional @revision, and nothing that looks like a path", () => {
    expect(parseHubId("BAAI/bge-small-en-v1.5")).toEqual({ id: "BAAI/bge-small-en-v1.5", revision: "main" });
    expect(parseHubId("intfloat/e5-small-v2@v1.0")).toEqual({ id: "intfloat/e5-small-v2", revision: "v1.0" });
    expect(parseHubId("a/b@refs/pr/1")).toEqual({ id: "a/b", revision: "refs/pr/1" });
    for (const path of ["./models/x", "/models/x", "../x/y", "a/b/c", "model", "a/..", "a/b@", "a/b@../x", "~/m/x"]) {
      expect(parseHubId(path), path).toBeUndefined();
    }
  });
});

describe("fetchHubModel against a local hub", () => {
  it("downloads once into huggingface_hub's layout, files verified, LFS weights through the CDN redirect", async () => {
    await fresh();
    const model = await fetchTiny();
    expect(model).toEqual({ id: "acme/tiny-bert", revision: commitB, dir: join(repoDir(), "snapshots", commitB) });
    for (const file of FILES) expect(digestOf(join(model.dir, file))).toBe(sha256(filesB[file]));
    const weights = join(model.dir, "onnx/model.onnx");
    expect(lstatSync(weights).isSymbolicLink()).toBe(true);
    expect(readlinkSync(weights)).toBe(`../../../blobs/${sha256(filesB["onnx/model.onnx"])}`);
    expect(readFileSync(join(repoDir(), "refs", "main"), "utf8")).toBe(commitB);
    expect(readdirSync(join(repoDir(), "blobs")).some((f) => f.endsWith(".incomplete"))).toBe(false);
    // The weights came from the CDN, the small files from the hub itself; each file once.
    expect(cdnRequests().map((r) => r.status)).toEqual([200]);
    expect(hub.requests.filter((r) => r.server === "hub").map((r) => r.status)).toEqual([200, 200, 200, 302]);
    expect(logs.some((l) => /^model acme\/tiny-bert: onnx\/model\.onnx done, [\d.]+ MB in [\d.]+ s \([\d.]+ [KM]?B\/s\)$/.test(l))).toBe(true);
  });

  it("loads a cached model with no network call: the server stopped, and a host that does not answer", async () => {
    await fresh();
    const first = await fetchTiny("acme/tiny-bert", { optionalFiles: ["1_Pooling/config.json"] });
    expect(existsSync(join(repoDir(), ".no_exist", commitB, "1_Pooling/config.json"))).toBe(true);
    await hub.close();
    const seen = hub.requests.length;
    process.env.HF_ENDPOINT = "http://127.0.0.1:9"; // discard: nothing listens
    const again = await fetchTiny("acme/tiny-bert", { optionalFiles: ["1_Pooling/config.json"] });
    expect(again).toEqual(first);
    expect(hub.requests.length).toBe(seen);
    // Pinned to the commit itself: also offline.
    expect((await fetchTiny(`acme/tiny-bert@${commitB}`)).dir).toBe(first.dir);
  });

  it("fails in one line naming the model and the host when it is not cached and the host cannot be reached", async () => {
    await fresh();
    process.env.HF_ENDPOINT = "http://127.0.0.1:9";
    await expect(fetchTiny()).rejects.toThrow(
      /^model acme\/tiny-bert: not in the model cache, and 127\.0\.0\.1:9 cannot be reached for config\.json \(revision main\) \(.+\); set HF_ENDPOINT to a hub or mirror that can be, or give a local model directory$/,
    );
    expect(existsSync(join(repoDir(), "snapshots"))).toBe(false);
  });

  it("resumes a body cut midway with a Range request, fetching the file's bytes about once", async () => {
    await fresh();
    hub.cutOnce("onnx/model.onnx", 0.5);
    const model = await fetchTiny();
    expect(digestOf(join(model.dir, "onnx/model.onnx"))).toBe(sha256(filesB["onnx/model.onnx"]));
    expect(cdnRequests()).toHaveLength(2);
    const [cut, resumed] = cdnRequests();
    expect(cut.range).toBeUndefined();
    expect(cut.bytes).toBeGreaterThan(0);
    // From what reached the disk: at most what the server wrote before it dropped the connection.
    const from = Number(/^bytes=(\d+)-$/.exec(resumed.range ?? "")?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(cut.bytes);
    expect(resumed.status).toBe(206);
    const size = filesB["onnx/model.onnx"].length;
    expect(resumed.bytes).toBe(size - from);
    expect(cut.bytes + resumed.bytes).toBeLessThan(size * 1.1);
  });

  it("gives up on a body that stops coming after stallMs, and resumes it from the bytes it had", async () => {
    await fresh();
    hub.stallOnce("onnx/model.onnx", 0.3);
    const started = Date.now();
    const model = await fetchHubModel("acme/tiny-bert", { files: FILES, log: (line) => logs.push(line), stallMs: 300 });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(digestOf(join(model.dir, "onnx/model.onnx"))).toBe(sha256(filesB["onnx/model.onnx"]));
    const [stalled, resumed] = cdnRequests();
    expect(cdnRequests()).toHaveLength(2);
    expect(resumed.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(stalled.bytes + resumed.bytes).toBeLessThan(filesB["onnx/model.onnx"].length * 1.1);
  });

  it("resumes from the .incomplete part a previous process left", async () => {
    await fresh();
    const weights = filesB["onnx/model.onnx"];
    mkdirSync(join(repoDir(), "blobs"), { recursive: true });
    const part = Math.floor(weights.length / 3);
    writeFileSync(join(repoDir(), "blobs", `${sha256(weights)}.incomplete`), weights.subarray(0, part));
    const model = await fetchTiny();
    expect(digestOf(join(model.dir, "onnx/model.onnx"))).toBe(sha256(weights));
    expect(cdnRequests().map((r) => [r.range, r.bytes])).toEqual([[`bytes=${part}-`, weights.length - part]]);
    expect(logs.some((l) => l.startsWith("model acme/tiny-bert: resuming onnx/model.onnx at "))).toBe(true);
  });

  it("refuses a corrupted file: deleted, nothing in the snapshot, no ref; a clean download afterwards works", async () => {
    await fresh();
    hub.corrupt("onnx/model.onnx");
    await expect(fetchTiny()).rejects.toThrow(
      /^model acme\/tiny-bert: onnx\/model\.onnx from 127\.0\.0\.1:\d+ is corrupt \(sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…\); it was deleted, not cached\. Run again to download it anew$/,
    );
    expect(existsSync(join(repoDir(), "snapshots"))).toBe(false);
    expect(existsSync(join(repoDir(), "refs"))).toBe(false);
    expect(readdirSync(join(repoDir(), "blobs")).filter((f) => f.startsWith(sha256(filesB["onnx/model.onnx"])))).toEqual([]);
    hub.corrupt(undefined);
    expect((await fetchTiny()).revision).toBe(commitB);
  });

  it("names the model, revision and host of a 404", async () => {
    await fresh();
    const host = new URL(hub.url).host;
    await expect(fetchTiny("acme/nope")).rejects.toThrow(`model acme/nope: ${host} has no model acme/nope (404); if it is private, set HF_TOKEN`);
    await expect(fetchTiny("acme/tiny-bert@v9")).rejects.toThrow(`model acme/tiny-bert: ${host} has no revision "v9" of model acme/tiny-bert (404)`);
  });

  it("a gated model: refused without HF_TOKEN in one line, downloaded with it, and the token in no log, no error, no CDN request", async () => {
    await fresh();
    const host = new URL(hub.url).host;
    await expect(fetchTiny("acme/gated-bert")).rejects.toThrow(
      `model acme/gated-bert: ${host} refuses it (401): it is gated or private; set HF_TOKEN to an access token that may read it`,
    );
    process.env.HF_TOKEN = "hf_wrong";
    const wrong = await fetchTiny("acme/gated-bert").catch((err: Error) => err.message);
    expect(wrong).toMatch(/HF_TOKEN is set but does not give access to it/);
    expect(wrong).not.toContain("hf_wrong");
    process.env.HF_TOKEN = TOKEN;
    const model = await fetchTiny("acme/gated-bert");
    expect(model.revision).toBe(commitA);
    expect(hub.requests.filter((r) => r.server === "hub").at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(cdnRequests().every((r) => r.authorization === undefined)).toBe(true);
    expect(logs.join("\n")).not.toContain(TOKEN);
  });

  it("a pinned revision resolves to that commit's files, and shares the blobs they have in common", async () => {
    await fresh();
    const latest = await fetchTiny();
    const pinned = await fetchTiny("acme/tiny-bert@v1.0");
    expect(pinned.revision).toBe(commitA);
    expect(digestOf(join(pinned.dir, "onnx/model.onnx"))).toBe(sha256(filesA["onnx/model.onnx"]));
    expect(digestOf(join(latest.dir, "onnx/model.onnx"))).toBe(sha256(filesB["onnx/model.onnx"]));
    expect(readFileSync(join(repoDir(), "refs", "v1.0"), "utf8")).toBe(commitA);
    // Only the weights differ between the commits: the other files are one blob each, linked from both snapshots.
    expect(readdirSync(join(repoDir(), "blobs"))).toHaveLength(FILES.length + 1);
    // The first file is asked for at the revision, the rest at the commit it named.
    expect(hub.requests.filter((r) => r.path.endsWith("/tokenizer.json")).map((r) => r.path))
      .toEqual([`/acme/tiny-bert/resolve/${commitB}/tokenizer.json`, `/acme/tiny-bert/resolve/${commitA}/tokenizer.json`]);
  });
});

const { cpuOnly } = computesClosedAfterAll();
const newStore = storesClosedAfterEach();
const DOCS = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, 6)
  .map((l) => JSON.parse(l) as { id: string; title: string; text: string });

/** dedup_corpus' documents, embedded by embed_docs with `params`: the cell's output and its vectors' model column. */
async function embedRun(params: Record<string, ParamValue>) {
  const p = pipeline({ id: "hubtest", params: { model: "use-lite", modelPath: "", dtype: "fp32", chunkTokens: 128, chunkOverlap: 16, rebuild: false } })
    .cell("dedup_corpus", { cache: false }, async (ctx) => {
      const table = await ctx.table("documents", { id: "VARCHAR", title: "VARCHAR", text: "VARCHAR" });
      await table.append(DOCS);
      return { documents: await table.finish() };
    })
    .cell("embed_docs", { retries: 0 }, embedDocs);
  const store = await newStore();
  const cellar = openCellar({ db: store, compute: cpuOnly });
  const result = await cellar.run(p, { date: "2026-05-03T00:00:00Z", params, cache: false });
  const detail = await cellar.show(result.runId);
  const cell = detail.cells.find((c) => c.cell === "embed_docs");
  const output = result.outputs.get("embed_docs") as EmbedOutput | undefined;
  const models = output ? (await store.query(`SELECT DISTINCT model FROM ${output.vectors.sql}`)).map((r) => String(r.model)) : [];
  const first = output ? (await store.query(`SELECT embedding FROM ${output.vectors.sql} ORDER BY chunk_id LIMIT 1`))[0].embedding as number[] : [];
  return { error: cell?.error ?? null, output, models, first, logs: (await cellar.logs(result.runId)).lines.map((l) => l.message) };
}

describe("a hub id as a model", () => {
  it("embed_docs with --param model=<hub id>: downloaded, embedded, the commit recorded with every vector; a pinned revision is another model", async () => {
    await fresh();
    const latest = await embedRun({ model: "acme/embed-bert" });
    expect(latest.error).toBeNull();
    const id = `transformers:acme/embed-bert@${commitB.slice(0, 12)}:fp32`;
    expect(latest.output!.model).toBe(id);
    expect(latest.models).toEqual([id]);
    expect(latest.output!.dimensions).toBe(32);
    expect(latest.logs.some((l) => /model acme\/embed-bert: onnx\/model\.onnx done/.test(l))).toBe(true);
    // The old spelling, model=transformers with the hub id as modelPath, is the same model.
    const spelled = await embedRun({ model: "transformers", modelPath: "acme/embed-bert" });
    expect(spelled.output!.model).toBe(id);
    expect(spelled.first).toEqual(latest.first);
    const pinned = await embedRun({ model: "acme/embed-bert@v1.0" });
    expect(pinned.output!.model).toBe(`transformers:acme/embed-bert@${commitA.slice(0, 12)}:fp32`);
    expect(pinned.first).not.toEqual(latest.first);
  });

  it("embed_docs fails in one line for an unknown hub model, and refuses a model param that is neither a backend nor a hub id", async () => {
    await fresh();
    const unknown = await embedRun({ model: "acme/missing-bert" });
    expect(unknown.error).toBe(`model acme/missing-bert: ${new URL(hub.url).host} has no model acme/missing-bert (404); if it is private, set HF_TOKEN`);
    const bad = await embedRun({ model: "word2vec" });
    expect(bad.error).toBe(`param model: expected "use-lite", "transformers" or a hub id "org/name[@revision]", got "word2vec"`);
  });

  it("the cross-encoder judge takes a hub id, and names its commit", async () => {
    await fresh();
    const judge = await loadCrossEncoder({ modelPath: "acme/tiny-reranker", device: "cpu", log: (line) => logs.push(line) });
    expect(judge.id).toBe(`cross-encoder:acme/tiny-reranker@${commitOf(reranker).slice(0, 12)}:fp32`);
    const [verdict] = await judge.judge([{ question: "what is lift?", context: "Lift is the force that holds an aircraft up." }]);
    expect(verdict.score).toBeGreaterThan(0);
    expect(verdict.score).toBeLessThan(1);
    expect(logs.some((l) => l.startsWith("model acme/tiny-reranker: onnx/model.onnx done"))).toBe(true);
  });
});

describe("an index built with a hub model, in processes of their own", () => {
  it("search loads the revision that built it with the hub unreachable; another revision of the model is refused in one line", async () => {
    await fresh();
    const dir = tempDir("cellar-hub-index-");
    const db = join(dir, "cellar.duckdb");
    const seeds = join(dir, "docs.jsonl");
    writeFileSync(seeds, DOCS.map((d) => JSON.stringify(d)).join("\n") + "\n");
    const env = { HF_ENDPOINT: hub.url, CELLAR_MODEL_CACHE: cache };
    const ran = await cli(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`, "--param", "model=acme/index-bert", "--no-cache"], { env });
    expect(ran.code, ran.stderr).toBe(0);
    const built = `transformers:acme/index-bert@${commitB.slice(0, 12)}:fp32`;
    const offline = await cli(["--db", db, "search", "boundary layer", "--mode", "dense", "--json"], { env: { ...env, HF_ENDPOINT: "http://127.0.0.1:9" } });
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout).length).toBeGreaterThan(0);
    // The hub's main moves back to the older commit, and a fresh cache resolves it there.
    hub.setRef("acme/index-bert", "main", commitA);
    const moved = await cli(["--db", db, "search", "boundary layer", "--mode", "dense"], { env: { ...env, CELLAR_MODEL_CACHE: join(dir, "cache-2") } });
    expect(moved.code).not.toBe(0);
    // Its last line (the download's lines on stderr before it: a search has no run log).
    expect(moved.stderr.trim().split("\n").at(-1)).toBe(
      `cellar: the index was built with ${built} but transformers:acme/index-bert@${commitA.slice(0, 12)}:fp32 loads now; rebuild it: cellar run ingest --from embed_docs`,
    );
    rmSync(dir, { recursive: true, force: true });
  }, 240_000);
});
