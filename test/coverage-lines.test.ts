// scripts/coverage-lines.ts, the merge of the coverage report's two halves (issue 14, item 6): the lines
// and statements that count are those of Vitest's map; c8's map of the child processes only adds the lines a
// child ran. The crash tests' refusals of a damaged store run in the test worker, inside a function no child
// calls: c8 gives each physical line of it (comments, continuation lines, braces) a zero, and the union of
// the two maps listed them as never reached although the worker had run them.
import libCoverage from "istanbul-lib-coverage";
import { expect, it } from "vitest";
import { mergeLines, ranges } from "../scripts/coverage-lines.ts";

const FILE = "/src/store.ts";
const at = (line: number, column = 2) => ({ start: { line, column }, end: { line, column: column + 10 } });

/** A map of one file whose statements start on `hits`' lines, with those counts. */
function mapOf(path: string, hits: Record<number, number>) {
  const ids = Object.keys(hits);
  return libCoverage.createCoverageMap({
    [path]: {
      path,
      statementMap: Object.fromEntries(ids.map((line, i) => [String(i), at(Number(line))])),
      s: Object.fromEntries(ids.map((line, i) => [String(i), hits[Number(line)]])),
      fnMap: {},
      f: {},
      branchMap: {},
      b: {},
    },
  });
}

it("counts the lines Vitest's map calls executable, reached by the worker or by a child", () => {
  // The worker ran lines 3 and 5 (the refusal); a child ran line 8; nobody ran line 4.
  const workers = mapOf(FILE, { 3: 1, 4: 0, 5: 2, 8: 0 });
  // c8: every physical line 1-10, zero but line 8 and the module's first lines.
  const children = mapOf(FILE, { 1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 3, 9: 0, 10: 0 });
  const file = mergeLines(workers, children).get(FILE)!;
  expect([...file.lines].sort()).toEqual([3, 4, 5, 8]);
  expect([...file.reached].sort()).toEqual([3, 5, 8]);
  expect(file.statements).toBe(4);
  expect(file.statementsReached).toBe(3);
});

it("keeps c8's lines for a file Vitest's map does not hold", () => {
  const merged = mergeLines(libCoverage.createCoverageMap({}), mapOf("/src/other.ts", { 1: 1, 2: 0 }));
  const file = merged.get("/src/other.ts")!;
  expect([...file.lines]).toEqual([1, 2]);
  expect([...file.reached]).toEqual([1]);
});

it("writes line ranges as the report lists them", () => {
  expect(ranges([3, 4, 5, 9, 11, 12])).toBe("3-5, 9, 11-12");
  expect(ranges([])).toBe("");
});
