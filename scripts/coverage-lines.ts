/**
 * The line merge of scripts/coverage-merge.ts, apart so that a test can hold it to its rule: Vitest's map (the
 * test workers) says which lines and statements are executable, c8's map (the child processes) only whether
 * a child ran a line. c8 (v8-to-istanbul) makes every physical line of a function a line, comments,
 * continuation lines and closing braces too, each with the count of the V8 block around it; a union of the
 * two maps' lines therefore listed the lines of a function only the test worker called (Store.open's
 * refusals of a damaged store) as never reached.
 *
 * @example
 * ```ts
 * import libCoverage from "istanbul-lib-coverage";
 * import { mergeLines, ranges } from "./coverage-lines.ts";
 *
 * const merged = mergeLines(libCoverage.createCoverageMap({}), libCoverage.createCoverageMap({}));
 * merged.size; // → 0
 * ranges([3, 4, 5, 9]); // → "3-5, 9"
 * ```
 */
import type { CoverageMap } from "istanbul-lib-coverage";

export interface FileLines {
  lines: Set<number>;
  reached: Set<number>;
  statements: number;
  statementsReached: number;
}

/**
 * Per file: the executable lines and statements of Vitest's map, reached when either half ran them (see the
 * top). A file only c8 knows (outside Vitest's include) keeps c8's lines.
 */
export function mergeLines(workers: CoverageMap, children: CoverageMap): Map<string, FileLines> {
  const files = new Map<string, FileLines>();
  const ran = (file: string) => (children.files().includes(file) ? children.fileCoverageFor(file).getLineCoverage() : {});
  for (const file of workers.files()) {
    const child = ran(file);
    const cov = workers.fileCoverageFor(file);
    const entry: FileLines = { lines: new Set(), reached: new Set(), statements: 0, statementsReached: 0 };
    for (const [line, hits] of Object.entries(cov.getLineCoverage())) {
      entry.lines.add(Number(line));
      if (hits > 0 || (child[Number(line)] ?? 0) > 0) entry.reached.add(Number(line));
    }
    for (const [id, loc] of Object.entries(cov.statementMap)) {
      entry.statements++;
      if (cov.s[id] > 0 || (child[loc.start.line] ?? 0) > 0) entry.statementsReached++;
    }
    files.set(file, entry);
  }
  for (const file of children.files().filter((f) => !files.has(f))) {
    const lines = Object.entries(children.fileCoverageFor(file).getLineCoverage());
    const reached = lines.filter(([, hits]) => hits > 0).map(([line]) => Number(line));
    files.set(file, { lines: new Set(lines.map(([line]) => Number(line))), reached: new Set(reached), statements: 0, statementsReached: 0 });
  }
  return files;
}

/** "12-14, 20" for the lines given. */
export function ranges(lines: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j] + 1) j++;
    out.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j;
  }
  return out.join(", ");
}
