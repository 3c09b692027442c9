/**
 * Cell params are declared once: the README's param tables list each declaration's
 * params with their defaults, what they accept and what they mean; the shipped
 * pipelines offer every param of their cells as a `--param`; and a bad value fails
 * in one line, `param <name>: expected <what it accepts>, got <value>`, from the
 * declaration and from the cell itself.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CellParams, type Context, isCellarError, type ParamValue } from "../kernel/mod.ts";
import { crawlParams, crawlSeeds } from "../cells/crawl.ts";
import { dedupCorpus, dedupParams } from "../cells/dedup.ts";
import { embedDocs, embedParams } from "../cells/embed.ts";
import { evalParams, runEvalSuite } from "../cells/eval.ts";
import { corpusParams, loadCorpus } from "../cells/retrain.ts";
import { lexicalParams } from "../cells/index/lexical-build.ts";
import ingest from "../pipelines/ingest.ts";
import evalPipeline from "../pipelines/eval.ts";
import retrain from "../pipelines/retrain.ts";
import { ROOT } from "./helpers.ts";

const DECLARATIONS: Record<string, CellParams<any>> = {
  crawl_seeds: crawlParams,
  dedup_corpus: dedupParams,
  embed_docs: embedParams,
  build_index: lexicalParams,
  run_eval_suite: evalParams,
  load_corpus: corpusParams,
};

interface Row {
  name: string;
  default: ParamValue;
  expected: string;
  meaning: string;
}

/** The README's tables headed "| `<cell>` param | default | accepts | meaning |", by cell. */
function readmeTables(): Map<string, Row[]> {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const tables = new Map<string, Row[]>();
  for (let i = 0; i < lines.length; i++) {
    const head = /^\| `(\w+)` param \| default \| accepts \| meaning \|$/.exec(lines[i]);
    if (!head) continue;
    expect(tables.has(head[1]), `a second table for ${head[1]}`).toBe(false);
    const rows: Row[] = [];
    for (i += 2; i < lines.length && lines[i].startsWith("|"); i++) {
      const cells = lines[i].slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll("\\|", "|"));
      expect(cells, lines[i]).toHaveLength(4);
      const code = (cell: string) => /^`(.*)`$/.exec(cell)?.[1] ?? expect.fail(`README: ${cell} is not in backticks (${lines[i]})`);
      rows.push({ name: code(cells[0]), default: JSON.parse(code(cells[1])), expected: cells[2], meaning: cells[3] });
    }
    tables.set(head[1], rows);
  }
  return tables;
}

describe("the README's param tables", () => {
  const tables = readmeTables();

  it("list the cells that declare params, and no other", () => {
    expect([...tables.keys()].sort()).toEqual(Object.keys(DECLARATIONS).sort());
  });

  it.each(Object.entries(DECLARATIONS))("agree with %s's declaration: names, defaults, what each accepts, meanings", (cell, declaration) => {
    expect(tables.get(cell)).toEqual(declaration.docs());
  });

  it("are complete: every param has a default, an expectation and a meaning", () => {
    for (const [cell, declaration] of Object.entries(DECLARATIONS)) {
      for (const param of declaration.docs()) {
        expect(param.expected, `${cell}.${param.name}`).not.toBe("");
        expect(param.meaning, `${cell}.${param.name}`).not.toBe("");
      }
    }
  });
});

describe("the shipped pipelines", () => {
  it.each([ingest, evalPipeline, retrain].map((p) => [p.id, p] as const))("%s offers every param of its cells as a --param", (_, p) => {
    for (const cell of p.cells) {
      const declaration = DECLARATIONS[cell.name];
      if (!declaration) continue;
      for (const name of Object.keys(declaration.defaults)) expect(Object.keys(p.params), `${p.id}: ${cell.name}.${name}`).toContain(name);
    }
  });

  it("take the cells' defaults, except where a pipeline says otherwise", () => {
    expect(ingest.params).toEqual({ ...crawlParams.defaults, ...dedupParams.defaults, ...embedParams.defaults, ...lexicalParams.defaults });
    expect(evalPipeline.params).toEqual({ ...evalParams.defaults, allowMissingIds: true });
    expect(retrain.params).toEqual({ ...corpusParams.defaults, ...embedParams.defaults, ...lexicalParams.defaults, rebuild: true });
  });
});

/** The message `read` throws for `params`. */
function readError(declaration: CellParams<any>, params: Record<string, unknown>): string {
  try {
    declaration.read(params);
  } catch (err) {
    expect(isCellarError(err)).toBe(true);
    return (err as Error).message;
  }
  return expect.fail(`no error for ${JSON.stringify(params)}`);
}

const ONE_LINE = /^param (\w+): expected [^\n]+, got [^\n]+$/;

describe("a bad param", () => {
  it.each([
    ["crawl_seeds", { maxDepth: -1 }, "param maxDepth: expected a whole number ≥ 0, got -1"],
    ["crawl_seeds", { maxPages: "abc" }, `param maxPages: expected a whole number ≥ 1, got "abc"`],
    ["crawl_seeds", { timeoutMs: 2.5 }, "param timeoutMs: expected a whole number ≥ 1, got 2.5"],
    ["crawl_seeds", { userAgent: " " }, `param userAgent: expected a non-empty string, got " "`],
    ["crawl_seeds", { allowHosts: "docs.example.org,a/b" }, `param allowHosts: expected host names, host:port, origins or *.domain, comma-separated, got "docs.example.org,a/b"`],
    ["crawl_seeds", { seedsFile: "lines" }, `param seedsFile: expected "auto", "list" or "document", got "lines"`],
    ["crawl_seeds", { seeds: 5 }, "param seeds: expected a seeds file or a comma-separated list of seeds (http(s) URLs, local folders and files, .jsonl datasets), got 5"],
    ["dedup_corpus", { dedupThreshold: 0 }, "param dedupThreshold: expected a number in (0, 1], got 0"],
    ["dedup_corpus", { dedupThreshold: "high" }, `param dedupThreshold: expected a number in (0, 1], got "high"`],
    ["dedup_corpus", { numPerm: 5000 }, "param numPerm: expected a whole number from 1 to 4096, got 5000"],
    ["embed_docs", { chunkTokens: "abc" }, `param chunkTokens: expected "auto" or a whole number ≥ 1, got "abc"`],
    ["embed_docs", { dtype: "fp16" }, `param dtype: expected "fp32" or "q8", got "fp16"`],
    ["embed_docs", { rebuild: "yes" }, `param rebuild: expected true or false, got "yes"`],
    ["embed_docs", { model: "word2vec" }, `param model: expected "use-lite", "transformers" or a hub id "org/name[@revision]", got "word2vec"`],
    ["build_index", { k1: -1 }, "param k1: expected a number ≥ 0, got -1"],
    ["build_index", { b: 1.5 }, "param b: expected a number in [0, 1], got 1.5"],
    ["build_index", { stemmer: "lancaster" }, `param stemmer: expected "none", "porter" or "snowball", got "lancaster"`],
    ["run_eval_suite", { k: 0 }, "param k: expected a whole number ≥ 1, got 0"],
    ["run_eval_suite", { judge: "oracle" }, `param judge: expected "embedding", "cross-encoder" or "llm", got "oracle"`],
    ["run_eval_suite", { thresholds: {} }, `param thresholds: expected a JSON object of metric → allowed drop ≥ 0, naming at least one metric, e.g. {"nDCG@10":0.02}, got {}`],
    ["run_eval_suite", { thresholds: { MRR: -1 } }, `param thresholds: expected a JSON object of metric → allowed drop ≥ 0, naming at least one metric, e.g. {"nDCG@10":0.02}, got {"MRR":-1}`],
    ["run_eval_suite", { allowMissingIds: 1 }, "param allowMissingIds: expected true or false, got 1"],
    ["load_corpus", { corpus: "" }, `param corpus: expected a non-empty string, got ""`],
  ] as Array<[string, Record<string, unknown>, string]>)("%s %j: one line naming the param, what it accepts and the value", (cell, params, message) => {
    const error = readError(DECLARATIONS[cell], params);
    expect(error).toBe(message);
    expect(error).toMatch(ONE_LINE);
    expect(ONE_LINE.exec(error)![1]).toBe(Object.keys(params)[0]);
  });

  it("fails the cell itself the same way, before it reads anything", async () => {
    const ctx = (params: Record<string, ParamValue>) => ({ cell: "c", params }) as unknown as Context;
    const documents = { $table: "crawled", sql: "crawled", rows: 1, hash: "" };
    await expect(crawlSeeds(ctx({ maxDepth: -1 }))).rejects.toThrow(/^param maxDepth: expected a whole number ≥ 0, got -1$/);
    await expect(dedupCorpus(ctx({ numPerm: 0 }), { documents })).rejects.toThrow(/^param numPerm: expected a whole number from 1 to 4096, got 0$/);
    await expect(embedDocs(ctx({ batchSize: 0 }), { documents })).rejects.toThrow(/^param batchSize: expected a whole number ≥ 1, got 0$/);
    // A bound between two params is checked by the cell, in the same words.
    await expect(embedDocs(ctx({ chunkTokens: 64, chunkOverlap: 64 }), { documents }))
      .rejects.toThrow(/^param chunkOverlap: expected fewer tokens than chunkTokens \(64\), got 64$/);
    await expect(runEvalSuite(ctx({ judgeTop: "many" }))).rejects.toThrow(/^param judgeTop: expected a whole number ≥ 1, got "many"$/);
    await expect(loadCorpus(ctx({ corpus: 7 }))).rejects.toThrow(/^param corpus: expected a non-empty string, got 7$/);
  });
});

describe("a good param", () => {
  it("is read as it is today: numbers and flags also from strings, null and missing as the default", () => {
    expect(crawlParams.read({ maxDepth: "2", allowHosts: "Docs.Example.org, 127.0.0.1:8081,*.example.org", seeds: null })).toMatchObject({
      maxDepth: 2, seeds: "pipelines/data/cranfield/docs.jsonl", allowHosts: ["docs.example.org", "127.0.0.1:8081", "*.example.org"],
    });
    expect(crawlParams.read({ allowHosts: ["http://a.org:8080"] }).allowHosts).toEqual(["http://a.org:8080"]);
    expect(crawlParams.read({}).allowHosts).toEqual([]);
    expect(dedupParams.read({ dedupThreshold: "0.9" })).toEqual({ dedupThreshold: 0.9, numPerm: 128, dedupPlacement: "local" });
    expect(embedParams.read({ rebuild: "true", chunkOverlap: 0 })).toMatchObject({ rebuild: true, chunkOverlap: 0, chunkTokens: "auto" });
    expect(embedParams.read({ rebuild: false }).rebuild).toBe(false);
    // Params of other cells in the same pipeline pass by.
    expect(corpusParams.read({ corpus: "mine", maxDepth: 3 })).toEqual({ corpus: "mine" });
    expect(evalParams.read({}).thresholds).toEqual(evalParams.defaults.thresholds);
  });
});
