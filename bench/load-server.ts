/**
 * What bench/server-load.bench.ts and test/reliability/server-load.test.ts run against: a real `cellar serve`
 * child process (the CLI, under Node with tsx or under Deno) on a temp store, serving one pipeline whose runs
 * take a few seconds in a `ctx.map` of waiting chunks (bench/load-tasks.ts), with `--nats-local` (a real
 * nats-server) and `cellar worker` child processes for the remote phase, where the map's placement is
 * "remote". Not a benchmark itself.
 *
 * @example
 * ```ts
 * import { startLoadServer } from "./load-server.ts";
 *
 * const server = await startLoadServer({ runtime: "node", remote: false });
 * const { rss, heap } = await server.memory(); // bytes, from its /metrics
 * await server.close();
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = resolve(import.meta.dirname, "..");
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const CLI = join(ROOT, "kernel/cli.ts");
export const LOAD_PIPELINE = "load";
export const LOAD_TOKEN = "load-bench-token";
/** A run: 24 items in chunks of 3 (8 chunks) of 600 ms each: 2–3 s on two CPU workers or two remote lanes. */
const ITEMS = 24;
const BATCH = 3;
const CHUNK_MS = 600;

/**
 * The pipeline: `items` (a new set per `round`, so no run is served from cache), `squares` (the map) and
 * `sum`, each logging a line; its module's `search` is a real query over the store's log lines.
 */
function pipelineSource(placement: "local" | "remote"): string {
  return `import { pipeline, task } from ${JSON.stringify(join(ROOT, "kernel/mod.ts"))};
const WAIT = task(${JSON.stringify(pathToFileURL(join(ROOT, "bench/load-tasks.ts")).href)}, "wait");
export default pipeline({ id: ${JSON.stringify(LOAD_PIPELINE)}, params: { round: 0 } })
  .cell("items", (ctx) => {
    ctx.log.info("round " + ctx.params.round);
    return Array.from({ length: ${ITEMS} }, (_, i) => ({ n: i + Number(ctx.params.round), ms: ${CHUNK_MS} }));
  })
  .cell("squares", async (ctx, items) => {
    const out = await ctx.map(items, WAIT, { placement: ${JSON.stringify(placement)}, batchSize: ${BATCH} });
    ctx.log.info(out.length + " squares");
    return out;
  })
  .cell("sum", (ctx, squares) => {
    const sum = squares.reduce((a, b) => a + b, 0);
    ctx.log.info("sum " + sum);
    return sum;
  });
export async function search(ctx, queries, { k }) {
  const rows = await ctx.sql("SELECT run_id, cell, message FROM logs WHERE message ILIKE ? ORDER BY ts DESC LIMIT ?", ["%" + queries[0] + "%", k]);
  return [rows.map((r, i) => ({ rank: i + 1, score: 1 / (i + 1), document: "run " + r.run_id + " " + r.cell, title: r.message }))];
}
`;
}

export interface LoadServerOptions {
  runtime: "node" | "deno";
  /** `--nats-local` and a remote map: chunks go to `cellar worker`s (startWorker). */
  remote: boolean;
  /** Node: the server writes a CPU profile (--cpu-prof) into this directory as it stops. */
  profileDir?: string;
  /** Node: the server writes a heap snapshot into this directory on SIGUSR2 (heapSnapshot()). */
  heapDir?: string;
}

export interface LoadServer {
  url: string;
  pid: number;
  dir: string;
  /** The server's resident set, V8 heap in use and memory outside the heap (Buffers), bytes, from its /metrics. */
  memory(): Promise<{ rss: number; heap: number; external: number }>;
  /** The store's file and its WAL, bytes. */
  storeBytes(): number;
  /** Counters of its /metrics, summed over their labels: the chunk counts by placement, redeliveries, expired leases, duplicates. */
  chunkCounters(): Promise<Record<string, number>>;
  /** A `cellar worker` child process; resolves once it has joined. */
  startWorker(name: string): Promise<ChildProcess>;
  /**
   * Node with `heapDir`: a heap snapshot of the server, its path once written. V8 collects all garbage
   * first, so memory() right after it reads the heap that is really held.
   */
  heapSnapshot(): Promise<string>;
  /** What the server wrote on stderr (its load errors, its warnings). */
  stderr(): string;
  close(): Promise<void>;
}

function cliCommand(runtime: LoadServerOptions["runtime"], args: string[], o: Pick<LoadServerOptions, "profileDir" | "heapDir"> = {}): [string, string[]] {
  if (runtime === "deno") return [join(ROOT, "node_modules/deno/deno"), ["run", "-A", CLI, ...args]];
  const profile = o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", o.profileDir] : [];
  const heap = o.heapDir ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${o.heapDir}`] : [];
  return [process.execPath, [...profile, ...heap, "--import", TSX, CLI, ...args]];
}

/** Signals `child` for a heap snapshot and resolves with the new file's path once its size has stopped growing. */
async function snapshotOf(child: ChildProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  child.kill("SIGUSR2");
  let last = -1;
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
    if (!file) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) return join(dir, file);
    last = size;
  }
  throw new Error(`no heap snapshot in ${dir} after 600 s`);
}

/** Resolves with the first match of `pattern` in the child's stdout; rejects if it exits first or after `ms`. */
function untilOutput(child: ChildProcess, pattern: RegExp, what: string, stderr = () => "", ms = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after ${ms} ms: ${out}${stderr()}`)), ms);
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${out}${stderr()}`));
    child.once("exit", onExit);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.removeListener("exit", onExit);
      resolvePromise(match);
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

/** `cellar serve` on a free port of 127.0.0.1 over a new temp store, with a token; resolves once it listens. */
export async function startLoadServer(options: LoadServerOptions): Promise<LoadServer> {
  const dir = mkdtempSync(join(tmpdir(), "cellar-load-"));
  const pipelines = join(dir, "pipelines");
  mkdirSync(pipelines);
  writeFileSync(join(pipelines, `${LOAD_PIPELINE}.ts`), pipelineSource(options.remote ? "remote" : "local"));
  const args = ["--db", join(dir, "cellar.duckdb"), "serve", "--port", "0", "--token", LOAD_TOKEN, "--pipelines", pipelines];
  const [command, argv] = cliCommand(options.runtime, options.remote ? [...args, "--nats-local"] : args, options);
  const child = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, XDG_RUNTIME_DIR: "/tmp/xdg" } });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const workers = new Set<ChildProcess>();
  // A bench or test that throws must not leave its processes behind.
  const killAll = () => [child, ...workers].forEach((c) => c.kill("SIGKILL"));
  process.once("exit", killAll);
  const url = (await untilOutput(child, /listening on (http:\/\/\S+)/, "cellar serve", () => stderr))[1];
  child.stdout!.resume();
  const metricsText = async () => await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${LOAD_TOKEN}` } })).text();
  const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    url,
    pid: child.pid!,
    dir,
    stderr: () => stderr,
    heapSnapshot: () => (options.heapDir ? snapshotOf(child, options.heapDir) : Promise.reject(new Error("no heapDir given"))),
    async chunkCounters() {
      const text = await metricsText();
      const sum = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
      return {
        chunks_local: sum(/^cellar_chunk_latency_seconds_count\{[^}]*placement="local"[^}]*\} (\S+)$/gm),
        chunks_remote: sum(/^cellar_chunk_latency_seconds_count\{[^}]*placement="remote"[^}]*\} (\S+)$/gm),
        remote_redeliveries: sum(/^cellar_remote_redeliveries_total (\S+)$/gm),
        remote_leases_expired: sum(/^cellar_remote_leases_expired_total (\S+)$/gm),
        remote_duplicate_results: sum(/^cellar_remote_duplicate_results_total (\S+)$/gm),
        // The task never fails: a retried chunk is one the pool failed for another reason (a worker's death).
        chunks_retried: sum(/^cellar_map_chunks_total\{[^}]*state="retried"[^}]*\} (\S+)$/gm),
      };
    },
    async memory() {
      const text = await metricsText();
      return {
        rss: metric(text, "process_resident_memory_bytes"),
        heap: metric(text, "nodejs_heap_size_used_bytes"),
        external: metric(text, "nodejs_external_memory_bytes"),
      };
    },
    storeBytes() {
      const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
      return size(join(dir, "cellar.duckdb")) + size(join(dir, "cellar.duckdb.wal"));
    },
    async startWorker(name) {
      const [cmd, workerArgs] = cliCommand(options.runtime, [
        "worker", "--server", url, "--token", LOAD_TOKEN, "--devices", "cpu", "--name", name, "--capacity", "2", "--drain", "0",
      ]);
      const worker = spawn(cmd, workerArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      workers.add(worker);
      worker.once("exit", () => workers.delete(worker));
      await untilOutput(worker, /joined /, `cellar worker ${name}`);
      worker.stdout!.resume();
      return worker;
    },
    async close() {
      process.removeListener("exit", killAll);
      for (const w of workers) w.kill("SIGTERM");
      await Promise.all([...workers].map(exited));
      child.kill("SIGTERM");
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
