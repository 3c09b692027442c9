/**
 * A function over ~60 lines usually hides a second job (issue 10): in kernel/, cells/, pipelines/ and server/ every
 * function, method and arrow of more than 60 lines either becomes smaller or carries, in the comment just
 * above it, a sentence saying it is "long because" of something it cannot be split without.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";
import { ROOT } from "./helpers.ts";

const LIMIT = 60;

function longFunctions(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.end).line;
      const comments = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
      const excused = comments.some((c) => /long because/i.test(text.slice(c.pos, c.end)));
      if (end - start + 1 > LIMIT && !excused) {
        const name = node.name?.getText(source) ?? "an anonymous function";
        found.push(`${relative(ROOT, file)}:${start + 1} ${name} (${end - start + 1} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

it("keeps every function of the shipped code within 60 lines, or says why it is long", () => {
  const files = ["kernel", "cells", "pipelines", "server"].flatMap((dir) =>
    readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
      .map((e) => join(e.parentPath, e.name))
  );
  expect(files.flatMap(longFunctions)).toEqual([]);
});
