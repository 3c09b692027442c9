// The ingest pipeline end to end through the CLI, on real Cranfield abstracts:
// crawl (JSONL dataset) → dedup → embed (USE-lite) → index, then `cellar search`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Store } from "../kernel/store/store.ts";
import { cli, ROOT, tempDir } from "./helpers.ts";

const DOCS = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").trim().split("\n").slice(0, 80);

describe("ingest", () => {
  it("indexes a corpus with a duplicate in it and finds a document by its subject", async () => {
    const dir = tempDir("cellar-ingest-");
    const seeds = join(dir, "docs.jsonl");
    // Document 5 again under another id: an exact duplicate the index must not hold twice.
    const copy = { ...JSON.parse(DOCS[4]), id: "copy-of-5" };
    writeFileSync(seeds, [...DOCS, JSON.stringify(copy)].join("\n") + "\n");
    const db = join(dir, "db.duckdb");
    const env = { CELLAR_DEVICES: "cpu" };

    const run = await cli(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`], { env });
    expect(run.code, run.stderr).toBe(0);

    const shown = await cli(["--db", db, "show", "1", "--json"], { env });
    const detail = JSON.parse(shown.stdout);
    expect(detail.cells.map((c: { cell: string; state: string }) => `${c.cell}:${c.state}`)).toEqual([
      "crawl_seeds:success", "dedup_corpus:success", "embed_docs:success", "build_index:success",
    ]);

    const target = JSON.parse(DOCS[9]);
    const found = await cli(["--db", db, "search", target.title, "--k", "3", "--json"], { env });
    expect(found.code, found.stderr).toBe(0);
    const hits = JSON.parse(found.stdout);
    expect(hits).toHaveLength(3);
    expect(hits[0].document).toBe(`${seeds}#${target.id}`);
    expect(hits[0].score).toBeGreaterThan(hits[2].score);
    const documents = new Set(hits.map((h: { document: string }) => h.document));
    expect(documents.size).toBe(3);

    // Every retrieval mode finds it by its title; a bad mode is one line naming the spec.
    for (const mode of ["dense", "lexical", "lexical+rm3", "hybrid:rrf", "hybrid:weighted:alpha=0.5"]) {
      const byMode = await cli(["--db", db, "search", target.title, "--k", "3", "--mode", mode, "--json"], { env });
      expect(byMode.code, `${mode}: ${byMode.stderr}`).toBe(0);
      expect(JSON.parse(byMode.stdout)[0].document, mode).toBe(`${seeds}#${target.id}`);
    }
    const bad = await cli(["--db", db, "search", target.title, "--mode", "bm25"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain('retrieval "bm25": unknown mode "bm25"');

    // Unchanged seeds: the crawl reads them again and finds them unchanged; no chunk is embedded again.
    const again = await cli(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`], { env });
    expect(again.code, again.stderr).toBe(0);
    const store = await Store.open(db);
    try {
      const outputs = await store.query(`SELECT cell, output FROM outputs WHERE run_id = 2 ORDER BY cell`);
      const out = Object.fromEntries(outputs.map((o) => [o.cell, JSON.parse(String(o.output))]));
      expect(out.crawl_seeds).toMatchObject({ fetched: 0, unchanged: 81, failed: 0 });
      expect(out.dedup_corpus).toMatchObject({ kept: 80, exactDuplicates: 1 });
      expect(out.embed_docs.embedded).toBe(0);
      expect(out.embed_docs.reused).toBeGreaterThanOrEqual(80);
      expect(out.build_index).toMatchObject({ documents: 80 });
    } finally {
      await store.close();
    }
  }, 180_000);
});
