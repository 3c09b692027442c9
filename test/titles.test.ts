// Documents keep their titles, end to end through the CLI: a JSONL dataset where half the records have
// only a title (and four papers whose text is literally "None") goes through the real crawl → dedup →
// embed (USE-lite) → index cells into a DuckDB file, and `cellar search` finds documents by their titles.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { documentText, isPlaceholder } from "../cells/document.ts";
import { Compute } from "../kernel/compute/devices.ts";
import { openCellar } from "../kernel/mod.ts";
import { Store } from "../kernel/store/store.ts";
import { cli, ROOT, tempDir } from "./helpers.ts";

const CRANFIELD = readFileSync(join(ROOT, "pipelines/data/cranfield/docs.jsonl"), "utf8").trim().split("\n")
  .map((line) => JSON.parse(line) as { id: string; title: string; text: string }).filter((r) => r.text !== "");

describe("documentText", () => {
  it("puts the title before the text unless the text begins with it; a placeholder text is the title alone", () => {
    expect(documentText("Boundary layers", "We measured the drag.")).toBe("Boundary layers\n\nWe measured the drag.");
    expect(documentText("Boundary layers", "None")).toBe("Boundary layers");
    expect(documentText("Boundary layers", " N/A ")).toBe("Boundary layers");
    expect(documentText("Boundary layers", "")).toBe("Boundary layers");
    expect(documentText("Setup", "# Setup\n\nRun npm ci.")).toBe("# Setup\n\nRun npm ci.");
    expect(documentText("SELECT", "SELECT\n\nSELECT, TABLE, WITH — retrieve rows")).toBe("SELECT\n\nSELECT, TABLE, WITH — retrieve rows");
    expect(documentText("Intro", "Introduction to flow")).toBe("Intro\n\nIntroduction to flow");
    expect(documentText(null, "Just text.")).toBe("Just text.");
    expect(documentText("", "")).toBe("");
    expect(["None", "null", "NULL", "n/a", "NaN", "-", "", "  "].every(isPlaceholder)).toBe(true);
    expect(["0", "No", "None of the above applies."].some(isPlaceholder)).toBe(false);
    // Cranfield's records begin with their title: what is embedded is their text as it is.
    const same = CRANFIELD.filter((r) => documentText(r.title, r.text) === r.text).length;
    expect(same).toBe(CRANFIELD.length - 1); // record 1369's title says "oseen's", its text "oseens's"
  });
});

describe("ingest of a dataset where half the records have only a title", () => {
  it("keeps every record as a document, tells placeholder texts apart by title, and searches titles", async () => {
    const dir = tempDir("cellar-titles-");
    const seeds = join(dir, "docs.jsonl");
    const full = CRANFIELD.slice(0, 30);
    const titleOnly = CRANFIELD.slice(30, 60).map(({ id, title }, i) => (i % 2 === 0 ? { id, title } : { id, title, text: "" }));
    const none = [
      { id: "none-1", title: "hydraulic brakes of landing gear", text: "None" },
      { id: "none-2", title: "ice accretion on helicopter rotor blades", text: "None" },
      { id: "none-3", title: "noise of jet engine exhausts", text: "None" },
      { id: "none-4", title: "parachute canopy inflation", text: "None" },
    ];
    // A word only in the title: "zeppelin" is nowhere in the corpus's texts.
    const titled = { id: "zeppelin", title: "zeppelin", text: "its drag was measured in a wind tunnel at several speeds ." };
    const records = [...full, ...titleOnly, ...none, titled];
    writeFileSync(seeds, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const db = join(dir, "db.duckdb");
    const env = { CELLAR_DEVICES: "cpu" };

    const run = await cli(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`], { env });
    expect(run.code, run.stderr).toBe(0);

    const store = await Store.open(db);
    try {
      const outputs = await store.query(`SELECT cell, output FROM outputs WHERE run_id = 1 ORDER BY cell`);
      const out = Object.fromEntries(outputs.map((o) => [o.cell, JSON.parse(String(o.output))]));
      expect(out.crawl_seeds).toMatchObject({ fetched: records.length, failed: 0 });
      expect(out.dedup_corpus).toMatchObject({ kept: records.length, exactDuplicates: 0, nearDuplicates: 0 });
      expect(out.build_index).toMatchObject({ documents: records.length });
      const stored = await store.query(`SELECT id, title, text FROM ingest.documents WHERE id = ?`, [`${seeds}#${titleOnly[0].id}`]);
      expect(stored).toEqual([{ id: `${seeds}#${titleOnly[0].id}`, title: titleOnly[0].title, text: titleOnly[0].title }]);
      const [chunk] = await store.query(`SELECT text FROM ingest.chunks WHERE document = ? AND chunk_index = 0`, [`${seeds}#zeppelin`]);
      expect(chunk.text).toBe(`zeppelin\n\n${titled.text}`);
    } finally {
      await store.close();
    }

    // `cellar search` once; the other queries through the call it makes (cellar.search), in this process: a CLI
    // start each would prove nothing more about titles.
    const found = await cli(["--db", db, "search", "zeppelin", "--k", "3", "--json"], { env });
    expect(found.code, found.stderr).toBe(0);
    const zeppelin = JSON.parse(found.stdout) as { document: string; title: string }[];
    expect(zeppelin[0]).toMatchObject({ document: `${seeds}#zeppelin`, title: "zeppelin" });
    const compute = new Compute({ devices: "cpu" });
    const cellar = openCellar({ db, compute });
    try {
      for (const record of [titleOnly[1], titleOnly[4], none[0], none[2]]) {
        const hits = await cellar.search(record.title, { pipeline: "ingest", k: 3 });
        expect(hits[0].document, record.title).toBe(`${seeds}#${record.id}`);
        expect(hits[0].title).toBe(record.title);
      }
    } finally {
      await cellar.close();
      await compute.close();
    }
  }, 300_000);
});
