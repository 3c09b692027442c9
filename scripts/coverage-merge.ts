// The report of scripts/coverage.sh. Two halves count the same sources:
// - the test workers: Vitest's v8 provider (<dir>/workers/coverage-final.json), statements and branches;
// - the child processes the tests start (the CLI, cellar serve, workers, the processes the crash tests kill):
//   their raw V8 coverage (<dir>/raw, from NODE_V8_COVERAGE) mapped to the sources by c8.
// The two converters cut statements and branches differently, so those figures are given per half; what both
// agree on is the source line, so the headline is the lines reached by any process (the union), per folder.
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

const ROOT = resolve(import.meta.dirname, "..");
const dir = resolve(process.argv[2] ?? "coverage");
const listAt = process.argv.indexOf("--list");
const listed = listAt > 0 ? process.argv[listAt + 1].split(",") : [];

/** Moves the test workers' raw files aside; returns how many child processes' files are left. */
function setWorkersAside(raw: string): number {
  const aside = join(dir, "raw-workers");
  mkdirSync(aside, { recursive: true });
  let children = 0;
  for (const name of readdirSync(raw)) {
    if (readFileSync(join(raw, name), "utf8").includes("/node_modules/vitest/")) renameSync(join(raw, name), join(aside, name));
    else children++;
  }
  return children;
}

function load(file: string): CoverageMap {
  const map = libCoverage.createCoverageMap({});
  if (existsSync(file)) map.merge(JSON.parse(readFileSync(file, "utf8")));
  else console.error(`coverage: ${file} is missing; that half counts nothing`);
  return map;
}

function summarize(name: string, map: CoverageMap, out: string): void {
  const s = map.getCoverageSummary();
  console.log(`${name}: statements ${s.statements.pct}% (${s.statements.covered}/${s.statements.total}), branches ${s.branches.pct}% (${s.branches.covered}/${s.branches.total})`);
  reports.create("html").execute(libReport.createContext({ dir: out, coverageMap: map }));
}

/** Per file: the lines either half calls executable, and those any process ran. */
function unionLines(maps: CoverageMap[]): Map<string, { lines: Set<number>; reached: Set<number> }> {
  const files = new Map<string, { lines: Set<number>; reached: Set<number> }>();
  for (const map of maps) {
    for (const file of map.files()) {
      const entry = files.get(file) ?? { lines: new Set(), reached: new Set() };
      for (const [line, hits] of Object.entries(map.fileCoverageFor(file).getLineCoverage())) {
        entry.lines.add(Number(line));
        if (hits > 0) entry.reached.add(Number(line));
      }
      files.set(file, entry);
    }
  }
  return files;
}

/** "12-14, 20" for the lines given. */
function ranges(lines: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j] + 1) j++;
    out.push(i === j ? `${lines[i]}` : `${lines[i]}-${lines[j]}`);
    i = j;
  }
  return out.join(", ");
}

const raw = join(dir, "raw");
const children = setWorkersAside(raw);
const childDir = join(dir, "children");
execFileSync("npx", ["c8", "report", "--temp-directory", raw, "--reporter", "json", "--reports-dir", childDir, "--all", "false"], { stdio: "inherit" });
const workers = load(join(dir, "workers", "coverage-final.json"));
const spawned = load(join(childDir, "coverage-final.json"));
summarize("test workers (vitest v8)", workers, join(dir, "workers"));
summarize(`child processes (${children}, c8)`, spawned, childDir);

const union = unionLines([workers, spawned]);
const perFile: Record<string, { lines: number; reached: number; never: string }> = {};
const folders = new Map<string, { lines: number; reached: number }>();
for (const [file, { lines, reached }] of [...union].sort(([a], [b]) => a.localeCompare(b))) {
  const name = relative(ROOT, file);
  const never = [...lines].filter((l) => !reached.has(l)).sort((a, b) => a - b);
  perFile[name] = { lines: lines.size, reached: reached.size, never: ranges(never) };
  const folder = name.split("/")[0];
  const f = folders.get(folder) ?? { lines: 0, reached: 0 };
  folders.set(folder, { lines: f.lines + lines.size, reached: f.reached + reached.size });
  if (listed.some((prefix) => name.startsWith(prefix))) console.log(`  ${name}: ${reached.size}/${lines.size} lines; never reached: ${perFile[name].never || "none"}`);
}
for (const [folder, f] of folders) console.log(`lines reached by any process, ${folder}/: ${(100 * f.reached / f.lines).toFixed(2)}% (${f.reached}/${f.lines})`);
writeFileSync(join(dir, "lines.json"), JSON.stringify(perFile, null, 1));
