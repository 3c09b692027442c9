// The report of scripts/coverage.sh. Two halves count the same sources:
// - the test workers: Vitest's v8 provider (<dir>/workers/coverage-final.json), statements and branches;
// - the child processes the tests start (the CLI, cellar serve, workers, the processes the crash tests kill):
//   their raw V8 coverage (<dir>/raw, from NODE_V8_COVERAGE) mapped to the sources by c8.
// The two converters cut the source differently. Vitest's reads the syntax: a line is executable where a
// statement starts. c8's (v8-to-istanbul) makes every physical line of a function a line, comments,
// continuation lines and closing braces too, each with the count of the V8 block around it; so its lines of
// a function no child called (a refusal the test worker itself hit) were executable and unreached, and the
// union under-reported the workers' half. The merge therefore takes the executable lines and statements from
// Vitest's map (which holds every included file, loaded or not) and asks c8 only whether a child process ran
// that line: a statement counts as reached when either half ran the line it starts on. Branches are given per
// half: V8's blocks and the syntax's arms do not line up.
// The workers also wrote raw files; Vitest loads the sources through its module runner, whose offsets c8
// cannot map, and its provider has counted them already, so those files are set aside.
// Writes the summaries to stdout, <dir>/lines.json (per file: executable lines, reached, the lines never
// reached) and the two halves' HTML reports to <dir>/workers and <dir>/children.
//
//   npx tsx scripts/coverage-merge.ts coverage [--list kernel/store/,kernel/runner]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import libCoverage, { type CoverageMap } from "istanbul-lib-coverage";
import libReport from "istanbul-lib-report";
import reports from "istanbul-reports";
import { mergeLines, ranges } from "./coverage-lines.ts";

const ROOT = resolve(import.meta.dirname, "..");
const dir = resolve(process.argv[2] ?? "coverage");
const listAt = process.argv.indexOf("--list");
const listed = listAt > 0 ? process.argv[listAt + 1].split(",") : [];

/**
 * Moves the test workers' raw files aside, and drops from the others' source-map caches the entries of
 * scripts that are not files (tsx keeps a data: URL for code it evaluates), on which c8 throws
 * ERR_INVALID_URL_SCHEME and reports nothing. Returns how many child processes' files are left.
 */
function setWorkersAside(raw: string): number {
  const aside = join(dir, "raw-workers");
  mkdirSync(aside, { recursive: true });
  let children = 0;
  for (const name of readdirSync(raw)) {
    const text = readFileSync(join(raw, name), "utf8");
    if (text.includes("/node_modules/vitest/")) {
      renameSync(join(raw, name), join(aside, name));
      continue;
    }
    children++;
    const data = JSON.parse(text) as { "source-map-cache"?: Record<string, unknown> };
    const cache = data["source-map-cache"] ?? {};
    const notFiles = Object.keys(cache).filter((url) => !url.startsWith("file://"));
    if (notFiles.length === 0) continue;
    for (const url of notFiles) delete cache[url];
    writeFileSync(join(raw, name), JSON.stringify(data));
  }
  return children;
}

function load(file: string): CoverageMap {
  const map = libCoverage.createCoverageMap({});
  if (existsSync(file)) map.merge(JSON.parse(readFileSync(file, "utf8")));
  else console.error(`coverage: ${file} is missing; that half counts nothing`);
  return map;
}

/** The half's statements and branches, over all and per top folder (kernel/, cells/), and its HTML report. */
function summarize(name: string, map: CoverageMap, out: string): void {
  const line = (label: string, m: CoverageMap) => {
    const s = m.getCoverageSummary();
    console.log(`${label}: statements ${s.statements.pct}% (${s.statements.covered}/${s.statements.total}), branches ${s.branches.pct}% (${s.branches.covered}/${s.branches.total})`);
  };
  line(name, map);
  const folders = new Set(map.files().map((file) => relative(ROOT, file).split("/")[0]));
  for (const folder of folders) {
    const part = libCoverage.createCoverageMap({});
    for (const file of map.files().filter((f) => relative(ROOT, f).split("/")[0] === folder)) part.addFileCoverage(map.fileCoverageFor(file));
    line(`  ${folder}/`, part);
  }
  reports.create("html").execute(libReport.createContext({ dir: out, coverageMap: map }));
}

const raw = join(dir, "raw");
const children = setWorkersAside(raw);
const childDir = join(dir, "children");
execFileSync("npx", ["c8", "report", "--temp-directory", raw, "--reporter", "json", "--reports-dir", childDir, "--all", "false"], { stdio: "inherit" });
const workers = load(join(dir, "workers", "coverage-final.json"));
const spawned = load(join(childDir, "coverage-final.json"));
summarize("test workers (vitest v8)", workers, join(dir, "workers"));
summarize(`child processes (${children}, c8)`, spawned, childDir);

const merged = mergeLines(workers, spawned);
const perFile: Record<string, { lines: number; reached: number; never: string }> = {};
const folders = new Map<string, { lines: number; reached: number; statements: number; statementsReached: number }>();
for (const [file, f] of [...merged].sort(([a], [b]) => a.localeCompare(b))) {
  const name = relative(ROOT, file);
  const never = [...f.lines].filter((l) => !f.reached.has(l)).sort((a, b) => a - b);
  perFile[name] = { lines: f.lines.size, reached: f.reached.size, never: ranges(never) };
  const folder = name.split("/")[0];
  const sum = folders.get(folder) ?? { lines: 0, reached: 0, statements: 0, statementsReached: 0 };
  folders.set(folder, {
    lines: sum.lines + f.lines.size,
    reached: sum.reached + f.reached.size,
    statements: sum.statements + f.statements,
    statementsReached: sum.statementsReached + f.statementsReached,
  });
  if (listed.some((prefix) => name.startsWith(prefix))) console.log(`  ${name}: ${f.reached.size}/${f.lines.size} lines; never reached: ${perFile[name].never || "none"}`);
}
const pct = (n: number, of: number) => `${(100 * n / of).toFixed(2)}% (${n}/${of})`;
for (const [folder, f] of folders) {
  console.log(`reached by any process, ${folder}/: lines ${pct(f.reached, f.lines)}, statements ${pct(f.statementsReached, f.statements)}`);
}
writeFileSync(join(dir, "lines.json"), JSON.stringify(perFile, null, 1));
