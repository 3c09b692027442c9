// What the server benchmarks share (Node only): a store of 1,000 runs of a 50-cell pipeline, made through the
// facade, and the server (what `cellar serve` starts) over it in a process of its own, so that the load generator and the browser do
// not take the server's core. Not a benchmark itself.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { openCellar, type Pipeline } from "../kernel/mod.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const GRID_PIPELINE = "grid";
export const GRID_CELLS = 50;
/** Every 20th run fails at this cell, so the grid holds failed and upstream_failed squares beside green ones. */
const FAILING_CELL = 37;

/** 50 trivial cells in a chain; `run` is the run's number in the store's making. */
const GRID_SOURCE = `export default pipeline({ id: ${JSON.stringify(GRID_PIPELINE)}, params: { run: 0 } })
${
  Array.from({ length: GRID_CELLS }, (_, i) =>
    `  .cell("cell_${String(i).padStart(2, "0")}", (ctx, x) => {
    ${i === FAILING_CELL ? `if ((ctx.params.run as number) % 20 === 7) throw new Error("cell ${i} failed on purpose");` : ""}
    return ((x as number | undefined) ?? 0) + 1;
  })`).join("\n")
};
`;

/**
 * `count` cells in a chain, each logging the wall-clock time (ms, fractional) as its log line is emitted;
 * each reads the `round` param, so a run with another round recomputes every cell instead of reading the cache.
 */
export function stampedSource(id: string, count: number): string {
  return `export default pipeline({ id: ${JSON.stringify(id)}, params: { round: 0 } })
${
    Array.from({ length: count }, (_, i) =>
      `  .cell("c${i}", (ctx) => { ctx.log.info("t=" + (performance.timeOrigin + performance.now())); return ctx.params.round; })`).join("\n")
  };
`;
}

/** Writes a pipeline file (importing the kernel by absolute path, as the tests' pipelines do) into `dir`. */
export function writePipelineFile(dir: string, id: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${id}.ts`);
  writeFileSync(file, `import { pipeline } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};\n${body}`);
  return file;
}

export interface BenchStore {
  db: string;
  pipelines: string;
  runs: number;
  /** How long making the store took, or null when an existing one was reused (`--db`). */
  buildMs: number | null;
}

/**
 * A store of `runs` runs × 50 cells at `db` (made in a temp dir when not given; reused when it exists, to
 * save the minute it takes), and a pipelines directory serving its pipeline plus `extra` files.
 */
export async function gridStore(runs: number, db?: string, extra: Record<string, string> = {}): Promise<BenchStore> {
  const dir = mkdtempSync(join(tmpdir(), "cellar-server-bench-"));
  const pipelines = join(dir, "pipelines");
  const file = writePipelineFile(pipelines, GRID_PIPELINE, GRID_SOURCE);
  for (const [id, body] of Object.entries(extra)) writePipelineFile(pipelines, id, body);
  const path = db ?? join(dir, "cellar.duckdb");
  if (existsSync(path)) return { db: path, pipelines, runs, buildMs: null };
  const p = (await import(pathToFileURL(file).href)).default as Pipeline;
  const cellar = openCellar({ db: path });
  const t0 = performance.now();
  try {
    // One run after another through the facade, as `cellar run --no-cache` makes them: the honest route, and
    // faster here than a backfill running 16 at a time on two cores (~40 ms a run).
    for (let i = 0; i < runs; i++) {
      await cellar.run(p, { params: { run: String(i) }, date: new Date(Date.UTC(2023, 0, 1) + i * 86_400_000), cache: false, new: true });
    }
  } finally {
    await cellar.close();
  }
  return { db: path, pipelines, runs, buildMs: Math.round(performance.now() - t0) };
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** User + system CPU time of the server process so far, in ms (from /proc/<pid>/stat). */
  cpuMs(): number;
  close(): Promise<void>;
}

const TICKS_PER_SECOND = 100;

/** The server (`cellar serve`'s startServer) on a free port of 127.0.0.1 over `store`, in a child process; resolves once it listens. */
export function serveProcess(store: Pick<BenchStore, "db" | "pipelines">): Promise<ServerProcess> {
  const loader = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", loader, "bench/server-process.ts", store.db, store.pipelines],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  // A benchmark that throws must not leave its server behind (nor wait for it).
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  return new Promise((resolvePromise, reject) => {
    let out = "";
    child.once("exit", (code) => reject(new Error(`cellar serve exited (${code}) before listening: ${out}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      child.removeAllListeners("exit");
      const pid = child.pid!;
      resolvePromise({
        url,
        pid,
        cpuMs: () => {
          // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so count after ")".
          const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
          return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
        },
        close: () =>
          new Promise<void>((done) => {
            process.removeListener("exit", kill);
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

/** Median and percentiles of `values` (ms), rounded to 0.1 ms. */
export function summary(values: number[]): { median_ms: number; p90_ms: number; p99_ms: number; max_ms: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] * 10) / 10;
  return { median_ms: at(0.5), p90_ms: at(0.9), p99_ms: at(0.99), max_ms: at(1) };
}

/** The value after `--name` on the command line, if any. */
export function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
