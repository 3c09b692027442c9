/**
 * Doc examples are code that is checked (issue 10, item 8): every `@example` in kernel/, cells/,
 * pipelines/ and server/ is a fenced ts block, which `deno check --doc-only` (in the README's test command)
 * type-checks; an unfenced one would be prose that nothing checks.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "./helpers.ts";

const FOLDERS = ["kernel", "cells", "pipelines", "server"];

it("writes every @example as a fenced ts block", () => {
  const unfenced: string[] = [];
  for (const folder of FOLDERS) {
    for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
      const file = join(entry.parentPath, entry.name);
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (!/^\s*\*\s*@example\b/.test(line)) return;
        const next = lines.slice(i + 1).find((l) => !/^\s*\*\s*$/.test(l)) ?? "";
        if (!/^\s*\*\s*```(ts|typescript)\s*$/.test(next)) unfenced.push(`${relative(ROOT, file)}:${i + 1}`);
      });
    }
  }
  expect(unfenced).toEqual([]);
});
