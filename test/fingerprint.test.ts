// A cell's code version comes from its source as written: it changes when
// the cell's code (or a project module it imports) changes, and only then.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { codeVersion } from "../kernel/fingerprint.ts";
import type { Pipeline } from "../kernel/pipeline.ts";
import { ROOT, tempDir } from "./helpers.ts";

const KERNEL = JSON.stringify(join(ROOT, "kernel/mod.ts"));

/** Writes `files` into a fresh directory, imports `main.ts` and returns each cell's version. */
async function versions(files: Record<string, string>): Promise<Record<string, string>> {
  const dir = tempDir("cellar-fp-");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text.replaceAll("KERNEL", KERNEL));
  }
  const p = (await import(pathToFileURL(join(dir, "main.ts")).href)).default as Pipeline;
  const out: Record<string, string> = {};
  for (const cell of p.cells) out[cell.name] = await codeVersion(cell);
  return out;
}

const helpers = `export const double = (x: number) => x * 2;\n`;
const step = `import { double } from "./helpers.ts";\nexport async function step(_ctx: unknown, x: number) {\n  return double(x);\n}\n`;
const main = (a: string, b: string) => `import { pipeline } from KERNEL;
import { step } from "./lib/step.ts";
export default pipeline({ id: "fp" })
  .cell("a", () => ${a})
  .cell("b", { retries: 1 }, (_ctx, x: number) => ${b})
  .cell("c", step);
`;

describe("cell code versions", () => {
  it("changes only the version of the cell whose code changed", async () => {
    const base = await versions({ "main.ts": main("1", "x + 1"), "lib/step.ts": step, "lib/helpers.ts": helpers });
    const same = await versions({ "main.ts": main("1", "x + 1"), "lib/step.ts": step, "lib/helpers.ts": helpers });
    const changedB = await versions({ "main.ts": main("1", "x + 2"), "lib/step.ts": step, "lib/helpers.ts": helpers });
    expect(same).toEqual(base);
    expect(changedB.a).toBe(base.a);
    expect(changedB.b).not.toBe(base.b);
    expect(changedB.c).toBe(base.c);
  });

  it("follows an imported cell function into its module and the project modules that module imports", async () => {
    const base = await versions({ "main.ts": main("1", "x"), "lib/step.ts": step, "lib/helpers.ts": helpers });
    const helperChanged = await versions({
      "main.ts": main("1", "x"),
      "lib/step.ts": step,
      "lib/helpers.ts": `export const double = (x: number) => x + x;\n`,
    });
    expect(helperChanged.c).not.toBe(base.c);
    expect(helperChanged.a).toBe(base.a);
    expect(helperChanged.b).toBe(base.b);
  });

  it("identifies cells added in a loop by the call that made them", async () => {
    const loop = (body: string) => `import { pipeline } from KERNEL;
const p = pipeline({ id: "loop" });
for (let i = 0; i < 3; i++) p.cell(\`c\${i}\`, () => ${body});
export default p;
`;
    const one = await versions({ "main.ts": loop("1") });
    const two = await versions({ "main.ts": loop("2") });
    expect(Object.keys(one)).toEqual(["c0", "c1", "c2"]);
    expect(one.c0).not.toBe(two.c0);
    expect(one.c0).toBe((await versions({ "main.ts": loop("1") })).c0);
  });
});
