// ctx.map under Deno: task handles run in Deno Workers; an inline GPU claim runs on Dawn.
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

async function cellar(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${ROOT}kernel/cli.ts`, ...args], cwd: ROOT, env }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("task handles run in CPU workers under Deno", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cellar-deno-" });
  const db = `${dir}/db.duckdb`;
  const run = await cellar(["--db", db, "run", "test/fixtures/workers.ts"], { CELLAR_DEVICES: "cpu" });
  assert.equal(run.code, 0, run.stderr);
  const cell = await cellar(["--db", db, "cell", "test/fixtures/workers.ts", "threads"], { CELLAR_DEVICES: "cpu" });
  assert.equal(cell.code, 0, cell.stderr);
  assert.deepEqual(JSON.parse(cell.stdout), { chunks: 4, inWorkers: 4 });
  const squares = await cellar(["--db", db, "cell", "test/fixtures/workers.ts", "squares"], { CELLAR_DEVICES: "cpu" });
  assert.deepEqual(JSON.parse(squares.stdout), [1, 4, 9, 16, 25, 36]);
});
