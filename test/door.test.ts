/**
 * One door for cells (issue 10, item 4): cells/, pipelines/ and server/ import the kernel only
 * through kernel/mod.ts, and never read the kernel's own tables with SQL (they use
 * latestCheckpoint / checkpointOf). And those two read what the SQL they replaced read.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkpointOf, latestCheckpoint, openCellar, pipeline } from "../kernel/mod.ts";
import { ROOT, storesClosedAfterEach } from "./helpers.ts";

const OUTSIDE = ["cells", "pipelines", "server"];
const DOOR = join(ROOT, "kernel", "mod.ts");
/** Tables the kernel keeps for itself (kernel/store/schema.ts). */
const PRIVATE_TABLES = /\b(?:FROM|JOIN)\s+(?:main\.)?(runs|attempts|outputs|logs|costs|cell_reasons|check_details|paused_pipelines|run_handoffs|cellar_meta|cellar_triggers\.\w+)\b/i;

function sourceFiles(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(tsx?|mjs|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe("the door", () => {
  const files = OUTSIDE.flatMap(sourceFiles);

  it("is the only kernel module that cells, pipelines and the server import", () => {
    const through: string[] = [];
    for (const file of files) {
      const source = readFileSync(file, "utf8");
      for (const [, specifier] of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["'](\.[^"']*)["']/g)) {
        const target = resolve(dirname(file), specifier);
        if (target.startsWith(join(ROOT, "kernel") + "/") && target !== DOOR) through.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    expect(through).toEqual([]);
  });

  it("keeps the kernel's own tables out of their SQL", () => {
    const reads = files.flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line, i) => PRIVATE_TABLES.test(line) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [])
    );
    expect(reads).toEqual([]);
  });
});

describe("latestCheckpoint and checkpointOf", () => {
  const newStore = storesClosedAfterEach();

  it("find the newest output of a cell by pipeline, state, kind and order, and another cell of the same run", async () => {
    const store = await newStore();
    const p = pipeline({ id: "corpus", params: { n: 1 } })
      .cell("count", { cache: false }, (ctx) => Number(ctx.params.n))
      .cell("check", { cache: false }, (_ctx, n: number) => {
        if (n === 3) throw new Error("three is refused");
        return n * 10;
      });
    const runs: number[] = [];
    const cellar = openCellar({ db: store });
    for (const [n, day] of [[1, "2026-05-03"], [2, "2026-05-01"], [3, "2026-05-02"]] as const) {
      runs.push((await cellar.run(p, { params: { n: String(n) }, date: `${day}T00:00:00Z`, new: true })).runId);
    }
    await cellar.close();
    const source = { sql: (q: string, v?: unknown[]) => store.query(q, v as never) };

    const last = await latestCheckpoint<number>(source, { pipeline: "corpus", cell: "count" });
    expect([last?.runId, last?.output, last?.params.n]).toEqual([runs[2], 3, 3]);
    expect((await latestCheckpoint(source, { pipeline: "corpus", cell: "count", succeeded: true }))?.runId).toBe(runs[1]);
    expect((await latestCheckpoint(source, { cell: "count", order: "logicalDate" }))?.runId).toBe(runs[0]);
    expect((await latestCheckpoint(source, { cell: "count", beforeRun: runs[1] }))?.runId).toBe(runs[0]);
    expect((await latestCheckpoint(source, { cell: "count", excludeRun: runs[2], order: "run" }))?.runId).toBe(runs[1]);
    expect(await latestCheckpoint(source, { cell: "count", kind: "scheduled" })).toBeUndefined();
    expect(await latestCheckpoint(source, { pipeline: "other", cell: "count" })).toBeUndefined();

    expect((await checkpointOf<number>(source, runs[1], "check"))?.output).toBe(20);
    expect(await checkpointOf(source, runs[2], "check")).toBeUndefined(); // that cell failed: no checkpoint
  });
});
