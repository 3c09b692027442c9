// `deno task run ingest` end to end under Deno on real Cranfield abstracts, then `cellar search`.
import assert from "node:assert/strict";
import { cellar, ROOT } from "./cellar.ts";

Deno.test("the ingest pipeline runs under Deno and its index answers a search", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cellar-deno-ingest-" });
  const lines = (await Deno.readTextFile(`${ROOT}pipelines/data/cranfield/docs.jsonl`)).trim().split("\n").slice(0, 40);
  const seeds = `${dir}/docs.jsonl`;
  await Deno.writeTextFile(seeds, lines.join("\n") + "\n");
  const db = `${dir}/db.duckdb`;
  const run = await cellar(["--db", db, "run", "ingest", "--param", `seeds=${seeds}`]);
  assert.equal(run.code, 0, run.stderr);
  const target = JSON.parse(lines[7]);
  const found = await cellar(["--db", db, "search", target.title, "--k", "3", "--json"]);
  assert.equal(found.code, 0, found.stderr);
  const hits = JSON.parse(found.stdout);
  assert.equal(hits[0].document, `${seeds}#${target.id}`);
});
