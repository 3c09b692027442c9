/**
 * What the shipped code imports at run time must be installed by `npm ci --omit=dev`:
 * every npm package imported from kernel/, cells/ or pipelines/ is a dependency, and
 * every dependency is imported there (a build-only tool such as typescript is a
 * devDependency).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.ts";

const SHIPPED = ["kernel", "cells", "pipelines", "server"];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(tsx?|mjs|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Bare specifiers in static imports, re-exports, dynamic imports and `require.resolve` (a package whose files
 * the server serves, such as uPlot's, is used at run time too); `node:` built-ins excluded.
 */
function importedPackages(source: string): string[] {
  const specifiers = [...source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\.resolve\(\s*)["']([^"'.][^"']*)["']/g)]
    .map((match) => match[1])
    .filter((specifier) => !specifier.startsWith("node:"));
  // "@scope/name/sub" and "name/sub" belong to the packages "@scope/name" and "name".
  return specifiers.map((s) => s.split("/").slice(0, s.startsWith("@") ? 2 : 1).join("/"));
}

describe("package.json", () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const dependencies = Object.keys(manifest.dependencies);
  const used = new Map<string, string>(); // package -> first file importing it
  for (const file of SHIPPED.flatMap(sourceFiles)) {
    for (const name of importedPackages(readFileSync(file, "utf8"))) {
      if (!used.has(name)) used.set(name, file.slice(ROOT.length + 1));
    }
  }

  it("lists every package the shipped code imports under dependencies", () => {
    const missing = [...used].filter(([name]) => !dependencies.includes(name)).map(([n, f]) => `${n} (${f})`);
    expect(missing).toEqual([]);
    // The CPU workers' entry registers tsx's loader at run time.
    expect(used.get("tsx")).toBe("kernel/runtime/node-worker.mjs");
  });

  it("keeps packages the shipped code never imports out of dependencies", () => {
    expect(dependencies.filter((name) => !used.has(name))).toEqual([]);
    expect(Object.keys(manifest.devDependencies)).toContain("typescript");
  });
});
